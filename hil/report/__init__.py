"""Reports: text tables for people, JSON for machines."""
