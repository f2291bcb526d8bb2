"""UTRN top-ups shared by the electricity and gas meters (GBCS section 14).

A device rebuilds the token's full counter from the last one it accepted,
checks the GMAC with the supplier's prepayment key-agreement key, refuses a
counter it has already used, then credits the balance. Every refusal is written
to the security log with the GBCS code for the reason.
"""

from __future__ import annotations

from typing import Any

from emulator.devices.anchors import AnchorRole
from emulator.devices.logs import UTRN_NOT_AUTHENTIC
from emulator.errors import SecurityError, UtrnError
from emulator.gbcs import utrn
from emulator.pki.keystore import KeyUsage

# ZCL consumer top-up result types (ZSE prepayment cluster)
ACCEPTED, REJECTED_INVALID, REJECTED_DUPLICATE, REJECTED_ERROR = 0, 1, 2, 3


def apply_utrn(device: Any, code: bytes) -> tuple[int, int]:
    """(result type, value in pence) for a UTRN offered to `device`."""
    supplier = device.anchors.get(AnchorRole.SUPPLIER)
    try:
        text = code.decode("ascii")
        if supplier is None:
            raise UtrnError("no supplier trust anchor")
        z = device.security.shared_secret(
            supplier.eui, device.eui, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT
        )  # the supplier cell's prepayment key, through DeviceKeys
        parsed = utrn.parse_utrn(text)
        used: list[int] = getattr(device, "utrn_counters", [])
        candidates = utrn.counter_candidates(parsed.counter_bits, max(used, default=0))
        ptut, _ = utrn.verify_utrn(text, z, supplier.eui, device.eui, candidates)
    except (UtrnError, UnicodeDecodeError, SecurityError) as exc:
        device.security_log.record(device.clock.now(), UTRN_NOT_AUTHENTIC, f"UTRN rejected: {exc}")
        return REJECTED_INVALID, 0
    if ptut.counter in used:
        device.security_log.record(device.clock.now(), UTRN_NOT_AUTHENTIC, "UTRN already used")
        return REJECTED_DUPLICATE, 0
    device.utrn_counters = sorted([*used, ptut.counter])[-10:]
    device.meter.top_up(ptut.pence)
    return ACCEPTED, ptut.pence
