"""The boost button turns on the auxiliary load control switches ECS62 associated
with the boost for the boost period and off after, each change in the event log; a
meter whose boost function is not available (0-0:94.44.7.255 false) refuses the
press. Everything runs on the virtual clock."""

from __future__ import annotations

import datetime as _dt

from devices_support import (
    START,
    Lab,
    access_response,
    build_lab,
    dlms_command,
    get,
    results,
    send,
    set_,
)

from emulator.devices import supply
from emulator.devices.esme import BOOST_AVAILABLE, BOOST_PERIOD
from emulator.gbcs.dlms.axdr import Boolean

ECS61c, ECS62 = 0x005E, 0x005F


def _associate(lab: Lab, **switches: bool) -> None:
    writes = [set_(1, f"0-0:94.44.6.{n[1:]}", 2, Boolean(on)) for n, on in switches.items()]
    assert results(send(lab.esme, dlms_command(lab.supplier, lab.esme, ECS62, *writes))) == [
        0
    ] * len(writes)


def _outputs(lab: Lab) -> list[bool]:
    reads = [get(70, f"0-{n}:96.3.10.255", 2) for n in range(1, 6)]
    response = send(lab.esme, dlms_command(lab.supplier, lab.esme, ECS61c, *reads))
    values = access_response(response).data
    assert all(isinstance(v, Boolean) for v in values)
    return [bool(v.value) for v in values if isinstance(v, Boolean)]


def _alcs_events(lab: Lab) -> list[tuple[_dt.datetime, int, str]]:
    return [
        (e.time, e.code, e.detail)
        for e in lab.esme.event_log
        if e.code in (supply.ALCS_ON, supply.ALCS_OFF)
    ]


def test_boost_turns_the_associated_switches_on_for_the_boost_period() -> None:
    lab = build_lab()
    _associate(lab, n2=True, n4=True)
    lab.esme.press_boost_button()
    assert _outputs(lab) == [False, True, False, True, False]
    lab.advance(BOOST_PERIOD - _dt.timedelta(seconds=1))
    assert _outputs(lab) == [False, True, False, True, False]
    lab.advance(_dt.timedelta(seconds=1))
    assert _outputs(lab) == [False] * 5
    end = START + BOOST_PERIOD
    assert _alcs_events(lab) == [
        (START, supply.ALCS_ON, "ALCS 2 on: boost"),
        (START, supply.ALCS_ON, "ALCS 4 on: boost"),
        (end, supply.ALCS_OFF, "ALCS 2 off: boost ended"),
        (end, supply.ALCS_OFF, "ALCS 4 off: boost ended"),
    ]


def test_a_switch_removed_during_a_boost_still_goes_off_and_the_next_boost_skips_it() -> None:
    lab = build_lab()
    _associate(lab, n1=True, n3=True)
    lab.esme.press_boost_button()
    _associate(lab, n3=False)  # ECS62 Remove while the boost runs
    lab.advance(_dt.timedelta(minutes=20))
    lab.esme.press_boost_button()  # a second press ends it early
    assert _outputs(lab) == [False] * 5
    lab.advance(_dt.timedelta(days=1))
    lab.esme.press_boost_button()
    assert _outputs(lab) == [True, False, False, False, False]
    codes = [(c, d[:6]) for _, c, d in _alcs_events(lab)]
    assert codes == [
        (supply.ALCS_ON, "ALCS 1"),
        (supply.ALCS_ON, "ALCS 3"),
        (supply.ALCS_OFF, "ALCS 1"),
        (supply.ALCS_OFF, "ALCS 3"),
        (supply.ALCS_ON, "ALCS 1"),
    ]


def test_no_boost_when_the_boost_function_is_not_available() -> None:
    lab = build_lab()
    _associate(lab, n5=True)
    available = send(
        lab.esme, dlms_command(lab.supplier, lab.esme, ECS61c, get(1, "0-0:94.44.7.255", 2))
    )
    assert access_response(available).data == [Boolean(True)]  # as the reference meter
    lab.esme.cosem.values[(1, BOOST_AVAILABLE, 2)] = Boolean(False)
    lab.esme.press_boost_button()
    assert lab.esme.boost_started is None
    assert _outputs(lab) == [False] * 5
    assert lab.esme.event_log.codes()[-1] == supply.NOT_ACTIONED
    lab.advance(BOOST_PERIOD)
    assert _alcs_events(lab) == []
