"""Devices that speak GBZ: the ZCL server shared by the gas meter and the gas proxy.

Each request component gets its response component(s), in order (GBCS 7.3):

- publish and set commands store what they carry and answer a default response;
- read attributes answers each attribute from the model (live values for
  consumption and credit), UNSUPPORTED_ATTRIBUTE for unknown ones;
- get commands answer the matching publish command(s), or a default response
  NOT_FOUND when nothing is held for the request;
- once a component fails, each later one is answered by a default response with
  command id 0xFF and status FAILURE, and is not executed;
- components with a from-date-time are future-dated: stored, run when the clock
  reaches that time, and reported with the 00CD alert (8F66); a from-date-time
  of 0xFFFFFFFF cancels the pending command of the same kind instead;
- response components that GBCS classes as sensitive data are encrypted for the
  requester (`zcl_model.SENSITIVE_RESPONSES`).
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Clock, from_zigbee_time, to_zigbee_time
from emulator.devices import supply
from emulator.devices.base import Device, Incoming, Reply
from emulator.devices.zcl_model import (
    ATTRIBUTES,
    CALENDAR,
    DEVICE_MANAGEMENT,
    EVENTS,
    METERING,
    PREPAYMENT,
    PRICE,
    SENSITIVE_RESPONSES,
)
from emulator.gbcs import crypto
from emulator.gbcs.asn1 import Der
from emulator.gbcs.payload import SENSITIVE_AAD
from emulator.gbcs.zcl.clusters import Direction, by_name
from emulator.gbcs.zcl.foundation import (
    STATUS_NOT_FOUND,
    STATUS_SUCCESS,
    STATUS_UNSUPPORTED_ATTRIBUTE,
)
from emulator.gbcs.zcl.gbz import (
    CONTROL_ENCRYPTED,
    CONTROL_FROM_DATE_TIME,
    CONTROL_LAST,
    FC_CLUSTER_SPECIFIC,
    FC_DISABLE_DEFAULT_RESPONSE,
    FC_TO_CLIENT,
    EncryptedPayload,
    GbzAlert,
    GbzComponent,
    GbzPayload,
    ZclFrame,
    decode_gbz,
    encode_gbz,
    encode_zcl_payload,
)
from emulator.gbcs.zcl.types import ZclValue
from emulator.metering import Meter, MeteringError
from emulator.metering.schedule import DAYS, MONTHS, WEEKS, Execution, due, periodic

log = logging.getLogger(__name__)

STATUS_FAILURE = 0x01
STATUS_INVALID_FIELD = 0x85
STATUS_HARDWARE_FAILURE = 0xC0
FUTURE_DATED_GBZ_ALERT = 0x00CD
PREPAY_SNAPSHOT_DELAY = _dt.timedelta(seconds=30)
ALERT_FUTURE_SUCCESS = 0x8F66
CANCEL_DATE_TIME = 0xFFFFFFFF  # a from-date-time meaning "cancel the pending one"
#: Publish commands that carry one member of a set (a day profile, a week profile):
#: publishing a member again replaces the one held with the same id.
PUBLISHED_MEMBER_ID = {"publish_day_profile": "day_id", "publish_week_profile": "week_id"}
#: What a new tariff calendar replaces (the Publish Calendar itself, then its parts).
TARIFF_CALENDAR_PARTS = (
    "publish_calendar",
    "publish_day_profile",
    "publish_week_profile",
    "publish_seasons",
    "publish_special_days",
)
#: Use cases whose attribute reads are answered with "disable default response" set
#: (GCS13a, GCS13b, GCS21f in the reference responses; other reads leave it clear).
READS_WITHOUT_DEFAULT_RESPONSE = frozenset({0x0074, 0x00B8, 0x009F})
#: Cluster-specific answers sent without "disable default response" (the reference
#: responses set that bit on publish commands and leave it clear on these).
DEFAULT_RESPONSE_ALLOWED = frozenset(
    {
        "publish_billing_period",
        "supply_status_response",
        "start_sampling_response",
        "consumer_top_up_response",
        "clear_event_log_response",
        "report_event_configuration",
    }
)
#: Prepayment cluster Debt Amount #1..#3 (ZSE 0x0211, 0x0221, 0x0231).
DEBT_AMOUNT_ATTRIBUTES = (0x0211, 0x0221, 0x0231)
#: The configuration of an event GCS20 never set: logged as a general event (ZSE bits 0-2).
DEFAULT_EVENT_CONFIGURATION = 0x03
ALL_EVENTS_OF_GROUP = 0xFF  # an event id's low byte asking for its whole group
#: ZSE snapshot causes of billing data log entries taken on a change (GCS15b reads them).
CAUSE_CHANGE_OF_TARIFF, CAUSE_CHANGE_OF_SUPPLIER, CAUSE_CHANGE_OF_MODE = 0x0008, 0x2000, 0x4000
#: ZSE snapshot causes of the daily entries: general; end of billing period.
CAUSE_GENERAL, CAUSE_BILLING_END = 0x0001, 0x0002
SNAPSHOT_TRIGGERS = {
    "publish_tariff_information": CAUSE_CHANGE_OF_TARIFF,
    "publish_change_of_supplier": CAUSE_CHANGE_OF_SUPPLIER,
}

#: Price cluster publish commands that set a schedule of the metering engine: the
#: fields' prefix and the engine's schedule (GCS25a sends both).
PERIOD_SCHEDULES = {
    "publish_billing_period": ("billing_period", "billing_schedule"),
    "publish_block_period": ("block_period", "block_reset_schedule"),
}
#: ZSE duration type, low nibble: the timebase (minutes are taken in whole days).
PERIOD_TIMEBASES = {1: DAYS, 2: WEEKS, 3: MONTHS}
#: ZSE duration type, high nibble: the period runs from the start (or to the end) of
#: its timebase, or from the start time as given.
START_OF_TIMEBASE, END_OF_TIMEBASE, NOT_SPECIFIED = 0, 1, 2


def zse_period(now: _dt.datetime, fields: dict[str, Any], prefix: str) -> tuple[Execution, ...]:
    """A ZSE billing or block period (start time, duration, duration type) as the
    engine's executions. Start time 0 is now. A period aligned to the start or end of
    its timebase starts at a midnight: every day, Monday's, or the 1st of the month
    (the end of one is the start of the next)."""
    start_time = int(fields.get(f"{prefix}_start_time", 0))
    count = int(fields.get(f"{prefix}_duration", 0))
    kind = int(fields.get(f"{prefix}_duration_type", 0))
    timebase, control = kind & 0x0F, kind >> 4
    if timebase == 0 and count and count % 1440 == 0:
        timebase, count = 1, count // 1440
    unit = PERIOD_TIMEBASES.get(timebase)
    if unit is None or control not in (START_OF_TIMEBASE, END_OF_TIMEBASE, NOT_SPECIFIED):
        raise MeteringError(f"{prefix} duration type 0x{kind:02X} is not supported")
    start = now if start_time == 0 else from_zigbee_time(start_time)
    if control != NOT_SPECIFIED:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if unit == WEEKS:
            start -= _dt.timedelta(days=start.weekday())
        elif unit == MONTHS:
            start = start.replace(day=1)
    return periodic(start, count, unit)


@dataclass(slots=True)
class Answer:
    """One response command: cluster-specific or general, with its fields."""

    cluster: int
    name: str
    fields: dict[str, Any]
    cluster_specific: bool = True

    @property
    def failed(self) -> bool:
        return self.name == "default_response" and self.fields.get("status") not in (
            STATUS_SUCCESS,
            STATUS_NOT_FOUND,
        )


@dataclass(slots=True)
class Pending:
    at: _dt.datetime
    component: GbzComponent
    message_code: int
    counter: int
    originator: bytes


@dataclass(slots=True)
class ZclState:
    """What a ZCL device holds beyond attribute values (tariffs, logs, snapshots)."""

    values: dict[tuple[int, int], Any] = field(default_factory=dict)
    published: dict[tuple[int, str], list[dict[str, Any]]] = field(default_factory=dict)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    prepay_snapshots: list[dict[str, Any]] = field(default_factory=list)
    samples: dict[int, dict[str, Any]] = field(default_factory=dict)
    top_ups: list[dict[str, Any]] = field(default_factory=list)
    debts: list[dict[str, Any]] = field(default_factory=list)
    recording_since: int | None = None  # ZigBee time consumption profile data starts
    #: Event id -> configuration bitmap set by GCS20 (others have DEFAULT_EVENT_CONFIGURATION).
    event_configuration: dict[int, int] = field(default_factory=dict)

    def copy(self) -> ZclState:
        return ZclState(
            dict(self.values),
            {k: list(v) for k, v in self.published.items()},
            list(self.snapshots),
            list(self.prepay_snapshots),
            dict(self.samples),
            list(self.top_ups),
            list(self.debts),
            self.recording_since,
            dict(self.event_configuration),
        )


Handler = Callable[["ZclDevice", GbzComponent, dict[str, Any]], list[Answer]]


class ZclDevice(Device):
    """Base of GSME and GPF: GBZ dispatch, attribute store, future-dated components."""

    speaks = "gbz"

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self.zcl = ZclState()
        self.meter = Meter(load_w=200.0)
        self.faults: dict[tuple[int, int | None], int] = {}  # (component index, attribute)
        self.pending: list[Pending] = []
        self.last_capture: _dt.datetime | None = None
        self._pending_prepay: list[tuple[_dt.datetime, int]] = []
        self.current: Incoming | None = None
        self.utrn_counters: list[int] = []  # UTRN counters accepted (topup.apply_utrn)
        self.dropped_settings = 0  # published tariffs the metering engine could not take
        self.armed = False  # the valve: closed, waiting for the consumer (supply.py)
        self.supply_alerts: list[supply.SupplyAlert] = []
        self.supply_alerts_dropped = 0
        self.disabled_by_command = False  # not armed by credit (supply.after_credit)

    # -- commands ---------------------------------------------------------------------
    def execute(self, incoming: Incoming) -> Reply | None:
        self.catch_up()
        tree = incoming.tree
        if isinstance(tree, Der):
            from emulator.devices.credentials import execute_asn1

            return execute_asn1(self, incoming, tree)
        if not isinstance(tree, GbzPayload):
            return None
        self.current = incoming
        try:
            return Reply(self.answer(incoming, tree))
        finally:
            self.current = None

    def answer(self, incoming: Incoming, request: GbzPayload) -> GbzPayload:
        out: list[GbzComponent] = []
        failed = False
        sensitive = SENSITIVE_RESPONSES.get(incoming.message.message_code, frozenset())
        for index, component in enumerate(request.components):
            if failed:
                answers = [
                    Answer(
                        component.cluster,
                        "default_response",
                        {"command_id": 0xFF, "status": STATUS_FAILURE},
                        False,
                    )
                ]
            elif _cancellation(component):
                answers = self._cancel(component)
            elif _future_dated(component):
                answers = self._defer(incoming, component)
            else:
                answers = self._one(index, component)
                failed = any(a.failed or _record_failed(a) for a in answers)
            for n, a in enumerate(answers):
                last = bool(component.control & CONTROL_LAST) and n == len(answers) - 1
                out.append(
                    self._component(
                        incoming, component, a, last, (a.cluster, a.name) in sensitive, out
                    )
                )
        return GbzPayload(out)

    def _one(self, index: int, component: GbzComponent) -> list[Answer]:
        frame = component.frame
        fault = self.faults.get((index, None))
        if fault is not None:
            return [_default(component, fault)]
        fields = frame.fields or {}
        if not frame.cluster_specific:
            if frame.command_id == 0x00:  # read attributes
                return [
                    self._read_attributes(index, component.cluster, fields.get("attribute_ids", []))
                ]
            return [_default(component, STATUS_SUCCESS)]
        handler = HANDLERS.get((component.cluster, frame.direction, frame.name))
        if handler is not None:
            return handler(self, component, fields)
        if not frame.name or frame.name.startswith("get_"):
            return [_default(component, 0x81)]  # UNSUP_CLUSTER_COMMAND
        # publish, set and other write commands: keep what they carry
        self._keep_published(component.cluster, frame.name, dict(fields))
        return [_default(component, STATUS_SUCCESS)]

    def _keep_published(self, cluster: int, name: str, fields: dict[str, Any]) -> None:
        """Hold a published command; a member of a set replaces the one with its id.

        A device holds one day profile per day id (and one week profile per week
        id): a new tariff republishes them and gets must not return the old ones.
        A member split over several commands starts again at command index 0; a
        later index replaces only that part. Members stay in id order.
        """
        trigger = SNAPSHOT_TRIGGERS.get(name)
        if trigger is not None:
            self.trigger_snapshot(trigger)  # the billing data log, before the change
        if cluster == CALENDAR and name == "publish_calendar":
            self._new_calendar(fields)
        self._keep(cluster, name, fields)
        if cluster == CALENDAR and self._friendly(fields):
            self._friendly_credit_to_meter()
        elif cluster in (PRICE, CALENDAR):
            self._tariff_to_meter()
        if cluster == PRICE and name in PERIOD_SCHEDULES:
            self.period_to_meter(name, fields)

    def _new_calendar(self, fields: dict[str, Any]) -> None:
        """A tariff's Publish Calendar (GCS01a: the whole calendar follows it) starts
        the tariff calendar again when it takes effect: the profiles, seasons and
        special days of earlier tariff calendars (the factory's too) are dropped, so
        only the new calendar prices. The reference GCS01a gives every calendar issuer
        calendar id 0, so the command, not a new id, marks the new calendar. The
        friendly credit calendar (type 3, or a typeless member under its issuer
        calendar id) is kept; a friendly credit Publish Calendar drops nothing."""
        from emulator.devices.prepay_bridge import FRIENDLY_CREDIT, friendly_credit_ids

        if fields.get("calendar_type") == FRIENDLY_CREDIT:
            return
        friendly_ids = friendly_credit_ids(self.zcl.published)

        def friendly(item: dict[str, Any]) -> bool:
            if "calendar_type" in item:
                return bool(item["calendar_type"] == FRIENDLY_CREDIT)
            return int(item.get("issuer_calendar_id", 0)) in friendly_ids

        for name in TARIFF_CALENDAR_PARTS:
            held = self.zcl.published.get((CALENDAR, name))
            if held is not None:
                self.zcl.published[(CALENDAR, name)] = [i for i in held if friendly(i)]

    def period_to_meter(self, name: str, fields: dict[str, Any]) -> None:
        """A published billing period (GCS25a) becomes the engine's billing calendar, a
        block period its block reset schedule: the engine runs them (billing snapshots,
        the end of billing period entries of the billing data log, block counter
        resets), the published command is what gets read back. One the engine cannot
        run is counted in `dropped_settings` and logged; the engine keeps its schedule."""
        prefix, schedule = PERIOD_SCHEDULES[name]
        try:
            executions = zse_period(self.clock.now(), fields, prefix)
        except MeteringError as exc:
            self.dropped_settings += 1
            log.warning("%s: %s not applied to the meter: %s", self.eui, name, exc)
            return
        setattr(self.meter, schedule, executions)

    def _friendly(self, fields: dict[str, Any]) -> bool:
        """A member of a friendly credit calendar (GCS05), not of the tariff's."""
        from emulator.devices.prepay_bridge import FRIENDLY_CREDIT, friendly_credit_ids

        if fields.get("calendar_type") == FRIENDLY_CREDIT:
            return True
        calendar = fields.get("issuer_calendar_id")
        return calendar is not None and calendar in friendly_credit_ids(self.zcl.published)

    def _friendly_credit_to_meter(self) -> None:
        """The friendly credit calendar is the GSME's non-disablement calendar."""
        from emulator.devices.prepay_bridge import zcl_friendly_credit

        try:
            calendar = zcl_friendly_credit(self.zcl.published, self.clock.now())
        except MeteringError as exc:
            self.dropped_settings += 1
            log.warning("%s: friendly credit calendar not applied: %s", self.eui, exc)
            return
        if calendar is not None:
            self.meter.config.non_disablement = calendar

    def _tariff_to_meter(self) -> None:
        """What is published now prices the meter (a future-dated publish runs at its time)."""
        from emulator.devices.prepay_bridge import zcl_tariff
        from emulator.metering import MeteringError

        try:
            tariff = zcl_tariff(self.zcl.published)
        except MeteringError as exc:
            self.dropped_settings += 1
            log.warning("%s: published tariff not applied to the meter: %s", self.eui, exc)
            return
        if tariff is not None:
            self.meter.publish_tariff(tariff)

    def _keep(self, cluster: int, name: str, fields: dict[str, Any]) -> None:
        held = self.zcl.published.get((cluster, name), [])
        member = PUBLISHED_MEMBER_ID.get(name)
        if member is None or member not in fields:
            self.zcl.published[(cluster, name)] = [*held, fields]
            return
        index = fields.get("command_index", 0)
        friendly = cluster == CALENDAR and self._friendly(fields)

        def replaced(item: dict[str, Any]) -> bool:
            # a friendly credit day (week) profile does not replace the tariff's
            same: bool = item.get(member) == fields[member]
            same = same and (cluster != CALENDAR or self._friendly(item) == friendly)
            return same and (index == 0 or item.get("command_index", 0) == index)

        kept = [item for item in held if not replaced(item)]
        self.zcl.published[(cluster, name)] = sorted(
            [*kept, fields], key=lambda f: (f.get(member, 0), f.get("command_index", 0))
        )

    def _read_attributes(self, index: int, cluster: int, ids: list[int]) -> Answer:
        records: list[dict[str, Any]] = []
        for attribute_id in ids:
            fault = self.faults.get((index, attribute_id))
            definition = ATTRIBUTES.get(cluster, {}).get(attribute_id)
            if fault is not None:
                records.append({"attribute_id": attribute_id, "status": fault})
            elif definition is None:
                records.append(
                    {"attribute_id": attribute_id, "status": STATUS_UNSUPPORTED_ATTRIBUTE}
                )
            else:
                value = self.attribute_value(cluster, attribute_id, definition.type_id)
                records.append(
                    {
                        "attribute_id": attribute_id,
                        "status": 0,
                        "value": ZclValue(definition.type_id, value),
                    }
                )
        return Answer(cluster, "read_attributes_response", {"records": records}, False)

    def attribute_value(self, cluster: int, attribute_id: int, type_id: int) -> Any:
        stored = self.zcl.values.get((cluster, attribute_id))
        if stored is not None:
            return stored
        live = self.live_value(cluster, attribute_id)
        if live is not None:
            return live
        return b"" if type_id in (0x41, 0x42) else 0

    def live_value(self, cluster: int, attribute_id: int) -> Any | None:
        m = self.meter
        if cluster == METERING and attribute_id == 0x0206:  # GCS38: the running firmware version
            return bytes.fromhex(self.firmware_version)
        if cluster == METERING and attribute_id == 0x0000:
            return int(m.import_wh)
        if cluster == METERING and 0x0100 <= attribute_id <= 0x0106 and attribute_id % 2 == 0:
            return int(m.tier_wh[(attribute_id - 0x0100) // 2])
        if cluster == PREPAYMENT and attribute_id == 0x0001:
            return int(m.balance)
        if cluster == PREPAYMENT and attribute_id == 0x0005:
            return int(m.debt)
        if cluster == METERING and attribute_id == SUPPLY_STATUS:
            return _supply_status(self)  # whoever changed it: a command, credit, the consumer
        return None

    def _component(
        self,
        incoming: Incoming,
        request: GbzComponent,
        answer: Answer,
        last: bool,
        encrypt: bool,
        earlier: list[GbzComponent],
    ) -> GbzComponent:
        to_client = not request.frame.frame_control & FC_TO_CLIENT
        fc = (FC_CLUSTER_SPECIFIC if answer.cluster_specific else 0) | (
            FC_TO_CLIENT if to_client else 0
        )
        if answer.cluster_specific and answer.name not in DEFAULT_RESPONSE_ALLOWED:
            fc |= FC_DISABLE_DEFAULT_RESPONSE
        if (
            answer.name == "read_attributes_response"
            and incoming.message.message_code in READS_WITHOUT_DEFAULT_RESPONSE
        ):
            fc |= FC_DISABLE_DEFAULT_RESPONSE
        command_id = _command_id(answer, to_client)
        frame = ZclFrame(
            fc, request.frame.sequence, command_id, answer.fields, None, None, answer.name
        )
        control = CONTROL_LAST if last else 0
        if not encrypt:
            return GbzComponent(control, answer.cluster, frame)
        plain = encode_zcl_payload(answer.cluster, fc, command_id, answer.fields)
        key, iv = self.sensitive_key(incoming)
        sealed = crypto.encrypt(key, iv, SENSITIVE_AAD, plain)
        frame.encrypted = EncryptedPayload(
            sealed[: -crypto.TAG_LENGTH], sealed[-crypto.TAG_LENGTH :]
        )
        frame.fields = None
        # the additional header's frame counter numbers the encrypted components of
        # one response 0, 1, 2... (as in every reference response)
        counter = sum(1 for c in earlier if c.encrypted)
        return GbzComponent(control | CONTROL_ENCRYPTED, answer.cluster, frame, None, counter, 0)

    # -- future-dated ---------------------------------------------------------------------
    def _defer(self, incoming: Incoming, component: GbzComponent) -> list[Answer]:
        at = from_zigbee_time(component.from_date_time or 0)
        msg = incoming.message
        self.pending.append(
            Pending(at, component, msg.message_code, msg.counter, bytes(msg.originator))
        )
        self.clock.call_at(at, self.catch_up)
        return [_default(component, STATUS_SUCCESS)]

    def _cancel(self, component: GbzComponent) -> list[Answer]:
        """GBCS cancellation: drop the pending future-dated command of the same kind.

        Same kind is the same cluster, direction and command. The cancelling
        component is not executed; it is acknowledged SUCCESS whether or not
        something was pending (as the RTDS GCS05 cancellation response is).
        """
        kind = _kind(component)
        self.pending = [p for p in self.pending if _kind(p.component) != kind]
        return [_default(component, STATUS_SUCCESS)]

    def log_top_up(self, code: str, pence: int) -> None:
        """An accepted UTRN, however it came (CS01b, the keypad, the PPMID), goes in the
        top-up log that reads of it publish."""
        self.zcl.top_ups.append(
            {
                "top_up_code": code.encode("ascii"),
                "top_up_amount": pence,
                "top_up_time": to_zigbee_time(self.clock.now()),
            }
        )

    def catch_up(self) -> None:
        now = self.clock.now()
        was_enabled = self.meter.supply_enabled
        self.meter.billing_hook = self._billing_end  # the meter may be a new copy
        self.capture_until(now)  # snapshots, each with the meter as it was at its time
        self.meter.advance(now)
        self._sync_debts()
        from emulator.devices.prepay_bridge import emit_meter_alerts

        emit_meter_alerts(self)  # the meter's own alerts first (0x8F0F ...)
        supply.watch(self, was_enabled)  # then what the supply did about them
        for item in [p for p in self.pending if p.at <= now]:
            self.pending.remove(item)
            self._one(-1, item.component)
            alert = GbzAlert(
                ALERT_FUTURE_SUCCESS, to_zigbee_time(item.at), 1, None, body_kind="none"
            )
            from emulator.gbcs.eui import Eui64
            from emulator.gbcs.zcl.gbz import FutureDatedGbzOutcome

            alert.body = FutureDatedGbzOutcome(
                item.message_code,
                item.counter,
                item.component.cluster,
                item.component.frame.frame_control,
                item.component.frame.command_id,
            )
            alert.body_kind = "future_dated_outcome"
            self.emit_alert(FUTURE_DATED_GBZ_ALERT, Eui64(item.originator), alert, critical=True)
        emit_meter_alerts(self)  # what the commands that ran just now raised
        super().catch_up()

    def _sync_debts(self) -> None:
        """The ZCL debt attributes read the engine's debt registers (time recovery
        lowers them as the clock runs)."""
        for attribute, debt in zip(DEBT_AMOUNT_ATTRIBUTES, self.meter.debts, strict=True):
            if debt.amount or (PREPAYMENT, attribute) in self.zcl.values:
                self.zcl.values[(PREPAYMENT, attribute)] = debt.amount

    def capture_until(self, now: _dt.datetime) -> None:
        """Daily snapshots as the clock passes midnight.

        The metering snapshot is taken at midnight; the prepayment snapshot after
        the day's debt collection, `PREPAY_SNAPSHOT_DELAY` later, so a read for a
        window ending at midnight does not yet see that day's prepayment state.
        Snapshots are taken in time order and the meter is integrated up to each
        one first, so after a clock jump each holds the values of its own time.
        """
        if self.last_capture is None:
            self.last_capture = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.zcl.recording_since is None:
            self.zcl.recording_since = to_zigbee_time(now)
        day = _dt.timedelta(days=1)
        while True:
            midnight = self.last_capture + day
            prepay = self._pending_prepay[0][0] if self._pending_prepay else None
            if prepay is not None and prepay <= now and prepay < midnight:
                self._prepay_snapshot()
            elif midnight <= now:
                self._snapshot(midnight)
            else:
                break

    def _snapshot(self, midnight: _dt.datetime) -> None:
        self.last_capture = midnight
        m = self.meter
        m.advance(midnight)
        # the day's entry; also the end of a billing period if the calendar says so
        cause = CAUSE_GENERAL | (CAUSE_BILLING_END if due(m.billing_schedule, midnight) else 0)
        self.zcl.snapshots.append(
            {
                "time": to_zigbee_time(midnight),
                "cause": cause,
                "summation": int(m.import_wh),
                "tiers": [int(t) for t in m.tier_wh[:4]],
                "blocks": [int(b) for b in m.block_wh[:4]],
            }
        )
        self._pending_prepay.append((midnight + PREPAY_SNAPSHOT_DELAY, cause))
        del self.zcl.snapshots[:-40]

    def _prepay_snapshot(self) -> None:
        when, cause = self._pending_prepay.pop(0)
        m = self.meter
        m.advance(when)
        self.zcl.prepay_snapshots.append(
            {
                "time": to_zigbee_time(when),
                "cause": cause,
                "credit": int(m.balance),
                "debt": int(m.debt),
                "debts": self.debt_amounts(),
                "emergency": int(m.emergency_credit_balance),  # remaining, not the limit
            }
        )
        del self.zcl.prepay_snapshots[:-40]

    def warm_up(self, until: _dt.datetime, *, step: _dt.timedelta = _dt.timedelta(days=1)) -> None:
        """Lab history for a prepayment gas meter: consumption, a top-up, debt collection."""
        super().warm_up(until, step=step)
        for days_ago in (10, 3):
            when = until - _dt.timedelta(days=days_ago)
            self.zcl.top_ups.append(
                {
                    "top_up_code": b"00000000000000000000",
                    "top_up_amount": 1000,
                    "top_up_time": to_zigbee_time(when),
                }
            )
            self.zcl.debts.append(
                {
                    "collection_time": to_zigbee_time(when),
                    "amount_collected": 50,
                    "debt_type": 0,
                    "outstanding_debt": 5000,
                }
            )

    def _billing_end(self, at: _dt.datetime, cause: str) -> None:
        """The engine ran its billing calendar: the billing data log takes an end of
        billing period entry with the meter as it was then. At midnight that entry is
        the day's (`_snapshot`); a change of tariff, mode or supplier takes its own
        entry before the change (`trigger_snapshot`), not here."""
        if cause == "billing" and (at.hour, at.minute, at.second) != (0, 0, 0):
            self._log_snapshot(at, CAUSE_BILLING_END)

    def trigger_snapshot(self, cause: int) -> None:
        """A billing data log entry now: the meter and prepayment registers, with `cause`."""
        now = self.clock.now()
        self.capture_until(now)
        self.meter.advance(now)
        self._log_snapshot(now, cause)

    def _log_snapshot(self, at: _dt.datetime, cause: int) -> None:
        m = self.meter
        when = to_zigbee_time(at)
        self.zcl.snapshots.append(
            {
                "time": when,
                "cause": cause,
                "summation": int(m.import_wh),
                "tiers": [int(t) for t in m.tier_wh[:4]],
                "blocks": [int(b) for b in m.block_wh[:4]],
            }
        )
        self.zcl.prepay_snapshots.append(
            {
                "time": when,
                "cause": cause,
                "credit": int(m.balance),
                "debt": int(m.debt),
                "debts": self.debt_amounts(),
                "emergency": int(m.emergency_credit_balance),  # remaining, not the limit
            }
        )
        del self.zcl.snapshots[:-40]
        del self.zcl.prepay_snapshots[:-40]

    def debt_amounts(self) -> list[int]:
        """Debt registers #1, #2 (time based) and #3 (payment based), pence."""
        return [int(self.zcl.values.get((PREPAYMENT, a), 0)) for a in DEBT_AMOUNT_ATTRIBUTES]

    # -- lab helpers -------------------------------------------------------------------
    def inject_fault(self, fault: dict[str, Any]) -> None:
        attribute = fault.get("attribute")
        self.faults[
            (int(fault.get("component", 0)), int(attribute) if attribute is not None else None)
        ] = int(fault.get("result", STATUS_HARDWARE_FAILURE))

    def forget_history(self) -> None:
        self.zcl.snapshots.clear()
        self.zcl.prepay_snapshots.clear()
        self.zcl.samples.clear()
        self.zcl.top_ups.clear()
        self.zcl.debts.clear()
        for key in [k for k in self.zcl.published if k[0] in (CALENDAR, PRICE)]:
            del self.zcl.published[key]
        self.zcl.recording_since = to_zigbee_time(self.clock.now())
        self.event_log.clear()
        self.security_log.clear()

    def clone(self) -> ZclDevice:
        new = super().clone()
        assert isinstance(new, ZclDevice)
        new.zcl = self.zcl.copy()
        new.meter = Meter.from_json(self.meter.to_json())
        new.faults = dict(self.faults)
        new.pending = list(self.pending)
        new._pending_prepay = list(self._pending_prepay)
        new.current = None
        new.utrn_counters = list(self.utrn_counters)
        new.supply_alerts = list(self.supply_alerts)
        return new

    def to_state(self) -> dict[str, Any]:
        self.catch_up()
        state = super().to_state()
        z = self.zcl
        state["zcl"] = {
            "values": [[c, a, _plain(v)] for (c, a), v in z.values.items()],
            "published": [
                [c, n, [_plain_fields(f) for f in items]] for (c, n), items in z.published.items()
            ],
            "snapshots": z.snapshots,
            "prepay_snapshots": z.prepay_snapshots,
            "top_ups": [_plain_fields(t) for t in z.top_ups],
            "debts": z.debts,
            "recording_since": z.recording_since,
            "event_configuration": [[e, c] for e, c in z.event_configuration.items()],
        }
        state["meter"] = self.meter.to_json()
        state["last_capture"] = self.last_capture.isoformat() if self.last_capture else None
        state["prepay_due"] = [[when.isoformat(), cause] for when, cause in self._pending_prepay]
        state["pending"] = [
            {
                "at": p.at.isoformat(),
                "component": encode_gbz(GbzPayload([p.component])).hex(),
                "code": p.message_code,
                "counter": p.counter,
                "originator": p.originator.hex(),
            }
            for p in self.pending
        ]
        state["utrn_counters"] = self.utrn_counters
        state["armed"] = self.armed
        state["disabled_by_command"] = self.disabled_by_command
        state["supply_alerts"] = supply.alerts_to_json(self)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        z = state["zcl"]
        self.zcl = ZclState(
            {(c, a): _unplain(v) for c, a, v in z["values"]},
            {(c, n): [_unplain_fields(f) for f in items] for c, n, items in z["published"]},
            list(z["snapshots"]),
            list(z["prepay_snapshots"]),
            {},
            [_unplain_fields(t) for t in z["top_ups"]],
            list(z["debts"]),
            z.get("recording_since"),
            {int(e): int(c) for e, c in z.get("event_configuration", [])},
        )
        self.meter = Meter.from_json(state["meter"])
        last = state.get("last_capture")
        self.last_capture = _dt.datetime.fromisoformat(last) if last else None
        self._pending_prepay = [
            (_dt.datetime.fromisoformat(when), int(cause))
            for when, cause in state.get("prepay_due", [])
        ]
        self.pending = [
            Pending(
                _dt.datetime.fromisoformat(p["at"]),
                decode_gbz(bytes.fromhex(p["component"])).components[0],
                int(p["code"]),
                int(p["counter"]),
                bytes.fromhex(p["originator"]),
            )
            for p in state.get("pending", [])
        ]
        for p in self.pending:  # re-armed: they run when due, as before the restart
            self.clock.call_at(p.at, self.catch_up)
        self.utrn_counters = [int(c) for c in state.get("utrn_counters", [])]
        self.armed = bool(state.get("armed", False))
        self.disabled_by_command = bool(state.get("disabled_by_command", False))
        self.supply_alerts = supply.alerts_from_json(state.get("supply_alerts", []))


def _plain(value: Any) -> Any:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _unplain(value: Any) -> Any:
    return bytes.fromhex(value["hex"]) if isinstance(value, dict) and "hex" in value else value


def _plain_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _plain(v)
        for k, v in fields.items()
        if not isinstance(v, list | dict) or isinstance(v, list)
    }


def _unplain_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: _unplain(v) for k, v in fields.items()}


def _future_dated(component: GbzComponent) -> bool:
    """A from-date-time on a write defers it; on a get it only filters what is read."""
    if not component.control & CONTROL_FROM_DATE_TIME:
        return False
    if component.from_date_time in (None, 0, CANCEL_DATE_TIME):
        return False
    return not component.frame.name.startswith("get_")


def _cancellation(component: GbzComponent) -> bool:
    """A write whose from-date-time is 0xFFFFFFFF cancels; it is not run itself."""
    return (
        bool(component.control & CONTROL_FROM_DATE_TIME)
        and component.from_date_time == CANCEL_DATE_TIME
        and not component.frame.name.startswith("get_")
    )


def _kind(component: GbzComponent) -> tuple[int, int, int]:
    """What makes two components "the same command" for a cancellation."""
    frame = component.frame
    direction = frame.frame_control & (FC_CLUSTER_SPECIFIC | FC_TO_CLIENT)
    return component.cluster, direction, frame.command_id


def _record_failed(answer: Answer) -> bool:
    records = answer.fields.get("records")
    if answer.name != "read_attributes_response" or not isinstance(records, list):
        return False
    return any(
        r.get("status") not in (STATUS_SUCCESS, STATUS_UNSUPPORTED_ATTRIBUTE) for r in records
    )


def _default(component: GbzComponent, status: int) -> Answer:
    return Answer(
        component.cluster,
        "default_response",
        {"command_id": component.frame.command_id, "status": status},
        False,
    )


def _command_id(answer: Answer, to_client: bool) -> int:
    if not answer.cluster_specific:
        return {"default_response": 0x0B, "read_attributes_response": 0x01}[answer.name]
    direction = Direction.TO_CLIENT if to_client else Direction.TO_SERVER
    return by_name(answer.cluster, direction, answer.name).command_id


# -- handlers ----------------------------------------------------------------------------


def _not_found(component: GbzComponent) -> list[Answer]:
    return [_default(component, STATUS_NOT_FOUND)]


def _get_published(name: str) -> Handler:
    """get_X answers every stored publish_X, or NOT_FOUND."""

    def handler(device: ZclDevice, component: GbzComponent, fields: dict[str, Any]) -> list[Answer]:
        stored = device.zcl.published.get((component.cluster, name), [])
        if not stored:
            return _not_found(component)
        return [Answer(component.cluster, name, dict(item)) for item in stored]

    return handler


#: Issuer calendar ids a get_X asks with for "the calendar of that kind in force":
#: the reference GCS21f reads the tariff calendar (type 0) with 0xFFFFFFFF, GCS21b
#: the non-disablement (friendly credit, type 3) one with 0xFFFFFFFE.
TARIFF_CALENDAR_ID = 0xFFFFFFFF
FRIENDLY_CALENDAR_ID = 0xFFFFFFFE


def _get_calendar_part(name: str) -> Handler:
    """get_X answers the publish_X of the calendar asked for, or NOT_FOUND.

    A meter holds a tariff calendar and a friendly credit calendar side by side
    (GCS05 must not disturb what GCS01a set), so a read names which: the two
    wildcard ids above, or an issuer calendar id.
    """

    def handler(device: ZclDevice, component: GbzComponent, fields: dict[str, Any]) -> list[Answer]:
        from emulator.devices.prepay_bridge import FRIENDLY_CREDIT, friendly_credit_ids

        stored = device.zcl.published.get((component.cluster, name), [])
        friendly = friendly_credit_ids(device.zcl.published)
        asked = int(fields.get("issuer_calendar_id", TARIFF_CALENDAR_ID))

        def wanted(item: dict[str, Any]) -> bool:
            calendar = int(item.get("issuer_calendar_id", 0))
            # a day profile or special days say their calendar type; week profiles and
            # seasons do not, their issuer calendar id ties them to their calendar
            if "calendar_type" in item:
                is_friendly = bool(item["calendar_type"] == FRIENDLY_CREDIT)
            else:
                is_friendly = calendar in friendly
            if asked == TARIFF_CALENDAR_ID:
                return not is_friendly
            if asked == FRIENDLY_CALENDAR_ID:
                return is_friendly
            return calendar == asked

        chosen = [item for item in stored if wanted(item)]
        if not chosen:
            return _not_found(component)
        return [Answer(component.cluster, name, dict(item)) for item in chosen]

    return handler


def _get_snapshot(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    snaps = _in_window(device.zcl.snapshots, fields)
    offset = fields.get("snapshot_offset", 0)
    if offset >= len(snaps):
        return _not_found(component)
    snap = snaps[-1 - offset]
    payload = {
        "current_summation_delivered": snap["summation"],
        "number_of_tiers_in_use": len(snap["tiers"]),
        "tier_summations": snap["tiers"],
        # one tier of len(blocks) block registers, as the snapshot holds them
        "number_of_tiers_and_block_thresholds_in_use": 0x10 | len(snap["blocks"]),
        "tier_block_summations": snap["blocks"],
    }
    return [
        Answer(
            METERING,
            "publish_snapshot",
            {
                "snapshot_id": len(snaps) - 1 - offset,
                "snapshot_time": snap["time"],
                "total_snapshots_found": len(snaps),
                "command_index": 0,
                "total_number_of_commands": 1,
                "snapshot_cause": snap["cause"],
                "snapshot_payload_type": 6,
                "snapshot_payload": payload,
            },
        )
    ]


def _get_prepay_snapshot(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    snaps = _in_window(device.zcl.prepay_snapshots, fields)
    offset = fields.get("snapshot_offset", 0)
    if offset >= len(snaps):
        return _not_found(component)
    snap = snaps[-1 - offset]
    debts = [*snap.get("debts", []), 0, 0, 0][:3]
    payload = {
        "accumulated_debt": snap["debt"],
        "type1_debt_remaining": debts[0],
        "type2_debt_remaining": debts[1],
        "type3_debt_remaining": debts[2],
        "emergency_credit_remaining": snap["emergency"],
        "credit_remaining": snap["credit"],
    }
    return [
        Answer(
            PREPAYMENT,
            "publish_prepay_snapshot",
            {
                "snapshot_id": len(snaps) - 1 - offset,
                "snapshot_time": snap["time"],
                "total_snapshots_found": len(snaps),
                "command_index": 0,
                "total_number_of_commands": 1,
                "snapshot_cause": snap["cause"],
                "snapshot_payload_type": 0,
                "snapshot_payload": payload,
            },
        )
    ]


def _in_window(items: list[dict[str, Any]], fields: dict[str, Any]) -> list[dict[str, Any]]:
    start = fields.get("earliest_start_time", 0)
    end = fields.get("latest_end_time", 0xFFFFFFFF)
    cause = fields.get("snapshot_cause", 0xFFFFFFFF)
    return [
        s
        for s in items
        if start <= s["time"] <= end and (cause == 0xFFFFFFFF or s["cause"] & cause)
    ]


def _start_sampling(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    sample_id = (max(device.zcl.samples, default=0) + 1) & 0xFFFF
    device.zcl.samples[sample_id] = dict(fields)
    return [Answer(METERING, "start_sampling_response", {"sample_id": sample_id})]


def _get_sampled_data(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    interval = 1800
    now = to_zigbee_time(device.clock.now())
    since = device.zcl.recording_since if device.zcl.recording_since is not None else now
    start = max(fields.get("earliest_sample_time", 0), since)
    count = min(fields.get("number_of_samples", 0), max(0, (now - start) // interval))
    if count <= 0:
        return _not_found(component)
    level = int(device.meter.load_w * interval / 3600)
    return [
        Answer(
            METERING,
            "get_sampled_data_response",
            {
                "sample_id": fields.get("sample_id", 0),
                "sample_start_time": start,
                "sample_type": fields.get("sample_type", 0),
                "sample_request_interval": interval,
                "number_of_samples": count,
                "samples": [level] * count,
            },
        )
    ]


def _change_payment_mode(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    config = fields.get("proposed_payment_control_configuration", 0)
    device.trigger_snapshot(CAUSE_CHANGE_OF_MODE)  # the billing data log, before the change
    device.zcl.values[(PREPAYMENT, 0x0000)] = config
    device.meter.set_payment_mode(bool(config & 0x0001))
    return [
        Answer(
            PREPAYMENT,
            "change_payment_mode_response",
            {
                "friendly_credit": 0,
                "friendly_credit_calendar_id": 0,
                "emergency_credit_limit": int(device.meter.emergency_credit_limit),
                "emergency_credit_threshold": 0,
            },
        )
    ]


def _consumer_top_up(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    from emulator.devices.topup import offer_utrn, top_up_response

    code = fields.get("top_up_code") or b""
    outcome = offer_utrn(device, code)  # an accepted one is logged (log_top_up)
    answer = top_up_response(
        outcome, int(device.meter.balance), int(fields.get("originating_device", 0))
    )
    return [Answer(PREPAYMENT, "consumer_top_up_response", answer)]


def _publish_log(
    component: GbzComponent, log: list[dict[str, Any]], wanted: int, command: str, key: str
) -> list[Answer]:
    """The last `wanted` (at least one) entries of a prepayment log, in one publish command."""
    entries = log[-max(1, wanted) :]
    if not entries:
        return _not_found(component)
    return [
        Answer(
            PREPAYMENT, command, {"command_index": 0, "total_number_of_commands": 1, key: entries}
        )
    ]


def _get_top_up_log(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    wanted = fields.get("number_of_records", 1)
    return _publish_log(component, device.zcl.top_ups, wanted, "publish_top_up_log", "top_ups")


def _get_debt_log(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    wanted = fields.get("number_of_debts", 1)
    return _publish_log(component, device.zcl.debts, wanted, "publish_debt_log", "debts")


def _change_debt(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """ZSE Change Debt: amount type 0/1 sets/adds to debt #1, 2/3 debt #2, 4/5 debt #3.

    The accumulated debt is the sum of the three registers.
    """
    kind = fields.get("debt_amount_type", 0)
    if not 0 <= kind <= 5:
        return [_default(component, STATUS_INVALID_FIELD)]
    key = (PREPAYMENT, DEBT_AMOUNT_ATTRIBUTES[kind // 2])
    amount = fields.get("debt_amount", 0)
    held = int(device.zcl.values.get(key, 0))
    device.zcl.values[key] = max(0, held + amount if kind % 2 else amount)
    _debt_to_meter(device, kind // 2, int(device.zcl.values[key]), fields)
    device.zcl.debts.append(
        {
            "collection_time": to_zigbee_time(device.clock.now()),
            "amount_collected": 0,
            "debt_type": kind // 2,
            "outstanding_debt": int(device.zcl.values[key]),
        }
    )
    del device.zcl.debts[:-30]
    return [_default(component, STATUS_SUCCESS)]


def _debt_to_meter(device: ZclDevice, index: int, amount: int, fields: dict[str, Any]) -> None:
    """ZSE debt recovery: method 0 time based (an amount per hour or day, the
    frequency 0 hourly, 1 daily), 1 percentage based (hundredths of a percent of
    each top-up); the amount in pence, held by the engine as millipence."""
    from emulator.metering import Debt
    from emulator.metering.prepay import PAYMENT, TIME

    if fields.get("debt_recovery_method", 0) == 1:
        rate = int(fields.get("debt_recovery_balance_percentage", 0))
        device.meter.set_debt(index, Debt(PAYMENT, amount, rate))
        return
    period = 3600 if fields.get("debt_recovery_frequency", 1) == 0 else 86_400
    rate = max(0, int(fields.get("debt_recovery_amount", 0))) * 1000
    device.meter.set_debt(index, Debt(TIME, amount, rate, period))


def _credit_adjustment(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    value = fields.get("credit_adjustment_value", 0)
    if fields.get("credit_adjustment_type", 0) == 0:
        refused = device.meter.adjust(value)
    else:
        refused = device.meter.set_balance(value)
    # above the maximum meter balance: FAILURE; the engine's 0x8F47 event is alerted
    return [_default(component, STATUS_FAILURE if refused else STATUS_SUCCESS)]


def _select_emergency_credit(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """GCS06: success when emergency credit is active afterwards (GBCS), else FAILURE."""
    meter = device.meter
    activated = meter.activate_emergency_credit() or meter.emergency_credit_active
    return [_default(component, STATUS_SUCCESS if activated else STATUS_FAILURE)]


def _prepay_setting(**names: str) -> Handler:
    """A ZSE prepayment set command: kept for reads, and its fields set the engine."""

    def handler(device: ZclDevice, component: GbzComponent, fields: dict[str, Any]) -> list[Answer]:
        device._keep_published(component.cluster, component.frame.name or "", dict(fields))
        device.meter.configure({names[k]: int(v) for k, v in fields.items() if k in names})
        return [_default(component, STATUS_SUCCESS)]

    return handler


#: The Prepayment cluster's OverallDebtCap attribute, which set_overall_debt_cap sets.
OVERALL_DEBT_CAP = 0x0006


def _set_overall_debt_cap(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """Held and read back (attribute 0x0006), not applied to the engine: what it caps
    and over what period is not settled (docs/metering.md, "Not modelled (yet)")."""
    device._keep_published(component.cluster, component.frame.name or "", dict(fields))
    device.zcl.values[(PREPAYMENT, OVERALL_DEBT_CAP)] = int(fields.get("overall_debt_cap", 0))
    return [_default(component, STATUS_SUCCESS)]


def _get_event_log(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    start, end = fields.get("start_time", 0), fields.get("end_time", 0xFFFFFFFF) or 0xFFFFFFFF
    log_id = fields.get("event_control_log_id", 0) & 0x0F
    source = device.security_log if log_id == 2 else device.event_log
    events = [e for e in source if start <= to_zigbee_time(e.time) <= end]
    if not events:
        return _not_found(component)
    wanted = events[-max(1, fields.get("number_of_events", 1) or len(events)) :]
    return [
        Answer(
            EVENTS,
            "publish_event_log",
            {
                "total_number_of_events": len(events),
                "command_index": 0,
                "total_commands": 1,
                "log_payload_control": len(wanted) << 4,
                "events": [
                    {
                        "log_id": log_id or 1,
                        "event_id": e.code & 0xFFFF,
                        "event_time": to_zigbee_time(e.time),
                        "event_data": b"",
                    }
                    for e in wanted
                ],
            },
        )
    ]


def _clear_event_log(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    log_id = fields.get("log_id", 0)
    cleared = 0
    if log_id in (0, 1):
        device.event_log.clear()
        cleared |= 0x02
    return [Answer(EVENTS, "clear_event_log_response", {"cleared_event_logs": cleared})]


def _change_supply(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """GCS32 close the valve (status 0), GCS39 arm it (1).

    The gas valve rules: a valve is never opened remotely (status 2 is refused
    with INVALID_FIELD); an armed valve opens only when the consumer asks at the
    meter or the PPMID, and arming an open valve changes nothing.
    """
    status = fields.get("proposed_supply_status", 0)
    device.catch_up()
    if status == SUPPLY_OFF:
        supply.disable(device, "valve closed remotely")
    elif status == SUPPLY_ARMED and not device.meter.supply_enabled:
        supply.arm(device, "valve armed remotely")
    elif status != SUPPLY_ARMED:
        device.event_log.record(
            device.clock.now(), supply.NOT_ACTIONED, f"valve: remote supply status {status} refused"
        )
        return [_default(component, STATUS_INVALID_FIELD)]
    actual = _supply_status(device)
    return [
        Answer(
            METERING,
            "supply_status_response",
            {
                "provider_id": fields.get("provider_id", 0),
                "issuer_event_id": fields.get("issuer_event_id", 0),
                "implementation_date_time": to_zigbee_time(device.clock.now()),
                "supply_status": actual,
            },
        )
    ]


SUPPLY_OFF, SUPPLY_ARMED, SUPPLY_ON = 0, 1, 2  # ZSE supply status
SUPPLY_STATUS = 0x0014  # metering cluster attribute


def _supply_status(device: ZclDevice) -> int:
    if device.meter.supply_enabled:
        return SUPPLY_ON
    return SUPPLY_ARMED if device.armed else SUPPLY_OFF


def _get_billing_period(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    return _get_published("publish_billing_period")(device, component, fields)


def _get_current_price(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """The price of the tier (TOU) or block in force now, from the tariff published.

    Trailing digit, tier count and currency come from the tariff information; the
    tier from the calendar's day profile for now; the price from the price matrix
    (TOU: entry id = tier; block: entry id = tier nibble and block, block 1 here).
    """
    tariffs = device.zcl.published.get((PRICE, "publish_tariff_information"), [])
    if not tariffs:
        return _not_found(component)
    t = tariffs[-1]
    now = device.clock.now()
    tier = _current_tier(device, now)
    tiers = max(1, min(15, t.get("number_of_price_tiers_in_use", 0) or 1))
    return [
        Answer(
            PRICE,
            "publish_price",
            {
                "provider_id": t.get("provider_id", 0),
                "rate_label": b"",
                "issuer_event_id": t.get("issuer_event_id", 0),
                "current_time": to_zigbee_time(now),
                "unit_of_measure": t.get("unit_of_measure", 1),
                "currency": t.get("currency", 826),
                "price_trailing_digit_and_tier": (t.get("price_trailing_digit", 0) & 0xF0) | tier,
                "number_of_price_tiers_and_register_tier": (tiers << 4) | tier,
                "start_time": 0,
                "duration_in_minutes": 0xFFFF,  # until changed
                "price": _matrix_price(device, tier),
                "price_ratio": None,
                "generation_price": None,
                "generation_price_ratio": None,
                "alternate_cost_delivered": None,
                "alternate_cost_unit": None,
                "alternate_cost_trailing_digit": None,
                "number_of_block_thresholds": None,
                "price_control": None,
                "number_of_generation_tiers": None,
                "generation_tier": None,
                "extended_number_of_price_tiers": None,
                "extended_price_tier": None,
                "extended_register_tier": None,
            },
        )
    ]


def _matrix_price(device: ZclDevice, tier: int) -> int:
    """The latest price matrix's price for `tier` (0 when it names none)."""
    matrices = device.zcl.published.get((PRICE, "publish_price_matrix"), [])
    if not matrices:
        return 0
    matrix = matrices[-1]
    tou = bool(matrix.get("sub_payload_control", 0) & 0x01)
    wanted = tier if tou else (tier - 1) << 4  # block tariffs: block 1 of the tier
    for entry in matrix.get("entries", []):
        if entry.get("tier_block_id") == wanted:
            return int(entry.get("price", 0))
    return 0


def _current_tier(device: ZclDevice, now: _dt.datetime) -> int:
    """The tier (1..15) the published calendar sets for `now`; 1 without a calendar.

    The day is a special day's, else the active season's week profile's for the
    weekday; within it the last schedule entry started (minutes from midnight).
    """
    published = device.zcl.published
    days = {d.get("day_id"): d for d in published.get((CALENDAR, "publish_day_profile"), [])}
    weeks = {w.get("week_id"): w for w in published.get((CALENDAR, "publish_week_profile"), [])}
    day_id: int | None = None
    for command in published.get((CALENDAR, "publish_special_days"), []):
        for special in command.get("special_days", []):
            if _date_matches(special.get("special_day_date", {}), now.date()):
                day_id = special.get("day_id")
    if day_id is None:
        week_id = None
        for command in published.get((CALENDAR, "publish_seasons"), []):
            for season in command.get("seasons", []):
                start = season.get("season_start_date", {})
                if _date_on_or_before(start, now.date()):
                    week_id = season.get("week_id")
        week = weeks.get(week_id)
        if week is not None:
            names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
            day_id = week.get(f"day_id_{names[now.weekday()]}")
    day = days.get(day_id)
    if day is None:
        return 1
    minute = now.hour * 60 + now.minute
    tier = 1
    for entry in sorted(day.get("schedule_entries", []), key=lambda e: e.get("start_time", 0)):
        if entry.get("start_time", 0) <= minute:
            tier = entry.get("tier_or_action", 1)
    return max(1, min(15, tier))


def _date_matches(date: dict[str, int], day: _dt.date) -> bool:
    """A ZCL date (year offset from 1900, 0xFF wildcards) on `day`."""
    year = date.get("year", 0xFF)
    return (
        (year == 0xFF or _year(year) == day.year)
        and date.get("month", 0xFF) in (0xFF, day.month)
        and date.get("day", 0xFF) in (0xFF, day.day)
    )


def _date_on_or_before(date: dict[str, int], day: _dt.date) -> bool:
    year = date.get("year", 0xFF)
    start = (
        _year(year) if year != 0xFF else day.year,
        date.get("month", 1) if date.get("month", 0xFF) != 0xFF else 1,
        date.get("day", 1) if date.get("day", 0xFF) != 0xFF else 1,
    )
    return start <= (day.year, day.month, day.day)


def _year(value: int) -> int:
    """ZCL dates count years from 1900; a full year is kept as it is."""
    return value if value >= 1900 else 1900 + value


def _known_events(device: ZclDevice) -> list[int]:
    """Events the device can configure: the GBCS event and alert codes, and any set."""
    from emulator.gbcs.alert_codes import ALERT_CODES

    return sorted(set(ALERT_CODES) | set(device.zcl.event_configuration))


def _set_event_configuration(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """GCS20: set the configuration of the events the payload selects.

    Selection (ZSE configuration control): 0 a list of event ids, 1 an event group
    (the high byte), 2 a log (this model keeps one: every event), 3 every event
    whose configuration equals the value given.
    """
    config = fields.get("event_configuration", 0)
    control = fields.get("configuration_control", 0)
    payload = fields.get("payload") or {}
    table = device.zcl.event_configuration
    if control == 0:
        chosen = [int(e) for e in payload.get("event_ids", [])]
    elif control == 1:
        group = payload.get("event_group_id", 0) & 0xFF00
        chosen = [e for e in _known_events(device) if e & 0xFF00 == group]
    elif control == 2:
        chosen = _known_events(device)
    elif control == 3:
        match = payload.get("configuration_value_match", 0)
        chosen = [
            e for e in _known_events(device) if table.get(e, DEFAULT_EVENT_CONFIGURATION) == match
        ]
    else:
        return [_default(component, STATUS_INVALID_FIELD)]
    for event_id in chosen:
        table[event_id] = config
    return [_default(component, STATUS_SUCCESS)]


def _report_event_configuration(
    device: ZclDevice, component: GbzComponent, fields: dict[str, Any]
) -> list[Answer]:
    """The configuration of one event, or of a group's (id xxFF) or all (FFFF)."""
    event_id = fields.get("event_id", 0)
    table = device.zcl.event_configuration
    if event_id & 0xFF == ALL_EVENTS_OF_GROUP:
        ids = [
            e
            for e in _known_events(device)
            if event_id == 0xFFFF or e & 0xFF00 == event_id & 0xFF00
        ]
    else:
        ids = [event_id]
    return [
        Answer(
            DEVICE_MANAGEMENT,
            "report_event_configuration",
            {
                "command_index": 0,
                "total_commands": 1,
                "events": [
                    {
                        "event_id": e,
                        "event_configuration": table.get(e, DEFAULT_EVENT_CONFIGURATION),
                    }
                    for e in ids
                ],
            },
        )
    ]


S, C = Direction.TO_SERVER, Direction.TO_CLIENT
HANDLERS: dict[tuple[int, Direction, str], Handler] = {
    (METERING, S, "get_snapshot"): _get_snapshot,
    (METERING, S, "start_sampling"): _start_sampling,
    (METERING, S, "get_sampled_data"): _get_sampled_data,
    (METERING, S, "change_supply"): _change_supply,
    (PREPAYMENT, S, "get_prepay_snapshot"): _get_prepay_snapshot,
    (PREPAYMENT, S, "change_payment_mode"): _change_payment_mode,
    (PREPAYMENT, S, "consumer_top_up"): _consumer_top_up,
    (PREPAYMENT, S, "get_top_up_log"): _get_top_up_log,
    (PREPAYMENT, S, "get_debt_repayment_log"): _get_debt_log,
    (PREPAYMENT, S, "change_debt"): _change_debt,
    (PREPAYMENT, S, "set_overall_debt_cap"): _set_overall_debt_cap,
    (PREPAYMENT, S, "credit_adjustment"): _credit_adjustment,
    (PREPAYMENT, S, "select_available_emergency_credit"): _select_emergency_credit,
    (PREPAYMENT, S, "emergency_credit_setup"): _prepay_setting(
        emergency_credit_limit="emergency_credit_limit",
        emergency_credit_threshold="emergency_credit_threshold",
    ),
    (PREPAYMENT, S, "set_low_credit_warning_level"): _prepay_setting(
        low_credit_warning_level="low_credit_threshold"
    ),
    (PREPAYMENT, S, "set_maximum_credit_limit"): _prepay_setting(
        maximum_credit_level="max_meter_balance", maximum_credit_per_top_up="max_credit"
    ),
    (EVENTS, S, "get_event_log"): _get_event_log,
    (EVENTS, S, "clear_event_log_request"): _clear_event_log,
    (PRICE, S, "get_billing_period"): _get_billing_period,
    (PRICE, S, "get_current_price"): _get_current_price,
    (CALENDAR, S, "get_day_profiles"): _get_calendar_part("publish_day_profile"),
    (CALENDAR, S, "get_week_profiles"): _get_calendar_part("publish_week_profile"),
    (CALENDAR, S, "get_seasons"): _get_calendar_part("publish_seasons"),
    (CALENDAR, S, "get_special_days"): _get_calendar_part("publish_special_days"),
    (CALENDAR, S, "get_calendar"): _get_published("publish_calendar"),
    (DEVICE_MANAGEMENT, C, "get_event_configuration"): _report_event_configuration,
    (DEVICE_MANAGEMENT, C, "set_event_configuration"): _set_event_configuration,
}
