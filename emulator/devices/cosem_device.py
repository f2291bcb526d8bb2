"""Devices that speak DLMS: the COSEM part shared by the ESME and the CHF.

Holds the per-device COSEM state over a shared model, runs access-requests
through the generic server, keeps profile buffers (half-hourly and daily rows
captured as the clock passes; event-log profiles read from the device logs),
answers sensitive reads through data protection (class 30), and hands ASN.1
payloads to the credentials module. Device types add behaviour through the
`on_get` / `on_set` / `on_action` hooks.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from typing import Any, ClassVar

from emulator.clock import Clock, to_zigbee_time
from emulator.devices.base import Device, Incoming, Reply
from emulator.devices.cosem import profiles
from emulator.devices.cosem.model import CosemModel, CosemState, Obj, default_for
from emulator.devices.cosem.server import CosemServer, FaultKey, Outcome
from emulator.gbcs import crypto
from emulator.gbcs.asn1 import Der
from emulator.gbcs.dlms.apdu import (
    AccessRequest,
    ActionResult,
    DataAccessResult,
    Obis,
    RequestSpec,
    SpecKind,
)
from emulator.gbcs.dlms.axdr import (
    Array,
    CompactArray,
    Data,
    DoubleLongUnsigned,
    OctetString,
    Structure,
    _Integer,
    decode_data,
    encode_data,
)
from emulator.gbcs.payload import SENSITIVE_AAD

HALF_HOUR = _dt.timedelta(minutes=30)
PROFILE_CAPACITY = 1500  # rows kept per profile (about a month of half hours)
FIRMWARE_VERSION = Obis("0-0:0.2.1.255")  # ECS52: the running firmware version


def is_event_log(obis: bytes) -> bool:
    o = Obis(obis)
    return o[2] == 99 and o[3] == 98


def is_half_hour_profile(obis: bytes) -> bool:
    o = Obis(obis)
    return (o[2] == 99 and o[3] == 1) or (o[2] in (32, 52, 72) and o[3] == 24)


class CosemDevice(Device):
    model: ClassVar[CosemModel]
    #: Profiles that take a row on an event of their own (the ESME's billing data
    #: logs), not at midnight like the other daily profiles.
    triggered_profiles: ClassVar[frozenset[bytes]] = frozenset()
    #: Logs (OBIS x-x:99.98.x) whose rows the device type appends to `profiles` itself
    #: (the ESME's boost log), not rows of its event or security log.
    kept_logs: ClassVar[frozenset[bytes]] = frozenset()

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self.cosem = CosemState()
        self.faults: dict[FaultKey, int] = {}
        self.profiles: dict[bytes, list[Data]] = {}
        self.last_capture: _dt.datetime | None = None
        self.current: Incoming | None = None
        self.server = CosemServer(self.model, self.cosem, self, self.faults.get)
        self._capturing = [
            o
            for o in self.model.objects.values()
            if o.class_id == 7
            and not is_event_log(bytes(o.obis))
            and isinstance(o.attributes.get(2), CompactArray)
        ]

    # -- commands ---------------------------------------------------------------------
    def execute(self, incoming: Incoming) -> Reply | None:
        self.catch_up()
        tree = incoming.tree
        self.current = incoming
        try:
            if isinstance(tree, AccessRequest):
                return Reply(self.server.process(tree))
            if isinstance(tree, Der):
                from emulator.devices.credentials import execute_asn1

                return execute_asn1(self, incoming, tree)
        finally:
            self.current = None
        return None

    # -- behaviour hooks (device types extend) -----------------------------------------
    def on_get(self, o: Obj, attribute: int, spec: RequestSpec) -> Outcome | None:
        if o.class_id == 7 and attribute == 2:
            return Outcome(0, self.buffer(o, spec.selection))
        if o.class_id == 7 and attribute == 7:
            return Outcome(0, DoubleLongUnsigned(len(self.profiles.get(bytes(o.obis), []))))
        if o.class_id == 1 and attribute == 2 and o.obis == FIRMWARE_VERSION:
            return Outcome(0, OctetString(bytes.fromhex(self.firmware_version)))
        if o.class_id == 8 and attribute == 2:
            from emulator.devices.alerts import dlms_time

            return Outcome(0, dlms_time(self.clock.now()))
        return None

    def on_set(self, o: Obj, attribute: int, value: Data) -> Outcome | None:
        return None

    def on_action(self, o: Obj, method: int, argument: Data) -> Outcome | None:
        if o.class_id == 30 and method == 1:
            return self.protected_read(argument)
        if o.class_id == 7 and method == 1:  # reset
            self.profiles.pop(bytes(o.obis), None)
        return None

    # -- profiles -----------------------------------------------------------------------
    def catch_up(self) -> None:
        now = self.clock.now()
        if self.last_capture is None:
            self.last_capture = now.replace(minute=(now.minute // 30) * 30, second=0, microsecond=0)
        while self.last_capture + HALF_HOUR <= now:
            self.last_capture += HALF_HOUR
            self.capture(self.last_capture)
        super().catch_up()

    def capture(self, at: _dt.datetime) -> None:
        """Append a row at `at` to every capturing profile due then.

        Called once per boundary, in time order, even when one catch-up covers
        many boundaries; `register_values()` must give the values as of `at`
        (meters bring their engine to `at` first).
        """
        daily = at.hour == 0 and at.minute == 0
        for o in self._capturing:
            obis = bytes(o.obis)
            if obis in self.triggered_profiles:
                continue
            if daily or is_half_hour_profile(obis):
                self.capture_row(o, at)

    def capture_row(self, o: Obj, at: _dt.datetime) -> None:
        """Append one row stamped `at` with `register_values()` to profile `o`."""
        template = o.attributes.get(2)
        if not isinstance(template, CompactArray):
            return
        row = profiles.build_row(
            default_for(template.description), to_zigbee_time(at), self.register_values()
        )
        rows = self.profiles.setdefault(bytes(o.obis), [])
        rows.append(row)
        if len(rows) > PROFILE_CAPACITY:
            del rows[: len(rows) - PROFILE_CAPACITY]

    def register_values(self) -> Iterator[int]:
        """Values for the columns after the capture time; meters override."""
        while True:
            yield 0

    def buffer(self, o: Obj, selection: Data | None) -> Data:
        template = o.attributes.get(2)
        if not isinstance(template, CompactArray):
            return template if template is not None else Array([])
        if is_event_log(bytes(o.obis)) and bytes(o.obis) not in self.kept_logs:
            row = default_for(template.description)
            source = self.security_log if Obis(o.obis)[4] == 1 else self.event_log
            rows = [profiles.event_row(row, e.time, e.code) for e in source]
        else:
            rows = self.profiles.get(bytes(o.obis), [])
        return profiles.compact(template, profiles.select_range(rows, selection))

    # -- sensitive reads ------------------------------------------------------------------
    def protected_read(self, argument: Data) -> Outcome:
        """Data protection get_protected_attributes: read, then encrypt for the requester."""
        incoming = self.current
        if incoming is None or not isinstance(argument, Structure) or len(argument.items) < 2:
            return Outcome(ActionResult.TYPE_UNMATCHED)
        objects, parameters = argument.items[0], argument.items[1]
        if not isinstance(objects, Array) or not isinstance(parameters, Array):
            return Outcome(ActionResult.TYPE_UNMATCHED)
        values: list[Data] = []
        for od in objects.items:
            read = self._read_descriptor(od)
            if isinstance(read, int):
                return Outcome(read)
            values.append(read)
        response_parameters = Array([_swap_parties(p) for p in parameters.items])
        key, iv = self.sensitive_key(incoming)
        blob = b"\x31\x00\x00\x00\x00" + crypto.encrypt(
            key, iv, SENSITIVE_AAD, encode_data(Structure(values))
        )
        return Outcome(0, Structure([response_parameters, OctetString(blob)]))

    def _read_descriptor(self, od: Data) -> Data | int:
        if not isinstance(od, Structure) or len(od.items) < 3:
            return int(ActionResult.TYPE_UNMATCHED)
        cls, inst, attr = od.items[0], od.items[1], od.items[2]
        if not (
            isinstance(cls, _Integer)
            and isinstance(inst, OctetString)
            and isinstance(attr, _Integer)
        ):
            return int(ActionResult.TYPE_UNMATCHED)
        target = self.model.get(cls.value, inst.value)
        if target is None:
            return int(ActionResult.OBJECT_UNDEFINED)
        selection = None
        if len(od.items) > 4 and isinstance(od.items[4], Structure) and len(od.items[4].items) == 2:
            selection = od.items[4].items[1]
        spec = RequestSpec(SpecKind.GET, cls.value, Obis(inst.value), attr.value, None, selection)
        got = self.server.get(target, attr.value, spec)
        if got.result != 0:
            return int(DataAccessResult.OTHER_REASON)
        return got.data

    # -- lab helpers ----------------------------------------------------------------------
    def inject_fault(self, fault: dict[str, Any]) -> None:
        """Make one get/set/action on one object fail (a hardware fault by default)."""
        key = FaultKey(
            fault["kind"], int(fault["class"]), bytes(Obis(fault["obis"])), int(fault["member"])
        )
        self.faults[key] = int(fault.get("result", 1))

    def forget_history(self) -> None:
        self.profiles.clear()
        self.event_log.clear()
        self.security_log.clear()

    # -- copies and state -------------------------------------------------------------------
    def clone(self) -> CosemDevice:
        new = super().clone()
        assert isinstance(new, CosemDevice)
        new.cosem = CosemState(dict(self.cosem.values))
        new.profiles = {k: list(v) for k, v in self.profiles.items()}
        new.faults = dict(self.faults)
        new.current = None
        new.server = CosemServer(new.model, new.cosem, new, new.faults.get)
        return new

    def to_state(self) -> dict[str, Any]:
        self.catch_up()
        state = super().to_state()
        state["cosem"] = self.cosem.to_json()
        state["profiles"] = {
            str(Obis(k)): [encode_data(r).hex() for r in rows] for k, rows in self.profiles.items()
        }
        state["last_capture"] = self.last_capture.isoformat() if self.last_capture else None
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.cosem.load_json(state["cosem"])
        self.profiles = {
            bytes(Obis(k)): [decode_data(bytes.fromhex(r)) for r in rows]
            for k, rows in state["profiles"].items()
        }
        last = state.get("last_capture")
        self.last_capture = _dt.datetime.fromisoformat(last) if last else None


def _swap_parties(parameter: Data) -> Data:
    """Protection parameters of a response: originator and recipient exchanged."""
    if not (isinstance(parameter, Structure) and len(parameter.items) == 2):
        return parameter
    kind, options = parameter.items
    if not (isinstance(options, Structure) and len(options.items) >= 3):
        return parameter
    items = list(options.items)
    items[1], items[2] = items[2], items[1]
    return Structure([kind, Structure(items)])


__all__ = ["CosemDevice", "Outcome", "is_event_log", "is_half_hour_profile", "to_zigbee_time"]
