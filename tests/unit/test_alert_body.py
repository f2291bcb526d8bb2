"""`named_command` reads the command an alert names from the body GBCS defines for
its message code, and nowhere else."""

from __future__ import annotations

import dataclasses
import datetime as _dt

import pytest

from emulator.devices.alerts import dlms_alert
from emulator.errors import GbcsDecodeError
from emulator.gbcs import builder
from emulator.gbcs.alert_body import NamedCommand, named_command
from emulator.gbcs.asn1 import DerInteger, DerOctetString, DerSequence, DerString
from emulator.gbcs.dlms.axdr import OctetString
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.zcl.gbz import FutureDatedGbzOutcome, GbzAlert, encode_gbz_alert

DEVICE = Eui64("00-DB-12-34-56-78-90-A0")
SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
WHEN = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)
COUNTER = 0x0000_0001_0000_03EB


def _alert(code: int, payload: bytes) -> GbcsMessage:
    return dataclasses.replace(builder.alert(code, 9, DEVICE, SUPPLIER, payload), signature=b"")


def _time() -> DerString:
    return DerString(24, b"20260302100000Z")


def test_dlms_future_dated_outcome() -> None:
    detail = OctetString(b"\x00\xb7" + COUNTER.to_bytes(8, "big") + bytes(9))
    payload = dlms_alert(9, 0x8F66, WHEN, detail).encode()
    assert named_command(_alert(0x00CC, payload)) == NamedCommand(COUNTER, 0x00B7)


def test_gbz_future_dated_outcome() -> None:
    body = GbzAlert(0x8F66, 0, 1, FutureDatedGbzOutcome(0x00A3, COUNTER, 0x0700, 9, 5))
    body.body_kind = "future_dated_outcome"
    assert named_command(_alert(0x00CD, encode_gbz_alert(body))) == NamedCommand(COUNTER, 0x00A3)


def test_asn1_firmware_activation_and_credentials_outcomes() -> None:
    activation = DerSequence([DerInteger(0x8F66), _time(), DerInteger(1001), DerSequence([])])
    assert named_command(_alert(0x00CA, activation.encode())) == NamedCommand(1001, None)
    inner = DerSequence([DerInteger(1004), DerInteger(2)])
    credentials = DerSequence([DerInteger(0x8F66), _time(), inner])
    assert named_command(_alert(0x00CB, credentials.encode())) == NamedCommand(1004, None)


def test_other_alerts_name_nothing_even_with_the_counter_in_them() -> None:
    detail = OctetString(b"\x00\xb7" + COUNTER.to_bytes(8, "big"))
    payload = dlms_alert(9, 0x8F30, WHEN, detail).encode()
    assert named_command(_alert(0x1000, payload)) is None
    firmware = DerSequence([DerInteger(0x8F8A), _time(), DerOctetString(bytes(DEVICE))])
    assert named_command(_alert(0x0128, firmware.encode())) is None


@pytest.mark.parametrize(
    ("code", "payload"),
    [
        (0x00CC, dlms_alert(9, 0x8F66, WHEN).encode()),  # no third item
        (0x00CC, dlms_alert(9, 0x8F66, WHEN, OctetString(b"\x00\xb7")).encode()),  # too short
        (0x00CA, DerSequence([DerInteger(0x8F66), _time()]).encode()),  # no counter
        (0x0010, b"\x0f\x20"),  # a body that does not decode at all
    ],
)
def test_a_body_without_what_its_code_calls_for_raises(code: int, payload: bytes) -> None:
    with pytest.raises(GbcsDecodeError):
        named_command(_alert(code, payload))
