"""The PPMID's requests to a meter over the HAN (ZSE frames, kind 16): what the meter does
with each, what it refuses and logs, and the frames crossing the hub between two links."""

from __future__ import annotations

import asyncio
import datetime as _dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from devices_support import Lab, joined_lab, ppmid_of

from emulator.devices import han_consumer, supply
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.han_devices import HanRequestError, Ppmid
from emulator.devices.logs import COMMAND_NOT_SUPPORTED, MALFORMED_COMMAND, UNAUTHORISED
from emulator.devices.topup import ACCEPTED, REJECTED_DUPLICATE, REJECTED_INVALID
from emulator.gbcs.eui import Eui64
from emulator.han.zse import ZseMessage
from emulator.premises import Premises, join_ppmids
from hil.dcc.lab import Lab as HilLab
from hil.fixtures import FIXTURES
from hil.utrn import issue_utrn


@pytest.fixture
def lab() -> Lab:
    return joined_lab()


def _utrn(premises: Premises, meter: Eui64, pence: int, counters: dict[bytes, int]) -> str:
    supplier = premises.parties[AnchorRole.SUPPLIER].eui
    return issue_utrn(premises.pki.keystore, supplier, meter, pence, counters)


def _serve(meter: Any, source: Any, message: ZseMessage | bytes) -> han_consumer.ZseAnswer:
    raw = message if isinstance(message, bytes) else message.encode()
    answer = meter.serve_zse(source, raw)
    assert isinstance(answer, han_consumer.ZseAnswer)
    return answer


def _status(answer: han_consumer.ZseAnswer) -> int:
    assert answer.reply is not None and answer.reply.name == "default_response"
    assert answer.reply.frame.fields is not None
    return int(answer.reply.frame.fields["status"])


def _last_security(device: Any) -> int:
    return int(list(device.security_log)[-1].code)


# -- the meter's side: the same rules as the in-process request -------------------------------


def test_a_top_up_over_the_han_credits_once_like_one_typed_at_theppmid_of(lab: Lab) -> None:
    esme, ppmid, counters = lab.esme, ppmid_of(lab), {}
    code = _utrn(lab.premises, esme.eui, 250, counters)
    before = esme.meter.balance
    meter, request, use_case = ppmid.han_request("ESME", "top_up", code)
    assert (meter, use_case) == (esme.eui, "PECS01")
    answer = _serve(esme, ppmid.eui, request)
    assert answer.refused is None and answer.reply is not None
    fields = answer.reply.frame.fields or {}
    assert answer.reply.name == "consumer_top_up_response"
    assert answer.reply.frame.sequence == request.frame.sequence
    assert (fields["result_type"], fields["top_up_value"]) == (ACCEPTED, 250)
    assert fields["credit_remaining"] == before + 250 == esme.meter.balance
    assert supply.CREDIT_ADDED_LOCALLY in [a.code for a in esme.supply_alerts]
    outcome = ppmid.han_top_up(use_case, answer.reply)
    assert outcome.accepted and outcome.pence == 250
    assert int(list(ppmid.event_log)[-1].code) == 0x8161  # actioned, on the PPMID
    # the same frame again: a duplicate, refused as in-process, nothing credited
    again = _serve(esme, ppmid.eui, request)
    assert again.reply is not None and again.reply.frame.fields is not None
    assert again.reply.frame.fields["result_type"] == REJECTED_DUPLICATE
    # a refusal states neither a value nor the balance: 0xFFFFFFFF in both S32 fields
    assert (
        again.reply.frame.fields["top_up_value"]
        == again.reply.frame.fields["credit_remaining"]
        == -1
    )
    assert again.reply.encode().endswith(
        b"\xff" * 4 + bytes([2]) + b"\xff" * 4
    )  # source 2: the PPMID
    assert esme.meter.balance == before + 250
    assert _last_security(esme) == supply.DUPLICATE_UTRN
    refused = ppmid.han_top_up(use_case, again.reply)
    assert not refused.accepted and refused.pence == 0  # not -1 pence


def test_a_bad_check_digit_is_refused_with_its_reason_in_the_log(lab: Lab) -> None:
    esme, ppmid = lab.esme, ppmid_of(lab)
    code = _utrn(lab.premises, esme.eui, 100, {})
    bad = code[:-1] + str((int(code[-1]) + 1) % 10)
    _, request, _ = ppmid.han_request("ESME", "top_up", bad)
    answer = _serve(esme, ppmid.eui, request)
    assert answer.reply is not None and answer.reply.frame.fields is not None
    assert answer.reply.frame.fields["result_type"] == REJECTED_INVALID
    assert _last_security(esme) == supply.UTRN_NOT_FOR_DEVICE


def test_emergency_credit_and_enable_answer_with_a_default_response(lab: Lab) -> None:
    esme, ppmid = lab.esme, ppmid_of(lab)
    _, enable, use_case = ppmid.han_request("ESME", "enable")
    assert use_case == "PECS03"
    answer = _serve(esme, ppmid.eui, enable)
    assert _status(answer) == han_consumer.FAILURE  # the supply is on: nothing to enable
    assert not ppmid.han_actioned(use_case, answer.reply)
    assert int(list(esme.event_log)[-1].code) == supply.NOT_ACTIONED
    # out of credit: the meter disables, emergency credit from the PPMID arms it again
    meter = esme.meter
    meter.prepayment = True
    meter.set_payment_mode(True)
    meter.emergency_credit_active = False
    meter.balance = 5
    meter.load_w = 20_000
    lab.advance(_dt.timedelta(hours=1))
    esme.catch_up()
    assert esme.supply_state == "disabled"
    meter.balance = 0  # at the emergency credit threshold: offered
    _, credit, use_case = ppmid.han_request("ESME", "emergency_credit")
    fields = credit.frame.fields or {}
    assert fields["originating_device"] == han_consumer.ORIGINATING_IHD
    answer = _serve(esme, ppmid.eui, credit)
    assert _status(answer) == han_consumer.SUCCESS
    assert esme.meter.emergency_credit_active and esme.supply_state == "armed"
    assert ppmid.han_actioned(use_case, answer.reply)
    _, enable, use_case = ppmid.han_request("ESME", "enable")
    assert _status(_serve(esme, ppmid.eui, enable)) == han_consumer.SUCCESS
    assert esme.supply_state == "enabled"


def test_a_gas_meter_opens_no_valve_from_the_han(lab: Lab) -> None:
    gsme, ppmid = lab.premises.device(DeviceType.GSME), ppmid_of(lab)
    with pytest.raises(HanRequestError, match="cannot ask a GSME to enable"):
        ppmid.han_request("GSME", "enable")
    _, frame, _ = ppmid.han_request("ESME", "enable")  # sent to the gas meter anyway
    answer = _serve(gsme, ppmid.eui, frame)
    assert (_status(answer), answer.refused) == (han_consumer.UNSUPPORTED, "unsupported")
    assert _last_security(gsme) == COMMAND_NOT_SUPPORTED


def test_only_a_paired_ppmid_may_act(lab: Lab) -> None:
    esme, ppmid = lab.esme, ppmid_of(lab)
    _, frame, _ = ppmid.han_request("ESME", "emergency_credit")
    stranger = Eui64("00-DB-12-34-56-78-90-B9")
    answer = _serve(esme, stranger, frame)
    assert (_status(answer), answer.refused) == (han_consumer.NOT_AUTHORIZED, "not_paired")
    assert _last_security(esme) == UNAUTHORISED
    assert not esme.meter.emergency_credit_active


@pytest.mark.parametrize(
    ("raw", "reason", "status"),
    [
        (bytes.fromhex("0705 01"), "garbled", None),  # cut inside the ZCL header
        (bytes.fromhex("0705 01 07 7f"), "unsupported", han_consumer.UNSUPPORTED),
        (bytes.fromhex("0705 01 07 04 02"), "malformed", han_consumer.MALFORMED),  # no code
        (bytes.fromhex("0702 01 07 0c 01"), "invalid", han_consumer.INVALID_FIELD),  # OFF
        (bytes.fromhex("0705 19 07 03 00 00 00 00 00 02 00 00 00 00"), "unexpected", None),
    ],
    ids=["garbled", "unknown-command", "short-payload", "supply-off", "an-answer"],
)
def test_refused_frames_are_logged_and_answered_when_they_can_be(
    lab: Lab, raw: bytes, reason: str, status: int | None
) -> None:
    esme, ppmid = lab.esme, ppmid_of(lab)
    before = len(esme.security_log)
    answer = _serve(esme, ppmid.eui, raw)
    assert answer.refused == reason
    assert len(esme.security_log) == before + 1
    if status is None:
        assert answer.reply is None
    else:
        assert _status(answer) == status
        assert answer.reply is not None and answer.reply.frame.sequence == 0x07
    if reason in ("garbled", "malformed", "invalid"):
        assert _last_security(esme) == MALFORMED_COMMAND


def test_a_ppmid_not_paired_with_a_meter_sends_nothing(lab: Lab) -> None:
    ppmid = ppmid_of(lab)
    ppmid.han_pairings.clear()
    with pytest.raises(HanRequestError, match="not joined to a ESME"):
        ppmid.han_request("ESME", "top_up", "0" * 20)
    assert int(list(ppmid.event_log)[-1].code) == supply.NOT_ACTIONED


# -- over links: the PPMID on the bus, the meter on its own port, the hub relaying ------------


async def test_the_hub_relays_zse_between_the_bus_and_a_meters_port() -> None:
    premises = Premises.build()
    join_ppmids(premises.devices)
    esme = premises.device(DeviceType.ESME)
    ppmid = premises.device(DeviceType.PPMID)
    assert isinstance(ppmid, Ppmid)
    port = "memory://zse-port-a0"
    async with premises:
        hub = await premises.connect(
            "memory://zse-bus", per_device_urls={bytes(esme.eui): f"{port} {port}"}
        )
        code = _utrn(premises, esme.eui, 300, {})
        before = esme.meter.balance
        meter, request, use_case = ppmid.han_request("ESME", "top_up", code)
        answer = await premises.runner_for(ppmid.eui).zse_request(meter, request, 2.0)
        assert answer is not None and answer.name == "consumer_top_up_response"
        assert ppmid.han_top_up(use_case, answer).pence == 300
        assert esme.meter.balance == before + 300
        assert hub.counters.relayed == 2  # the request onto the port, the answer back
        # a refusal crosses the same way and is counted at the meter's runner
        stranger = premises.runner_for(esme.eui)
        esme.han_pairings.pop(bytes(ppmid.eui))
        _, frame, _ = ppmid.han_request("ESME", "emergency_credit")
        refused = await premises.runner_for(ppmid.eui).zse_request(meter, frame, 2.0)
        assert refused is not None and refused.name == "default_response"
        assert stranger.zse_refused["not_paired"] == 1
        await asyncio.sleep(0)


def test_a_commissioned_ppmid_is_paired_with_a_meter_under_test(tmp_path: Path) -> None:
    """The lab gives the PPMID its half of the pairing with a board (the board has the
    other half from the same lab file): without it the PPMID would send nothing."""
    data = yaml.safe_load((FIXTURES / "labs" / "demo.yaml").read_text())
    for site in data["premises"]:
        for device in site["devices"]:
            if device["type"] == "ESME":
                device.update(external=True, link="socket://127.0.0.1:9")
    path = tmp_path / "dut.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lab = HilLab.load(path)
    ppmid = lab.device("PPMID")
    assert lab.device("ESME") is None and isinstance(ppmid, Ppmid)
    assert ppmid.han_pairings[bytes(lab.eui("ESME"))] == 1
    meter, _, _ = ppmid.han_request("ESME", "enable")
    assert meter == lab.eui("ESME")
