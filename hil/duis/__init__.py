"""DUIS: the DCC User Interface, as DCC Boxed serves it, in front of the lab's DCC."""
