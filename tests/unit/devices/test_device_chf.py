"""CHF: the Device Log (HAN whitelist), the Historic Device Log and the CS14 alert."""

from __future__ import annotations

import pytest
from devices_support import Lab, access_response, action, build_lab, dlms_command, get, send, tree

from emulator.devices.base import Outbound
from emulator.devices.chf import CS14, HISTORIC_CAPACITY
from emulator.gbcs.dlms.apdu import DataNotification
from emulator.gbcs.dlms.axdr import Array, Data, LongUnsigned, NullData, OctetString, Structure
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message

NEW = Eui64("00-DB-12-34-56-78-90-B0")
CCS05, CCS07 = 0x0004, 0x00FE
ALERT_DEVICE_LOG_CHANGED = 0x8F12


@pytest.fixture
def lab() -> Lab:
    return build_lab()


@pytest.fixture
def alerts(lab: Lab) -> list[Outbound]:
    sink: list[Outbound] = []
    lab.chf.on_alert = sink.append
    return sink


def _logged(log: Data) -> list[Eui64]:
    """EUI-64s of a log structure (time, PAN id, array of (EUI, link key hash))."""
    assert isinstance(log, Structure)
    entries = log.items[2]
    assert isinstance(entries, Array)
    found = []
    for entry in entries.items:
        assert isinstance(entry, Structure)
        eui = entry.items[0]
        assert isinstance(eui, OctetString)
        found.append(Eui64(eui.value))
    return found


def _remove(lab: Lab, eui: Eui64) -> None:
    response = send(lab.chf, lab.acb.command("8.11-remove", lab.chf.eui, device=eui))
    assert [r.result for r in access_response(response).results] == [0]


def _read_logs(lab: Lab) -> tuple[list[Eui64], list[Eui64]]:
    command = dlms_command(
        lab.acb,
        lab.chf,
        CCS07,
        action(104, "0-0:30.3.0.255", 4, NullData()),
        action(104, "0-0:30.3.1.255", 4, NullData()),
    )
    current, historic = access_response(send(lab.chf, command)).data
    return _logged(current), _logged(historic)


def test_premises_devices_are_admitted(lab: Lab) -> None:
    for device in (*lab.premises.devices.values(), lab.gpf):
        assert lab.chf.admits(device.eui)
    assert not lab.chf.admits(NEW)


def test_ccs01_adds_to_the_log_and_raises_cs14(lab: Lab, alerts: list[Outbound]) -> None:
    chf = lab.chf
    response = send(chf, lab.acb.command("8.11-add", chf.eui, device=NEW))
    assert [r.result for r in access_response(response).results] == [0, 0, 0]
    assert chf.admits(NEW)
    assert len(alerts) == 1
    out = alerts[0]
    assert (out.kind, out.message_code, out.destination) == ("alert", CS14, lab.acb.party)
    alert = decode_message(out.message)
    assert alert.message_code == 0x0018 and alert.originator == chf.eui
    assert lab.verifier.verify(alert).mac is True
    body = tree(alert)
    assert isinstance(body, DataNotification) and isinstance(body.body, Structure)
    assert body.body.items[0] == LongUnsigned(ALERT_DEVICE_LOG_CHANGED)
    assert NEW in _logged(body.body.items[2])


def test_adding_a_logged_device_again_changes_nothing(lab: Lab, alerts: list[Outbound]) -> None:
    send(lab.chf, lab.acb.command("8.11-add", lab.chf.eui, device=NEW))
    send(lab.chf, lab.acb.command("8.11-add", lab.chf.eui, device=NEW))
    assert len(alerts) == 1
    assert _read_logs(lab)[0].count(NEW) == 1


def test_join_records_link_key_and_raises_cs14(lab: Lab, alerts: list[Outbound]) -> None:
    send(lab.chf, lab.acb.command("8.11-add", lab.chf.eui, device=NEW))
    lab.chf.joined(NEW)
    assert len(alerts) == 2
    lab.chf.joined(NEW)  # only the first join changes the log
    assert len(alerts) == 2


def test_ccs02_removes_into_the_historic_log(lab: Lab, alerts: list[Outbound]) -> None:
    chf = lab.chf
    send(chf, lab.acb.command("8.11-add", chf.eui, device=NEW))
    chf.joined(NEW)
    _remove(lab, NEW)
    assert not chf.admits(NEW)
    assert len(alerts) == 3
    current, historic = _read_logs(lab)
    assert NEW not in current
    assert historic == [NEW]


def test_removing_an_unknown_device_changes_nothing(lab: Lab, alerts: list[Outbound]) -> None:
    _remove(lab, NEW)
    assert alerts == []
    assert _read_logs(lab)[1] == []


def test_historic_log_keeps_the_last_fifteen(lab: Lab) -> None:
    chf = lab.chf
    removed = [Eui64(0x00DB000000000100 + n) for n in range(HISTORIC_CAPACITY + 2)]
    for eui in removed:
        chf.add_device(eui, 0, b"code")
        chf.joined(eui)
        _remove(lab, eui)
    assert HISTORIC_CAPACITY == 15
    assert _read_logs(lab)[1] == removed[2:]  # the two oldest were overwritten


def test_a_device_removed_twice_is_listed_once(lab: Lab) -> None:
    chf = lab.chf
    for _ in range(2):
        chf.add_device(NEW, 0, b"code")
        chf.joined(NEW)
        _remove(lab, NEW)
    assert _read_logs(lab)[1] == [NEW]


def test_ccs05_reads_the_device_log_entries(lab: Lab) -> None:
    chf = lab.chf
    send(chf, lab.acb.command("8.11-add", chf.eui, device=NEW))
    response = send(chf, dlms_command(lab.acb, chf, CCS05, get(104, "0-0:30.3.0.255", 4)))
    (entries,) = access_response(response).data
    assert isinstance(entries, Array)
    euis = []
    for entry in entries.items:
        assert isinstance(entry, Structure) and len(entry.items) == 14
        eui = entry.items[0]
        assert isinstance(eui, OctetString)
        euis.append(Eui64(eui.value))
    assert set(euis) == {*(d.eui for d in lab.premises.devices.values()), lab.gpf.eui, NEW}


def test_ccs07_reads_both_logs(lab: Lab) -> None:
    current, historic = _read_logs(lab)
    assert set(current) == {*(d.eui for d in lab.premises.devices.values()), lab.gpf.eui}
    assert historic == []


def test_only_the_acb_may_change_the_log(lab: Lab) -> None:
    out = lab.chf.receive(
        lab.supplier.command("8.11-remove", lab.chf.eui, device=lab.esme.eui).encode()
    )
    assert out == []
    assert lab.chf.admits(lab.esme.eui)
