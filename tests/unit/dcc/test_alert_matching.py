"""Alerts are matched to requests by what they name, decoded as GBCS lays it out:
the alert must come from the command's device and name the command's originator
counter (and message code, where the body repeats it). What matches nothing goes
to the device's suppliers; what does not decode is counted and logged."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging

import pytest
from lab_support import dcc_of, settle

from emulator.devices.alerts import dlms_alert
from emulator.gbcs import builder
from emulator.gbcs.dlms.axdr import OctetString
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.gbcs.zcl.gbz import FutureDatedGbzOutcome, GbzAlert, encode_gbz_alert
from hil.dcc.lab import Lab
from hil.dcc.requests import Result

FUTURE_DATED_DLMS = 0x00CC
FUTURE_DATED_GBZ = 0x00CD
GENERIC_CRITICAL = 0x1000


async def _future_dated(lab: Lab, variant: str, device: str) -> tuple[Result, GbcsMessage]:
    dcc = dcc_of(lab)
    when = lab.clock.now() + _dt.timedelta(hours=1)
    result = dcc.submit(
        variant, as_user="supplier", target=lab.eui(device), params={"execution_time": when}
    )
    dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.ok, result.detail
    return result, decode_message(result.command or b"")


def _alert(origin: Eui64, to: Eui64, code: int, payload: bytes, counter: int = 5) -> bytes:
    msg = builder.alert(code, counter, origin, to, payload)
    return dataclasses.replace(msg, signature=b"").encode()


def _names(command: GbcsMessage) -> OctetString:
    return OctetString(
        command.message_code.to_bytes(2, "big") + command.counter.to_bytes(8, "big") + bytes(9)
    )


async def test_future_dated_outcome_alert_is_matched(lab: Lab) -> None:
    """The ESME runs a future-dated price change and says so (0x00CC, DLMS)."""
    dcc = dcc_of(lab)
    result, command = await _future_dated(lab, "1.2.1", "ESME")
    await lab.run_for(2 * 3600)
    await settle(5)
    matched = [a for a in dcc.alerts if a.request_id == result.request_id]
    assert matched and {a.message_code for a in matched} == {FUTURE_DATED_DLMS}
    assert matched[0].device == command.recipient and matched[0].users == ["supplier"]
    assert len(result.alerts) == len(matched)
    assert dcc.drops == {}


async def test_gbz_future_dated_outcome_alert_is_matched(lab: Lab) -> None:
    """The GBZ form (0x00CD) names the command in the body after the alert header."""
    dcc = dcc_of(lab)
    result, command = await _future_dated(lab, "1.2.1", "GSME")
    outcome = FutureDatedGbzOutcome(command.message_code, command.counter, 0x0700, 0x09, 0x05)
    body = GbzAlert(0x8F66, 0, 1, outcome, body_kind="future_dated_outcome")
    gsme = lab.eui("GSME")
    dcc._on_alert(
        _alert(lab.eui("ESME"), command.originator, FUTURE_DATED_GBZ, encode_gbz_alert(body))
    )
    assert [a.request_id for a in dcc.alerts[-1:]] == [None]  # right counter, wrong device
    dcc._on_alert(_alert(gsme, command.originator, FUTURE_DATED_GBZ, encode_gbz_alert(body)))
    assert dcc.alerts[-1].request_id == result.request_id
    assert dcc.drops == {}


async def test_alert_from_another_device_with_the_same_counter_is_not_matched(lab: Lab) -> None:
    dcc = dcc_of(lab)
    result, command = await _future_dated(lab, "1.2.1", "ESME")
    other = lab.eui("CHF")
    when = lab.clock.now()
    forged = dlms_alert(9, 0x8F66, when, _names(command)).encode()
    dcc._on_alert(_alert(other, command.originator, FUTURE_DATED_DLMS, forged))
    # the counter's bytes anywhere in another kind of alert from the right device
    loose = dlms_alert(9, 0x8F30, when, _names(command)).encode()
    dcc._on_alert(_alert(command.recipient, command.originator, GENERIC_CRITICAL, loose))
    assert [a.request_id for a in dcc.alerts[-2:]] == [None, None]
    assert result.alerts == []
    # the same body from the command's own device is the outcome of the command
    dcc._on_alert(_alert(command.recipient, command.originator, FUTURE_DATED_DLMS, forged))
    assert dcc.alerts[-1].request_id == result.request_id


async def test_alert_naming_another_message_code_is_not_matched(lab: Lab) -> None:
    dcc = dcc_of(lab)
    _, command = await _future_dated(lab, "1.2.1", "ESME")
    detail = (command.message_code + 1).to_bytes(2, "big") + command.counter.to_bytes(8, "big")
    body = dlms_alert(9, 0x8F66, lab.clock.now(), OctetString(detail)).encode()
    dcc._on_alert(_alert(command.recipient, command.originator, FUTURE_DATED_DLMS, body))
    assert dcc.alerts[-1].request_id is None
    assert dcc.alerts[-1].users  # the device's suppliers get it


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xdf\x09\x03", "does not decode"),
        (None, "alert 0x00CC"),  # a frame that decodes, a body without the named command
    ],
)
async def test_undecodable_alert_is_counted_and_logged(
    lab: Lab, caplog: pytest.LogCaptureFixture, raw: bytes | None, why: str
) -> None:
    dcc = dcc_of(lab)
    if raw is None:
        body = dlms_alert(9, 0x8F66, lab.clock.now()).encode()
        raw = _alert(lab.eui("ESME"), Eui64("90-B3-D5-1F-30-01-00-00"), FUTURE_DATED_DLMS, body)
    before = len(dcc.alerts)
    dcc._on_alert(raw)
    assert dcc.drops == {"undecodable": 1}
    assert len(dcc.alerts) == before
    assert any(
        r.levelno == logging.WARNING and "undecodable" in r.getMessage() and why in r.getMessage()
        for r in caplog.records
    )
