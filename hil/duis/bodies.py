"""DUIS bodies that are structures -> the use case's option and its builder values.

A flat DUIS field maps to a builder parameter by name (`hil.duis.transform`). The
bodies here do not: a price matrix, debt registers with their recovery rates, a
payment mode with its suspend-debt flags. Each mapper reads the body as DUIS
defines it and writes the GBCS command's values at their positions in the
use case's request (the `values` overrides of `hil.dcc.commands`), so the
command carries the user's numbers rather than the builder's neutral ones.

The positions and encodings were read off pairs of DUIS request templates and
reference commands of the same use case (the DUIS templates and the RTDS share
their values); `tests/conformance/test_duis_transform.py` checks every template
against its reference command.

A mapper records the body elements it used; what it did not use goes on to the
flat mapping, and from there to the unmapped list the server logs and counts.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from emulator.gbcs import alert_settings
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Data,
    LongUnsigned,
    OctetString,
    Structure,
    Unsigned,
)
from emulator.pki.keystore import KeyUsage
from hil.dcc.commands import (
    CREDENTIAL_UPDATES,
    NON_DISABLEMENT_START,
    NON_DISABLEMENT_STOP,
    WEEKDAYS,
    flag_bits,
    non_disablement_entry,
)
from hil.dcc.routes import routes_for
from hil.dcc.templates.constants import BLOCK_IDS, TOU_IDS, credit_charge_rows
from hil.dcc.templates.dlms import TEMPLATES as DLMS_TEMPLATES
from hil.dcc.templates.gbz import TEMPLATES as GBZ_TEMPLATES
from hil.duis.xml import parse_datetime


@dataclass
class Body:
    """A DUIS body's service element, read by local names; remembers what was read."""

    root: etree._Element
    used: set[int] = field(default_factory=set)
    #: The elements behind `used`: held so that lxml keeps their proxies (and ids).
    held: list[etree._Element] = field(default_factory=list)

    def _mark(self, el: etree._Element) -> None:
        for node in el.iter():
            self.used.add(id(node))
            self.held.append(node)

    def find(self, *names: str) -> etree._Element | None:
        """The first element at the path of local names below the root (any depth for
        the first name)."""
        found = _descendants(self.root, names[0])
        for name in names[1:]:
            found = [c for e in found for c in _children(e, name)]
        return found[0] if found else None

    def has(self, *names: str) -> bool:
        el = self.find(*names)
        if el is not None and len(el) == 0:
            self._mark(el)
        return el is not None

    def text(self, *names: str) -> str | None:
        el = self.find(*names)
        if el is None or el.text is None or not el.text.strip():
            return None
        self._mark(el)
        return str(el.text).strip()

    def number(self, *names: str) -> int | None:
        text = self.text(*names)
        return None if text is None else int(text)

    def indexed(self, *names: str) -> list[tuple[int, etree._Element]]:
        """Every element named by the last name under the path, with its `index`."""
        parent = self.find(*names[:-1]) if len(names) > 1 else self.root
        if parent is None:
            return []
        found = [(int(c.get("index", "0")), c) for c in _children(parent, names[-1])]
        return sorted(found, key=lambda pair: pair[0])

    def value_of(self, el: etree._Element) -> int:
        self._mark(el)
        return int((el.text or "0").strip())

    def mark_all(self, el: etree._Element | None) -> None:
        if el is not None:
            self._mark(el)


def _local(el: etree._Element) -> str:
    return str(etree.QName(el).localname)


def _descendants(el: etree._Element, name: str) -> list[etree._Element]:
    """Elements named `name` at any depth below `el` (and `el` itself)."""
    return [e for e in el.iter() if isinstance(e.tag, str) and _local(e) == name]


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    """Elements named `name` directly below `el`."""
    return [c for c in el if isinstance(c.tag, str) and _local(c) == name]


# -- which use case a body asks for ------------------------------------------------------


def option_for(variant: str, body: etree._Element, device_type: str | None) -> str | None:
    """The route option a body chooses (e.g. 1.6 Prepayment -> ECS03/GCS03), or None
    for the variant's default route; only options the device type has are returned."""
    names = {_local(e) for e in body.iter() if isinstance(e.tag, str)}
    texts = {_local(e): (e.text or "").strip() for e in body.iter() if isinstance(e.tag, str)}
    candidates: list[str] = []
    if variant == "1.5":
        credit, reset = "CreditMode" in names, "ResetMeterBalance" in names
        if credit and reset:
            candidates = ["credit_mode_reset", "reset"]
        elif credit:
            candidates = ["credit_mode"]
        elif reset:
            candidates = ["reset"]
    elif variant == "1.6" and "Prepayment" in names:
        candidates = ["prepayment"]
    elif variant in CHOOSING_VALUES:
        element, options = CHOOSING_VALUES[variant]
        chosen = options.get(texts.get(element, ""))
        candidates = [chosen] if chosen else []
    elif variant == "6.5":
        poly = "PolyPhaseVoltageSettings" in names
        keep = "RMSVoltageCountersNotReset" in names
        candidates = [
            {
                (True, True): "polyphase_no_reset",
                (True, False): "polyphase",
                (False, True): "no_reset",
            }.get((poly, keep), "")
        ]
    elif variant == "6.22":
        for element, option in SETTINGS_OPTIONS.items():
            if element in names:
                candidates = [option]
    have = {r.option for r in routes_for(variant, device_type)} if device_type else set()
    return next((c for c in candidates if c in have), None)


#: Body elements whose value names the use case: variant -> (element, value -> route
#: option, None for the variant's default route).
CHOOSING_VALUES: dict[str, tuple[str, dict[str, str | None]]] = {
    "3.3": ("ESMEEventLogType", {"ESME": None, "ALCS": "auxiliary"}),
    "6.13": (
        "LogToRead",
        {"Event": None, "Security": "security", "PowerEvent": "power", "ALCSEvent": "auxiliary"},
    ),
    "6.15.1": (
        "RemotePartyRole",
        {
            "Supplier": None,
            "NetworkOperator": "network_operator",
            "LoadController": "load_controller",
        },
    ),
    "6.21": ("RemotePartyRole", {"Supplier": None, "NetworkOperator": "network_operator"}),
}


def chose_route(variant: str, body: etree._Element, option: str | None) -> set[int]:
    """Ids of the body elements whose value named the route taken (`CHOOSING_VALUES`):
    they are carried, as the use case, even though no command field holds them."""
    choosing = CHOOSING_VALUES.get(variant)
    if choosing is None:
        return set()
    element, options = choosing
    return {
        id(e)
        for e in _descendants(body, element)
        if (e.text or "").strip() in options and options[(e.text or "").strip()] == option
    }


#: 6.22 settings groups -> route option (the default route takes the supplier's alerts).
SETTINGS_OPTIONS = {
    "ElectricitySupplierHANAlertSettings": "han",
    "ElectricitySupplierAlarmSettings": "audible",
    "ElectricitySupplierLoggingSettings": "logging",
    "ElectricityNetworkOperatorAlerts": "network_operator",
    "ElectricityNetworkOperatorLoggingSettings": "network_operator_logging",
}


# -- mappers ------------------------------------------------------------------------------

#: DUIS debt recovery periods -> seconds (DLMS charge period) and ZCL frequency codes.
PERIOD_SECONDS = {"HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400}
ZCL_FREQUENCY = {"HOURLY": 0, "DAILY": 1, "WEEKLY": 2, "MONTHLY": 3, "QUARTERLY": 4}

Mapper = Callable[[Body, "MapContext"], dict[str, Any]]


@dataclass(frozen=True)
class MapContext:
    """What a mapper may know besides the body: the target meter's variant."""

    twin: bool = False


def debt_esme(body: Body, ctx: MapContext) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for i, group in enumerate(("ElecDebtRecovery1", "ElecDebtRecovery2")):
        scale = body.number(group, "DebtRecoveryRatePriceScale")
        rate = body.number(group, "DebtRecoveryRate")
        period = body.text(group, "DebtRecoveryRatePeriod")
        if scale is not None:
            values[f"{i}.0.1"] = scale
        if rate is not None:
            values[f"{i}.2"] = [[b"", rate]]
        if period is not None:
            values[str(3 + i)] = PERIOD_SECONDS[period]
    for name, index in (
        ("DebtRecoveryPerPayment", "2"),
        ("PaymentDebtRegister", "7"),
        ("TimeDebtRegister1", "8"),
        ("TimeDebtRegister2", "9"),
    ):
        number = body.number(name)
        if number is not None:
            values[index] = number
    return {"values": values}


def debt_gsme(body: Body, ctx: MapContext) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for i, (register, group) in enumerate(
        (("TimeDebtRegister1", "GasDebtRecovery1"), ("TimeDebtRegister2", "GasDebtRecovery2"))
    ):
        fields: dict[str, Any] = {}
        amount = body.number(register)
        if amount is not None:
            fields["debt_amount"] = amount
        rate = body.number(group, "DebtRecoveryRate")
        if rate is not None:
            fields["debt_recovery_amount"] = rate
        period = body.text(group, "DebtRecoveryRatePeriod")
        if period is not None:
            fields["debt_recovery_frequency"] = ZCL_FREQUENCY[period]
        if fields:
            values[str(i)] = fields
    payment: dict[str, Any] = {}
    amount = body.number("PaymentDebtRegister")
    if amount is not None:
        payment["debt_amount"] = amount
    percentage = body.number("DebtRecoveryPerPayment")
    if percentage is not None:
        payment["debt_recovery_balance_percentage"] = percentage
    if payment:
        values["2"] = payment
    return {"values": values}


def payment_mode_esme(body: Body, ctx: MapContext) -> dict[str, Any]:
    prepayment = body.find("Prepayment") is not None
    body.has("Credit")
    suspend_disabled = body.text("Prepayment", "SuspendDebtDisabled") == "true"
    suspend_emergency = body.text("Prepayment", "SuspendDebtEmergency") == "true"
    rows = credit_charge_rows(
        prepayment=prepayment,
        suspend_disabled=suspend_disabled,
        suspend_emergency=suspend_emergency,
        twin=ctx.twin,
    )
    if not prepayment:
        return {"values": {"1": rows}}
    values: dict[str, Any] = {"2": rows}
    threshold = body.number("Prepayment", "DisablementThreshold")
    if threshold is not None:
        values["1"] = threshold
    return {"values": values}


#: ZCL Payment Control Configuration (GBCS use): bits 0, 1, 2, 4 and 7 in prepayment;
#: bit 10 suspends debt collection while disabled, bit 11 keeps collecting it in
#: emergency credit. Credit mode: 0xC94.
PAYMENT_CONTROL_PREPAYMENT = 0x097
PAYMENT_CONTROL_CREDIT = 0xC94


def payment_mode_gsme(body: Body, ctx: MapContext) -> dict[str, Any]:
    if body.find("Prepayment") is None:
        body.has("Credit")
        return {
            "proposed_payment_control_configuration": PAYMENT_CONTROL_CREDIT,
            "cut_off_value": -1,
        }
    config = PAYMENT_CONTROL_PREPAYMENT
    if body.text("Prepayment", "SuspendDebtDisabled") == "true":
        config |= 0x400
    if body.text("Prepayment", "SuspendDebtEmergency") != "true":
        config |= 0x800
    params: dict[str, Any] = {"proposed_payment_control_configuration": config}
    threshold = body.number("Prepayment", "DisablementThreshold")
    if threshold is not None:
        params["cut_off_value"] = threshold
    return params


def _electricity_prices(body: Body, group: Iterable[str]) -> tuple[dict[int, int], int | None]:
    """Price matrix entries by identifier, and the price scale."""
    path = tuple(group)
    prices: dict[int, int] = {}
    for tariff in ("TOUTariff", "HybridTariff"):
        for index, el in body.indexed(*path, tariff, "TOUPrice"):
            prices[TOU_IDS[index - 1]] = body.value_of(el)
    for tariff in ("BlockTariff", "HybridTariff"):
        for tier, block_prices in body.indexed(*path, tariff, "BlockPrices"):
            body.mark_all(block_prices)
            for block, el in sorted(
                (int(c.get("index", "0")), c) for c in _children(block_prices, "BlockPrice")
            ):
                prices[(0x9 + block) << 4 | tier] = body.value_of(el)
    return prices, body.number(*path, "PriceScale")


def _price_values(body: Body, standing_spec: int, price_spec: int) -> dict[str, Any]:
    """The standing charge and the price matrix (with their scales) at the positions of
    the use case's two class 113 unit charges (ECS01a and ECS01b place them apart)."""
    path = ("PriceElements", "ElectricityPriceElements")
    prices, scale = _electricity_prices(body, path)
    values: dict[str, Any] = {}
    standing, standing_scale = (
        body.number(*path, "StandingCharge"),
        body.number(*path, "StandingChargeScale"),
    )
    if standing is not None:
        values[f"{standing_spec}.2"] = [[b"", standing]]
    if standing_scale is not None:
        values[f"{standing_spec}.0.1"] = standing_scale
    if scale is not None:
        values[f"{price_spec}.0.1"] = scale
    values[f"{price_spec}.2"] = [[bytes((i,)), prices.get(i, 0)] for i in TOU_IDS + BLOCK_IDS]
    return values


def prices_esme(body: Body, ctx: MapContext) -> dict[str, Any]:
    return {"values": _price_values(body, 0, 1)}


def secondary_prices_esme(body: Body, ctx: MapContext) -> dict[str, Any]:
    values: dict[str, Any] = {}
    scale = body.number("PriceElements", "PriceScale")
    if scale is not None:
        values["0.0.1"] = scale
    entries = body.indexed("PriceElements", "ElectricityPriceElement")
    if entries:
        values["0.2"] = [[bytes((i,)), body.value_of(el)] for i, el in entries]
    return {"values": values}


def prices_gsme(body: Body, ctx: MapContext) -> dict[str, Any]:
    path = ("PriceElements", "GasPriceElements")
    tou = body.indexed(*path, "TOUTariff", "TOUPrice")
    block = body.indexed(*path, "BlockTariff", "BlockPrice")
    params: dict[str, Any] = {}
    standing = body.number(*path, "StandingCharge")
    if standing is not None:
        params["standing_charge"] = standing
    if tou:
        params["number_of_price_tiers_in_use"] = len(tou)
        params["number_of_block_thresholds_in_use"] = 0
        params["tariff_type_charging_scheme"] = 0x00  # TOU
        params["sub_payload_control"] = 1  # TOU based
        params["entries"] = [{"tier_block_id": i, "price": body.value_of(el)} for i, el in tou]
    elif block:
        thresholds = body.number(*path, "BlockTariff", "NumberOfThresholds")
        params["number_of_price_tiers_in_use"] = 0
        params["number_of_block_thresholds_in_use"] = thresholds if thresholds is not None else 0
        params["tariff_type_charging_scheme"] = 0x10  # block
        params["sub_payload_control"] = 0  # block based
        params["entries"] = [
            {"tier_block_id": i - 1, "price": body.value_of(el)} for i, el in block
        ]
    return params


#: DUIS currency units -> ZCL currency (ISO 4217 number).
CURRENCIES = {"GBP": 826, "ECB": 978}
#: A gas day profile's one entry runs from midnight; a block tariff's day is tier 1
#: (the tier whose blocks the GSME prices, `prepay_bridge.zcl_tariff`).
BLOCK_TIER = 1


def gas_tariff(body: Body, ctx: MapContext) -> dict[str, Any]:
    """1.1.1 GSME (GCS01a): the calendar (one Publish Day Profile and Week Profile per
    profile, the seasons and special days), the tariff information and price matrix as
    1.2.1 (GCS01b) carries them, and a block tariff's thresholds."""
    params = prices_gsme(body, ctx)
    days: list[dict[str, Any]] = []
    for day in _descendants(body.root, "DayProfile"):
        sub = Body(day)
        tou = sub.number("TOUTariffAction")
        tier = tou if tou is not None else BLOCK_TIER if sub.has("BlockTariff") else None
        if tier is None:
            continue
        entries = [{"start_time": 0, "tier_or_action": tier}]
        days.append(
            {
                "day_id": sub.number("DayName") or 0,
                "total_number_of_schedule_entries": len(entries),
                "schedule_entries": entries,
            }
        )
        body.mark_all(day)
    weeks = [_gas_week(body, week) for week in _descendants(body.root, "WeekProfile")]
    seasons = _gas_seasons(body, body.root)
    special = _gas_special_days(body, body.root)
    if days:
        params["day_profiles"] = days
        params["number_of_day_profiles"] = len(days)
    if weeks:
        params["week_profiles"] = weeks
        params["number_of_week_profiles"] = len(weeks)
    if seasons:
        params["seasons"] = seasons
        params["number_of_seasons"] = len(seasons)
    if body.find("SpecialDays") is not None:
        params["special_days"] = special
        params["total_number_of_special_days"] = len(special)
    currency = body.text("GasPriceElements", "CurrencyUnits")
    if currency in CURRENCIES:
        params["currency"] = CURRENCIES[currency]
    # The price matrix's entries and control go by position: the block thresholds
    # command has fields of the same names.
    values: dict[str, Any] = {}
    # (the shape's own day and week profiles stay where the body gives none)
    shape = [c.name for c in GBZ_TEMPLATES["GCS01a"].components]
    shape_days, shape_weeks = (
        shape.count(n) for n in ("publish_day_profile", "publish_week_profile")
    )
    matrix = 1 + (len(days) or shape_days) + (len(weeks) or shape_weeks) + 3
    for name in ("entries", "sub_payload_control"):
        if name in params:
            values[f"{matrix}.{name}"] = params.pop(name)
    if body.find("GasPriceElements", "BlockTariff") is not None:
        limits = [
            (int(el.get("index", "0")), el) for el in _descendants(body.root, "BlockThreshold")
        ]
        if limits:
            thresholds = [body.value_of(el) for _, el in sorted(limits)]
            params["block_thresholds"] = [
                # the thresholds apply to every tier (sub-payload control bit 0)
                {"sub_payload_control": 1, "entries": [{"tier": 0, "thresholds": thresholds}]}
            ]
            body.mark_all(body.find("ThresholdMatrix"))
    if values:
        params["values"] = values
    return params


def load_limit(body: Body, ctx: MapContext) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, index in (
        ("LoadLimitPowerThreshold", "1"),
        ("LoadLimitPeriod", "2"),
        ("LoadLimitRestorationPeriod", "3"),
    ):
        number = body.number(name)
        if number is not None:
            values[index] = number
    state = body.text("LoadLimitSupplyState")
    if state is not None:
        values["0"] = state == "Disable"  # disconnect the supply when the limit is hit
    return {"values": values}


def auxiliary_duration(element: str) -> Mapper:
    def mapper(body: Body, ctx: MapContext) -> dict[str, Any]:
        duration = body.number(element, "Duration")
        return {} if duration is None else {"values": {"0": duration}}

    return mapper


def _hhmm(text: str) -> tuple[int, int, int]:
    hours, minutes, seconds = text.rstrip("Z").split(":")
    return int(hours), int(minutes), int(float(seconds))


def _dlms_time(text: str) -> bytes:
    """DUIS time of day -> DLMS time (hour, minute, second, hundredths)."""
    hours, minutes, seconds = _hhmm(text)
    return bytes((hours, minutes, seconds, 0))


def _dlms_date(text: str) -> bytes:
    """DUIS date (year 65535 = any year) -> DLMS date (year, month, day, weekday any)."""
    year, month, day = text.rstrip("Z").split("-")
    return int(year).to_bytes(2, "big") + bytes((int(month), int(day), 0xFF))


def _special_date(body: Body, date: etree._Element) -> bytes:
    """A DUIS special-day date with wildcards -> DLMS date."""

    def part(name: str, any_value: int) -> int:
        found = _descendants(date, name)
        if not found:
            return any_value
        return body.value_of(found[0])

    body.mark_all(date)
    year = part("SpecifiedYear", 0xFFFF)
    return year.to_bytes(2, "big") + bytes(
        (part("SpecifiedMonth", 0xFF), part("SpecifiedDayOfMonth", 0xFF), 0xFF)
    )


#: DUIS non-disablement scripts -> the schedule's selectors.
NON_DISABLEMENT_SCRIPTS = {"START": NON_DISABLEMENT_START, "STOP": NON_DISABLEMENT_STOP}


def prepay_config_esme(body: Body, ctx: MapContext) -> dict[str, Any]:
    group = ("UpdatePrepayConfigElectricity",)
    values: dict[str, Any] = {}
    for name, index in (
        ("MaxMeterBalance", "1"),
        ("MaxCreditThreshold", "2"),
        ("DebtRecoveryRateCap", "4"),
        ("LowCreditThreshold", "6"),
        ("EmergencyCreditLimit", "7"),
        ("EmergencyCreditThreshold", "9"),
    ):
        number = body.number(*group, name)
        if number is not None:
            values[index] = number
    calendar = body.find(*group, "ElectricityNonDisablementCalendar")
    if calendar is not None:
        days = body.indexed(
            *group, "ElectricityNonDisablementCalendar", "ElectricitySpecialDays", "SpecialDay"
        )
        values["0"] = [[index, _special_date(body, day), index] for index, day in days]
        entries = []
        schedules = _children(calendar, "ElectricityNonDisablementSchedule")
        for number, schedule in enumerate(schedules, start=1):
            sub = Body(schedule)
            script = sub.text("NonDisablementScript") or "START"
            weekdays = {(e.text or "").strip() for e in _descendants(schedule, "DayOfWeekID")}
            special = {int((e.text or "0").strip()) for e in _descendants(schedule, "SpecialDayID")}
            entries.append(
                non_disablement_entry(
                    number,
                    NON_DISABLEMENT_SCRIPTS[script],
                    _dlms_time(sub.text("SwitchTime") or "00:00:00"),
                    flag_bits([day.capitalize() in weekdays for day in WEEKDAYS]),
                    flag_bits([i in special for i in range(1, 6)]),
                    _dlms_date(sub.text("StartDate") or "65535-01-01"),
                    _dlms_date(sub.text("EndDate") or "65535-12-31"),
                )
            )
            body.mark_all(schedule)
        values["3"] = entries
        body.mark_all(calendar)
    return {"values": values}


def prepay_config_gsme(body: Body, ctx: MapContext) -> dict[str, Any]:
    group = ("UpdatePrepayConfigGas",)
    params: dict[str, Any] = {}
    for name, param in (
        ("EmergencyCreditLimit", "emergency_credit_limit"),
        ("EmergencyCreditThreshold", "emergency_credit_threshold"),
        ("DebtRecoveryRateCap", "overall_debt_cap"),
        ("LowCreditThreshold", "low_credit_warning_level"),
        ("MaxMeterBalance", "maximum_credit_level"),
        ("MaxCreditThreshold", "maximum_credit_per_top_up"),
    ):
        number = body.number(*group, name)
        if number is not None:
            params[param] = number
    calendar = body.find(*group, "GasNonDisablementCalendar")
    if calendar is not None:
        values = _gas_calendar(Body(calendar), body)
        if values is not None:
            params["values"] = values
    return params


#: GCS05's components after the four credit settings: the calendar header, three day
#: profiles, two week profiles, the seasons and the special days.
GCS05_CALENDAR, GCS05_DAYS, GCS05_WEEKS, GCS05_SEASONS, GCS05_SPECIAL = 4, (5, 6, 7), (8, 9), 10, 11
GAS_ACTIONS = {"START": 1, "STOP": 0}
DAY_FIELDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _gas_date(body: Body, date: etree._Element) -> dict[str, int]:
    raw = _special_date(body, date)
    year = int.from_bytes(raw[:2], "big")
    return {"year": 255 if year == 0xFFFF else year, "month": raw[2], "day": raw[3], "weekday": 255}


def _gas_week(body: Body, week: etree._Element) -> dict[str, Any]:
    """A DUIS week profile as a ZCL Publish Week Profile's fields (marked carried)."""
    sub = Body(week)
    fields: dict[str, Any] = {"week_id": sub.number("WeekName") or 0}
    for position, el in sub.indexed("ReferencedDayName"):
        fields[f"day_id_{DAY_FIELDS[position - 1]}"] = sub.value_of(el)
    body.mark_all(week)
    return fields


def _gas_seasons(body: Body, root: etree._Element) -> list[dict[str, Any]]:
    """The seasons under `root` as ZCL Publish Seasons entries (marked carried)."""
    seasons = []
    for season in _descendants(root, "Season"):
        sub = Body(season)
        start = sub.find("SeasonStartDate")
        if start is not None:
            seasons.append(
                {
                    "season_start_date": _gas_date(body, start),
                    "week_id": sub.number("ReferencedWeekName") or 0,
                }
            )
        body.mark_all(season)
    return seasons


def _gas_special_days(body: Body, root: etree._Element) -> list[dict[str, Any]]:
    """The special days under `root` as ZCL Publish Special Days entries (marked carried)."""
    special = []
    for day in _descendants(root, "SpecialDay"):
        sub = Body(day)
        date = sub.find("Date")
        if date is not None:
            special.append(
                {
                    "special_day_date": _gas_date(body, date),
                    "day_id": sub.number("ReferencedDayName") or 0,
                }
            )
        body.mark_all(day)
    return special


def _gas_calendar(cal: Body, body: Body) -> dict[str, Any] | None:
    """The non-disablement calendar as GCS05's calendar components; None when its shape
    (3 day profiles, 2 week profiles) is not the one GCS05 carries."""
    days = _descendants(cal.root, "GasNonDisablementDayProfile")
    weeks = _descendants(cal.root, "WeekProfile")
    if len(days) != len(GCS05_DAYS) or len(weeks) != len(GCS05_WEEKS):
        return None
    values: dict[str, Any] = {}
    for index, day in zip(GCS05_DAYS, days, strict=True):
        sub = Body(day)
        entries = []
        for action in _children(day, "TimeStartAction"):
            inner = Body(action)
            hours, minutes, _ = _hhmm(inner.text("StartTime") or "00:00:00")
            entries.append(
                {
                    "start_time": hours * 60 + minutes,
                    "tier_or_action": GAS_ACTIONS[inner.text("NonDisablementAction") or "START"],
                }
            )
        values[str(index)] = {
            "day_id": sub.number("GasDayName") or 0,
            "total_number_of_schedule_entries": len(entries),
            "schedule_entries": entries,
        }
        body.mark_all(day)
    for index, week in zip(GCS05_WEEKS, weeks, strict=True):
        values[str(index)] = _gas_week(body, week)
    seasons = _gas_seasons(body, cal.root)
    special = _gas_special_days(body, cal.root)
    values[str(GCS05_CALENDAR)] = {
        "number_of_seasons": len(seasons),
        "number_of_week_profiles": len(weeks),
        "number_of_day_profiles": len(days),
    }
    values[str(GCS05_SEASONS)] = {"seasons": seasons}
    values[str(GCS05_SPECIAL)] = {
        "total_number_of_special_days": len(special),
        "special_days": special,
    }
    body.mark_all(cal.root)
    return values


#: 6.8 periods of several months: how many billing periods a year.
PERIODS_A_YEAR = {"Quarterly": 4, "SixMonthly": 2, "Yearly": 1}
ANY_DATE = bytes((0xFF, 0xFF, 0xFF, 0xFF, 0xFF))


def billing_calendar(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.8 ESME (ECS30, ECS30a): the billing single-action schedule's execution times,
    each at the billing time: every day, on a weekday (1 = Monday), on a day of every
    month, or on a day of the months a quarterly, six-monthly or yearly period starts
    in (from the start month on, one entry per period)."""
    calendar = ("ElectricityBillingCalendar",)
    text = body.text(*calendar, "BillingTime")
    if text is None:
        return {}
    time = _dlms_time(text)
    dates: list[bytes] = []
    if body.has(*calendar, "Daily"):
        dates = [ANY_DATE]
    weekday = body.number(*calendar, "Weekly")
    if weekday is not None:
        dates = [ANY_DATE[:4] + bytes((weekday,))]
    day = body.number(*calendar, "Monthly")
    if day is not None:
        dates = [bytes((0xFF, 0xFF, 0xFF, day, 0xFF))]
    for name, count in PERIODS_A_YEAR.items():
        day = body.number(*calendar, name, "DayOfMonth")
        start = body.number(*calendar, name, "BillingPeriodStartMonth")
        if day is None or start is None:
            continue
        step = 12 // count
        months = [(start - 1 + i * step) % 12 + 1 for i in range(count)]
        dates = [bytes((0xFF, 0xFF, month, day, 0xFF)) for month in months]
    if not dates:
        return {}
    return {"values": {"0": [[time, date] for date in dates]}}


#: 6.8 GSME (GCS25, GCS25a): a periodicity as the ZCL billing / block period duration
#: and its type's units (low nibble: 1 days, 2 weeks, 3 months), the timebase nibble
#: as the reference commands carry it (0x20).
GAS_PERIODS = {
    "Daily": (1, 0x21),
    "Weekly": (1, 0x22),
    "Monthly": (1, 0x23),
    "Quarterly": (3, 0x23),
    "SixMonthly": (6, 0x23),
    "Yearly": (12, 0x23),
}


def gas_billing_calendar(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.8 GSME: the billing period and the block period start at `BillingPeriodStart`
    and last one period of the body's periodicity."""
    params: dict[str, Any] = {}
    start = body.text("GasBillingCalendar", "BillingPeriodStart")
    if start is not None:
        when = parse_datetime(start)
        params["billing_period_start_time"] = when
        params["block_period_start_time"] = when
    periodicity = body.text("GasBillingCalendar", "Periodicity")
    if periodicity is not None:
        duration, kind = GAS_PERIODS[periodicity]
        params["billing_period_duration"] = params["block_period_duration"] = duration
        params["billing_period_duration_type"] = params["block_period_duration_type"] = kind
    return params


def daily_block_reset(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.26: reset the tariff block counters at midnight every day, or never."""
    if body.text("DailyTariffBlockCounterMatrixReset") == "true":
        return {"values": {"0": [[bytes(4), b"\xff" * 5]]}}
    return {"values": {"0": []}}


#: Attribute-keyed values: (class, logical name, attribute) -> value. `map_body` turns
#: them into the use case's spec positions, so one mapper serves the variants of a
#: use case whose requests list the same attributes in different orders.
ATTRIBUTES = "attributes"

#: The first voltage code of each phase's registers (L1, L2, L3).
PHASE_CODES = {1: 32, 2: 52, 3: 72}
#: RMS voltage limiters: DUIS group name -> limiter logical name.
LIMITERS = {
    "RMSExtremeOverVoltage": "0-0:17.0.1.255",
    "RMSExtremeUnderVoltage": "0-0:17.0.2.255",
    "RMSVoltageSag": "0-0:17.0.3.255",
    "RMSVoltageSwell": "0-0:17.0.4.255",
}


def voltage(body: Body, ctx: MapContext) -> dict[str, Any]:
    attributes: dict[tuple[int, str, int], Any] = {}
    for name, limiter in LIMITERS.items():
        threshold = body.number("RMSVoltageSettings", f"{name}Threshold")
        period = body.number("RMSVoltageSettings", f"{name}MeasurementPeriod")
        if threshold is not None:
            attributes[(71, limiter, 4)] = threshold
        if period is not None:
            attributes[(71, limiter, 6)] = period
    phases: list[tuple[int, etree._Element]] = []
    single = body.find("SinglePhaseVoltageSettings")
    if single is not None:
        phases.append((1, single))
    for poly in _children(body.root, "PolyPhaseVoltageSettings"):
        sub = Body(poly)
        number = sub.number("Phase")
        settings = sub.find("PhaseVoltageSettings")
        if number is not None and settings is not None:
            phases.append((number, settings))
        body.mark_all(poly)
    for number, settings in phases:
        sub, code = Body(settings), PHASE_CODES[number]
        for field_name, obis, class_id, member in (
            ("AverageRMSOverVoltageThreshold", f"1-0:{code}.35.0.4", 1, 2),
            ("AverageRMSUnderVoltageThreshold", f"1-0:{code}.31.0.4", 1, 2),
            ("AverageRMSVoltageMeasurementPeriod", f"1-0:{code}.24.0.255", 7, 4),
        ):
            value = sub.number(field_name)
            if value is not None:
                attributes[(class_id, obis, member)] = value
        body.mark_all(settings)
    body.has("RMSVoltageCountersNotReset")
    return {ATTRIBUTES: attributes}


def auxiliary_controller(body: Body, ctx: MapContext) -> dict[str, Any]:
    """7.13 / 7.16: which controller, its kind, level and period."""
    params: dict[str, Any] = {"input": body.has("InputFromControlledLoad")}
    number = body.root.get("auxiliaryControllerN")
    if number is not None:
        params["controller"] = int(number)
    level = body.number("CommandedStateLevel")
    if level is not None:
        params["level"] = level
    for name, param in (("StartDateTime", "start"), ("EndDateTime", "end")):
        text = body.text(name)
        if text is not None:
            params[param] = parse_datetime(text)
    return params


#: The TOU switching table's script table (0-0:10.0.100.255); a day profile action
#: runs a selector: the primary element's TOU action n is n (1..48), its block action
#: n is 100 + n (TOU-block tier 1..8), the secondary element's TOU action n is 200 + n
#: (register 1..4).
TARIFF_SCRIPTS = bytes((0, 0, 10, 0, 100, 0xFF))
BLOCK_SELECTOR_BASE = 100
TARIFF_SELECTOR_BASE = 200
#: A DLMS date-time's time of day, deviation and status for a season start: midnight,
#: deviation not specified, status not specified.
SEASON_TIME = bytes((0, 0, 0, 0, 0x80, 0x00, 0xFF))


def _calendar_values(
    body: Body, first_spec: int, selector: Callable[[str, int], int]
) -> dict[str, Any]:
    """A DUIS switching table and its special days as an activity calendar's seasons,
    week and day profiles (specs `first_spec`..+2) and special days table (+3);
    `selector` gives a day profile action's script selector from the DUIS action's
    element name and value."""
    values: dict[str, Any] = {}
    table = body.find("SwitchingTable")
    if table is None:
        return values
    seasons = []
    for season in _descendants(table, "Season"):
        sub = Body(season)
        start = sub.find("SeasonStartDate")
        if start is None:
            continue
        seasons.append(
            [
                (sub.text("SeasonName") or "").encode(),
                _special_date(body, start) + SEASON_TIME,
                bytes((sub.number("ReferencedWeekName") or 0,)),
            ]
        )
        body.mark_all(season)
    weeks = []
    for week in _descendants(table, "WeekProfile"):
        sub = Body(week)
        days = [sub.value_of(el) for _, el in sub.indexed("ReferencedDayName")]
        weeks.append([bytes((sub.number("WeekName") or 0,)), *days])
        body.mark_all(week)
    profiles = []
    for day in _descendants(table, "DayProfile"):
        sub = Body(day)
        actions = []
        for entry in _children(day, "ProfileSchedule"):
            inner = Body(entry)
            kind = next((n for n in TARIFF_ACTIONS if inner.find(n) is not None), None)
            if kind is None:
                continue
            start_time = _dlms_time(inner.text("StartTime") or "00:00:00")
            number = int(inner.text(kind) or "0")
            actions.append([start_time, TARIFF_SCRIPTS, selector(kind, number)])
        profiles.append([sub.number("DayName") or 0, actions])
        body.mark_all(day)
    if seasons:
        values[str(first_spec)] = seasons
    if weeks:
        values[str(first_spec + 1)] = weeks
    if profiles:
        values[str(first_spec + 2)] = profiles
    special = []
    for number, day in enumerate(_descendants(body.root, "SpecialDay"), start=1):
        sub = Body(day)
        date = sub.find("Date")
        if date is not None:
            special.append(
                [number, _special_date(body, date), sub.number("ReferencedDayName") or 0]
            )
        body.mark_all(day)
    if special:
        values[str(first_spec + 3)] = special
    body.mark_all(table)
    return values


#: DUIS day profile actions: a TOU tariff action names a TOU register (1..48), a block
#: tariff action the TOU-block tier (1..8) whose thresholds and block prices apply.
TARIFF_ACTIONS = ("TOUTariffAction", "BlockTariffAction")


def switching_table(body: Body, ctx: MapContext) -> dict[str, Any]:
    """1.1.2 (ECS01c): the secondary element's prices, then the activity calendar's
    seasons, week and day profiles, and the special days."""
    values = secondary_prices_esme(body, ctx)["values"]
    values.update(_calendar_values(body, 1, lambda kind, number: TARIFF_SELECTOR_BASE + number))
    return {"values": values}


#: ECS01a: the primary element's calendar (specs 0-3), the passive block thresholds of
#: TOU-block tiers 1..8 (class 21 0-0:16.1.11..18, specs 4-11), the standing charge
#: (spec 13) and the price matrix (spec 14).
PRIMARY_CALENDAR, PRIMARY_THRESHOLDS, PRIMARY_STANDING, PRIMARY_PRICES = 0, 4, 13, 14
BLOCK_TIERS = 8


def _primary_selector(kind: str, number: int) -> int:
    return number + (BLOCK_SELECTOR_BASE if kind == "BlockTariffAction" else 0)


def primary_tariff(body: Body, ctx: MapContext) -> dict[str, Any]:
    """1.1.1 (ECS01a): the whole primary element tariff. A day profile action's script
    selector says what it switches to: TOU register n (n) or TOU-block tier n
    (100 + n), as the ESME's activity calendar reads it
    (`emulator.devices.prepay_bridge.tou_calendar`); each tier's block thresholds go
    to its register monitor in the body's order."""
    values = _calendar_values(body, PRIMARY_CALENDAR, _primary_selector)
    special = values.get(str(PRIMARY_CALENDAR + 3))
    if special is not None:
        # The command's special days table is empty in the shape: typed here.
        entries: list[Data] = [
            Structure([LongUnsigned(n), OctetString(date), Unsigned(day)])
            for n, date, day in special
        ]
        values[str(PRIMARY_CALENDAR + 3)] = Array(entries)
    for tier, thresholds in body.indexed("ThresholdMatrix", "Thresholds"):
        if not 1 <= tier <= BLOCK_TIERS:
            continue
        limits = [(int(el.get("index", "0")), el) for el in _children(thresholds, "BlockThreshold")]
        values[str(PRIMARY_THRESHOLDS + tier - 1)] = [body.value_of(el) for _, el in sorted(limits)]
        body.mark_all(thresholds)
    values.update(_price_values(body, PRIMARY_STANDING, PRIMARY_PRICES))
    return {"values": values}


#: 6.14.3 (ECS46d): the auxiliary controllers' script table; a scheduled entry's
#: selector is (kind << 4 | controller) << 8 | 0x80 | level, kind 1 for an output
#: (ALCS, APC output) and 2 for an APC taking input from the controlled load, as the
#: 7.13 / 7.16 selectors but with bit 7 of the level byte set.
AUXILIARY_SCRIPTS = bytes((0, 0, 10, 0, 103, 0xFF))
SCHEDULED_LEVEL = 0x80


def _bit_string(flags: list[bool]) -> BitString:
    value = 0
    for i, flag in enumerate(flags):
        if flag:
            value |= 1 << (len(flags) - 1 - i)
    size = (len(flags) + 7) // 8
    return BitString(len(flags), (value << (size * 8 - len(flags))).to_bytes(size, "big"))


def _switch_entry(
    body: Body,
    schedule: etree._Element,
    number: int,
    selector: int,
    identifiers: list[int],
    special_day_attribute: str,
) -> list[Any]:
    """One entry of an auxiliary switching schedule (6.14.2 and 6.14.3 share the
    layout; they name a special day by different attributes)."""
    sub = Body(schedule)
    weekdays = {(e.text or "").strip() for e in _descendants(schedule, "DayOfWeekID")}
    applies = {
        int(e.get(special_day_attribute, "0"))
        for e in _descendants(schedule, "SpecialDaysApplicability")
    }
    start, end = sub.find("StartDate"), sub.find("EndDate")
    return [
        number,
        True,
        AUXILIARY_SCRIPTS,
        selector,
        _dlms_time(sub.text("SwitchTime") or "00:00:00"),
        0xFFFF,
        _bit_string([day.capitalize() in weekdays for day in WEEKDAYS]),
        _bit_string([i in applies for i in identifiers]),
        _special_date(body, start) if start is not None else b"\xff" * 5,
        _special_date(body, end) if end is not None else b"\xff" * 5,
    ]


def auxiliary_schedule(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.14.3: the special day definitions, then one schedule entry per switch."""
    definitions = _descendants(body.root, "AuxiliaryControllerSpecialDayDefinition")
    identifiers = [int(d.get("identifier", "0")) for d in definitions]
    special = [
        [n, _special_date(body, d), n] for n, d in zip(identifiers, definitions, strict=True)
    ]
    entries = []
    for number, schedule in enumerate(_descendants(body.root, "AuxiliaryControllerSchedule"), 1):
        sub = Body(schedule)
        action = sub.find("AuxiliaryControllerAction")
        if action is None:
            continue
        controller = int(action.get("auxiliaryControllerN", "1"))
        kind = 2 if sub.find("InputFromControlledLoad") is not None else 1
        level = sub.number("CommandedStateLevel") or 0
        selector = (kind << 4 | controller) << 8 | SCHEDULED_LEVEL | level
        entries.append(_switch_entry(body, schedule, number, selector, identifiers, "identifier"))
        body.mark_all(schedule)
    for d in definitions:
        body.mark_all(d)
    values: dict[str, Any] = {}
    if definitions:
        values["0"] = special
    if entries:
        values["1"] = entries
    return {"values": values}


#: 6.14.1 (ECS46a): the descriptions of switches 1..5 (0-0:94.44.0.11..15, specs 0-4).
SWITCH_DESCRIPTIONS = 5


def switch_descriptions(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.14.1: each described switch's text, and only those switches: a description
    the body leaves out stays as the device holds it."""
    values: dict[str, Any] = {}
    for index, el in body.indexed("ALCSHCALCSDescription"):
        text = Body(el).text("SwitchDescription")
        if text is None or not 1 <= index <= SWITCH_DESCRIPTIONS:
            continue
        values[str(index - 1)] = text
        body.mark_all(el)
    if not values:
        return {}
    return {"values": values, "specs": sorted(int(i) for i in values)}


def boost_button(element: str, add: bool) -> Mapper:
    """7.9 / 7.10 (ECS62Add / ECS62Remove): the switches (0-0:94.44.6.1..5, specs 0-4)
    whose `element` is true join (leave) the boost button; the others are not sent, so
    the device keeps them as they are."""

    def mapper(body: Body, ctx: MapContext) -> dict[str, Any]:
        named = [(i, el) for i, el in body.indexed(element) if 1 <= i <= SWITCH_DESCRIPTIONS]
        chosen = [i - 1 for i, el in named if (el.text or "").strip() == "true"]
        if not chosen:
            return {}
        for _, el in named:
            body.mark_all(el)
        return {"values": {str(i): add for i in chosen}, "specs": chosen}

    return mapper


#: 6.14.2 (ECS46c): the switch type registers (0-0:94.44.0.21..25, specs 0-4), then
#: the special days, the schedule and the two execution date-times (specs 5-8). An
#: entry's selector is switch << 8 | 1 (activate) or 2 (deactivate).
ALCS_SWITCHES, ALCS_REST = 5, (5, 6, 7, 8)
ALCS_ACTIONS = {"ActivateSwitch": 1, "DeactivateSwitch": 2}


def alcs_schedule(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.14.2: the switches' types (ALCS or an HCALCS's EUI-64), the special days and
    one schedule entry per switch action."""
    values: dict[str, Any] = {}
    switches = []
    for index, el in body.indexed("SwitchTypeAndId"):
        hcalcs = _children(el, "HCALCS")
        eui = bytes.fromhex((hcalcs[0].text or "").replace("-", "")) if hcalcs else bytes(8)
        values[str(index - 1)] = eui
        switches.append(index - 1)
        body.mark_all(el)
    days = body.indexed("ALCSHCALCSSpecialDays", "ALCSHCALCSSpecialDay")
    if days:
        values["5"] = [[i, _special_date(body, day), i] for i, day in days]
    identifiers = [i for i, _ in days]
    entries = []
    for number, schedule in enumerate(_descendants(body.root, "ALCSHCALCSConnectionSchedule"), 1):
        sub = Body(schedule)
        switch = sub.find("ActivateDeactivateSwitch")
        if switch is None:
            continue
        action = next((ALCS_ACTIONS[_local(c)] for c in switch if _local(c) in ALCS_ACTIONS), 1)
        selector = int(switch.get("index", "1")) << 8 | action
        entries.append(_switch_entry(body, schedule, number, selector, identifiers, "index"))
        body.mark_all(schedule)
    if entries:
        values["6"] = entries
    params: dict[str, Any] = {"values": values}
    if switches:
        params["specs"] = sorted(switches) + list(ALCS_REST)
    return params


#: 6.18.1 (ECS37): the maximum demand configurable period's script table, its start and
#: end selectors; the entries run every day (weekday bits Monday..Sunday), from any
#: date (the year-0 January start the command carries) to any date.
MAX_DEMAND_TABLE = bytes((0, 0, 10, 128, 100, 0xFF))
MAX_DEMAND_START, MAX_DEMAND_END = 1, 2
MAX_DEMAND_BEGIN = bytes((0, 0, 1, 0xFF, 0xFF))


def max_demand_period(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.18.1: the configurable period's start and end times as a two-entry schedule."""
    values: dict[str, Any] = {}
    for number, (name, selector) in enumerate(
        (("StartTime", MAX_DEMAND_START), ("EndTime", MAX_DEMAND_END))
    ):
        text = body.text("MaximumDemandTimePeriodSchedule", name)
        if text is None:
            continue
        values[f"0.{number}"] = [
            number,
            True,
            MAX_DEMAND_TABLE,
            selector,
            _dlms_time(text),
            0xFFFF,
            BitString(7, flag_bits([True] * 7)),
            BitString(0, b""),
            MAX_DEMAND_BEGIN,
            b"\xff" * 5,
        ]
    return {"values": values}


#: 6.18.2 registers -> their request spec in ECS57 (1-0:1.6.0, 1-0:1.6.1, 1-0:2.6.0).
MAX_DEMAND_REGISTERS = {
    "MaxDemandActivePowerImportValue": 0,
    "MaxDemandConfigTimeActivePowerImportValue": 1,
    "MaxDemandActivePowerExportValue": 2,
}


def max_demand_reset(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.18.2: reset only the registers the body names."""
    specs = [i for name, i in MAX_DEMAND_REGISTERS.items() if body.has(name)]
    return {"specs": specs} if specs else {}


#: ZSE event configuration bits of a GSME event: log it as a general event (0x03), push
#: it to the WAN (0x08) and the HAN (0x10), raise the alarm (0x40).
GAS_EVENT_BITS = {"EventLog": 0x03, "WANAlert": 0x08, "HANAlert": 0x10, "Alarm": 0x40}


def gas_alert_behaviour(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.22 GSME: one Set Event Configuration per distinct configuration, its events in
    the body's order, the configurations in the order they first appear."""
    settings = body.find("GasSupplierAlertEventSettings")
    if settings is None:
        return {}
    groups: dict[int, list[int]] = {}
    for event in settings:
        if not isinstance(event.tag, str):
            continue
        sub = Body(event)
        bits = 0
        for name, bit in GAS_EVENT_BITS.items():
            if sub.text(name) == "Enable":
                bits |= bit
        groups.setdefault(bits, []).append(int(_local(event).removeprefix("x"), 16))
        body.mark_all(event)
    return {
        "event_settings": [
            {
                "event_configuration": bits,
                "payload": {"number_of_events": len(events), "event_ids": events},
            }
            for bits, events in groups.items()
        ]
    }


def esme_alert_behaviour(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.22 ESME (ECS25a-b3): every alert the body enables or disables, as the 512-bit
    mask-and-values string of `emulator.gbcs.alert_settings`."""
    settings: dict[int, bool] = {}
    for el in body.root.iter():
        if not isinstance(el.tag, str):
            continue
        name = _local(el)
        text = (el.text or "").strip()
        if len(name) == 5 and name.startswith("x") and text in ("Enable", "Disable"):
            settings[int(name[1:], 16)] = text == "Enable"
            body.mark_all(el)
    if not settings:
        return {}
    string = alert_settings.encode(settings)
    return {"values": {"0": BitString(8 * len(string), string)}}


#: 6.28 channel groups -> (ZigBee channel page, first channel): a 32-bit channel mask
#: is the page in its top five bits and one bit per channel from the first (bit 0).
SUB_GHZ_PAGES = {
    "LowerBandSubGHzChannels0To26": (28, 0),
    "LowerBandSubGHzChannels27To34": (29, 27),
    "LowerBandSubGHzChannels35To61": (30, 35),
    "UpperBandSubGHzChannels0To26": (31, 0),
}
#: 6.28 settings after the four channel masks, in the command's order; True where DUIS
#: gives a decimal (a duty cycle or percentage) the CHF takes in hundredths.
SUB_GHZ_SETTINGS = (
    ("NormalLimitedDutyCycleThreshold", True),
    ("LimitedCriticalDutyCycleThreshold", True),
    ("MaximumSubGHzChannelChangesPerWeek", False),
    ("GSMECurfew", False),
    ("ChannelQuieterThreshold", False),
    ("ChannelNoisierThreshold", False),
    ("NonGSMEPoorCommsPercentageThreshold", True),
    ("NonGSMEPoorCommsMeasurementPeriods", False),
    ("LocalCHNoiseMeasurementPeriod", False),
    ("LocalCHFailurePercentage", True),
    ("LocalCHRetryPercentage", True),
)


def sub_ghz_configuration(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.28 (DBCH04): the allowed channels as channel masks, then the CHF's settings."""
    values: dict[str, Any] = {}
    for position, (group, (page, first)) in enumerate(SUB_GHZ_PAGES.items()):
        el = body.find(group)
        if el is None:
            continue
        mask = page << 27
        for channel in el:
            if isinstance(channel.tag, str):
                mask |= 1 << (int(_local(channel).removeprefix("Channel")) - first)
        body.mark_all(el)
        values[f"0.{position}"] = mask.to_bytes(4, "big")
    for offset, (name, hundredths) in enumerate(SUB_GHZ_SETTINGS):
        text = body.text(name)
        if text is not None:
            number = Decimal(text) * 100 if hundredths else Decimal(text)
            values[f"0.{len(SUB_GHZ_PAGES) + offset}"] = int(number)
    return {"values": values}


#: DUIS remote party roles -> the roles `hil.dcc.commands` names trust anchor cells by.
PARTY_ROLES = {
    "Root": "root",
    "Recovery": "recovery",
    "Supplier": "supplier",
    "NetworkOperator": "network_operator",
    "ACB": "acb",
    "TransCoS": "transitional_cos",
    "LoadController": "load_controller",
}


def credential_roles(body: Body, ctx: MapContext) -> dict[str, Any]:
    """6.24.1: the roles whose credentials the device reports, in the body's order."""
    roles = []
    for el in _descendants(body.root, "RemotePartyRole"):
        body.mark_all(el)
        roles.append(PARTY_ROLES[(el.text or "").strip()])
    return {"roles": roles} if roles else {}


#: DUIS replacement certificates -> the key usage of the cell each one fills.
CERTIFICATE_USAGES = {
    "DigitalSigningCertificate": KeyUsage.DIGITAL_SIGNATURE,
    "KeyAgreementCertificate": KeyUsage.KEY_AGREEMENT,
    "KeyAgreementTopUpCertificate": KeyUsage.PREPAYMENT_KEY_AGREEMENT,
}


def _der(el: etree._Element) -> bytes:
    return base64.b64decode("".join((el.text or "").split()))


def credential_update(use_case: str) -> Mapper:
    """6.15.1 / 6.21 / 8.5 and the like: the body's replacement certificates in the use
    case's cell order, its certification path and whether time-based certification
    path checks apply."""
    cells = CREDENTIAL_UPDATES[use_case].cells

    def mapper(body: Body, ctx: MapContext) -> dict[str, Any]:
        params: dict[str, Any] = {}
        replacements = body.find("ReplacementCertificates")
        if replacements is None:  # 6.23: the new supplier's, named as such
            replacements = body.find("SupplierReplacementCertificates")
        if replacements is not None:
            by_usage = {
                CERTIFICATE_USAGES[_local(el)]: el
                for el in replacements.iter()
                if isinstance(el.tag, str) and _local(el) in CERTIFICATE_USAGES
            }
            if len(by_usage) == len(cells) and all(u in by_usage for _, u, _ in cells):
                params["certificates"] = [body_der(body, by_usage[u]) for _, u, _ in cells]
        path = body.find("CertificationPathCertificates")
        if path is not None:
            params["certification_path"] = [
                body_der(body, el) for el in _children(path, "Certificate")
            ]
        apply = body.text("ApplyTimeBasedCPVChecks")
        if apply is not None:
            params["disapply_cpv_checks"] = apply != "true"
        return params

    return mapper


def body_der(body: Body, el: etree._Element) -> bytes:
    body.mark_all(el)
    return _der(el)


#: Use case -> mapper.
MAPPERS: dict[str, Mapper] = {
    **{use_case: credential_update(use_case) for use_case in CREDENTIAL_UPDATES},
    "DBCH04": sub_ghz_configuration,
    "ECS37": max_demand_period,
    "ECS46d": auxiliary_schedule,
    "ECS46a": switch_descriptions,
    "ECS62Add": boost_button("AddToBoostButton", add=True),
    "ECS62Remove": boost_button("RemoveFromBoostButton", add=False),
    "ECS46c": alcs_schedule,
    "GCS20": gas_alert_behaviour,
    **{
        use_case: esme_alert_behaviour
        for use_case in ("ECS25a", "ECS25a1", "ECS25a2", "ECS25a3", "ECS25b", "ECS25b3")
    },
    "ECS01a": primary_tariff,
    "ECS01c": switching_table,
    "ECS57": max_demand_reset,
    "CS02aMAC": credential_roles,
    "CS02aSignature": credential_roles,
    "CS02fMAC": credential_roles,
    "CS02fSignature": credential_roles,
    "ECS07": debt_esme,
    "GCS04": debt_gsme,
    "ECS02": payment_mode_esme,
    "ECS03": payment_mode_esme,
    "GCS02": payment_mode_gsme,
    "GCS03": payment_mode_gsme,
    "ECS01b": prices_esme,
    "ECS01d": secondary_prices_esme,
    "GCS01a": gas_tariff,
    "GCS01b": prices_gsme,
    "ECS28a": load_limit,
    "ECS47a": auxiliary_controller,
    "ECS47e": auxiliary_controller,
    "ECS29a": voltage,
    "ECS29b": voltage,
    "ECS29c": voltage,
    "ECS29d": voltage,
    "ECS30": billing_calendar,
    "ECS30a": billing_calendar,
    "GCS25": gas_billing_calendar,
    "GCS25a": gas_billing_calendar,
    "ECS48": daily_block_reset,
    "ECS08": prepay_config_esme,
    "ECS08a": prepay_config_esme,
    "GCS05": prepay_config_gsme,
    "ECS47Activate": auxiliary_duration("ActivateALCSHCALCS"),
    "ECS47Deactivate": auxiliary_duration("DeactivateALCSHCALCS"),
}


def map_body(
    use_case: str, service: etree._Element, ctx: MapContext
) -> tuple[dict[str, Any], set[int]]:
    """(builder parameters, ids of the body elements used) for a structured body."""
    mapper = MAPPERS.get(use_case)
    if mapper is None:
        return {}, set()
    body = Body(service)
    params = mapper(body, ctx)
    attributes = params.pop(ATTRIBUTES, None)
    if attributes:
        template = DLMS_TEMPLATES[use_case]
        values = params.setdefault("values", {})
        for position, spec in enumerate(template.specs):
            key = (spec.class_id, spec.obis, spec.member)
            if key in attributes:
                values[str(position)] = attributes[key]
    return params, body.used
