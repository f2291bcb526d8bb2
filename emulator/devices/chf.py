"""CHF: the communications hub function.

Keeps the CHF Device Log (the HAN whitelist) and the Historic Device Log of at
most 15 removed devices, through the ZigBee network control object (class 104,
0-0:30.3.0.255 and 0-0:30.3.1.255):

- CCS01 register_device adds a device with its install code and opens joining
  for the join timeout; CCS02 unregister_device moves it to the historic log;
- every change raises the CS14 alert (0x0018, 8F12) with the current log;
- CCS05/06 read the log (attribute 4), CCS07 reads both logs (method 4).

The hub controller asks `admits(eui)` before it carries a device's messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from emulator.clock import Clock
from emulator.devices.alerts import dlms_alert, dlms_time
from emulator.devices.base import DeviceType
from emulator.devices.cosem.chf_model import MODEL
from emulator.devices.cosem.model import CosemModel, Obj
from emulator.devices.cosem.server import Outcome
from emulator.devices.cosem_device import CosemDevice
from emulator.gbcs.dlms.apdu import ActionResult, Obis, RequestSpec
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Data,
    Integer,
    OctetString,
    Structure,
    Unsigned,
)
from emulator.gbcs.eui import Eui64

CS14 = 0x0018
ALERT_DEVICE_LOG_CHANGED = 0x8F12
NETWORK_CONTROL = Obis("0-0:30.3.0.255")
HISTORIC_LOG = Obis("0-0:30.3.1.255")
HISTORIC_CAPACITY = 15


@dataclass(slots=True)
class LogEntry:
    eui: Eui64
    device_type: int = 0
    install_code: bytes = b""
    link_key_hash: bytes = b""  # empty until the device has joined

    def to_json(self) -> dict[str, Any]:
        return {
            "eui": str(self.eui),
            "type": self.device_type,
            "install_code": self.install_code.hex(),
            "link_key_hash": self.link_key_hash.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogEntry:
        return cls(
            Eui64(data["eui"]),
            int(data["type"]),
            bytes.fromhex(data["install_code"]),
            bytes.fromhex(data["link_key_hash"]),
        )


class Chf(CosemDevice):
    device_type: ClassVar[DeviceType] = DeviceType.CHF
    model: ClassVar[CosemModel] = MODEL

    def __init__(
        self,
        eui: Any,
        clock: Clock,
        *,
        pan_id: bytes = b"\x00\x01\x02\x03\x04\x05\x06\x07",
        **kwargs: Any,
    ) -> None:
        super().__init__(eui, clock, **kwargs)
        self.pan_id = pan_id
        self.device_log: dict[bytes, LogEntry] = {}
        self.historic_log: list[LogEntry] = []
        self.joining_open_until: Any = None
        self.dcc_party: Eui64 | None = None

    # -- the device log ---------------------------------------------------------------------
    def admits(self, eui: Eui64) -> bool:
        return bytes(eui) in self.device_log

    def add_device(self, eui: Eui64, device_type: int = 0, install_code: bytes = b"") -> bool:
        """True if the log changed (an existing entry keeps its link key)."""
        if bytes(eui) in self.device_log:
            return False
        self.device_log[bytes(eui)] = LogEntry(Eui64(eui), device_type, install_code)
        return True

    def joined(self, eui: Eui64) -> None:
        """A logged device completed SMHAN joining: record its link key hash."""
        entry = self.device_log.get(bytes(eui))
        if entry is not None and not entry.link_key_hash:
            entry.link_key_hash = hashlib.sha256(entry.install_code + bytes(eui)).digest()[:16]
            self._log_changed()

    def remove_device(self, eui: Eui64) -> bool:
        entry = self.device_log.pop(bytes(eui), None)
        if entry is None:
            return False
        if entry.link_key_hash:
            self.historic_log = [e for e in self.historic_log if e.eui != entry.eui]
            self.historic_log.append(entry)
            del self.historic_log[:-HISTORIC_CAPACITY]
        return True

    def _log_structure(self, entries: list[LogEntry]) -> Structure:
        return Structure(
            [
                dlms_time(self.clock.now()),
                OctetString(self.pan_id),
                Array(
                    [
                        Structure([OctetString(bytes(e.eui)), OctetString(e.link_key_hash)])
                        for e in entries
                    ]
                ),
            ]
        )

    def _log_changed(self) -> None:
        recipient = self.dcc_party or self.security.acb
        payload = dlms_alert(
            self.alert_counter + 1,
            ALERT_DEVICE_LOG_CHANGED,
            self.clock.now(),
            self._log_structure(list(self.device_log.values())),
        )
        self.emit_alert(CS14, recipient, payload, critical=False)

    # -- behaviour ------------------------------------------------------------------------------
    def on_get(self, o: Obj, attribute: int, spec: RequestSpec) -> Outcome | None:
        if o.class_id == 104 and o.obis == NETWORK_CONTROL and attribute == 4:
            return Outcome(0, Array([self._entry_row(e) for e in self.device_log.values()]))
        return super().on_get(o, attribute, spec)

    def _entry_row(self, e: LogEntry) -> Data:
        return Structure(
            [
                OctetString(bytes(e.eui)),
                BitString(8, b"\xc8" if e.link_key_hash else b"\x00"),
                Integer(-40),
                Integer(-50),
                Integer(-90),
                Unsigned(1),
                Unsigned(0),
                Unsigned(0),
                dlms_time(self.clock.now()),
                Unsigned(1),
                Unsigned(0),
                Unsigned(100),
                Unsigned(1),
                Unsigned(1),
            ]
        )

    def on_action(self, o: Obj, method: int, argument: Data) -> Outcome | None:
        if o.class_id != 104:
            return super().on_action(o, method, argument)
        if method == 1 and isinstance(argument, Structure) and argument.items:
            eui = argument.items[0]
            code = argument.items[2] if len(argument.items) > 2 else OctetString(b"")
            if not isinstance(eui, OctetString) or len(eui.value) != 8:
                return Outcome(ActionResult.TYPE_UNMATCHED)
            changed = self.add_device(
                Eui64(eui.value), 0, code.value if isinstance(code, OctetString) else b""
            )
            if changed:
                self._log_changed()
            return Outcome(0)
        if method == 2 and isinstance(argument, OctetString) and len(argument.value) == 8:
            if self.remove_device(Eui64(argument.value)):
                self._log_changed()
            return Outcome(0)
        if method == 4:
            entries = (
                list(self.device_log.values()) if o.obis == NETWORK_CONTROL else self.historic_log
            )
            return Outcome(0, self._log_structure(entries))
        if method == 5:
            return Outcome(0)  # restore: the log is carried in the argument; accepted as is
        return Outcome(ActionResult.OBJECT_UNAVAILABLE)

    def warm_up(self, until: Any, **kwargs: Any) -> None:
        """Lab history: the hub was installed with its meters already in the log."""
        super().warm_up(until, **kwargs)

    # -- copies and state ------------------------------------------------------------------------
    def clone(self) -> Chf:
        new = super().clone()
        assert isinstance(new, Chf)
        new.device_log = {
            k: LogEntry(v.eui, v.device_type, v.install_code, v.link_key_hash)
            for k, v in self.device_log.items()
        }
        new.historic_log = list(self.historic_log)
        return new

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state["device_log"] = [e.to_json() for e in self.device_log.values()]
        state["historic_log"] = [e.to_json() for e in self.historic_log]
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.device_log = {
            bytes(Eui64(e["eui"])): LogEntry.from_json(e) for e in state.get("device_log", [])
        }
        self.historic_log = [LogEntry.from_json(e) for e in state.get("historic_log", [])]
