"""Between the devices' GBCS objects and the metering engine (emulator/metering).

The ESME's COSEM writes and actions (ECS01 prices and standing charge, ECS02/03
payment mode, ECS04 balance adjustment, ECS07 debt, ECS08 prepayment
configuration, ECS09 emergency credit) set the engine; reads of the prepayment
registers come from it; the events the engine raises become GBCS alerts.

Money: the ESME's COSEM amounts (meter balance, adjustments, thresholds, limits,
debts) are millipence, 10^-5 GBP, as DUIS states them (a DUIS AdjustMeterBalance
of 1200000 is the GBCS update_amount 1200000); the engine holds whole pence, so
an amount in is converted exactly or refused (logged, counted in
`dropped_settings`) and an amount out is pence x 1000 (`to_cosem`). The debt
recovery rate cap (a 16-bit field) is in pence. Prices carry a DLMS price scale
and are converted to millipence per kWh exactly, or refused. See docs/metering.md.

OBIS codes of the GBCS-specific prepayment objects (class 9000, attribute 4 the
value, 6 its activation time) are those the reference future-dated alerts name
for each setting.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from emulator.devices import supply
from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Boolean,
    Data,
    DoubleLongUnsigned,
    OctetString,
    Structure,
    _Integer,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.metering import (
    DayProfile,
    Debt,
    MeteringError,
    NonDisablementCalendar,
    Tariff,
    TouCalendar,
    prepay,
)
from emulator.metering.money import millipence_from_pence, pence_from_millipence
from emulator.metering.prepay import PAYMENT, TIME

if TYPE_CHECKING:
    from emulator.devices.base import Device
    from emulator.devices.esme import Esme

log = logging.getLogger(__name__)

GENERIC_NON_CRITICAL_ALERT = 0x1001

#: class 9000 object -> PrepayConfig field (ECS08 and ECS03).
PREPAY_SETTINGS: dict[bytes, str] = {
    bytes(Obis("0-0:94.44.128.2")): "emergency_credit_limit",
    bytes(Obis("0-0:94.44.128.3")): "emergency_credit_threshold",
    bytes(Obis("0-0:94.44.128.9")): "low_credit_threshold",
    bytes(Obis("0-0:94.44.128.12")): "debt_cap",
    bytes(Obis("0-0:94.44.128.13")): "debt_cap_period",
    bytes(Obis("0-0:94.44.2.10")): "max_credit",
    bytes(Obis("0-0:94.44.2.20")): "max_meter_balance",
    bytes(Obis("0-0:94.44.128.22")): "disablement_threshold",
}
#: PrepayConfig fields whose COSEM value is not millipence: the cap (pence, a
#: 16-bit field) and its period (seconds).
NOT_MILLIPENCE = frozenset({"debt_cap", "debt_cap_period"})
PASSIVE_ACCOUNT = bytes(Obis("0-1:19.0.0.255"))
#: ECS08 non-disablement calendar: a schedule (class 10) whose script selectors
#: 32 and 33 start and end a protected period, special days (class 11), and the
#: class 9000 objects holding their activation times.
ND_SCHEDULE = bytes(Obis("0-1:12.0.1.255"))
ND_SPECIAL_DAYS = bytes(Obis("0-1:11.0.2.255"))
ND_ACTIVATIONS = (bytes(Obis("0-0:94.44.128.28")), bytes(Obis("0-0:94.44.128.31")))
ND_START, ND_END = 32, 33
ACTIVITY_CALENDAR = bytes(Obis("0-0:13.0.0.255"))
SPECIAL_DAYS = bytes(Obis("0-0:11.0.0.255"))
#: The secondary element's calendar and special days (ECS01c, read by ECS24b).
SECONDARY_CALENDAR = bytes(Obis("0-0:13.0.1.255"))
SECONDARY_SPECIAL_DAYS = bytes(Obis("0-0:11.0.1.255"))
#: The tariff switching table's script selectors (script table 0-0:10.0.100.255):
#: the primary element's TOU action n (register n) is selector n, 1..48, its block
#: action n (TOU-block tier n) 100 + n, 1..8; the secondary element's TOU action n
#: (its register n, 1..4) is 200 + n. (first, last, offset) per element.
PRIMARY_SELECTORS = ((1, 48, 0), (101, 108, 100))
SECONDARY_SELECTORS = ((201, 204, 200),)
BLANK_SELECTOR = 0
METER_BALANCE = bytes(Obis("0-0:19.10.0.255"))
EMERGENCY_CREDIT = bytes(Obis("0-0:19.10.1.255"))
TOU_CHARGE = bytes(Obis("0-0:19.20.0.255"))
STANDING_CHARGE = bytes(Obis("0-0:19.20.4.255"))
SECONDARY_CHARGE = bytes(Obis("0-0:19.20.5.255"))
#: ECS01a block thresholds (class 21 register monitors, attribute 2: up to three
#: thresholds in Wh of the block period): passive (written) and active (read by
#: ECS24) for tiers 1..8. The passive matrix becomes active with the price matrix.
THRESHOLDS_PASSIVE = [bytes(Obis(f"0-0:16.1.{n}.255")) for n in range(11, 19)]
THRESHOLDS_ACTIVE = [bytes(Obis(f"0-0:16.0.{n}.255")) for n in range(11, 19)]
NO_THRESHOLD = 0xFFFF_FFFF
#: Price matrix entry keys: 0x01..0x30 the TOU tiers, 0xA1..0xD8 the block prices
#: (high nibble A..D block 1..4, low nibble tier 1..8).
BLOCK_KEYS = (0xA0, 0xB0, 0xC0, 0xD0)
#: Charge objects of the debt registers: time debt 1, time debt 2, payment debt.
DEBT_CHARGES = [bytes(Obis(f"0-0:19.20.{n}.255")) for n in (1, 2, 3)]
PAYMENT_MODE_CREDIT, PAYMENT_MODE_PREPAYMENT = 1, 2
OTHER_REASON = 250  # DLMS action result when emergency credit is not activated


def to_cosem(pence: int) -> int:
    """An engine amount (pence) as the ESME's COSEM money (millipence)."""
    return millipence_from_pence(pence)


def _setting(esme: Esme, name: str, value: int) -> None:
    """One ECS08/ECS03 setting into the engine, money converted from millipence."""
    try:
        amount = value if name in NOT_MILLIPENCE else pence_from_millipence(value)
        esme.meter.configure({name: amount})
    except MeteringError as exc:
        esme.dropped_settings += 1
        log.warning("%s: %s not applied to the meter: %s", esme.eui, name, exc)


def emit_meter_alerts(device: Device) -> int:
    """Turn the engine's events into alerts to the access control broker; the count.

    A supply the engine arms (credit restored, emergency credit taken) is armed
    on the ESME's load switch too, so the consumer's button enables it.
    """
    meter: Any = getattr(device, "meter", None)
    if meter is None:
        return 0
    events = meter.take_events()
    for event in events:
        when = event.at or device.clock.now()
        if hasattr(device, "armed"):  # the ESME's load switch follows the engine
            if event.code in (prepay.SUPPLY_ARMED, prepay.SUPPLY_ARMED_BY_EC):
                device.armed = True
            elif event.code == prepay.SUPPLY_DISABLED:
                device.armed = False
        # One path for every alert a meter raises: logged, sent and kept (supply.py).
        supply.raise_alert(device, event.code, event.detail, at=when)
    return len(events)


def _activation_immediate(value: Data) -> bool | None:
    """True: now; False: never (a cancellation); None: a future time."""
    if not isinstance(value, OctetString) or len(value.value) != 12:
        return True
    when = DlmsDateTime.from_bytes(value.value)
    if when.is_never_marker:
        return False
    return True if when.to_datetime() is None else None


def on_set(esme: Esme, class_id: int, obis: bytes, attribute: int, value: Data) -> bool:
    """Apply a stored write to the engine; True when the write is future-dated (the
    device schedules it and calls `activate` when its time comes)."""
    if class_id == 9000 and attribute == 2 and obis in PREPAY_SETTINGS:
        o = esme.model.get(class_id, obis)
        if o is not None and 4 in o.attributes:
            esme.cosem.set(o, 4, value)  # what a later activation time applies
        if isinstance(value, _Integer):
            _setting(esme, PREPAY_SETTINGS[obis], value.value)
    elif (class_id, attribute) in ((9000, 6), (111, 13)):
        now = _activation_immediate(value)
        if now is None:
            return True
        if now:
            activate(esme, class_id, obis)
    elif class_id == 113 and obis in DEBT_CHARGES and attribute in (8, 13):
        _configure_debt(esme, obis)
    return False


def activate(esme: Esme, class_id: int, obis: bytes) -> None:
    """The passive value of an object takes effect (now or at its activation time)."""
    try:
        if class_id == 9000 and obis in ND_ACTIVATIONS:
            esme.meter.config.non_disablement = non_disablement_calendar(esme)
        elif class_id == 9000 and obis in PREPAY_SETTINGS:
            value = esme.cosem.get(esme.model.get(class_id, obis), 4)  # type: ignore[arg-type]
            if isinstance(value, _Integer):
                _setting(esme, PREPAY_SETTINGS[obis], value.value)
        elif class_id == 111 and obis == PASSIVE_ACCOUNT:
            mode = esme.cosem.get(esme.model.get(class_id, obis), 2)  # type: ignore[arg-type]
            if isinstance(mode, Structure) and len(mode.items) == 2:
                payment = getattr(mode.items[0], "value", None)  # (payment mode, status)
                rows = esme.cosem.get(esme.model.get(class_id, obis), 11)  # type: ignore[arg-type]
                suspend = suspend_debt_flags(rows)
                if suspend is not None:
                    esme.meter.configure(
                        {"suspend_debt_disabled": suspend[0], "suspend_debt_emergency": suspend[1]}
                    )
                esme.meter.set_payment_mode(payment == PAYMENT_MODE_PREPAYMENT)
        elif class_id in (20, 113):
            if class_id == 113 and obis == TOU_CHARGE:
                activate_thresholds(esme)
            apply_charges(esme, obis)
    except (MeteringError, TypeError, ValueError) as exc:
        esme.dropped_settings += 1
        log.warning("%s: %s not applied to the meter: %s", esme.eui, Obis(obis), exc)


#: Time-debt charges and the credit emergency-credit debts are collected from.
_TIME_DEBTS = {bytes(Obis("0-0:19.20.1.255")), bytes(Obis("0-0:19.20.2.255"))}
_CREDIT_2 = bytes(Obis("0-0:19.10.2.255"))
_COLLECT_WHEN_DISABLED = 0x20  # the third bit of the 3-bit collection configuration


def suspend_debt_flags(rows: Any) -> tuple[bool, bool] | None:
    """(suspend while disabled, suspend in emergency credit) from the account's
    credit-charge configuration (attribute 11), as ECS03 sets it: a time debt
    collected without "collect when disabled" suspends while disabled; the rows
    of credit 2 come with suspension in emergency credit (hil.dcc.templates.constants);
    None when there are no prepayment rows to read."""
    if not isinstance(rows, Array):
        return None
    debts = []
    credit_2 = False
    for row in rows.items:
        if not isinstance(row, Structure) or len(row.items) != 3:
            continue
        credit, charge, bits = (getattr(item, "value", None) for item in row.items)
        if credit == _CREDIT_2:
            credit_2 = True
        elif charge in _TIME_DEBTS and isinstance(bits, bytes) and bits:
            debts.append(not bits[0] & _COLLECT_WHEN_DISABLED)
    if not debts:
        return None
    return all(debts), credit_2


def non_disablement_calendar(esme: Esme) -> NonDisablementCalendar:
    """The stored ECS08 schedule and special days as the engine's calendar.

    Per weekday, a start (selector 32) opens a period and an end (33) closes
    it; an end before any start closes a period open since midnight, a start
    never closed runs to midnight. Special days protect the whole day.
    """
    schedule = _stored(esme, 10, ND_SCHEDULE, 2)
    switches: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
    for entry in schedule.items if isinstance(schedule, Array) else []:
        if not isinstance(entry, Structure) or len(entry.items) < 7:
            continue
        enabled, selector, time, days = (entry.items[i] for i in (1, 3, 4, 6))
        if not (
            isinstance(enabled, Boolean)
            and enabled.value
            and isinstance(selector, _Integer)
            and selector.value in (ND_START, ND_END)
            and isinstance(time, OctetString)
            and len(time.value) == 4
            and time.value[0] < 24
            and isinstance(days, BitString)
        ):
            continue
        minute = time.value[0] * 60 + (time.value[1] if time.value[1] < 60 else 0)
        for day in range(7):
            if days.value and days.value[0] & (0x80 >> day):
                switches[day].append((minute, selector.value))
    periods: dict[tuple[int, int], set[int]] = {}
    for day, events in switches.items():
        start: int | None = None
        for minute, selector_value in sorted(events):
            if selector_value == ND_START and start is None:
                start = minute
            elif selector_value == ND_END:
                begin = 0 if start is None else start
                if minute > begin:
                    periods.setdefault((begin, minute), set()).add(day)
                start = None
        if start is not None:
            periods.setdefault((start, 1440), set()).add(day)
    recurring: set[tuple[int, int]] = set()
    dates: set[_dt.date] = set()
    special = _stored(esme, 11, ND_SPECIAL_DAYS, 2)
    for entry in special.items if isinstance(special, Array) else []:
        if not isinstance(entry, Structure) or len(entry.items) < 2:
            continue
        date = entry.items[1]
        if not isinstance(date, OctetString) or len(date.value) != 5:
            continue
        year, month, day = int.from_bytes(date.value[:2], "big"), date.value[2], date.value[3]
        if not (1 <= month <= 12 and 1 <= day <= 31):
            continue
        if year == 0xFFFF:
            recurring.add((month, day))
        else:
            with contextlib.suppress(ValueError):
                dates.add(_dt.date(year, month, day))
    return NonDisablementCalendar(
        tuple((frozenset(days), s, e) for (s, e), days in sorted(periods.items())),
        frozenset(dates),
        frozenset(recurring),
    )


def _tier(selector: int, selectors: tuple[tuple[int, int, int], ...]) -> int | None:
    """The engine tier a script selector switches to; None if not the element's."""
    for first, last, offset in selectors:
        if first <= selector <= last:
            return selector - offset
    return None


def tou_calendar(
    esme: Esme,
    calendar: bytes = ACTIVITY_CALENDAR,
    special_days: bytes = SPECIAL_DAYS,
    selectors: tuple[tuple[int, int, int], ...] = PRIMARY_SELECTORS,
    report: bool = False,
) -> TouCalendar | None:
    """The active activity calendar (class 20 attributes 3-5) and special days as
    the engine's calendar; None while they do not make one (factory blanks).

    A day profile action's script selector names the tier (`PRIMARY_SELECTORS`,
    `SECONDARY_SELECTORS`); the engine holds one tier number per switch, so a
    block action n and a TOU action n both become tier n (priced by tier n's
    blocks when it has them). Selector 0 is a factory blank (no switch); any other
    selector that is not the element's is refused: its switch is left out, never
    clamped into another tier, and (`report`: at the calendar's own activation,
    once) counted in `dropped_settings` and logged. A day whose first switch is
    after midnight starts in the tier of its last switch.
    """
    seasons_data = _stored(esme, 20, calendar, 3)
    weeks_data = _stored(esme, 20, calendar, 4)
    days_data = _stored(esme, 20, calendar, 5)
    if not all(isinstance(d, Array) for d in (seasons_data, weeks_data, days_data)):
        return None
    try:
        days: dict[int, DayProfile] = {}
        for day in _items(days_data):
            day_id, actions = _values(day)[:2]
            switches: dict[int, int] = {}
            for action in actions.items:
                start, _, selector = _values(action)
                minute = start.value[0] * 60 + (start.value[1] if start.value[1] < 60 else 0)
                if selector.value == BLANK_SELECTOR:
                    continue  # a factory blank action: no switch
                tier = _tier(selector.value, selectors)
                if tier is None:
                    if not report:
                        continue
                    esme.dropped_settings += 1
                    log.warning(
                        "%s: day profile %d: script selector %d is not this element's: "
                        "switch left out",
                        esme.eui,
                        day_id.value,
                        selector.value,
                    )
                    continue
                switches[minute] = tier
            if not switches:
                continue
            if 0 not in switches:
                switches[0] = switches[max(switches)]
            days[day_id.value] = DayProfile(tuple(sorted(switches.items())))
        weeks: dict[int, tuple[int, ...]] = {}
        names: dict[bytes, int] = {}
        for number, week in enumerate(_items(weeks_data), 1):
            name, *ids = _values(week)
            names[bytes(name.value)] = number
            weeks[number] = tuple(d.value for d in ids)
        seasons = []
        for season in _items(seasons_data):
            _, start, week_name = _values(season)
            month, mday = start.value[2], start.value[3]
            if not (1 <= month <= 12 and 1 <= mday <= 31):
                month, mday = 1, 1
            seasons.append((month, mday, names[bytes(week_name.value)]))
        special: dict[_dt.date, int] = {}
        table = _stored(esme, 11, special_days, 2)
        for entry in _items(table) if isinstance(table, Array) else []:
            _, date, day_id = _values(entry)
            year = int.from_bytes(date.value[:2], "big")
            with contextlib.suppress(ValueError):
                special[_dt.date(year, date.value[2], date.value[3])] = day_id.value
        special = {d: i for d, i in special.items() if i in days}
        return TouCalendar(days, weeks, tuple(sorted(seasons)), special)
    except (MeteringError, KeyError, ValueError, IndexError, AttributeError, TypeError):
        return None


def _items(data: Data | None) -> list[Data]:
    return list(data.items) if isinstance(data, Array) else []


def _values(data: Data) -> list[Any]:
    if not isinstance(data, Structure):
        raise TypeError("not a structure")
    return list(data.items)


def _stored(esme: Esme, class_id: int, obis: bytes, attribute: int) -> Data | None:
    o = esme.model.get(class_id, obis)
    return esme.cosem.get(o, attribute) if o is not None else None


def _unit_charge(esme: Esme, obis: bytes, attribute: int = 5) -> tuple[int, list[int]] | None:
    """(price scale, charges in index order) of a class 113 unit charge."""
    scaled = _scaled_table(_stored(esme, 113, obis, attribute))
    if scaled is None:
        return None
    price_scale, table = scaled
    charges = [
        item.items[1].value
        for item in table.items
        if isinstance(item, Structure)
        and len(item.items) == 2
        and isinstance(item.items[1], _Integer)
    ]
    return price_scale, charges


def _scaled_table(value: Data | None) -> tuple[int, Array] | None:
    """(price scale, charge table) of a unit charge value, None unless it has both."""
    if not isinstance(value, Structure) or len(value.items) != 3:
        return None
    scale, _, table = value.items
    if not isinstance(scale, Structure) or not isinstance(table, Array):
        return None
    price_scale = scale.items[1] if len(scale.items) == 2 else None
    if not isinstance(price_scale, _Integer):
        return None
    return price_scale.value, table


def _keyed_charges(esme: Esme, obis: bytes) -> tuple[int, dict[int, int]] | None:
    """(price scale, {entry key: charge}) of a class 113 active unit charge: the
    entries' one-byte index keys say which tier or block each price is for."""
    scaled = _scaled_table(_stored(esme, 113, obis, 5))
    if scaled is None:
        return None
    price_scale, table = scaled
    keyed: dict[int, int] = {}
    # Runs on every tariff activation (80 entries): exact types stand for isinstance
    # where the A-XDR classes have no subclasses.
    for position, item in enumerate(table.items):
        if not (type(item) is Structure and len(item.items) == 2):
            continue
        key, charge = item.items
        if not isinstance(charge, _Integer):
            continue
        index = key.value[0] if type(key) is OctetString and len(key.value) == 1 else 0
        if not (1 <= index <= 48 or (index & 0xF0 in BLOCK_KEYS and 1 <= index & 0x0F <= 8)):
            index = _standard_key(position)  # blank or unknown key: its place says
        keyed[index] = charge.value
    return price_scale, keyed


def _standard_key(position: int) -> int:
    """The key of an entry by its place: 48 tiers, then blocks A1..D8."""
    if position < 48:
        return position + 1
    block, tier = divmod(position - 48, 8)
    return BLOCK_KEYS[block % len(BLOCK_KEYS)] | (tier + 1)


def activate_thresholds(esme: Esme) -> None:
    """The passive block thresholds become the active ones (read back by ECS24),
    each padded to three with the "no threshold" marker."""
    for passive, active in zip(THRESHOLDS_PASSIVE, THRESHOLDS_ACTIVE, strict=True):
        written = _stored(esme, 21, passive, 2)
        o = esme.model.get(21, active)
        if not isinstance(written, Array) or o is None:
            continue
        values = [v.value for v in written.items if isinstance(v, _Integer)][:3]
        values += [NO_THRESHOLD] * (3 - len(values))
        esme.cosem.set(o, 2, Array([DoubleLongUnsigned(v) for v in values]))


def block_thresholds(esme: Esme, tier: int = 1) -> tuple[int, ...]:
    """A tier's active block thresholds in Wh (ascending, markers dropped)."""
    held = _stored(esme, 21, THRESHOLDS_ACTIVE[tier - 1], 2)
    values = [v.value for v in _items(held) if isinstance(v, _Integer)]
    return tuple(sorted({v for v in values if 0 < v < NO_THRESHOLD}))


def millipence(charge: int, scale: int) -> int:
    """A DLMS charge (GBP x 10^scale: the account's currency, like every COSEM money
    amount of the ESME) as millipence (10^-5 GBP), exactly or not at all."""
    value = Fraction(charge) * Fraction(10) ** (scale + 5)
    if value.denominator != 1:
        raise MeteringError(f"{charge} x 10^{scale} GBP is finer than a millipenny")
    return int(value)


def apply_charges(esme: Esme, activated: bytes = b"") -> None:
    """Active prices and standing charge (ECS01) as the engine's tariff.

    Price matrix entries 0x01..0x30 are the TOU tiers; the block prices of tier n
    (0xAn, 0xBn, 0xCn, 0xDn) with tier n's active block thresholds give that tier
    blocks when at least one threshold is set and a block price is not zero.
    Tier 1's blocks are also the default of the tiers without their own (a block
    tariff publishes tier 1 only), so other tiers' blocks are TOU with blocks.
    """
    tou = _keyed_charges(esme, TOU_CHARGE)
    standing = _unit_charge(esme, STANDING_CHARGE)
    current = esme.meter.primary.tariffs.active(esme.clock.now())
    calendar = tou_calendar(esme, report=activated == ACTIVITY_CALENDAR) or current.calendar
    prices = current.tier_prices
    thresholds: tuple[int, ...] = ()
    block_prices: tuple[int, ...] = ()
    tier_blocks: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    if tou is not None:
        scale, keyed = tou
        tiers = [keyed.get(t, 0) for t in range(1, 49)]
        if any(tiers):
            count = max(t for t in range(1, 49) if tiers[t - 1])
            prices = tuple(millipence(c, scale) for c in tiers[:count])
        per_tier: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        for tier in range(1, len(THRESHOLDS_ACTIVE) + 1):
            blocks = [keyed.get(high | tier, 0) for high in BLOCK_KEYS]
            limits = block_thresholds(esme, tier)[: len(BLOCK_KEYS) - 1]
            if limits and any(blocks):
                per_tier.append(
                    (limits, tuple(millipence(c, scale) for c in blocks[: len(limits) + 1]))
                )
            else:
                per_tier.append(((), ()))
        thresholds, block_prices = per_tier[0]
        while per_tier and not per_tier[-1][1]:
            per_tier.pop()
        tier_blocks = tuple(per_tier) if len(per_tier) > 1 else ()
    standing_mp = current.standing_charge
    if standing is not None and standing[1]:
        standing_mp = millipence(standing[1][0], standing[0])
    tariff = Tariff(
        prices,
        standing_mp,
        block_thresholds=thresholds,
        block_prices=block_prices,
        calendar=calendar,
        tier_blocks=tier_blocks,
    )
    esme.meter.publish_tariff(tariff)
    secondary = _unit_charge(esme, SECONDARY_CHARGE)
    if esme.meter.secondary is not None and secondary is not None and any(secondary[1]):
        sec = tuple(millipence(c, secondary[0]) for c in secondary[1][:48])
        count = max(i + 1 for i, c in enumerate(sec) if c)
        held = esme.meter.secondary.tariffs.active(esme.clock.now()).calendar
        own = (
            tou_calendar(
                esme,
                SECONDARY_CALENDAR,
                SECONDARY_SPECIAL_DAYS,
                SECONDARY_SELECTORS,
                report=activated == SECONDARY_CALENDAR,
            )
            or held
        )
        esme.meter.publish_tariff(Tariff(sec[:count], 0, calendar=own), secondary=True)


def _configure_debt(esme: Esme, obis: bytes) -> None:
    index = DEBT_CHARGES.index(obis)
    o = esme.model.get(113, obis)
    if o is None:
        return
    debt = esme.meter.debts[index]
    if index == 2:
        proportion = esme.cosem.get(o, 13)  # per ten thousand of each payment
        if isinstance(proportion, _Integer):
            esme.meter.set_debt(index, Debt(PAYMENT, debt.amount, proportion.value))
        return
    period = esme.cosem.get(o, 8)
    charge = _unit_charge(esme, obis, 6) or _unit_charge(esme, obis, 5)
    seconds = period.value if isinstance(period, _Integer) else debt.period
    rate = millipence(charge[1][0], charge[0]) if charge and charge[1] else debt.rate
    esme.meter.set_debt(
        index, Debt(TIME, debt.amount, rate, 3600 if seconds <= 3600 else 86_400, debt.carry)
    )


def on_action(esme: Esme, obis: bytes, method: int, argument: Data) -> int | None:
    """Class 112/113 actions on the engine: the DLMS result, or None when not ours."""
    amount = argument.value if isinstance(argument, _Integer) else None
    if amount is not None and (
        (obis == METER_BALANCE and method in (1, 2)) or (obis in DEBT_CHARGES and method == 4)
    ):
        try:
            amount = pence_from_millipence(amount)
        except MeteringError as exc:  # finer than the meter holds: refused, never rounded
            esme.dropped_settings += 1
            log.warning("%s: amount refused: %s", esme.eui, exc)
            return OTHER_REASON
    if obis == METER_BALANCE and method in (1, 2) and amount is not None:
        # ECS04a adjusts, ECS04b resets; over the maximum meter balance: refused (the
        # engine's 0x8F47 event becomes the alert), other-reason to the requester
        refused = esme.meter.adjust(amount) if method == 1 else esme.meter.set_balance(amount)
        emit_meter_alerts(esme)
        return OTHER_REASON if refused else 0
    if obis == EMERGENCY_CREDIT and method == 3:  # ECS09
        activated = esme.meter.activate_emergency_credit() or esme.meter.emergency_credit_active
        return 0 if activated else OTHER_REASON
    if obis in DEBT_CHARGES and method == 4 and amount is not None:  # ECS07
        index = DEBT_CHARGES.index(obis)
        debt = esme.meter.debts[index]
        esme.meter.set_debt(
            index, Debt(debt.kind, max(0, debt.amount + amount), debt.rate, debt.period, debt.carry)
        )
        return 0
    if obis in DEBT_CHARGES and method == 2:  # activate the passive unit charge (rate)
        o = esme.model.get(113, obis)
        if o is not None:
            passive = esme.cosem.get(o, 6)
            if passive is not None:
                esme.cosem.set(o, 5, passive)
            try:
                _configure_debt(esme, obis)
            except MeteringError as exc:
                esme.dropped_settings += 1
                log.warning("%s: debt rate not applied: %s", esme.eui, exc)
        return 0
    return None


def prepayment_registers(esme: Esme) -> list[int]:
    """ECS19: meter balance, emergency credit balance, accumulated debt, payment debt,
    time debt 1, time debt 2 (millipence)."""
    m = esme.meter
    pence = [
        m.balance,
        m.emergency_credit_balance,
        m.debt,
        m.debts[2].amount,
        m.debts[0].amount,
        m.debts[1].amount,
    ]
    return [to_cosem(p) for p in pence]


# -- GSME: the ZSE price and calendar clusters ---------------------------------------------

ZCL_PRICE, ZCL_CALENDAR = 0x0700, 0x0707
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _zcl_millipence(value: int, trailing: int) -> int:
    """A ZSE price (GBP with `trailing` decimal digits) in millipence, exactly or not at all."""
    amount = Fraction(value) * Fraction(10) ** (5 - trailing)
    if amount.denominator != 1:
        raise MeteringError(f"price {value} with {trailing} decimals is finer than a millipenny")
    return int(amount)


def zcl_tariff(published: dict[tuple[int, str], list[dict[str, Any]]]) -> Tariff | None:
    """The tariff the published tariff information, price matrix, block thresholds
    and calendar make (GCS01a/b); None until a tariff and a price matrix are held.

    Prices and the standing charge are GBP with the tariff's trailing digits;
    block thresholds are kWh times multiplier over divisor. TOU matrix entries are
    tiers; block entries are tier 1's blocks (low nibble, block 1 = 0).
    """
    tariffs = published.get((ZCL_PRICE, "publish_tariff_information"), [])
    matrices = published.get((ZCL_PRICE, "publish_price_matrix"), [])
    if not tariffs or not matrices:
        return None
    info, matrix = tariffs[-1], matrices[-1]
    trailing = (int(info.get("price_trailing_digit", 0)) >> 4) & 0x0F
    standing = _zcl_millipence(int(info.get("standing_charge", 0) or 0), trailing)
    entries = {
        int(e.get("tier_block_id", 0)): int(e.get("price", 0)) for e in matrix.get("entries", [])
    }
    calendar = zcl_calendar(published)
    if matrix.get("sub_payload_control", 0) & 0x01:  # TOU
        count = max([1, *[t for t in entries if 1 <= t <= 48]])
        prices = tuple(_zcl_millipence(entries.get(t, 0), trailing) for t in range(1, count + 1))
        return Tariff(prices, standing, calendar=calendar or TouCalendar())
    blocks = sorted(b for b in entries if b >> 4 == 0)
    block_prices = tuple(_zcl_millipence(entries[b], trailing) for b in blocks)
    thresholds: list[int] = []
    held = published.get((ZCL_PRICE, "publish_block_thresholds"), [])
    multiplier = int(info.get("block_threshold_multiplier", 1) or 1)
    divisor = int(info.get("block_threshold_divisor", 1) or 1)
    for entry in held[-1].get("entries", []) if held else []:
        if entry.get("tier", 0) in (0, 1):
            for t in entry.get("thresholds", []):
                wh = Fraction(int(t) * multiplier * 1000, divisor)
                if wh.denominator == 1 and wh > 0:
                    thresholds.append(int(wh))
            break
    thresholds = sorted(set(thresholds))[: max(0, len(block_prices) - 1)]
    block_prices = block_prices[: len(thresholds) + 1] or (0,)
    return Tariff(
        (block_prices[0],),
        standing,
        block_thresholds=tuple(thresholds),
        block_prices=block_prices if thresholds else (),
        calendar=calendar or TouCalendar(),
    )


#: ZSE calendar type of a friendly credit calendar: GCS05 publishes the GSME's
#: non-disablement calendar as one (the reference GCS05: calendar_type 3 throughout).
FRIENDLY_CREDIT = 3


def friendly_credit_ids(published: dict[tuple[int, str], list[dict[str, Any]]]) -> set[int]:
    """The issuer calendar ids of friendly credit calendars (their week profiles and
    seasons carry no calendar type: the id ties them to their calendar)."""
    return {
        int(item.get("issuer_calendar_id", 0))
        for name in ("publish_calendar", "publish_day_profile", "publish_special_days")
        for item in published.get((ZCL_CALENDAR, name), [])
        if item.get("calendar_type") == FRIENDLY_CREDIT
    }


def _members(
    published: dict[tuple[int, str], list[dict[str, Any]]],
    name: str,
    ids: set[int],
    *,
    inside: bool,
) -> list[dict[str, Any]]:
    items = published.get((ZCL_CALENDAR, name), [])
    return [i for i in items if (int(i.get("issuer_calendar_id", 0)) in ids) == inside]


def zcl_friendly_credit(
    published: dict[tuple[int, str], list[dict[str, Any]]], at: _dt.datetime
) -> NonDisablementCalendar | None:
    """The friendly credit calendar as the engine's non-disablement calendar, or None.

    A day profile's entries switch friendly credit on (action non-zero) or off at
    their minute. The week profile is that of the season in force at `at` (the
    engine's calendar has no seasons); a special day counts when its day profile is
    friendly all day (the engine protects special days whole).
    """
    ids = friendly_credit_ids(published)
    if not ids:
        return None
    days: dict[int, list[tuple[int, int]]] = {}
    for d in _members(published, "publish_day_profile", ids, inside=True):
        on: list[tuple[int, int]] = []
        entries = sorted(
            (int(e.get("start_time", 0)), int(e.get("tier_or_action", 0)))
            for e in d.get("schedule_entries", [])
            if int(e.get("start_time", 0)) < 1440
        )
        for n, (start, action) in enumerate(entries):
            end = entries[n + 1][0] if n + 1 < len(entries) else 1440
            if action and end > start:
                on.append((start, end))
        days[int(d.get("day_id", 0))] = on
    weeks = {
        int(w.get("week_id", 0)): [int(w.get(f"day_id_{name}", 0)) for name in WEEKDAYS]
        for w in _members(published, "publish_week_profile", ids, inside=True)
    }
    seasons: list[tuple[_dt.date, int]] = []
    for command in _members(published, "publish_seasons", ids, inside=True):
        for season in command.get("seasons", []):
            start = season.get("season_start_date", {})
            with contextlib.suppress(KeyError, ValueError, TypeError):
                year = int(start["year"])
                date = _dt.date(year if year >= 1900 else 1900 + year, start["month"], start["day"])
                seasons.append((date, int(season.get("week_id", 0))))
    begun = [s for s in sorted(seasons) if s[0] <= at.date()] or sorted(seasons)[:1]
    week = weeks.get(begun[-1][1]) if begun else None
    periods: dict[tuple[int, int], set[int]] = {}
    for weekday, day_id in enumerate(week or []):
        for period in days.get(day_id, []):
            periods.setdefault(period, set()).add(weekday)
    whole: set[_dt.date] = set()
    recurring: set[tuple[int, int]] = set()
    for command in _members(published, "publish_special_days", ids, inside=True):
        for entry in command.get("special_days", []):
            if days.get(int(entry.get("day_id", 0))) != [(0, 1440)]:
                continue
            date = entry.get("special_day_date", {})
            year = int(date.get("year", 0xFF))
            with contextlib.suppress(KeyError, ValueError, TypeError):
                if year == 0xFF:
                    recurring.add((int(date["month"]), int(date["day"])))
                else:
                    full = year if year >= 1900 else 1900 + year
                    whole.add(_dt.date(full, int(date["month"]), int(date["day"])))
    return NonDisablementCalendar(
        tuple((frozenset(d), s, e) for (s, e), d in sorted(periods.items())),
        frozenset(whole),
        frozenset(recurring),
    )


def zcl_calendar(published: dict[tuple[int, str], list[dict[str, Any]]]) -> TouCalendar | None:
    """The published ZSE tariff calendar (day, week profiles, seasons, special days) or
    None; a friendly credit calendar's members are not the tariff's."""
    friendly = friendly_credit_ids(published)
    published = {
        key: _members(published, key[1], friendly, inside=False) if key[0] == ZCL_CALENDAR else v
        for key, v in published.items()
    }
    try:
        days: dict[int, DayProfile] = {}
        for d in published.get((ZCL_CALENDAR, "publish_day_profile"), []):
            switches = {
                int(e.get("start_time", 0)): max(1, min(48, int(e.get("tier_or_action", 1))))
                for e in d.get("schedule_entries", [])
                if int(e.get("start_time", 0)) < 1440
            }
            if switches:
                switches.setdefault(0, switches[max(switches)])
                days[int(d.get("day_id", 0))] = DayProfile(tuple(sorted(switches.items())))
        weeks: dict[int, tuple[int, ...]] = {}
        for w in published.get((ZCL_CALENDAR, "publish_week_profile"), []):
            ids = tuple(int(w.get(f"day_id_{name}", 0)) for name in WEEKDAYS)
            if all(i in days for i in ids):
                weeks[int(w.get("week_id", 0))] = ids
        seasons: set[tuple[int, int, int]] = set()
        for command in published.get((ZCL_CALENDAR, "publish_seasons"), []):
            for season in command.get("seasons", []):
                start = season.get("season_start_date", {})
                month, mday = int(start.get("month", 1)), int(start.get("day", 1))
                if not (1 <= month <= 12 and 1 <= mday <= 31):
                    month, mday = 1, 1
                if int(season.get("week_id", 0)) in weeks:
                    seasons.add((month, mday, int(season.get("week_id", 0))))
        special: dict[_dt.date, int] = {}
        for command in published.get((ZCL_CALENDAR, "publish_special_days"), []):
            for entry in command.get("special_days", []):
                date = entry.get("special_day_date", {})
                year = int(date.get("year", 0xFF))
                if year != 0xFF and int(entry.get("day_id", 0)) in days:
                    with contextlib.suppress(ValueError):
                        full = year if year >= 1900 else 1900 + year
                        special[_dt.date(full, int(date["month"]), int(date["day"]))] = int(
                            entry["day_id"]
                        )
        if not (days and weeks and seasons):
            return None
        return TouCalendar(days, weeks, tuple(sorted(seasons)), special)
    except (MeteringError, KeyError, ValueError, TypeError):
        return None
