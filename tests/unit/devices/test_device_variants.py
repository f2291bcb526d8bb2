"""ESME variants: single, twin element, polyphase, with or without auxiliary load control.

A use case outside the variant gets the "command not supported" alert (ECS100),
and through the hub and the DCC a prompt failure, not a response timeout."""

from __future__ import annotations

import datetime as _dt

import pytest

from emulator.clock import VirtualClock
from emulator.devices.base import ECS100, DeviceType
from emulator.devices.esme import Esme, variant_use_cases
from emulator.devices.factory import create_device
from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab, LabError, LabSpec

ESME = Eui64("00-DB-12-34-56-78-90-A0")
CLOCK = VirtualClock(_dt.datetime(2026, 1, 5, tzinfo=_dt.UTC))


def _names(device: Esme) -> set[str]:
    return {name for u in device.use_cases.values() for name in u.name.split("/")}


@pytest.mark.parametrize(
    ("variant", "has", "lacks"),
    [
        ("any", {"ECS01c", "ECS23b", "ECS17b"}, set()),
        ("single", {"ECS17b", "ECS01a"}, {"ECS01c", "ECS24b", "ECS23b", "ECS29b"}),
        ("twin", {"ECS01c", "ECS01d", "ECS24b"}, {"ECS23b", "ECS26k"}),
        ("polyphase", {"ECS23b", "ECS26k", "ECS29f"}, {"ECS01c"}),
    ],
)
def test_variant_decides_the_use_cases(variant: str, has: set[str], lacks: set[str]) -> None:
    device = create_device(DeviceType.ESME, ESME, CLOCK, variant=variant)
    assert isinstance(device, Esme)
    names = _names(device)
    assert has <= names
    assert not (lacks & names)


def test_without_auxiliary_controllers_their_use_cases_are_unsupported() -> None:
    fitted = create_device(DeviceType.ESME, ESME, CLOCK)
    bare = create_device(DeviceType.ESME, ESME, CLOCK, auxiliary=False)
    assert isinstance(fitted, Esme) and isinstance(bare, Esme)
    assert "ECS47Activate" in _names(fitted)
    assert "ECS47Activate" not in _names(bare) and "ECS62Add" not in _names(bare)
    assert "ECS17b" in _names(bare)


def test_unknown_variant_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown ESME variant"):
        variant_use_cases("triple", True)


def test_variant_survives_a_state_round_trip() -> None:
    device = create_device(DeviceType.ESME, ESME, CLOCK, variant="twin", auxiliary=False)
    restored = create_device(DeviceType.ESME, ESME, CLOCK)
    assert isinstance(device, Esme) and isinstance(restored, Esme)
    restored.load_state(device.to_state())
    assert restored.variant == "twin" and restored.auxiliary is False
    assert "ECS01c" in _names(restored) and "ECS23b" not in _names(restored)


LAB = """
start: "2026-01-05T09:00:00Z"
link: memory://variants
users:
  supplier: {roles: [Import Supplier, Gas Supplier], id: 90-B3-D5-1F-30-01-00-00}
  dno: {roles: {Electricity Distributor: 90-B3-D5-1F-30-02-00-00}}
premises:
  - devices:
      - {type: CHF, suffix: A2}
      - {type: GPF, suffix: A3}
      - {type: ESME, suffix: A0, variant: single, auxiliary: false}
    registration: {import_supplier: supplier, gas_supplier: supplier, electricity_distributor: dno}
"""


async def test_dcc_request_outside_the_variant_fails_at_once() -> None:
    lab = Lab.build(LabSpec.from_yaml(LAB))
    async with lab:
        assert lab.dcc is not None
        ok = await lab.dcc.request("4.1.1", as_user="supplier", target=lab.eui("ESME"))
        assert ok.ok
        twin_only = await lab.dcc.request(
            "1.1.2", as_user="supplier", target=lab.eui("ESME"), timeout=5
        )
        assert twin_only.reason == "COMMAND_NOT_SUPPORTED", twin_only.detail
        polyphase = await lab.dcc.request(
            "6.5", as_user="dno", target=lab.eui("ESME"), option="polyphase", timeout=5
        )
        assert polyphase.reason == "COMMAND_NOT_SUPPORTED"
        assert any(a.message_code == ECS100 for a in lab.dcc.alerts)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{type: ESME, suffix: A0, variant: triple}", "expected one of"),
        ("{type: GSME, suffix: A1, variant: twin}", "applies to an ESME"),
    ],
)
def test_lab_file_variant_errors(entry: str, message: str) -> None:
    text = LAB.replace("{type: ESME, suffix: A0, variant: single, auxiliary: false}", entry)
    with pytest.raises(LabError, match=message):
        LabSpec.from_yaml(text)
