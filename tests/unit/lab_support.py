"""Helpers of the tests that run a `hil.dcc.lab.Lab` (a module, not a conftest, so test
files in any folder import it by name): the lab's parts, typed, without an Optional."""

from __future__ import annotations

from emulator.devices.esme import Esme
from hil.dcc.lab import Lab
from hil.dcc.service import Dcc


def dcc_of(lab: Lab) -> Dcc:
    """The lab's DCC (a started lab has one)."""
    assert lab.dcc is not None
    return lab.dcc


def esme_of(lab: Lab) -> Esme:
    """The lab's emulated ESME."""
    device = lab.device("ESME")
    assert isinstance(device, Esme)
    return device
