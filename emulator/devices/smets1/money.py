"""Money between the DCC interface (millipence) and a SMETS1 meter (its own units).

DUIS gives amounts such as debt in millipence (1000 = 1p). A meter that holds
whole pence (`resolution_mp` 1000) cannot keep a fraction of a penny, so the
amount is converted once, in the SMETS1 service provider, by the profile's rule:

- ``down``: toward zero (1999 mp -> 1p, -1999 mp -> -1p): nothing is ever
  charged or credited that the consumer was not asked for;
- ``half-up``: to the nearest unit, halves away from zero (1500 mp -> 2p,
  1499 mp -> 1p, -1500 mp -> -2p).

What is lost in the conversion is returned too, so a report can show it.
"""

from __future__ import annotations

ROUNDING = ("down", "half-up")


def to_meter_units(millipence: int, resolution_mp: int, rounding: str) -> tuple[int, int]:
    """(units on the meter, millipence lost to rounding: interface minus meter)."""
    if resolution_mp <= 0:
        raise ValueError(f"money resolution must be positive, got {resolution_mp}")
    if rounding not in ROUNDING:
        raise ValueError(f"rounding {rounding!r}: expected one of {', '.join(ROUNDING)}")
    sign = -1 if millipence < 0 else 1
    whole, rest = divmod(abs(millipence), resolution_mp)
    if rounding == "half-up" and 2 * rest >= resolution_mp:
        whole += 1
    units = sign * whole
    return units, millipence - units * resolution_mp


def pence_to_millipence(pence: int) -> int:
    return pence * 1000
