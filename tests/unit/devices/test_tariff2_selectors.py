"""Issue 10: the tariff switching table's script selectors as GBCS numbers them (the
primary element's TOU action n is n, its block action n is 100 + n; the secondary
element's TOU action n is 200 + n, as in the reference ECS01c): a twin ESME meters
each hour of its secondary element into the tier its own calendar names."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import START, Lab, build_lab, results, send

from emulator.clock import VirtualClock
from emulator.devices.base import DeviceType
from emulator.metering import Constant, DayProfile
from emulator.premises import Premises
from hil.dcc.commands import Sender

SCRIPTS = bytes((0, 0, 10, 0, 100, 0xFF))
IMMEDIATE = bytes(9) + bytes((0x80, 0x00, 0xFF))  # the reference ECS01c's activation


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()
    return lab


def _twin() -> Lab:
    clock = VirtualClock(START)
    devices = ((DeviceType.ESME, 0xA0, {"variant": "twin"}), (DeviceType.PPMID, 0xA4))
    premises = Premises.build(clock=clock, devices=devices)
    security = premises.security_for()
    senders = {role: Sender(party.eui, security) for role, party in premises.parties.items()}
    lab = Lab(premises, clock, senders)
    lab.esme.catch_up()
    return lab


def _season(name: bytes, month: int, day: int, week: int) -> list[object]:
    start = bytes((0x07, 0xEA, month, day, 0xFF, 0, 0, 0, 0, 0x80, 0, 0xFF))
    return [name, start, bytes((week,))]


def _action(hour: int, selector: int) -> list[object]:
    return [bytes((hour, 0, 0, 0)), SCRIPTS, selector]


#: The reference ECS01c's day profiles (selectors 201..204) under 2026 seasons: week 1
#: is day 1 Monday..Friday and day 3 at weekends; Wednesday 2026-03-04 is a special
#: day (day 3).
DAYS = {1: ((0, 201), (7, 204), (19, 203)), 2: ((6, 204), (18, 203), (23, 201)), 3: ((0, 204),)}
SECONDARY = {
    "0.0": [3, -5],
    "0.2": [(bytes((1,)), 10100), (bytes((2,)), 0), (bytes((3,)), 12300), (bytes((4,)), 13400)],
    "1": [_season(b"winter", 1, 1, 1), _season(b"summer", 6, 1, 2)],
    "2": [[b"\x01", 1, 1, 1, 1, 1, 3, 3], [b"\x02", 2, 2, 2, 2, 2, 3, 3]],
    "3": [[day, [_action(h, s) for h, s in actions]] for day, actions in DAYS.items()],
    "4": [[1, bytes((0x07, 0xEA, 3, 4, 0xFF)), 3]],
    "5": IMMEDIATE,
    "6": IMMEDIATE,
}


def _expected_tier(at: _dt.datetime) -> int:
    """The secondary tier the calendar above names at `at` (GMT: GB time is UTC here)."""
    day = 3 if at.date() == _dt.date(2026, 3, 4) or at.weekday() >= 5 else 1
    selector = [s for h, s in DAYS[day] if h <= at.hour][-1]
    return selector - 200


def test_a_twin_esme_meters_its_secondary_element_into_the_calendars_tier() -> None:
    lab = _twin()
    esme = lab.esme
    assert set(results(send(esme, lab.supplier.command("1.1.2", esme.eui, values=SECONDARY)))) == {
        0
    }
    esme.catch_up()
    secondary = esme.meter.secondary
    assert secondary is not None
    tariff = secondary.tariffs.active(esme.clock.now())
    assert tariff.tier_prices == (10_100, 0, 12_300, 13_400)
    assert tariff.calendar.days[1] == DayProfile(((0, 1), (420, 4), (1140, 3)))
    assert esme.dropped_settings == 0
    esme.meter.set_profile(Constant(1000), secondary=True)  # 1 kWh an hour
    lab.advance(_dt.datetime(2026, 3, 3, tzinfo=_dt.UTC) - esme.clock.now())
    esme.catch_up()
    seen: dict[int, int] = {}
    at = esme.clock.now()
    for _ in range(7 * 24):  # a week from Tuesday: weekdays, the special day, a weekend
        before = list(secondary.tier_wh)
        lab.advance(_dt.timedelta(hours=1))
        esme.catch_up()
        delta = [after - b for after, b in zip(secondary.tier_wh, before, strict=True)]
        tier = _expected_tier(at)
        assert delta[tier - 1] == 1000, (at, tier, delta[:4])
        assert sum(delta) == 1000, (at, delta[:4])
        seen[tier] = seen.get(tier, 0) + 1
        at += _dt.timedelta(hours=1)
    assert seen == {1: 4 * 7, 3: 4 * 5, 4: 4 * 12 + 3 * 24}  # 4 weekdays, 3 tier-4 days
    assert max(secondary.tier_wh[4:]) == 0  # never clamped into a tier past the four


def test_a_block_action_is_selector_100_plus_the_tier_and_a_foreign_selector_is_refused(
    lab: Lab,
) -> None:
    esme = lab.esme
    days = [
        [1, [_action(0, 2), _action(7, 101)]],  # TOU register 2, then TOU-block tier 1
        [2, [_action(0, 3), _action(12, 203)]],  # 203 is the secondary element's
    ]
    values = {
        "0": [_season(b"all", 1, 1, 1)],
        "1": [[b"\x01", 1, 1, 1, 1, 1, 2, 2]],
        "2": days,
        "14.0": [3, -5],
        "14.2": [(bytes((t,)), 1000 * t) for t in (1, 2, 3)],
        "13.0": [0, -5],
        "13.2": [(b"", 0)],
    }
    dropped = esme.dropped_settings
    assert set(results(send(esme, lab.supplier.command("1.1.1", esme.eui, values=values)))) == {0}
    esme.catch_up()
    calendar = esme.meter.primary.tariffs.active(esme.clock.now()).calendar
    assert calendar.days[1] == DayProfile(((0, 2), (420, 1)))
    assert calendar.days[2] == DayProfile(((0, 3),))  # the foreign switch left out
    assert esme.dropped_settings == dropped + 1
