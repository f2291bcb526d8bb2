"""Top-ups, supply control and the PPMID: what the consumer and the supplier do to a
prepayment meter, and what the meter logs and raises for each."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pytest
from devices_support import (
    Lab,
    access_response,
    change_gas_supply,
    gbz_response,
    joined_lab,
    ppmid_of,
    send,
)

from emulator.devices import supply
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Outbound
from emulator.devices.han_devices import HanRequestError
from emulator.devices.topup import (
    ACCEPTED,
    COUNTER_CACHE,
    REJECTED_DUPLICATE,
    REJECTED_INVALID,
    REJECTED_MAX_CREDIT,
    REJECTED_TOO_LARGE,
)
from emulator.devices.zcl_device import STATUS_INVALID_FIELD
from emulator.devices.zcl_model import METERING
from emulator.gbcs import utrn
from emulator.gbcs.dlms.apdu import ActionResult
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.metering import prepay
from hil.utrn import UtrnIssueError, issue_utrn, tamper

GCS32, GCS39 = 0x0081, 0x0085


@pytest.fixture
def lab() -> Lab:
    return joined_lab()


class Issuer:
    """The supplier: UTRNs for the lab's meters, counters moving forward."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.counters: dict[bytes, int] = {}

    def __call__(self, meter: Eui64, pence: int, counter: int | None = None) -> str:
        supplier = self.lab.premises.parties[AnchorRole.SUPPLIER].eui
        keystore = self.lab.premises.pki.keystore
        return issue_utrn(keystore, supplier, meter, pence, self.counters, counter=counter)


def _last_event(device: Any) -> int:
    return int(list(device.event_log)[-1].code)


def _alert_codes(device: Any) -> list[int]:
    return [a.code for a in device.supply_alerts]


def _run_out_of_credit(lab: Lab, device: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The metering engine disables the supply for lack of credit: prepayment, a few
    pence left, no emergency credit, a 20 kW load for an hour."""
    meter = device.meter
    meter.set_payment_mode(True)
    meter.emergency_credit_active = False
    meter.balance = 5
    meter.load_w = 20_000
    lab.advance(_dt.timedelta(hours=1))
    device.catch_up()


# -- UTRN generation (harness side) ------------------------------------------------------------


def test_issued_utrns_count_up_and_an_old_counter_does_not_move_them_back(lab: Lab) -> None:
    issue = Issuer(lab)
    esme = lab.esme.eui
    first, second = issue(esme, 100), issue(esme, 100)
    assert first != second and issue.counters[bytes(esme)] == 2
    old = issue(esme, 100, counter=1)
    assert old == first  # the same counter, meter and amount: the same UTRN
    assert issue.counters[bytes(esme)] == 2


def test_an_issue_out_of_range_is_a_harness_error(lab: Lab) -> None:
    with pytest.raises(UtrnIssueError, match="pence"):
        Issuer(lab)(lab.esme.eui, utrn.MAX_VALUE + 1)


def test_tampered_utrns_are_wrong_in_the_one_way_asked(lab: Lab) -> None:
    good = Issuer(lab)(lab.esme.eui, 500)
    with pytest.raises(utrn.UtrnError, match="check digit"):
        utrn.parse_utrn(tamper(good, "check_digit"))
    bad_mac = tamper(good, "mac")
    parsed, original = utrn.parse_utrn(bad_mac), utrn.parse_utrn(good)
    assert (parsed.value, parsed.counter_bits) == (original.value, original.counter_bits)
    assert parsed.mac != original.mac


# -- refusals, each with its GBCS reason ---------------------------------------------------------


def test_a_utrn_is_accepted_once_and_logged(lab: Lab) -> None:
    esme, issue = lab.esme, Issuer(lab)
    before = esme.meter.balance
    code = issue(esme.eui, 750)
    outcome = esme.enter_utrn(code)
    assert (outcome.result, outcome.pence) == (ACCEPTED, 750)
    assert esme.meter.balance == before + 750
    assert _last_event(esme) == supply.CREDIT_ADDED_LOCALLY
    replay = esme.enter_utrn(code)
    assert (replay.result, replay.reason) == (REJECTED_DUPLICATE, supply.DUPLICATE_UTRN)
    assert esme.meter.balance == before + 750
    assert _last_event(esme) == supply.DUPLICATE_UTRN
    assert list(esme.security_log)[-1].code == supply.DUPLICATE_UTRN


@pytest.mark.parametrize(
    ("case", "result", "reason"),
    [
        ("check_digit", REJECTED_INVALID, supply.UTRN_NOT_FOR_DEVICE),
        ("mac", REJECTED_INVALID, supply.UTRN_NOT_AUTHENTIC),
        ("other_meter", REJECTED_INVALID, supply.UTRN_NOT_AUTHENTIC),
        ("old_counter", REJECTED_DUPLICATE, supply.DUPLICATE_UTRN),
    ],
)
def test_each_bad_utrn_is_refused_with_its_reason(
    lab: Lab, case: str, result: int, reason: int
) -> None:
    esme, issue = lab.esme, Issuer(lab)
    if case == "old_counter":  # a full counter cache, then a counter older than all of it
        for n in range(2, COUNTER_CACHE + 2):
            assert esme.enter_utrn(issue(esme.eui, 1, counter=n)).accepted
        code = issue(esme.eui, 500, counter=1)
    elif case == "other_meter":
        code = issue(lab.gsme.eui, 500)
    else:
        code = tamper(issue(esme.eui, 500), "check_digit" if case == "check_digit" else "mac")
    before = esme.meter.balance
    outcome = esme.enter_utrn(code)
    assert (outcome.result, outcome.reason, outcome.pence) == (result, reason, 0)
    assert esme.meter.balance == before
    assert _last_event(esme) == reason
    assert list(esme.security_log)[-1].code == reason


def test_a_remote_top_up_is_logged_as_remote(lab: Lab) -> None:
    esme = lab.esme
    code = Issuer(lab)(esme.eui, 100)
    response = send(esme, lab.supplier.command("2.2", esme.eui, utrn=code))
    assert response is not None
    assert _last_event(esme) == supply.CREDIT_ADDED_REMOTELY


# -- supply: disabled for credit, armed by credit, enabled by the consumer ----------------------


def test_a_top_up_arms_a_supply_disabled_for_credit_and_the_ppmid_enables_it(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    esme, ppmid = lab.esme, ppmid_of(lab)
    _run_out_of_credit(lab, esme, monkeypatch)
    assert supply.state(esme) == "disabled"
    assert _alert_codes(esme)[-2:] == [supply.CREDIT_BELOW_DISABLEMENT, supply.SUPPLY_DISABLED]
    assert ppmid.request_enable("ESME") is False  # not armed: nothing happens
    assert esme.meter.supply_enabled is False

    outcome = ppmid.enter_utrn(Issuer(lab)(esme.eui, 1000), "ESME")
    assert outcome.accepted
    assert supply.state(esme) == "armed"
    assert _alert_codes(esme)[-2:] == [supply.CREDIT_ADDED_LOCALLY, supply.SUPPLY_ARMED]
    assert ppmid.display["ESME"]["supply"] == "armed"

    assert ppmid.request_enable("ESME") is True  # PECS03
    assert supply.state(esme) == "enabled"
    assert _alert_codes(esme)[-1] == supply.SUPPLY_ENABLED
    assert [e.detail for e in ppmid.event_log][-1] == "PECS03"
    assert ppmid.display["ESME"]["supply"] == "enabled"


def test_the_meter_button_enables_only_an_armed_supply(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    esme = lab.esme
    assert esme.press_button() is False  # enabled already: nothing to do
    _run_out_of_credit(lab, esme, monkeypatch)
    assert esme.press_button() is False
    assert _last_event(esme) == supply.NOT_ACTIONED
    esme.meter.balance = 100
    supply.after_credit(esme)
    assert esme.press_button() is True
    assert esme.meter.supply_enabled is True


def test_a_supply_the_meter_disabled_between_catch_ups_is_armed_by_a_top_up(lab: Lab) -> None:
    """The metering engine also disables when a balance change leaves no credit, outside
    any catch-up; that is a disablement for credit too, not a command."""
    esme = lab.esme
    esme.meter.balance = -10
    esme.meter.supply_enabled = False
    assert esme.enter_utrn(Issuer(lab)(esme.eui, 500)).accepted
    assert supply.state(esme) == "armed"


def test_credit_back_by_any_path_arms_at_the_next_catch_up(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    esme = lab.esme
    _run_out_of_credit(lab, esme, monkeypatch)
    esme.meter.balance = 500  # a balance adjustment (ECS04) the supply module does not see
    lab.advance(_dt.timedelta(seconds=1))
    esme.catch_up()
    assert supply.state(esme) == "armed"


def test_a_top_up_does_not_arm_a_supply_the_supplier_opened(lab: Lab) -> None:
    esme = lab.esme
    supply.disable(esme, "opened remotely")
    assert esme.enter_utrn(Issuer(lab)(esme.eui, 1000)).accepted
    assert supply.state(esme) == "disabled"


def test_emergency_credit_from_the_ppmid_arms_a_supply_disabled_for_credit(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    esme, ppmid = lab.esme, ppmid_of(lab)
    esme.meter.prepayment = True
    _run_out_of_credit(lab, esme, monkeypatch)
    esme.meter.balance = 0  # at the emergency credit threshold: offered
    assert ppmid.request_emergency_credit("ESME") is True  # PECS02
    assert esme.meter.emergency_credit_active is True
    assert supply.state(esme) == "armed"
    assert _alert_codes(esme)[-2:] == [
        supply.EMERGENCY_CREDIT_ACTIVATED,
        supply.ARMED_BY_EMERGENCY_CREDIT,
    ]


# -- the gas valve -------------------------------------------------------------------------------


def test_the_gas_valve_is_closed_and_armed_remotely_but_opened_only_at_the_meter(lab: Lab) -> None:
    gsme, ppmid = lab.gsme, ppmid_of(lab)
    assert change_gas_supply(lab, GCS32, 0).frame.fields["supply_status"] == 0
    assert supply.state(gsme) == "disabled"
    refused = change_gas_supply(lab, GCS32, 2)  # a remote open
    assert refused.frame.fields["status"] == STATUS_INVALID_FIELD
    assert supply.state(gsme) == "disabled"
    assert change_gas_supply(lab, GCS39, 1).frame.fields["supply_status"] == 1
    assert supply.state(gsme) == "armed"
    assert gsme.attribute_value(METERING, 0x0014, 0x30) == 1  # GCS33 reads it
    with pytest.raises(HanRequestError, match="GSME"):
        ppmid.request_enable("GSME")  # no PPMID use case opens a valve
    assert gsme.press_button() is True
    assert supply.state(gsme) == "enabled"
    assert gsme.mirror()["values"]["0702:0014"] == 2  # and the GPF, while the meter sleeps


def test_a_gas_top_up_from_the_ppmid_is_pcs01(lab: Lab) -> None:
    gsme, ppmid = lab.gsme, ppmid_of(lab)
    before = gsme.meter.balance
    code = Issuer(lab)(gsme.eui, 300)
    assert ppmid.enter_utrn(code, "GSME").accepted
    assert gsme.meter.balance == before + 300
    assert gsme.zcl.top_ups[-1]["top_up_code"] == code.encode()  # in the meter's top-up log
    assert gsme.zcl.top_ups[-1]["top_up_amount"] == 300
    assert [e.detail for e in ppmid.event_log][-1] == "PCS01"
    assert ppmid.display["GSME"]["balance"] == gsme.meter.balance


# -- the PPMID -----------------------------------------------------------------------------------


def test_the_ppmid_shows_balance_debt_and_supply_of_both_meters(lab: Lab) -> None:
    ppmid = ppmid_of(lab)
    lab.esme.meter.debt = 250
    shown = ppmid.refresh()
    assert shown["ESME"]["balance"] == lab.esme.meter.balance
    assert shown["ESME"]["debt"] == 250
    assert shown["GSME"]["supply"] == "enabled"
    assert ppmid.displayed_balance == int(lab.esme.meter.balance)


def test_a_ppmid_not_joined_to_the_meter_reaches_nothing(lab: Lab) -> None:
    ppmid, esme = ppmid_of(lab), lab.esme
    del esme.han_pairings[bytes(ppmid.eui)]  # the meter unjoined it
    before = esme.meter.balance
    with pytest.raises(HanRequestError, match="not joined"):
        ppmid.enter_utrn(Issuer(lab)(esme.eui, 300), "ESME")
    assert esme.meter.balance == before
    assert _last_event(ppmid) == supply.NOT_ACTIONED
    assert "ESME" not in ppmid.refresh()


# -- alerts on the wire --------------------------------------------------------------------------


def test_gbcs_alert_codes_go_to_the_acb_and_our_own_codes_do_not(lab: Lab) -> None:
    esme = lab.esme
    sent_to: list[Outbound] = []
    esme.on_alert = sent_to.append
    refused = esme.enter_utrn(tamper(Issuer(lab)(esme.eui, 100), "mac"))
    assert refused.reason == supply.UTRN_NOT_AUTHENTIC
    supply.disable(esme, "test")  # 0x00D0, ours: stays in the device
    assert len(sent_to) == 1
    out = sent_to[0]
    assert out.message_code == supply.GENERIC_NON_CRITICAL_ALERT
    assert (out.kind, out.destination) == ("alert", esme.security.acb)
    assert decode_message(out.message).message_code == supply.GENERIC_NON_CRITICAL_ALERT


def test_an_alert_the_engine_raised_is_logged_kept_and_sent_once(lab: Lab) -> None:
    """The supply module leaves the engine's alerts to the engine's event path
    (prepay_bridge.emit_meter_alerts), which logs, keeps and sends each one once."""
    from emulator.devices.prepay_bridge import emit_meter_alerts
    from emulator.metering.prepay import MeterEvent

    esme = lab.esme
    sent_to: list[Outbound] = []
    esme.on_alert = sent_to.append
    logged, kept = len(esme.event_log), len(esme.supply_alerts)
    supply.raise_alert(esme, supply.SUPPLY_ARMED, "armed by the engine", engine=True)
    assert (len(esme.event_log), sent_to, len(esme.supply_alerts)) == (logged, [], kept)
    esme.meter.take_events()
    esme.meter.events.append(MeterEvent(esme.clock.now(), supply.SUPPLY_ARMED, "armed"))
    assert emit_meter_alerts(esme) == 1
    assert len(esme.event_log) == logged + 1 and len(sent_to) == 1
    assert esme.last_alert == supply.SUPPLY_ARMED
    assert emit_meter_alerts(esme) == 0  # taken once


# -- refusals by the meter's credit limits (maximum credit, maximum meter balance) -------------


def _limit(device: Any, *, max_credit: int = 0, max_meter_balance: int = 0) -> None:
    device.meter.configure({"max_credit": max_credit, "max_meter_balance": max_meter_balance})


@pytest.mark.parametrize("fuel", ["ESME", "GSME"])
@pytest.mark.parametrize(
    ("limits", "reason", "result"),
    [
        ({"max_credit": 400}, prepay.MAX_CREDIT_EXCEEDED, REJECTED_TOO_LARGE),
        ({"max_meter_balance": -1}, prepay.MAX_BALANCE_EXCEEDED, REJECTED_MAX_CREDIT),
    ],
)
def test_a_utrn_over_the_credit_limits_is_refused_locally_and_can_be_entered_later(
    lab: Lab, fuel: str, limits: dict[str, int], reason: int, result: int
) -> None:
    """Keypad and PPMID: refused with the GBCS code, in the event log (not the
    security log: the token is genuine), balance unchanged, counter not consumed."""
    device = lab.esme if fuel == "ESME" else lab.gsme
    ppmid, issue = ppmid_of(lab), Issuer(lab)
    before = device.meter.balance
    if limits.get("max_meter_balance") == -1:  # room for 499p, the UTRN is 500p
        limits = {"max_meter_balance": before + 499}
    _limit(device, **limits)
    security = len(device.security_log)
    sent_to: list[Outbound] = []
    device.on_alert = sent_to.append
    code = issue(device.eui, 500)
    for outcome in (device.enter_utrn(code), ppmid.enter_utrn(code, fuel)):
        assert (outcome.result, outcome.reason, outcome.pence) == (result, reason, 0)
        assert device.meter.balance == before
        assert _last_event(device) == reason  # logged now, not at the next catch-up
        assert device.last_alert == reason
    assert len(device.security_log) == security
    assert [decode_message(o.message).message_code for o in sent_to] == [
        supply.GENERIC_NON_CRITICAL_ALERT
    ] * 2  # one GNCA per refusal, to the ACB
    _limit(device)  # the limits lifted: the same UTRN is still good, once
    assert device.enter_utrn(code).accepted
    assert device.meter.balance == before + 500
    assert device.enter_utrn(code).reason == supply.DUPLICATE_UTRN


def test_a_remote_utrn_over_the_maximum_credit_is_refused_on_the_esme(lab: Lab) -> None:
    """CS01a: the DLMS action fails (hardware-fault, as the reference CS01a ERROR
    response); the reason is the 0x8F5B event and alert."""
    esme = lab.esme
    _limit(esme, max_credit=400)
    before = esme.meter.balance
    code = Issuer(lab)(esme.eui, 500)
    response = send(esme, lab.supplier.command("2.2", esme.eui, utrn=code))
    (spec,) = access_response(response).results
    assert spec.result == ActionResult.HARDWARE_FAULT
    assert esme.meter.balance == before
    assert _last_event(esme) == prepay.MAX_CREDIT_EXCEEDED
    _limit(esme)
    response = send(esme, lab.supplier.command("2.2", esme.eui, utrn=code))
    (spec,) = access_response(response).results
    assert spec.result == 0
    assert esme.meter.balance == before + 500


def test_a_remote_utrn_over_the_maximum_meter_balance_is_refused_on_the_gsme(lab: Lab) -> None:
    """CS01b: the consumer top-up response says Rejected - Max Credit Reached (ZSE 4)."""
    gsme = lab.gsme
    before = gsme.meter.balance
    _limit(gsme, max_meter_balance=before + 100)
    code = Issuer(lab)(gsme.eui, 500)
    response = send(gsme, lab.supplier.command("2.2", gsme.eui, device_type="GSME", utrn=code))
    (answer,) = gbz_response(response).components
    assert answer.frame.fields["result_type"] == REJECTED_MAX_CREDIT
    # as the reference CS01b ERROR response: 0xFFFFFFFF for the value and the credit
    assert (answer.frame.fields["top_up_value"], answer.frame.fields["credit_remaining"]) == (
        -1,
        -1,
    )
    assert gsme.meter.balance == before
    assert _last_event(gsme) == prepay.MAX_BALANCE_EXCEEDED
    assert gsme.zcl.top_ups == [] or gsme.zcl.top_ups[-1]["top_up_code"] != code.encode()
