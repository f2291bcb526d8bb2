"""A device refuses a critical command without its originator's signature, for the
use cases whose criticality now comes from the codec's table."""

from __future__ import annotations

import pytest
from devices_support import build_lab, dlms_command, get

from emulator.devices.usecases import USE_CASES

# ECS08, ECS30, ECS46c, ECS47: the codec's table used to leave these open
CODES = [0x001F, 0x0046, 0x0054, 0x0055]


@pytest.mark.parametrize("code", CODES)
def test_unsigned_critical_command_is_refused(code: int) -> None:
    lab = build_lab()
    assert USE_CASES[code].critical is True
    unsigned = dlms_command(lab.supplier, lab.esme, code, get(1, "0-0:96.1.0.255", 2))
    assert not unsigned.is_signed and unsigned.is_maced
    assert lab.esme.receive(unsigned.encode()) == []
    assert "critical command without signature" in list(lab.esme.security_log)[-1].detail
