"""A running lab you can watch and drive: `smets-hil lab up`, `lab request`, `lab run`.

`monitor` collects what the view shows from a started lab, `view` renders it
(rich live view, or plain lines when stdout is not a terminal), `control` is
the local endpoint other terminals talk to (docs/live.md has the protocol),
`cli` is the `lab` command group.
"""
