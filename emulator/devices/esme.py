"""ESME: the electricity meter (single element, twin element, polyphase).

DLMS commands run against the ESME COSEM model (`cosem/esme_model.py`) through
the generic server (`cosem_device.CosemDevice`); this module adds what a meter
does beyond storing values:

- registers read the metering engine (energy, tiers, instantaneous power), and
  profile rows capture them;
- the disconnector script table opens, arms and closes the load switch, and the
  disconnect-control object reports its state;
- passive calendars and charges with an activation time are future-dated: they
  activate when the clock reaches that time and raise the 8F66 alert (0x00CC);
- the token gateway (class 115) applies UTRN top-ups; the credit object
  (class 112) adjusts and resets the meter balance;
- the auxiliary controllers' passive calendar and special days (ECS46c/d) take
  effect at their activation times, like the tariff's;
- the consumer's boost button (`press_boost_button`) runs a boost of
  `BOOST_PERIOD` (a second press ends it early) and logs each one in the boost
  log that ECS61c reads.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from emulator.clock import Clock, to_zigbee_time
from emulator.devices import prepay_bridge, supply
from emulator.devices.alerts import dlms_alert
from emulator.devices.base import DeviceType, use_cases_for
from emulator.devices.cosem import profiles
from emulator.devices.cosem.esme_model import MODEL
from emulator.devices.cosem.model import CosemModel, Obj
from emulator.devices.cosem.server import Outcome
from emulator.devices.cosem_device import PROFILE_CAPACITY, CosemDevice
from emulator.devices.topup import ACCEPTED, ConsumerControls, offer_utrn
from emulator.gbcs import alert_settings
from emulator.gbcs.dlms.apdu import ActionResult, Obis, RequestSpec
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Boolean,
    CompactArray,
    Data,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    OctetString,
    Structure,
    TypeDescription,
    _Integer,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.metering import Meter, MeteringError
from emulator.metering.schedule import Execution

FUTURE_DATED_DLMS_ALERT = 0x00CC
ALERT_FUTURE_SUCCESS = 0x8F66

DISCONNECTOR_SCRIPTS = Obis("0-0:10.0.106.255")
#: ECS05 executes script 99 of the tariffication script table (the public RTDS 4.5.0
#: ECS05 command: class 9 method 1, long-unsigned 99; the calendar's tier scripts are
#: 1..48, 101..108 and 201..204, `prepay_bridge.PRIMARY_SELECTORS`): the tariff block
#: counter matrix reset.
TARIFF_SCRIPTS = Obis("0-0:10.0.100.255")
SCRIPT_RESET_BLOCK_COUNTERS = 99
#: ECS47e (7.16 Limit APC Level) runs one entry of this script table: its selector is
#: (kind << 4 | controller) << 8 | level, kind 1 for an APC output, 2 for an APC taking
#: input from the controlled load (as the reference ECS47e command and our builder).
APC_LIMIT_SCRIPTS = Obis("0-0:10.0.107.255")
SCRIPT_ENABLE, SCRIPT_DISABLE, SCRIPT_ARM = 0x33, 0x34, 0x36
CONTROL_DISCONNECTED, CONTROL_CONNECTED, CONTROL_READY = 0, 1, 2
# Event log codes for load switch changes (one table: emulator/devices/supply.py).
EVENT_SUPPLY_ARMED = supply.SUPPLY_ARMED
EVENT_SUPPLY_DISABLED, EVENT_SUPPLY_ENABLED = supply.SUPPLY_DISABLED, supply.SUPPLY_ENABLED

# Class 1 objects holding structures of metering quantities (GBCS ESME data model);
# their values are computed from the meter on every read, never stored.
TOU_REGISTERS = Obis("0-0:94.44.34.1")  # ECS17d: the 48 tier (TOU) registers
TOU_BLOCK_REGISTERS = Obis("0-0:94.44.34.2")  # ECS17e: TOU with blocks
ENERGY_REGISTERS = Obis("0-0:94.44.34.10")  # ECS17b: active and reactive import energy
POWER_REGISTERS = Obis("0-0:94.44.34.20")  # ECS17c: instantaneous import power
PREPAYMENT_REGISTERS = Obis("0-0:94.44.34.30")  # ECS19: balance, emergency credit, debts
SECONDARY_TIERS = 4
#: Activity calendar -> (passive, active) special days tables: a tariff command
#: (ECS01a, ECS01c) writes the passive table with the passive calendar, and both take
#: effect at the calendar's activation time (ECS24 / ECS24b read the active ones).
CALENDAR_SPECIAL_DAYS = {
    bytes(Obis("0-0:13.0.0.255")): (bytes(Obis("0-1:11.0.0.255")), bytes(Obis("0-0:11.0.0.255"))),
    bytes(Obis("0-0:13.0.1.255")): (bytes(Obis("0-1:11.0.1.255")), bytes(Obis("0-0:11.0.1.255"))),
}
ACCOUNT = Obis("0-0:19.0.0.255")  # class 111: attribute 11, credit charge configuration
#: A twin meter's account also charges the secondary element's consumption (charge
#: 0-0:19.20.5, priced by ECS01c/d) to the token credit and the emergency credit: two
#: entries after the single-element meter's, each collected in full (bits 111), as
#: the reference twin ECS26a response lists them.
TWIN_CREDIT_CHARGES = tuple(
    Structure(
        [
            OctetString(bytes(Obis(credit))),
            OctetString(bytes(Obis("0-0:19.20.5.255"))),
            BitString(3, bytes([0b1110_0000])),
        ]
    )
    for credit in ("0-0:19.10.0.255", "0-0:19.10.1.255")
)
#: Profiles whose rows on a twin meter carry the secondary element's import right
#: after the primary's and, after the 48 tier registers, its 4 tier registers (the
#: reference twin rows): billing data log (ECS20b), daily read log (ECS21a),
#: half-hour profile (ECS22b).
TWIN_ROW_PROFILES = frozenset(
    bytes(Obis(o)) for o in ("0-0:98.1.2.255", "0-0:98.1.9.255", "0-0:99.1.0.255")
)
#: Profiles whose rows end in the six prepayment registers of ECS19 (meter balance,
#: emergency credit balance, accumulated debt, payment debt, time debts 1 and 2, signed
#: millipence): the billing data logs read by ECS20b (after the energy registers) and
#: ECS20c, and the prepayment daily read log (ECS21b). The reference ECS20b rows end
#: in six double-longs, signed like ECS19's and unlike every energy register.
PREPAYMENT_ROW_PROFILES = frozenset(
    bytes(Obis(o)) for o in ("0-0:98.1.1.255", "0-0:98.1.2.255", "0-0:98.1.8.255")
)
log = logging.getLogger(__name__)
PREPAYMENT_COLUMNS = 6
#: The billing data logs (GBCS use case names): ECS20c reads the billing calendar
#: triggered rows, ECS20b the change of mode / tariff triggered rows.
BILLING_CALENDAR_LOG = bytes(Obis("0-0:98.1.1.255"))
CHANGE_TRIGGERED_LOG = bytes(Obis("0-0:98.1.2.255"))
#: Single action schedules (class 22, attribute 4): the billing calendar (ECS30) and
#: the daily reset of the tariff block counter matrix (ECS48).
BILLING_CALENDAR = bytes(Obis("0-0:15.0.0.255"))
BLOCK_RESET = bytes(Obis("0-0:15.1.0.255"))
CREDIT = Obis("0-0:19.10.0.255")  # class 112 credit: attribute 2 is the meter balance (ECS82)
UNIT_W, UNIT_WH, UNIT_VARH = 27, 30, 32  # DLMS unit enumeration
#: The auxiliary controllers' activation times (class 9000, attribute 6, written by
#: ECS46c/d) and what each makes active: the passive calendar (schedule) and the
#: passive special days table become the ones ECS61a/ECS61d read. Which is which is
#: what the reference 8F66 alerts of ECS46c name (CALENDAR .26, SPECIAL_DAYS .35).
AUX_ACTIVATIONS: dict[bytes, tuple[int, bytes, bytes]] = {
    bytes(Obis("0-0:94.44.128.26")): (
        10,
        bytes(Obis("0-1:12.0.2.255")),
        bytes(Obis("0-0:12.0.2.255")),
    ),
    bytes(Obis("0-0:94.44.128.35")): (
        11,
        bytes(Obis("0-1:11.0.3.255")),
        bytes(Obis("0-0:11.0.3.255")),
    ),
}
#: The boost log (ECS61c): one row per boost, its start and end times (the DUIS
#: response's BoostStart and BoostEnd), kept by the meter as a profile.
BOOST_LOG = bytes(Obis("0-0:99.98.20.255"))
#: How long a boost runs unless the button is pressed again. GBCS leaves the
#: period to the meter (our reference has no object for it): our choice.
BOOST_PERIOD = _dt.timedelta(hours=1)
#: Whether the boost button works (ECS61c reads it; the reference meter: true). A
#: meter fitted with auxiliary controllers leaves the factory with it true.
BOOST_AVAILABLE = bytes(Obis("0-0:94.44.7.255"))
#: Which auxiliary load control switch (1..5) a boost turns on: ECS62 Add / Remove
#: write true / false to 0-0:94.44.6.n. Switch n's output state is 0-n:96.3.10.255.
BOOST_ALCS = {n: bytes(Obis(f"0-0:94.44.6.{n}")) for n in range(1, 6)}


#: Use cases only some ESMEs implement (GBCS names). A twin-element meter has a
#: secondary element with its own tariff (the catalogue's twin-element variants
#: 1.1.2, 1.2.2 and 4.11.2); a polyphase meter reports and configures voltage per
#: phase; auxiliary load control switches (ALCS), their boost button and their
#: configuration exist only on meters fitted with them.
TWIN_ELEMENT_USE_CASES = frozenset({"ECS01c", "ECS01d", "ECS24b"})
POLYPHASE_USE_CASES = frozenset({"ECS23b", "ECS26k", "ECS29b", "ECS29d", "ECS29f"})
AUXILIARY_USE_CASES = frozenset(
    {
        "ECS46a",
        "ECS46c",
        "ECS46d",
        "ECS47Activate",
        "ECS47Deactivate",
        "ECS47Reset",
        "ECS47a",
        "ECS47e",
        "ECS61a",
        "ECS61c",
        "ECS61d",
        "ECS61e",
        "ECS62Add",
        "ECS62Remove",
    }
)
#: "any" answers every ESME use case (single, twin element and polyphase in one,
#: with auxiliary controllers): what a lab or the reference replay wants by default.
VARIANTS = ("any", "single", "twin", "polyphase")


def variant_use_cases(variant: str, auxiliary: bool) -> frozenset[str]:
    """The ESME use-case names this variant does not implement."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ESME variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    missing: set[str] = set()
    if variant in ("single", "polyphase"):
        missing |= TWIN_ELEMENT_USE_CASES
    if variant in ("single", "twin"):
        missing |= POLYPHASE_USE_CASES
    if not auxiliary:
        missing |= AUXILIARY_USE_CASES
    return frozenset(missing)


@dataclass(slots=True)
class Activation:
    """A future-dated change waiting for its time (passive calendar, charge, ...)."""

    at: _dt.datetime
    class_id: int
    obis: bytes
    message_code: int
    counter: int
    originator: Eui64


#: The alert settings the ESME acts on (sent to the WAN, logged), read back by ECS25r1/r2.
_ALERT_READ_BACK = frozenset(
    {*alert_settings.WAN_ALERTS.values(), *alert_settings.LOGGING.values()}
)


class Esme(ConsumerControls, CosemDevice):
    device_type: ClassVar[DeviceType] = DeviceType.ESME
    model: ClassVar[CosemModel] = MODEL
    triggered_profiles: ClassVar[frozenset[bytes]] = frozenset(
        (BILLING_CALENDAR_LOG, CHANGE_TRIGGERED_LOG)
    )
    kept_logs: ClassVar[frozenset[bytes]] = frozenset((BOOST_LOG,))

    def __init__(
        self,
        eui: Eui64 | str,
        clock: Clock,
        *,
        variant: str = "any",
        auxiliary: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(eui, clock, **kwargs)
        self.variant = variant
        self.auxiliary = auxiliary
        self._restrict_use_cases()
        self.meter = Meter(twin=variant == "twin")
        self.armed = False
        self.supply_alerts: list[supply.SupplyAlert] = []
        self.supply_alerts_dropped = 0
        self.disabled_by_command = False  # not armed by credit (supply.after_credit)
        self.activations: list[Activation] = []
        self.utrn_counters: list[int] = []
        self.dropped_settings = 0  # prepayment/tariff writes the engine could not take
        self.boost_started: _dt.datetime | None = None  # a boost running since then
        self.boosted_alcs: tuple[int, ...] = ()  # the switches the running boost turned on
        #: The last APC limit each auxiliary controller was commanded (7.16), by its
        #: number: (kind, level), kind 1 output, 2 input from the controlled load.
        self.apc_limits: dict[int, tuple[int, int]] = {}
        if auxiliary:
            self.cosem.values[(1, BOOST_AVAILABLE, 2)] = Boolean(True)
        self._publish_schedules()

    def _restrict_use_cases(self) -> None:
        """Use cases outside this variant get "command not supported" (ECS100)."""
        missing = variant_use_cases(self.variant, self.auxiliary)
        if missing:
            self.use_cases = {
                code: u
                for code, u in self.use_cases.items()
                if not set(u.name.split("/")) <= missing
            }

    # -- time ---------------------------------------------------------------------------
    def catch_up(self) -> None:
        now = self.clock.now()
        was_enabled = self.meter.supply_enabled
        self.meter.billing_hook = self._billing_row  # the meter may be a new copy
        super().catch_up()  # profile rows, each with the meter as it was at its capture time
        self.meter.advance(now)
        prepay_bridge.emit_meter_alerts(self)  # the meter's own alerts first (0x8F0F ...)
        supply.watch(self, was_enabled)  # then what the supply did about them
        for activation in [a for a in self.activations if a.at <= now]:
            self.activations.remove(activation)
            self._activate(activation)
        prepay_bridge.emit_meter_alerts(self)
        if self.boost_started is not None and now >= self.boost_started + BOOST_PERIOD:
            self._end_boost(self.boost_started + BOOST_PERIOD)

    # -- boost button ---------------------------------------------------------------------
    def press_boost_button(self) -> None:
        """The consumer pressed the boost button: a boost starts now and ends after
        `BOOST_PERIOD`, or now if one was running (the button toggles it). Each boost
        is logged when it ends, so the log holds only finished boosts."""
        self.catch_up()
        now = self.clock.now()
        if self.boost_started is not None:
            self._end_boost(now)
            return
        held = self.cosem.values.get((1, BOOST_AVAILABLE, 2))
        available = self.auxiliary if held is None else isinstance(held, Boolean) and held.value
        if not available:
            # the button does nothing on a meter whose boost is not available
            self.event_log.record(now, supply.NOT_ACTIONED, "boost button: boost not available")
            return
        self.boost_started = now
        self.boosted_alcs = tuple(
            n
            for n, obis in BOOST_ALCS.items()
            if isinstance(flag := self.cosem.values.get((1, obis, 2)), Boolean) and flag.value
        )
        for n in self.boosted_alcs:
            self.event_log.record(now, supply.ALCS_ON, f"ALCS {n} on: boost")
        self.clock.call_at(now + BOOST_PERIOD, self.catch_up)

    def _end_boost(self, at: _dt.datetime) -> None:
        assert self.boost_started is not None
        started, self.boost_started = self.boost_started, None
        # the switches the boost turned on go off, even one disassociated meanwhile
        for n in self.boosted_alcs:
            self.event_log.record(at, supply.ALCS_OFF, f"ALCS {n} off: boost ended")
        self.boosted_alcs = ()
        rows = self.profiles.setdefault(BOOST_LOG, [])
        rows.append(
            Structure(
                [
                    DoubleLongUnsigned(to_zigbee_time(started) & 0xFFFF_FFFF),
                    DoubleLongUnsigned(to_zigbee_time(at) & 0xFFFF_FFFF),
                ]
            )
        )
        if len(rows) > PROFILE_CAPACITY:
            del rows[: len(rows) - PROFILE_CAPACITY]

    def capture(self, at: _dt.datetime) -> None:
        """A row holds the registers at its capture time, not at catch-up time.

        The meter integrates lazily, so after a clock jump several boundaries are
        captured at once; integrating up to each boundary first gives each row
        the energy metered until then.
        """
        self.meter.advance(at)
        last = {obis: rows[-1] for obis, rows in self.profiles.items() if rows}
        super().capture(at)
        self._finish_rows(last)

    def change_of_supplier(self) -> None:
        """The outgoing supplier's billing data: the engine takes a billing snapshot
        (cause "supplier") and the change triggered log `0-0:98.1.2` its row."""
        self.catch_up()
        if self.meter.last is not None:
            self.meter.billing_snapshot(self.meter.last, "supplier")

    def _billing_row(self, at: _dt.datetime, cause: str) -> None:
        """The engine took a billing snapshot (its billing calendar, a change of
        payment mode or of tariff): the matching billing data log takes a row."""
        obis = BILLING_CALENDAR_LOG if cause == "billing" else CHANGE_TRIGGERED_LOG
        o = self.model.get(7, obis)
        if o is None:
            return
        last = {k: rows[-1] for k, rows in self.profiles.items() if rows}
        self.capture_row(o, at)
        self._finish_rows(last)

    def _finish_rows(self, last: dict[bytes, Data]) -> None:
        """The columns the model's row template lacks, on rows added since `last`."""
        registers = [
            profiles._clamp(DoubleLong, v) for v in prepay_bridge.prepayment_registers(self)
        ]
        for obis in PREPAYMENT_ROW_PROFILES:
            rows = self.profiles.get(obis, [])
            if rows and rows[-1] is not last.get(obis) and isinstance(row := rows[-1], Structure):
                rows[-1] = Structure([*row.items[:-PREPAYMENT_COLUMNS], *registers])
        if self.meter.secondary is None:
            return
        element = self.meter.secondary
        secondary: list[Data] = [DoubleLongUnsigned(int(element.import_wh) & 0xFFFF_FFFF)]
        tiers = Array(
            [DoubleLongUnsigned(int(v) & 0xFFFF_FFFF) for v in element.tier_wh[:SECONDARY_TIERS]]
        )
        for obis in TWIN_ROW_PROFILES:
            rows = self.profiles.get(obis, [])
            if rows and rows[-1] is not last.get(obis) and isinstance(row := rows[-1], Structure):
                items = [*row.items[:2], *secondary, *row.items[2:]]
                if len(items) > 3 and isinstance(items[3], Array):  # after the tier registers
                    items.insert(4, tiers)
                rows[-1] = Structure(items)

    def buffer(self, o: Obj, selection: Data | None) -> Data:
        """A twin meter's rows have the secondary element's columns the model lacks."""
        read = super().buffer(o, selection)
        if self.meter.secondary is None or bytes(o.obis) not in TWIN_ROW_PROFILES:
            return read
        if not isinstance(read, CompactArray) or read.description.tag != Structure.TAG:
            return read
        u32 = TypeDescription(DoubleLongUnsigned.TAG)
        columns = [*read.description.elements[:2], u32, *read.description.elements[2:]]
        if len(columns) > 3 and columns[3].tag == Array.TAG:
            columns.insert(4, TypeDescription(Array.TAG, SECONDARY_TIERS, (u32,)))
        return CompactArray(replace(read.description, elements=tuple(columns)), read.values)

    def register_values(self) -> Iterator[int]:
        m = self.meter
        yield int(m.import_wh)
        for value in m.tier_wh:
            yield int(value)
        for value in m.tier_block_wh:  # four arrays of 8: blocks 1..4, each by tier 1..8
            yield int(value)
        yield int(m.export_wh)
        while True:
            yield int(m.reactive_import_varh)

    def _activate(self, activation: Activation) -> None:
        o = self.model.get(activation.class_id, activation.obis)
        if o is not None and o.class_id == 20:
            for passive, active in ((6, 2), (7, 3), (8, 4), (9, 5)):
                value = self.cosem.get(o, passive)
                if value is not None and active in o.attributes:
                    self.cosem.set(o, active, value)
            tables = CALENDAR_SPECIAL_DAYS.get(bytes(o.obis))
            if tables is not None:
                self._activate_special_days(*tables)
        elif o is not None and o.class_id == 113:
            value = self.cosem.get(o, 6)
            if value is not None:
                self.cosem.set(o, 5, value)
        if o is not None and o.class_id == 9000 and 2 in o.attributes:
            value = self.cosem.get(o, 4)
            if value is not None:
                self.cosem.set(o, 2, value)
        if o is not None and o.class_id == 9000 and bytes(o.obis) in AUX_ACTIVATIONS:
            table, passive_obis, active_obis = AUX_ACTIVATIONS[bytes(o.obis)]
            source = self.model.get(table, passive_obis)
            target = self.model.get(table, active_obis)
            value = None if source is None else self.cosem.get(source, 2)
            if value is not None and target is not None:
                self.cosem.set(target, 2, value)
        if o is not None and o.class_id in (20, 111, 113, 9000):
            prepay_bridge.activate(self, o.class_id, bytes(o.obis))
        detail = activation.message_code.to_bytes(2, "big") + activation.counter.to_bytes(8, "big")
        if o is not None:
            detail += o.class_id.to_bytes(2, "big") + bytes(o.obis) + b"\x00"
        payload = dlms_alert(
            self.alert_counter + 1, ALERT_FUTURE_SUCCESS, activation.at, OctetString(detail)
        )
        self.emit_alert(FUTURE_DATED_DLMS_ALERT, activation.originator, payload, critical=True)

    def _activate_special_days(self, passive_obis: bytes, active_obis: bytes) -> None:
        passive, active = self.model.get(11, passive_obis), self.model.get(11, active_obis)
        if passive is None or active is None:
            return
        value = self.cosem.get(passive, 2)
        if value is not None:
            self.cosem.set(active, 2, value)

    def schedule_activation(self, o: Obj, value: Data) -> None:
        incoming = self.current
        if not isinstance(value, OctetString) or len(value.value) != 12 or incoming is None:
            return
        when = DlmsDateTime.from_bytes(value.value)
        key = (o.class_id, bytes(o.obis))
        self.activations = [a for a in self.activations if (a.class_id, a.obis) != key]
        if when.is_never_marker:
            return  # a cancellation
        at = when.to_datetime() or self.clock.now()
        msg = incoming.message
        self.activations.append(
            Activation(at, o.class_id, bytes(o.obis), msg.message_code, msg.counter, msg.originator)
        )
        self.clock.call_at(at, self.catch_up)

    # -- behaviour ------------------------------------------------------------------------
    def on_get(self, o: Obj, attribute: int, spec: RequestSpec) -> Outcome | None:
        if o.class_id in (3, 4, 5) and attribute == 2:
            template = o.attributes.get(2)
            if isinstance(template, _Integer):
                return Outcome(0, profiles._clamp(type(template), self._register(o.obis)))
        if o.class_id == 1 and attribute == 2 and bytes(o.obis) in _ALERT_READ_BACK:
            return Outcome(0, BitString(alert_settings.BITS, self._alert_settings(bytes(o.obis))))
        if o.class_id == 1 and attribute == 2:
            values = self._register_structure(o.obis)
            if values is not None:
                template = o.attributes[2]
                if o.obis == ENERGY_REGISTERS and self.meter.secondary is not None:
                    assert isinstance(template, Structure)
                    template = Structure([*template.items, DoubleLongUnsigned(0)])
                return Outcome(0, profiles.fill(template, iter(values)))
        if o.class_id == 112 and attribute == 2 and o.obis == CREDIT:
            template = o.attributes[2]
            assert isinstance(template, _Integer)
            balance = prepay_bridge.to_cosem(self.meter.balance)  # ECS82: millipence
            return Outcome(0, profiles._clamp(type(template), balance))
        if o.class_id == 112 and o.obis == prepay_bridge.EMERGENCY_CREDIT and attribute in (9, 10):
            template = o.attributes[attribute]
            assert isinstance(template, _Integer)
            c = self.meter.config
            amount = c.emergency_credit_limit if attribute == 9 else c.emergency_credit_threshold
            return Outcome(0, profiles._clamp(type(template), prepay_bridge.to_cosem(amount)))
        if o.class_id == 111 and o.obis == ACCOUNT and attribute == 11 and self.meter.secondary:
            held = self.cosem.get(o, 11) or o.attributes[11]
            if isinstance(held, Array):
                return Outcome(0, Array([*held.items, *TWIN_CREDIT_CHARGES]))
        if o.class_id == 70 and attribute == 2 and bytes(o.obis)[1] in BOOST_ALCS:
            return Outcome(0, Boolean(bytes(o.obis)[1] in self.boosted_alcs))  # ALCS 0-n:
        if o.class_id == 70 and attribute == 2:
            return Outcome(0, Boolean(self.meter.supply_enabled))
        if o.class_id == 70 and attribute == 3:
            return Outcome(0, Enum(self._control_state()))
        return super().on_get(o, attribute, spec)

    def on_set(self, o: Obj, attribute: int, value: Data) -> Outcome | None:
        self.cosem.set(o, attribute, value)
        read_back = alert_settings.SETTINGS_OBJECTS.get(bytes(o.obis))
        if read_back is not None and isinstance(value, BitString) and value.bits == 512:
            now = alert_settings.apply(self._alert_settings(read_back), value.value)
            self.cosem.values[(1, read_back, 2)] = BitString(alert_settings.BITS, now)
        if o.class_id == 22 and attribute == 4 and bytes(o.obis) in (BILLING_CALENDAR, BLOCK_RESET):
            self._publish_schedules()
        elif (o.class_id, attribute) in ((20, 10), (113, 7)) or self._aux_activation(o, attribute):
            self.schedule_activation(o, value)
        elif prepay_bridge.on_set(self, o.class_id, bytes(o.obis), attribute, value):
            self.schedule_activation(o, value)  # a future-dated prepayment setting
        return Outcome(0)

    def _alert_settings(self, obis: bytes) -> bytes:
        """The 256-bit alert settings read back from `obis`: as last set, else every
        alert sent and logged (the meter's behaviour before any ECS25), and the HAN and
        audible alarm objects, which change nothing here, none."""
        held = self.cosem.values.get((1, obis, 2))
        if isinstance(held, BitString):
            return held.value
        if obis in _ALERT_READ_BACK:
            return alert_settings.ALL_ENABLED
        return bytes(alert_settings.HALF)

    def alert_enabled(self, code: int, *, logged: bool = False) -> bool:
        """Whether the ECS25 settings let `code` be sent to the WAN (`logged`: be recorded
        in the event log); alerts no ECS25 object configures always are."""
        role = alert_settings.role_of(code)
        if role is None:
            return True
        objects = alert_settings.LOGGING if logged else alert_settings.WAN_ALERTS
        return alert_settings.enabled(self._alert_settings(objects[role]), code)

    @staticmethod
    def _aux_activation(o: Obj, attribute: int) -> bool:
        return o.class_id == 9000 and attribute == 6 and bytes(o.obis) in AUX_ACTIVATIONS

    def on_action(self, o: Obj, method: int, argument: Data) -> Outcome | None:
        if o.class_id == 9 and o.obis == DISCONNECTOR_SCRIPTS:
            return self._load_switch(argument)
        if (
            o.class_id == 9
            and o.obis == TARIFF_SCRIPTS
            and isinstance(argument, _Integer)
            and argument.value == SCRIPT_RESET_BLOCK_COUNTERS
        ):
            self.catch_up()  # the energy metered until now counts in the old block period
            self.meter.reset_block_counters()
            return Outcome(0)
        if o.class_id == 9 and o.obis == APC_LIMIT_SCRIPTS and isinstance(argument, _Integer):
            return self._limit_apc(argument.value)
        if o.class_id == 115 and method == 1:
            return self._top_up(argument)
        if o.class_id in (112, 113):
            result = prepay_bridge.on_action(self, bytes(o.obis), method, argument)
            if result is not None:
                return Outcome(result)
        if o.class_id == 112 and method in (1, 2) and isinstance(argument, _Integer):
            return Outcome(0)  # the emergency credit and accumulated credit objects
        return super().on_action(o, method, argument)

    def _publish_schedules(self) -> None:
        """The billing calendar and block reset execution times as the engine's
        schedules (the engine runs them; the stored attribute is what ECS26l reads).
        A never-written schedule keeps the engine's default, stored so it reads back."""
        for obis, name in (
            (BILLING_CALENDAR, "billing_schedule"),
            (BLOCK_RESET, "block_reset_schedule"),
        ):
            o = self.model.get(22, obis)
            if o is None:
                continue
            value = self.cosem.values.get((22, obis, 4))
            if value is None:
                entries: list[Data] = [
                    Structure([OctetString(e.cosem_time()), OctetString(e.cosem_date())])
                    for e in getattr(self.meter, name)
                ]
                self.cosem.set(o, 4, Array(entries))
                continue
            try:
                schedule = _executions(value)
            except MeteringError as exc:
                self.dropped_settings += 1
                log.warning("%s: %s not applied to the meter: %s", self.eui, Obis(obis), exc)
                continue
            setattr(self.meter, name, schedule)

    def _register(self, obis: bytes) -> int:
        o = Obis(obis)
        c, d, e = o[2], o[3], o[4]
        m = self.meter
        if d == 7:  # instantaneous
            return int(m.instantaneous_w)
        source = {
            1: m.import_wh,
            2: m.export_wh,
            3: m.reactive_import_varh,
            4: m.reactive_export_varh,
        }
        if d == 8 and c in source:
            if c == 1 and 0 < e <= len(m.tier_wh):
                return int(m.tier_wh[e - 1])
            return int(source[c])
        return 0

    def _register_structure(self, obis: bytes) -> list[int] | None:
        """The metering quantities of a class 1 register structure, in the model's order.

        Integers beyond the list (further elements or phases this single-element
        model does not meter) read 0;
        scaler-units are scaler 0 with the unit of the value before them.
        """
        m = self.meter
        if obis == ENERGY_REGISTERS:
            values = [int(m.import_wh), 0, UNIT_WH, int(m.reactive_import_varh), 0, UNIT_VARH]
            if m.secondary is not None:  # a twin meter: the secondary element's import last
                values.append(int(m.secondary.import_wh))
            return values
        if obis == POWER_REGISTERS:
            return [int(m.instantaneous_w), 0, UNIT_W]
        if obis == TOU_REGISTERS:
            return [int(v) for v in m.tier_wh]
        if obis == TOU_BLOCK_REGISTERS:  # register matrix, then block counter matrix
            return [int(v) for v in (*m.tier_block_wh, *m.block_counter_wh)]
        if obis == PREPAYMENT_REGISTERS:
            return prepay_bridge.prepayment_registers(self)
        return None

    def _control_state(self) -> int:
        if self.meter.supply_enabled:
            return CONTROL_CONNECTED
        return CONTROL_READY if self.armed else CONTROL_DISCONNECTED

    def _load_switch(self, argument: Data) -> Outcome:
        """ECS42 close (enable), ECS43 open (disable), ECS44 arm: the disconnector scripts."""
        script = argument.value if isinstance(argument, _Integer) else -1
        self.catch_up()
        if script == SCRIPT_DISABLE:
            supply.disable(self, "load switch opened remotely")
        elif script == SCRIPT_ENABLE:
            supply.enable(self, "load switch closed remotely")
        elif script == SCRIPT_ARM:
            if not supply.arm(self, "armed remotely"):
                self.event_log.record(self.clock.now(), EVENT_SUPPLY_ARMED, "arm: already enabled")
        else:
            return Outcome(ActionResult.OBJECT_UNAVAILABLE)
        return Outcome(0)

    def _limit_apc(self, selector: int) -> Outcome:
        """Keep the commanded level: the ESME models no load behind its controllers,
        so this is what a test (or 7.16's user) can see the command did."""
        kind, number, level = selector >> 12, (selector >> 8) & 0x0F, selector & 0xFF
        if kind not in (1, 2) or not 1 <= number <= 5 or level > 100:
            return Outcome(ActionResult.OBJECT_UNAVAILABLE)
        self.apc_limits[number] = (kind, level)
        return Outcome(0)

    def _top_up(self, argument: Data) -> Outcome:
        if not isinstance(argument, OctetString):
            return Outcome(ActionResult.TYPE_UNMATCHED)
        outcome = offer_utrn(self, argument.value, "remote")
        return Outcome(0 if outcome.result == ACCEPTED else ActionResult.HARDWARE_FAULT)

    # -- copies and state -------------------------------------------------------------------
    def clone(self) -> Esme:
        new = super().clone()
        assert isinstance(new, Esme)
        new.meter = Meter.from_json(self.meter.to_json())
        new.activations = list(self.activations)
        new.utrn_counters = list(self.utrn_counters)
        new.apc_limits = dict(self.apc_limits)
        new.supply_alerts = list(self.supply_alerts)
        if self.boost_started is not None:  # the copy's boost ends on its own catch-up
            new.clock.call_at(self.boost_started + BOOST_PERIOD, new.catch_up)
        return new

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state.update(
            {
                "variant": self.variant,
                "auxiliary": self.auxiliary,
                "meter": self.meter.to_json(),
                "armed": self.armed,
                "disabled_by_command": self.disabled_by_command,
                "supply_alerts": supply.alerts_to_json(self),
                "utrn_counters": self.utrn_counters,
                "boosted_alcs": list(self.boosted_alcs),
                "apc_limits": {str(n): list(limit) for n, limit in self.apc_limits.items()},
                "boost_started": (
                    None if self.boost_started is None else self.boost_started.isoformat()
                ),
                "activations": [
                    {
                        "at": a.at.isoformat(),
                        "class": a.class_id,
                        "obis": str(Obis(a.obis)),
                        "code": a.message_code,
                        "counter": a.counter,
                        "originator": str(a.originator),
                    }
                    for a in self.activations
                ],
            }
        )
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.variant = state.get("variant", self.variant)
        self.auxiliary = bool(state.get("auxiliary", self.auxiliary))
        self.use_cases = use_cases_for(self.device_type)
        self._restrict_use_cases()
        self.meter = Meter.from_json(state["meter"])
        self.armed = bool(state.get("armed", False))
        self.disabled_by_command = bool(state.get("disabled_by_command", False))
        self.supply_alerts = supply.alerts_from_json(state.get("supply_alerts", []))
        self.utrn_counters = list(state.get("utrn_counters", []))
        self.activations = [
            Activation(
                _dt.datetime.fromisoformat(a["at"]),
                int(a["class"]),
                bytes(Obis(a["obis"])),
                int(a["code"]),
                int(a["counter"]),
                Eui64(a["originator"]),
            )
            for a in state.get("activations", [])
        ]
        for a in self.activations:
            self.clock.call_at(a.at, self.catch_up)
        self.boosted_alcs = tuple(int(n) for n in state.get("boosted_alcs", []))
        self.apc_limits = {
            int(n): (int(kind), int(level))
            for n, (kind, level) in state.get("apc_limits", {}).items()
        }
        started = state.get("boost_started")
        self.boost_started = None if started is None else _dt.datetime.fromisoformat(started)
        if self.boost_started is not None:
            self.clock.call_at(self.boost_started + BOOST_PERIOD, self.catch_up)


def _executions(value: Data) -> tuple[Execution, ...]:
    """A class 22 execution_time array: (time, date) octet-string pairs."""
    if not isinstance(value, Array):
        raise MeteringError("execution_time is not an array")
    out: list[Execution] = []
    for item in value.items:
        if not isinstance(item, Structure) or len(item.items) != 2:
            raise MeteringError("an execution_time entry is not a (time, date) structure")
        time, date = item.items
        if not isinstance(time, OctetString) or not isinstance(date, OctetString):
            raise MeteringError("an execution_time entry is not two octet-strings")
        out.append(Execution.from_cosem(time.value, date.value))
    return tuple(out)
