"""State files and clones: a device restored from `to_state()` JSON, or cloned, behaves the same.

For each device type a history is played on one premises (metering, profiles,
logs, replay counters, anchors, pairings, pending changes); the state goes
through JSON into the same device of a freshly built premises (as a restarted
device runner does: provision, then `load_state`). Both then get the same
commands and must give the same answers, now and after time moves on.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from devices_support import (
    HALF_HOUR,
    START,
    Lab,
    action,
    build_lab,
    der,
    der_command,
    dlms_command,
    dlms_time,
    gbz_command,
    get,
    issue_certificate,
    last_security_code,
    read_attributes,
    send,
    set_,
    zcl,
    zigbee,
)

from emulator.devices.anchors import AnchorRole, TrustAnchor
from emulator.devices.base import Device, DeviceType, Outbound
from emulator.devices.logs import OUT_OF_ORDER
from emulator.devices.zcl_model import CALENDAR, EVENTS, METERING, PREPAYMENT
from emulator.gbcs import crypto, utrn
from emulator.gbcs.asn1 import (
    DerBitString,
    DerInteger,
    DerNull,
    DerOctetString,
    DerSequence,
    decode_der,
)
from emulator.gbcs.dlms.axdr import (
    Array,
    Integer,
    Long,
    LongUnsigned,
    NullData,
    OctetString,
    Structure,
)
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.gbcs.security import MessageSecurity
from emulator.pki.keystore import KeyUsage, MemoryKeyStore
from emulator.pki.testpki import RemotePartyRole, TestPki

PAIRED = Eui64("00-DB-12-34-56-78-90-99")
NEW = Eui64("00-DB-12-34-56-78-90-B0")
JUNK = bytes(range(40))


def _device(lab: Lab, kind: DeviceType) -> Device:
    if kind == DeviceType.CHF:
        return lab.chf
    if kind == DeviceType.GPF:
        return lab.gpf
    return lab.premises.device(kind)


def _utrn(lab: Lab, device: Device, counter: int, pence: int) -> str:
    supplier = lab.premises.parties[AnchorRole.SUPPLIER]
    device_key = device.own_keys[KeyUsage.KEY_AGREEMENT].public_key()
    z = crypto.shared_secret(supplier.keys[KeyUsage.PREPAYMENT_KEY_AGREEMENT], device_key)
    return utrn.generate_utrn(z, supplier.eui, device.eui, counter, pence)


def _gas_top_up(lab: Lab, code: str) -> GbcsMessage:
    component = zcl(PREPAYMENT, 4, {"originating_device": 0, "top_up_code": code.encode()})
    return gbz_command(lab.supplier, lab.gsme, 0x0097, component)


def _price(value: int) -> Structure:
    return Structure(
        [
            Structure([Integer(-2), Integer(0)]),
            Structure([LongUnsigned(826), OctetString(b"GBP\x00\x00\x00"), Integer(-2)]),
            Array([Structure([OctetString(b"\x01"), Long(value)])]),
        ]
    )


def _step(lab: Lab, device: Device, delta: _dt.timedelta) -> None:
    end = lab.clock.now() + delta
    while lab.clock.now() < end:
        lab.advance(min(_dt.timedelta(hours=1), end - lab.clock.now()))
        device.catch_up()


# -- histories: what each device has lived through before its state is saved -----------------


def _esme_history(lab: Lab) -> list[GbcsMessage]:
    esme = lab.esme
    esme.catch_up()
    _step(lab, esme, 5 * HALF_HOUR)
    s = lab.supplier
    sent = [
        s.command("7.2", esme.eui),
        s.command("2.2", esme.eui, utrn=_utrn(lab, esme, 1 << 32, 700)),
        dlms_command(
            s,
            esme,
            0x0019,
            set_(113, "0-0:19.20.0.255", 6, _price(42)),
            set_(113, "0-0:19.20.0.255", 7, dlms_time(lab.clock.now() + 2 * HALF_HOUR)),
            critical=True,
        ),
        der_command(
            s,
            esme,
            0x000D,
            DerSequence([DerInteger(0), DerOctetString(bytes(PAIRED)), DerInteger(4)]),
            critical=True,
        ),
    ]
    for command in sent:
        send(esme, command)
    esme.receive(JUNK)
    _rotate_network_operator(esme)
    return sent


def _rotate_network_operator(device: Device) -> None:
    other = TestPki("rotated").remote_party(
        Eui64("90-B3-D5-1F-30-02-00-09"), RemotePartyRole.NETWORK_OPERATOR, "new operator"
    )
    device.anchors.put(
        TrustAnchor(
            AnchorRole.NETWORK_OPERATOR,
            other.eui,
            other.keys[KeyUsage.DIGITAL_SIGNATURE].public_key(),
            other.keys[KeyUsage.KEY_AGREEMENT].public_key(),
        )
    )


def _esme_probes(lab: Lab) -> list[GbcsMessage]:
    esme, s = lab.esme, lab.supplier
    code = _utrn(lab, esme, 1 << 32, 700)  # already used
    return [
        dlms_command(
            s,
            esme,
            0x0039,
            get(7, "0-0:99.1.1.255", 2),
            get(7, "0-0:99.98.0.255", 2),
            get(7, "0-0:99.98.1.255", 2),
            get(113, "0-0:19.20.0.255", 5),
            get(113, "0-0:19.20.0.255", 6),
        ),
        s.command("7.4", esme.eui),
        s.command("4.1.1", esme.eui),
        s.command("2.2", esme.eui, utrn=code),
        der_command(
            lab.acb,
            esme,
            0x0008,
            DerSequence(
                [
                    DerSequence([DerInteger(4), DerBitString(3, b"\x08")]),
                    DerSequence([DerInteger(2), DerInteger(3)]),
                ]
            ),
        ),
    ]


def _gsme_history(lab: Lab) -> list[GbcsMessage]:
    gsme = lab.gsme
    gsme.catch_up()
    _step(lab, gsme, _dt.timedelta(days=2, hours=1))
    s = lab.supplier
    day = {
        "provider_id": 0,
        "issuer_event_id": 2,
        "issuer_calendar_id": 7,
        "day_id": 9,
        "total_number_of_schedule_entries": 1,
        "command_index": 0,
        "total_number_of_commands": 1,
        "calendar_type": 3,
        "schedule_entries": [{"start_time": 0, "tier_or_action": 2}],
    }
    sent = [
        gbz_command(s, gsme, 0x006B, zcl(CALENDAR, 1, day, to_client=True), critical=True),
        _gas_top_up(lab, _utrn(lab, gsme, 1 << 32, 500)),
        der_command(
            s,
            gsme,
            0x000E,
            DerSequence([DerInteger(2), DerOctetString(bytes(PAIRED)), DerInteger(3)]),
        ),
    ]
    for command in sent:
        send(gsme, command)
    gsme.receive(JUNK)
    return sent


def _gsme_probes(lab: Lab) -> list[GbcsMessage]:
    gsme, s = lab.gsme, lab.supplier
    window = {
        "earliest_start_time": 0,
        "latest_end_time": 0xFFFFFFFF,
        "snapshot_offset": 0,
        "snapshot_cause": 1,
    }
    events = {
        "event_control_log_id": 0x02,
        "event_id": 0,
        "start_time": 0,
        "end_time": 0xFFFFFFFF,
        "number_of_events": 10,
        "event_offset": 0,
    }
    days = {"provider_id": 0, "issuer_calendar_id": 0, "start_day_id": 1, "number_of_days": 0}
    return [
        gbz_command(s, gsme, 0x0074, read_attributes(METERING, 0x0000, 0x0100, 0x0302)),
        gbz_command(s, gsme, 0x0077, zcl(METERING, 6, window)),
        gbz_command(s, gsme, 0x0096, zcl(PREPAYMENT, 7, window)),
        gbz_command(
            s,
            gsme,
            0x00B5,
            zcl(CALENDAR, 1, days),
            zcl(PREPAYMENT, 8, {"latest_end_time": 0xFFFFFFFE, "number_of_records": 5}),
            zcl(EVENTS, 0, events),
        ),
        der_command(s, gsme, 0x0013, DerNull()),
    ]


def _chf_history(lab: Lab) -> list[GbcsMessage]:
    chf, acb = lab.chf, lab.acb
    chf.catch_up()
    sent = [acb.command("8.11-add", chf.eui, device=NEW)]
    send(chf, sent[0])
    chf.joined(NEW)
    sent.append(acb.command("8.11-remove", chf.eui, device=NEW))
    send(chf, sent[1])
    sent.append(acb.command("8.11-add", chf.eui, device=PAIRED))
    send(chf, sent[2])
    chf.receive(JUNK)
    return sent


def _chf_probes(lab: Lab) -> list[GbcsMessage]:
    chf, acb = lab.chf, lab.acb
    return [
        dlms_command(
            acb,
            chf,
            0x00FE,
            action(104, "0-0:30.3.0.255", 4, NullData()),
            action(104, "0-0:30.3.1.255", 4, NullData()),
        ),
        dlms_command(
            acb,
            chf,
            0x0004,
            get(104, "0-0:30.3.0.255", 4),
            get(7, "0-0:99.98.1.255", 2),
        ),
    ]


def _gpf_history(lab: Lab) -> list[GbcsMessage]:
    lab.gsme.catch_up()
    lab.gpf.catch_up()
    lab.advance(_dt.timedelta(hours=2))
    lab.gpf.sync(lab.gsme.mirror())
    sent = [lab.supplier.command("4.1.1-gas", lab.gpf.eui)]
    send(lab.gpf, sent[0])
    lab.gpf.receive(JUNK)
    return sent


def _gpf_probes(lab: Lab) -> list[GbcsMessage]:
    gpf, s = lab.gpf, lab.supplier
    return [
        gbz_command(s, gpf, 0x0074, read_attributes(METERING, 0x0000, 0x0302)),
        gbz_command(s, gpf, 0x0075, read_attributes(PREPAYMENT, 0x0001)),
    ]


def _ppmid_history(lab: Lab) -> list[GbcsMessage]:
    ppmid = lab.premises.device(DeviceType.PPMID)
    join = der_command(
        lab.supplier,
        ppmid,
        0x00AB,
        DerSequence([DerInteger(0), DerOctetString(bytes(PAIRED)), DerInteger(3)]),
        critical=True,
    )
    send(ppmid, join)
    ppmid.receive(JUNK)
    return [join]


def _ppmid_probes(lab: Lab) -> list[GbcsMessage]:
    ppmid = lab.premises.device(DeviceType.PPMID)
    return [
        der_command(lab.acb, ppmid, 0x0129, DerNull()),
        der_command(lab.supplier, ppmid, 0x000F, DerOctetString(bytes(PAIRED)), critical=True),
    ]


Scenario = tuple[Callable[[Lab], list[GbcsMessage]], Callable[[Lab], list[GbcsMessage]]]
SCENARIOS: dict[DeviceType, Scenario] = {
    DeviceType.ESME: (_esme_history, _esme_probes),
    DeviceType.GSME: (_gsme_history, _gsme_probes),
    DeviceType.CHF: (_chf_history, _chf_probes),
    DeviceType.GPF: (_gpf_history, _gpf_probes),
    DeviceType.PPMID: (_ppmid_history, _ppmid_probes),
}
KINDS = list(SCENARIOS)


def _answers(device: Device, commands: list[GbcsMessage]) -> list[tuple[Any, ...]]:
    """What a device answers: header and payload (signatures are randomised)."""
    found = []
    for command in commands:
        out = device.receive(command.encode())
        assert [o.kind for o in out] == ["response"], (device, hex(command.message_code))
        response = decode_message(out[0].message)
        found.append((response.header, response.payload))
    return found


def _dump(device: Device) -> str:
    return json.dumps(device.to_state(), sort_keys=True)


def _restored(a: Lab, kind: DeviceType) -> tuple[Lab, Device]:
    state = json.loads(json.dumps(_device(a, kind).to_state()))
    b = build_lab(a.clock.now())
    device = _device(b, kind)
    device.load_state(state)
    return b, device


# -- state files -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_state_round_trip_gives_the_same_behaviour(kind: DeviceType) -> None:
    history, probes = SCENARIOS[kind]
    a = build_lab()
    original = _device(a, kind)
    sent = history(a)
    b, restored = _restored(a, kind)
    assert _dump(restored) == _dump(original)
    assert restored.anchors.to_json() == original.anchors.to_json()
    assert restored.han_pairings == original.han_pairings
    assert restored.security_log.codes() == original.security_log.codes()
    alerts_a: list[Outbound] = []
    alerts_b: list[Outbound] = []
    original.on_alert, restored.on_alert = alerts_a.append, alerts_b.append
    commands = probes(a)
    fresh = _device(build_lab(a.clock.now()), kind)  # the same device without its history
    answers = _answers(original, commands)
    assert _answers(restored, commands) == answers
    assert _answers(fresh, commands) != answers  # the probes do see the history
    # replay protection survives the restart
    for device in (original, restored):
        accepted = device.commands_accepted
        assert device.receive(sent[-1].encode()) == []
        assert last_security_code(device) == OUT_OF_ORDER
        assert device.commands_accepted == accepted
    # and time-driven state carries on the same way
    for lab, device in ((a, original), (b, restored)):
        _step(lab, device, _dt.timedelta(hours=3))
    commands = probes(a)
    assert _answers(restored, commands) == _answers(original, commands)
    assert [decode_message_payload(decode_message(x.message)).tree for x in alerts_b] == [
        decode_message_payload(decode_message(x.message)).tree for x in alerts_a
    ]
    if kind == DeviceType.ESME:
        # each probe round's replayed UTRN (0x8F51 in a GNCA) and the future-dated price
        assert [x.message_code for x in alerts_b] == [0x1001, 0x00CC, 0x1001]


def test_state_file_is_plain_json() -> None:
    a = build_lab()
    for kind, (history, _) in SCENARIOS.items():
        history(a)
        state = _device(a, kind).to_state()
        assert json.loads(json.dumps(state)) == state
        assert state["type"] == kind.value


def test_state_of_another_device_is_refused() -> None:
    a = build_lab()
    with pytest.raises(ValueError, match="state is for"):
        a.gsme.load_state(a.esme.to_state())


def test_gas_future_dated_component_survives_a_restart() -> None:
    a = build_lab()
    at = START + _dt.timedelta(hours=2)
    fields = {"low_credit_warning_level": 500}
    component = zcl(PREPAYMENT, 9, fields, from_date_time=zigbee(at))
    send(a.gsme, gbz_command(a.supplier, a.gsme, 0x006F, component, critical=True))
    b, restored = _restored(a, DeviceType.GSME)
    alerts: list[Outbound] = []
    restored.on_alert = alerts.append
    b.advance(_dt.timedelta(hours=3))
    restored.catch_up()
    assert [x.message_code for x in alerts] == [0x00CD]


def test_gas_utrn_stays_used_after_a_restart() -> None:
    a = build_lab()
    code = _utrn(a, a.gsme, 1 << 32, 500)
    send(a.gsme, _gas_top_up(a, code))
    _, restored = _restored(a, DeviceType.GSME)
    balance = restored.meter.balance  # type: ignore[attr-defined]
    send(restored, _gas_top_up(a, code))
    assert restored.meter.balance == balance  # type: ignore[attr-defined]


def test_gas_sampled_data_survives_a_restart() -> None:
    a = build_lab()
    a.gsme.catch_up()
    _step(a, a.gsme, _dt.timedelta(hours=3))
    fields = {"sample_id": 1, "earliest_sample_time": 0, "sample_type": 0, "number_of_samples": 4}
    command = gbz_command(a.supplier, a.gsme, 0x0079, zcl(METERING, 8, fields))
    _, restored = _restored(a, DeviceType.GSME)
    assert _answers(restored, [command]) == _answers(a.gsme, [command])


def test_new_device_key_survives_a_restart() -> None:
    a = build_lab()
    esme = a.esme
    request = DerSequence([DerBitString(7, b"\x80")])
    csr_tree = der(send(esme, der_command(a.supplier, esme, 0x000A, request, critical=True)))
    public = x509.load_der_x509_csr(csr_tree.encode()).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    cert = issue_certificate(a, esme, public)
    install = decode_der(cert.public_bytes(serialization.Encoding.DER))
    assert der(send(esme, der_command(a.supplier, esme, 0x000B, install, critical=True))) == (
        DerInteger(0)
    )
    _, restored = _restored(a, DeviceType.ESME)
    response = send(restored, a.supplier.command("7.2", esme.eui))
    crypto.verify(public, response.signed_data(), response.signature)


# -- clones ---------------------------------------------------------------------------------------


def _mutations(lab: Lab, kind: DeviceType, copy: Device) -> list[GbcsMessage]:
    """Commands that change a device of each type; run on the clone only."""
    s = lab.supplier
    if kind == DeviceType.ESME:
        return [
            s.command("7.2", copy.eui),
            s.command("2.2", copy.eui, utrn=_utrn(lab, copy, 5 << 32, 100)),
            dlms_command(
                s, copy, 0x0019, set_(113, "0-0:19.20.0.255", 6, _price(7)), critical=True
            ),
        ]
    if kind == DeviceType.GSME:
        cal = {
            "provider_id": 0,
            "issuer_event_id": 1,
            "issuer_calendar_id": 99,
            "start_time": 0,
            "calendar_type": 3,
            "calendar_time_reference": 0,
            "calendar_name": b"",
            "number_of_seasons": 1,
            "number_of_week_profiles": 1,
            "number_of_day_profiles": 1,
        }
        return [
            gbz_command(s, copy, 0x006B, zcl(CALENDAR, 0, cal, to_client=True), critical=True),
            _gas_top_up(lab, _utrn(lab, copy, 5 << 32, 100)),
        ]
    if kind == DeviceType.CHF:
        return [lab.acb.command("8.11-add", copy.eui, device=Eui64(0x77))]
    if kind == DeviceType.GPF:
        return [gbz_command(s, copy, 0x0075, read_attributes(PREPAYMENT, 0x0001))]
    return [der_command(s, copy, 0x000F, DerOctetString(bytes(PAIRED)), critical=True)]


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_clone_is_independent(kind: DeviceType) -> None:
    history, probes = SCENARIOS[kind]
    lab = build_lab()
    original = _device(lab, kind)
    history(lab)
    before = _dump(original)
    copy = original.clone()
    assert _dump(copy) == before
    commands = probes(lab)
    assert _answers(copy, commands) == _answers(original, commands)
    before = _dump(original)
    mutations = _mutations(lab, kind, copy)
    for command in mutations:
        send(copy, command)
    copy.receive(JUNK)
    copy.anchors.put(dataclasses.replace(copy.anchors.cells()[0], eui=Eui64(0x42)))
    copy.han_pairings[b"\x01" * 8] = 9
    if kind == DeviceType.CHF:
        copy.joined(PAIRED)  # type: ignore[attr-defined]  # an entry logged before the clone
    if kind == DeviceType.GPF:
        copy.sync({"summation": 123456, "values": {"0702:0302": 10}})  # type: ignore[attr-defined]
    assert _dump(copy) != before
    assert _dump(original) == before
    # the counters the clone used up are still fresh on the original
    for command in mutations:
        send(original, command)


def test_clone_does_not_share_alert_sink_or_activations() -> None:
    lab = build_lab()
    alerts: list[Outbound] = []
    lab.esme.on_alert = alerts.append
    copy = lab.esme.clone()
    assert copy.on_alert is None
    clone_alerts: list[Outbound] = []
    copy.on_alert = clone_alerts.append
    when = dlms_time(START + HALF_HOUR)
    command = dlms_command(
        lab.supplier, copy, 0x0019, set_(113, "0-0:19.20.0.255", 7, when), critical=True
    )
    send(copy, command)
    lab.advance(2 * HALF_HOUR)
    lab.esme.catch_up()
    assert [a.message_code for a in clone_alerts] == [0x00CC]
    assert alerts == []
    assert lab.esme.activations == []


def test_clone_anchor_change_does_not_touch_the_original() -> None:
    lab = build_lab()
    esme = lab.esme
    copy = esme.clone()
    _rotate_supplier_ka(lab, copy)
    command = lab.supplier.command("7.4", esme.eui)
    copy.receive(command.encode())
    response = send(esme, command)
    assert lab.verifier.verify(response).mac is True


def _rotate_supplier_ka(lab: Lab, device: Device) -> MessageSecurity:
    """Give the supplier's cell a new key-agreement key; returns the new supplier's verifier."""
    rotated = TestPki("rotated").remote_party(
        lab.supplier.party, RemotePartyRole.SUPPLIER, "rotated supplier"
    )
    cell = device.anchors.get(AnchorRole.SUPPLIER)
    assert cell is not None
    new_ka = rotated.keys[KeyUsage.KEY_AGREEMENT].public_key()
    device.anchors.put(dataclasses.replace(cell, ka_key=new_ka))
    store = MemoryKeyStore()
    for usage, key in rotated.keys.items():
        store.add_private_key(rotated.eui, usage, key)
        store.add_certificate(rotated.eui, usage, rotated.certificates[usage])
    for usage, cert in device.own_certificates.items():
        store.add_certificate(device.eui, usage, cert)
    return MessageSecurity(store)


def test_supplier_key_set_before_any_traffic_is_used_for_response_macs() -> None:
    lab = build_lab()
    new_supplier = _rotate_supplier_ka(lab, lab.esme)
    response = send(lab.esme, lab.supplier.command("7.4", lab.esme.eui))
    assert new_supplier.verify(response).mac is True
    assert lab.verifier.verify(response).mac is False  # the old key no longer fits


def test_rotated_supplier_key_is_used_for_response_macs() -> None:
    lab = build_lab()
    esme = lab.esme
    send(esme, lab.supplier.command("7.4", esme.eui))  # the old secret is now cached
    new_supplier = _rotate_supplier_ka(lab, esme)
    response = send(esme, lab.supplier.command("7.4", esme.eui))
    assert new_supplier.verify(response).mac is True
