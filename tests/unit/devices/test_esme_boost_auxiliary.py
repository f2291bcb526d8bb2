"""ESME auxiliary load control: the boost button and its log (ECS61c), the auxiliary
controllers' passive calendar and special days taking effect (ECS46c/d, read by
ECS61a), and the HC ALCS / ALCS entries holding what was written."""

from __future__ import annotations

import datetime as _dt
import json

import pytest
from devices_support import (
    START,
    Lab,
    access_response,
    action,
    build_lab,
    dlms_command,
    dlms_time,
    get,
    get_range,
    results,
    send,
    set_,
    zigbee,
)

from emulator.clock import VirtualClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import POWER_RESTORED
from emulator.devices.esme import BOOST_PERIOD, Esme
from emulator.gbcs.dlms.apdu import ActionResult, Obis
from emulator.gbcs.dlms.axdr import (
    Array,
    CompactArray,
    Data,
    DoubleLongUnsigned,
    Integer,
    LongUnsigned,
    OctetString,
    Structure,
    Unsigned,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime

ECS61c, ECS61a, ECS46c = 0x005E, 0x00BB, 0x0054
BOOST_LOG = "0-0:99.98.20.255"
ACTIVE_SPECIAL_DAYS, PASSIVE_SPECIAL_DAYS = "0-0:11.0.3.255", "0-1:11.0.3.255"
SPECIAL_DAYS_ACTIVATION = "0-0:94.44.128.35"
#: an activation date-time of zeros: take effect at once (the immediate ECS46c)
IMMEDIATE = OctetString(bytes(9) + b"\x80\x00\xff")


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()
    return lab


def _boosts(lab: Lab, start: _dt.datetime, end: _dt.datetime) -> list[tuple[int, int]]:
    restricting = Structure(
        [
            LongUnsigned(1),
            OctetString(bytes(Obis("0-0:94.44.100.255"))),
            Integer(2),
            LongUnsigned(0),
        ]
    )
    bounds = [DoubleLongUnsigned(zigbee(start)), DoubleLongUnsigned(zigbee(end))]
    selection = Structure([restricting, *bounds, Array([])])
    response = send(
        lab.esme,
        dlms_command(lab.supplier, lab.esme, ECS61c, get_range(7, BOOST_LOG, 2, selection)),
    )
    assert results(response) == [0]
    buffer = access_response(response).data[0]
    assert isinstance(buffer, CompactArray)
    rows = []
    for row in buffer.values:
        assert isinstance(row, Structure)
        first, second = row.items
        assert isinstance(first, DoubleLongUnsigned) and isinstance(second, DoubleLongUnsigned)
        rows.append((first.value, second.value))
    return rows


def test_a_boost_is_logged_with_its_start_and_end_once_it_ends(lab: Lab) -> None:
    lab.esme.press_boost_button()
    later = START + _dt.timedelta(days=1)
    assert _boosts(lab, START, later) == []  # still running: not in the log yet
    lab.advance(BOOST_PERIOD)
    assert _boosts(lab, START, later) == [(zigbee(START), zigbee(START + BOOST_PERIOD))]
    lab.advance(BOOST_PERIOD)
    assert len(_boosts(lab, START, later)) == 1  # one boost, one row


def test_pressing_again_ends_the_boost_early(lab: Lab) -> None:
    lab.esme.press_boost_button()
    lab.advance(_dt.timedelta(minutes=10))
    lab.esme.press_boost_button()
    lab.advance(BOOST_PERIOD)
    ended = START + _dt.timedelta(minutes=10)
    assert _boosts(lab, START, START + _dt.timedelta(days=1)) == [(zigbee(START), zigbee(ended))]


def test_the_range_selects_boosts_by_start_and_the_event_log_stays_out(lab: Lab) -> None:
    for _ in range(3):
        lab.esme.press_boost_button()
        lab.advance(_dt.timedelta(days=1))
    lab.esme.event_log.record(lab.clock.now(), POWER_RESTORED, "an event, not a boost")
    everything = _boosts(lab, START, lab.clock.now())
    assert [s for s, _ in everything] == [zigbee(START + _dt.timedelta(days=d)) for d in range(3)]
    last_two = _boosts(lab, START + _dt.timedelta(hours=1), lab.clock.now())
    assert last_two == everything[1:]


def test_a_boost_running_survives_save_and_restore() -> None:
    clock = VirtualClock(START)
    esme = Esme("00-DB-12-34-56-78-90-A0", clock)
    esme.press_boost_button()
    copy = Esme("00-DB-12-34-56-78-90-A0", clock)
    copy.load_state(esme.to_state())
    assert copy.boost_started == START
    clock.advance(BOOST_PERIOD.total_seconds())
    rows = copy.profiles[bytes(Obis(BOOST_LOG))]
    end = rows[0]
    assert isinstance(end, Structure) and end.items[1] == DoubleLongUnsigned(
        zigbee(START + BOOST_PERIOD)
    )


def _special_days(count: int) -> Array:
    return Array(
        [
            Structure([LongUnsigned(n), OctetString(bytes.fromhex("FFFF0C19FF")), Unsigned(n)])
            for n in range(1, count + 1)
        ]
    )


def _active_special_days(lab: Lab) -> Data:
    read = dlms_command(lab.supplier, lab.esme, ECS61a, get(11, ACTIVE_SPECIAL_DAYS, 2))
    response = send(lab.esme, read)
    assert results(response) == [0]
    return access_response(response).data[0]


def _configure(lab: Lab, days: Array, when: OctetString) -> None:
    command = dlms_command(
        lab.supplier,
        lab.esme,
        ECS46c,
        set_(11, PASSIVE_SPECIAL_DAYS, 2, days),
        set_(9000, SPECIAL_DAYS_ACTIVATION, 6, when),
        critical=True,
    )
    assert results(send(lab.esme, command)) == [0, 0]


def test_immediate_auxiliary_special_days_take_effect_at_once(lab: Lab) -> None:
    assert _active_special_days(lab) != _special_days(4)
    _configure(lab, _special_days(4), IMMEDIATE)
    assert _active_special_days(lab) == _special_days(4)


def test_future_dated_auxiliary_special_days_wait_and_a_never_marker_cancels(lab: Lab) -> None:
    before = _active_special_days(lab)
    _configure(lab, _special_days(4), dlms_time(START + _dt.timedelta(hours=2)))
    assert _active_special_days(lab) == before
    lab.advance(_dt.timedelta(hours=3))
    assert _active_special_days(lab) == _special_days(4)
    _configure(lab, _special_days(2), dlms_time(lab.clock.now() + _dt.timedelta(hours=1)))
    never = OctetString(DlmsDateTime.never_marker().encode())
    _configure(lab, _special_days(2), never)
    lab.advance(_dt.timedelta(hours=2))
    assert _active_special_days(lab) == _special_days(4)


def test_an_hc_alcs_entry_holds_the_eight_bytes_written(lab: Lab) -> None:
    """0-0:94.44.0.23 starts as one byte (as ECS61e reads it) and reads back an
    EUI-64 once ECS46c writes one (as ECS61a reads it)."""
    obis = "0-0:94.44.0.23"
    read = dlms_command(lab.supplier, lab.esme, ECS61a, get(1, obis, 2))
    assert access_response(send(lab.esme, read)).data[0] == OctetString(bytes(1))
    eui = OctetString(bytes.fromhex("00DB123456789097"))
    command = dlms_command(lab.supplier, lab.esme, ECS46c, set_(1, obis, 2, eui), critical=True)
    assert results(send(lab.esme, command)) == [0]
    read = dlms_command(lab.supplier, lab.esme, ECS61a, get(1, obis, 2))
    assert access_response(send(lab.esme, read)).data[0] == eui


def test_a_load_controllers_apc_limit_is_kept_and_survives_save_and_restore(lab: Lab) -> None:
    """7.16 (ECS47e) from the load controller: the ESME keeps the commanded level of
    each controller (kind 2: input from the controlled load), a later limit replaces
    it, and a restored meter holds the same limits."""
    controller = lab.senders[AnchorRole.LOAD_CONTROLLER]
    target = lab.esme.eui
    limit = controller.command("7.16", target, controller=3, level=50, input=True)
    assert results(send(lab.esme, limit)) == [0, 0, 0]
    assert lab.esme.apc_limits == {3: (2, 50)}
    for params in ({"controller": 5}, {"controller": 3, "level": 20}):
        assert results(send(lab.esme, controller.command("7.16", target, **params))) == [0, 0, 0]
    assert lab.esme.apc_limits == {3: (1, 20), 5: (1, 100)}
    copy = Esme(target, lab.clock)
    copy.load_state(json.loads(json.dumps(lab.esme.to_state())))
    assert copy.apc_limits == lab.esme.apc_limits
    assert lab.esme.clone().apc_limits == lab.esme.apc_limits


def test_an_apc_limit_selector_out_of_range_is_refused_and_not_kept(lab: Lab) -> None:
    controller = lab.senders[AnchorRole.LOAD_CONTROLLER]
    bad_level = (1 << 4 | 3) << 8 | 101
    command = dlms_command(
        controller,
        lab.esme,
        0x011F,
        action(9, "0-0:10.0.107.255", 1, LongUnsigned(bad_level)),
        critical=True,
    )
    assert results(send(lab.esme, command)) == [ActionResult.OBJECT_UNAVAILABLE]
    assert lab.esme.apc_limits == {}
