"""The CHF Device Log rules (GBCS CCS01/CCS02/CCS03, CS14): join windows on the
virtual clock, the historic log, the link-key choice, restore, and state."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import (
    Lab,
    access_response,
    action,
    build_lab,
    der,
    der_command,
    dlms_command,
    send,
    tree,
)

from emulator.devices.base import Outbound
from emulator.devices.chf import CHF_DEVICE_LOG_CAPACITY, CS14, LOG_FULL_RESULT
from emulator.devices.device_log import (
    HISTORIC_CAPACITY,
    KEY_HISTORIC,
    KEY_INSTALL_CODE,
    DeviceLog,
    install_code_key_hash,
)
from emulator.devices.gpf import ALERT_GPF_DEVICE_LOG_CHANGED, GCS62
from emulator.gbcs.asn1 import DerConstructed, DerInteger, DerOctetString, DerSequence
from emulator.gbcs.dlms.apdu import DataNotification
from emulator.gbcs.dlms.axdr import Array, OctetString, Structure
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, decode_message

NEW = Eui64("00-DB-12-34-56-78-90-B0")
T0 = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
HOUR = _dt.timedelta(hours=1)
CCS03, GCS59 = 0x0003, 0x008C


@pytest.fixture
def lab() -> Lab:
    return build_lab()


@pytest.fixture
def alerts(lab: Lab) -> list[Outbound]:
    sink: list[Outbound] = []
    lab.chf.on_alert = sink.append
    return sink


def _add(lab: Lab, eui: Eui64 = NEW, timeout: int = 3600) -> None:
    command = lab.acb.command("8.11-add", lab.chf.eui, device=eui, join_timeout=timeout)
    assert [r.result for r in access_response(send(lab.chf, command)).results] == [0, 0, 0]


def _remove(lab: Lab, eui: Eui64 = NEW) -> None:
    command = lab.acb.command("8.11-remove", lab.chf.eui, device=eui)
    assert [r.result for r in access_response(send(lab.chf, command)).results] == [0]


def _alert_log(out: Outbound) -> list[tuple[Eui64, bytes]]:
    """(EUI-64, hashed link key) rows of a CS14 alert."""
    assert out.message_code == CS14
    body = tree(decode_message(out.message))
    assert isinstance(body, DataNotification) and isinstance(body.body, Structure)
    log = body.body.items[2]
    assert isinstance(log, Structure) and isinstance(log.items[2], Array)
    rows = []
    for row in log.items[2].items:
        assert isinstance(row, Structure)
        eui, key = row.items
        assert isinstance(eui, OctetString) and isinstance(key, OctetString)
        rows.append((Eui64(eui.value), key.value))
    return rows


# -- join windows -----------------------------------------------------------------------------


def test_a_device_that_does_not_join_in_its_window_is_not_admitted(lab: Lab) -> None:
    _add(lab, timeout=600)
    lab.clock.advance(599)
    assert lab.chf.admits(NEW)
    lab.clock.advance(1)
    assert not lab.chf.admits(NEW)
    assert [(e.eui, e.closed) for e in lab.chf.log.expired] == [(NEW, lab.clock.now())]
    assert not lab.chf.joined(NEW)  # too late
    assert not lab.chf.device_log[bytes(NEW)].link_key_hash


def test_the_window_expiry_is_recorded_by_the_clock_without_a_question(lab: Lab) -> None:
    _add(lab, timeout=60)
    lab.clock.advance(120)
    assert [e.eui for e in lab.chf.log.expired] == [NEW]


def test_a_device_that_joins_in_time_stays_admitted(lab: Lab, alerts: list[Outbound]) -> None:
    _add(lab, timeout=600)
    lab.clock.advance(300)
    assert lab.chf.joined(NEW)
    lab.clock.advance(3600)
    assert lab.chf.admits(NEW)
    assert lab.chf.log.expired == []
    assert _alert_log(alerts[-1])[-1] == (NEW, install_code_key_hash(bytes(16), NEW))


def test_disabling_joining_closes_the_window(lab: Lab) -> None:
    _add(lab, timeout=600)
    lab.chf.log.close_all(lab.clock.now())
    assert not lab.chf.admits(NEW)


# -- historic log and the link-key choice ----------------------------------------------------


def test_a_returning_device_reuses_its_historic_key_in_the_first_half(lab: Lab) -> None:
    _add(lab, timeout=600)
    lab.chf.joined(NEW)
    first_key = lab.chf.device_log[bytes(NEW)].link_key_hash
    _remove(lab)
    _add(lab, timeout=600)
    assert lab.chf.link_key_choice(NEW) == KEY_HISTORIC
    lab.clock.advance(299)
    assert lab.chf.joined(NEW)
    entry = lab.chf.device_log[bytes(NEW)]
    assert (entry.link_key_hash, entry.key_source) == (first_key, KEY_HISTORIC)


def test_after_the_first_half_the_install_code_is_used() -> None:
    log = DeviceLog()
    log.add(NEW, 0, b"old", now=T0, timeout=HOUR)
    log.join(NEW, T0)
    log.remove(NEW)
    log.add(NEW, 0, b"new code", now=T0 + HOUR, timeout=HOUR)
    historic_key = log.historic[0].link_key_hash
    assert log.key_choice(NEW, T0 + HOUR + HOUR / 2) == KEY_INSTALL_CODE
    assert log.join(NEW, T0 + HOUR + HOUR / 2)
    entry = log.entries[bytes(NEW)]
    assert entry.link_key_hash == install_code_key_hash(b"new code", NEW) != historic_key
    assert entry.key_source == KEY_INSTALL_CODE


def test_the_historic_log_keeps_fifteen_and_overwrites_the_oldest() -> None:
    log = DeviceLog()
    euis = [Eui64(0x00DB000000000200 + n) for n in range(HISTORIC_CAPACITY + 1)]
    for eui in euis:
        log.add(eui, 0, b"code")
        log.join(eui, T0)
        log.remove(eui)
    assert [e.eui for e in log.historic] == euis[1:]
    log.add(euis[5], 0, b"other code")  # a listed device removed again: updated in place
    log.join(euis[5], T0)
    log.remove(euis[5])
    assert [e.eui for e in log.historic] == euis[1:]
    assert log.historic[4].link_key_hash == install_code_key_hash(b"other code", euis[5])


def test_a_device_removed_before_it_joined_leaves_no_historic_entry(
    lab: Lab, alerts: list[Outbound]
) -> None:
    _add(lab)
    _remove(lab)
    assert lab.chf.historic_log == []
    assert lab.chf.log.removed_unjoined == 1
    assert NEW not in [eui for eui, _ in _alert_log(alerts[-1])]
    _add(lab)  # it comes back: no historic key to offer
    assert lab.chf.link_key_choice(NEW) == KEY_INSTALL_CODE


def test_the_hub_drops_frames_of_a_device_whose_window_closed(lab: Lab) -> None:
    _add(lab, timeout=60)
    lab.clock.advance(61)
    assert not lab.chf.admits(NEW)  # Hub._on_envelope drops on this answer ("unadmitted")


# -- CCS03, CS14 on each change, state ---------------------------------------------------------


def test_ccs03_restores_the_log_and_raises_cs14(lab: Lab, alerts: list[Outbound]) -> None:
    key = bytes(range(16))
    argument = Structure(
        [
            OctetString(bytes.fromhex("0000000000000140")),
            Array([Structure([OctetString(bytes(NEW)), OctetString(key)])]),
        ]
    )
    command = dlms_command(lab.acb, lab.chf, CCS03, action(104, "0-0:30.3.0.255", 5, argument))
    assert [r.result for r in access_response(send(lab.chf, command)).results] == [0]
    assert list(lab.chf.device_log) == [bytes(NEW)]
    assert lab.chf.pan_id == bytes.fromhex("0000000000000140")
    # restored: the hash only, so nothing is admitted until the device proves it (a JOIN)
    assert not lab.chf.admits(NEW) and not lab.chf.admits(lab.esme.eui)
    assert _alert_log(alerts[-1]) == [(NEW, key)]


def test_ccs03_with_an_unreadable_log_changes_nothing(lab: Lab, alerts: list[Outbound]) -> None:
    argument = Structure([OctetString(b"short"), Array([])])
    command = dlms_command(lab.acb, lab.chf, CCS03, action(104, "0-0:30.3.0.255", 5, argument))
    assert [r.result for r in access_response(send(lab.chf, command)).results] != [0]
    assert lab.chf.admits(lab.esme.eui)
    assert alerts == []


def test_every_change_raises_cs14_with_the_log(lab: Lab, alerts: list[Outbound]) -> None:
    _add(lab)
    assert (NEW, b"") in _alert_log(alerts[-1])  # not joined: empty hash
    lab.chf.joined(NEW)
    assert (NEW, lab.chf.device_log[bytes(NEW)].link_key_hash) in _alert_log(alerts[-1])
    _remove(lab)
    assert NEW not in [eui for eui, _ in _alert_log(alerts[-1])]
    assert len(alerts) == 3


def test_state_round_trip_keeps_logs_windows_and_expiries(lab: Lab) -> None:
    chf = lab.chf
    _add(lab, Eui64(0x00DB0000000000A1), timeout=60)
    lab.clock.advance(61)  # expired
    _add(lab, NEW, timeout=600)
    chf.joined(NEW)
    _remove(lab, NEW)
    _add(lab, NEW, timeout=600)  # open window with a historic key
    state = chf.to_state()
    again = chf.clone()
    again.log = DeviceLog()
    again.load_state(state)
    assert again.to_state() == state
    assert again.link_key_choice(NEW) == KEY_HISTORIC
    lab.clock.advance(600)
    assert not again.admits(NEW)
    assert [e.eui for e in again.log.expired][-1] == NEW


# -- the GPF Device Log: GCS59 restore, GCS62 alert --------------------------------------------


def _gcs62_rows(out: Outbound) -> tuple[int, list[tuple[bytes, int]]]:
    assert out.message_code == GCS62
    body = der(decode_message(out.message))
    assert isinstance(body, DerConstructed)
    code, _time, rows = body.items
    assert isinstance(code, DerInteger) and isinstance(rows, DerConstructed)
    found = []
    for row in rows.items:
        assert isinstance(row, DerConstructed)
        eui, kind = row.items
        assert isinstance(eui, DerOctetString) and isinstance(kind, DerInteger)
        found.append((eui.value, kind.value))
    return code.value, found


def test_gcs59_replaces_the_gpf_log_and_raises_gcs62(lab: Lab) -> None:
    gpf = lab.gpf
    sink: list[Outbound] = []
    gpf.on_alert = sink.append
    gpf.han_pairings = {bytes(lab.gsme.eui): 0, bytes(NEW): 5}
    restored = [bytes.fromhex("0011223344556677"), bytes.fromhex("8899AABBCCDDEEFF")]
    payload = DerSequence(
        [DerSequence([DerSequence([DerOctetString(e), DerInteger(5)]) for e in restored])]
    )
    response = send(gpf, der_command(lab.acb, gpf, GCS59, payload))
    assert response.cra == Cra.RESPONSE
    assert gpf.han_pairings == dict.fromkeys(restored, 5)
    assert _gcs62_rows(sink[-1]) == (ALERT_GPF_DEVICE_LOG_CHANGED, [(e, 5) for e in restored])
    assert sink[-1].destination == lab.acb.party


def test_a_gpf_command_that_changes_nothing_raises_no_gcs62(lab: Lab) -> None:
    gpf = lab.gpf
    sink: list[Outbound] = []
    gpf.on_alert = sink.append
    payload = DerSequence([DerSequence([])])
    gpf.han_pairings = {}
    send(gpf, der_command(lab.acb, gpf, GCS59, payload))
    assert sink == []


def test_ccs01_on_a_full_chf_device_log_fails_and_changes_nothing(
    lab: Lab, alerts: list[Outbound]
) -> None:
    """The log holds CHF_DEVICE_LOG_CAPACITY devices; CCS01 for one more is refused
    with the DLMS result we chose (LOG_FULL_RESULT), counted, and raises no CS14.
    A device already logged still passes (its entry is kept, GBCS)."""
    assert lab.chf.device_log_capacity == CHF_DEVICE_LOG_CAPACITY == 32
    for index in range(CHF_DEVICE_LOG_CAPACITY - len(lab.chf.device_log)):
        lab.chf.add_device(Eui64(bytes.fromhex("00DB1234567800") + bytes([index])))
    assert len(lab.chf.device_log) == CHF_DEVICE_LOG_CAPACITY
    before = sorted(lab.chf.device_log)
    command = lab.acb.command("8.11-add", lab.chf.eui, device=NEW, join_timeout=3600)
    results = [r.result for r in access_response(send(lab.chf, command)).results]
    assert results[0] == LOG_FULL_RESULT  # register_device; what follows is not run
    assert sorted(lab.chf.device_log) == before
    assert lab.chf.log_full_refusals == 1
    assert not [a for a in alerts if a.message_code == CS14]
    logged = Eui64(before[0])
    again = lab.acb.command("8.11-add", lab.chf.eui, device=logged, join_timeout=3600)
    assert [r.result for r in access_response(send(lab.chf, again)).results] == [0, 0, 0]
