"""Millipence on the interface to a SMETS1 meter's units: the documented rounding rules."""

from __future__ import annotations

import pytest

from emulator.devices.smets1.money import to_meter_units


@pytest.mark.parametrize(
    ("millipence", "rounding", "units", "lost"),
    [
        (1000, "down", 1, 0),  # 1000 millipence is 1p on a whole-pence meter
        (1999, "down", 1, 999),
        (999, "down", 0, 999),
        (-1999, "down", -1, -999),  # toward zero, both signs
        (1499, "half-up", 1, 499),
        (1500, "half-up", 2, -500),
        (-1500, "half-up", -2, 500),
        (0, "half-up", 0, 0),
    ],
)
def test_whole_pence(millipence: int, rounding: str, units: int, lost: int) -> None:
    assert to_meter_units(millipence, 1000, rounding) == (units, lost)


def test_finer_resolution_keeps_more() -> None:
    assert to_meter_units(1999, 10, "half-up") == (200, -1)
    assert to_meter_units(1994, 10, "half-up") == (199, 4)
    assert to_meter_units(1999, 1, "down") == (1999, 0)


@pytest.mark.parametrize(("resolution", "rounding"), [(0, "down"), (1000, "up")])
def test_bad_rules_are_refused(resolution: int, rounding: str) -> None:
    with pytest.raises(ValueError):
        to_meter_units(1000, resolution, rounding)
