"""CHF: the communications hub function.

Keeps the CHF Device Log (the HAN whitelist) and the Historic Device Log of at
most 15 removed devices (rules in `device_log.py`), through the ZigBee network
control object (class 104, 0-0:30.3.0.255 and 0-0:30.3.1.255):

- CCS01 register_device (method 1) adds a device with its install code and opens
  its join window; the same command sets the join timeout (attribute 3) and
  enables joining (attribute 2; disabling it closes every open window). The
  window is timed on the device's clock;
- CCS02 unregister_device (method 2) removes it, keeping its link key in the
  historic log; CCS03 (method 5) restores a log;
- every change of the Device Log raises the CS14 alert (0x0018, 8F12) with it;
- CCS05/06 read the log (attribute 4), CCS07 reads both logs (method 4).

The hub controller asks `admits(eui)` before it carries a device's messages,
and hands every JOIN to `han_join`, which checks the log, the window and the
proof of the install code or link key (emulator/han/join.py) and answers
JOIN_ACCEPT or JOIN_REFUSE; a refusal goes to the CHF's security log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
from typing import Any, ClassVar

from emulator.clock import Clock
from emulator.devices.alerts import dlms_alert, dlms_time
from emulator.devices.base import DeviceType
from emulator.devices.cosem.chf_model import MODEL
from emulator.devices.cosem.model import CosemModel, Obj
from emulator.devices.cosem.server import Outcome
from emulator.devices.cosem_device import CosemDevice
from emulator.devices.device_log import HISTORIC_CAPACITY, KEY_LAB_HISTORY, DeviceLog, LogEntry
from emulator.gbcs.dlms.apdu import ActionResult, Obis, RequestSpec
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Boolean,
    Data,
    Integer,
    LongUnsigned,
    OctetString,
    Structure,
    Unsigned,
)
from emulator.gbcs.eui import Eui64
from emulator.han.join import (
    EVENT_JOIN_REFUSED,
    EVENT_JOINED,
    REFUSAL_TEXT,
    JoinAccept,
    JoinCounters,
    JoinKey,
    JoinRefuse,
    JoinRequest,
    Refusal,
    device_proof,
    hub_proof,
    proofs_match,
    session_key,
)

log = logging.getLogger(__name__)

__all__ = ["CS14", "HISTORIC_CAPACITY", "Chf", "LogEntry"]

CS14 = 0x0018
ALERT_DEVICE_LOG_CHANGED = 0x8F12
NETWORK_CONTROL = Obis("0-0:30.3.0.255")
HISTORIC_LOG = Obis("0-0:30.3.1.255")
#: Unit of the join_timeout attribute. Assumed: the reference material gives the
#: value (90 in the RTDS CCS01) but not its unit.
JOIN_TIMEOUT_UNIT = _dt.timedelta(seconds=1)
DEFAULT_JOIN_TIMEOUT = 90
#: Devices the CHF Device Log holds. GBCS, the CHTS extracts in the reference data
#: and DOMAIN.md state no number; a CHF stack's device log is sized at build time
#: (Silicon Labs' gbcs-device-log component: 16 to 32, default 16). We take 32, the
#: top of that range: an ESME's own log holds 16 partners (DEVICE_LOG_CAPACITY),
#: all of them on this log besides the hub's own entries.
CHF_DEVICE_LOG_CAPACITY = 32
#: The CCS01 action result for a device that does not fit in a full CHF Device Log
#: (our choice: GBCS names none; the DLMS result for "not now, try again later").
LOG_FULL_RESULT = ActionResult.TEMPORARY_FAILURE


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
        self.log = DeviceLog()
        self.device_log_capacity = CHF_DEVICE_LOG_CAPACITY
        #: CCS01s refused because the log was full (each logged too).
        self.log_full_refusals = 0
        self.join_timeout = DEFAULT_JOIN_TIMEOUT
        self.dcc_party: Eui64 | None = None
        #: Every JOIN answered, and the refusals by reason (the hub shows these).
        self.joins = JoinCounters()

    # -- the device log ---------------------------------------------------------------------
    @property
    def device_log(self) -> dict[bytes, LogEntry]:
        return self.log.entries

    @property
    def historic_log(self) -> list[LogEntry]:
        return self.log.historic

    def admits(self, eui: Eui64) -> bool:
        return self.log.admits(eui, self.clock.now())

    def link_key_choice(self, eui: Eui64) -> str | None:
        """The key a logged device may join with now ("historic", "install_code"), or None."""
        return self.log.key_choice(eui, self.clock.now())

    def add_device(self, eui: Eui64, device_type: int = 0, install_code: bytes = b"") -> bool:
        """Lab provisioning: log a device without a join window (admitted until removed).
        True if the log changed (an existing entry keeps its link key)."""
        return self.log.add(eui, device_type, install_code)

    def register_device(self, eui: Eui64, device_type: int, install_code: bytes) -> bool:
        """CCS01: log the device and open its join window; True if the log changed."""
        timeout = self.join_timeout * JOIN_TIMEOUT_UNIT
        changed = self.log.add(
            eui, device_type, install_code, now=self.clock.now(), timeout=timeout
        )
        if changed:
            self._arm_window_timer(self.clock.now() + timeout)
        return changed

    def joined(self, eui: Eui64) -> bool:
        """A logged device completed SMHAN joining: record its link key hash (CS14).

        False when it was not admitted (not logged, or its join window closed).
        """
        if self.log.join(eui, self.clock.now()):
            self._log_changed()
            return True
        return False

    def han_join(
        self, eui: Eui64, request: JoinRequest, hub_nonce: bytes
    ) -> JoinAccept | JoinRefuse:
        """The CHF's answer to a JOIN; an accepted one records the new link key (CS14).

        With the install code the link key is fresh (from both nonces); with a
        link key (historic, or a rejoin) that key is kept.
        """
        now = self.clock.now()
        key = self.log.join_key(eui, now, request.key_type, self.device_log_capacity)
        if isinstance(key, Refusal):
            return self._refuse(eui, key, request.nonce)
        expected = device_proof(key, eui, self.eui, request.key_type, request.nonce)
        if not proofs_match(request.proof, expected):
            return self._refuse(eui, Refusal.BAD_PROOF, request.nonce)
        if request.key_type == JoinKey.LINK_KEY:
            link_key = key
        else:
            link_key = session_key(key, request.nonce, hub_nonce)
        if self.log.joined_with(eui, request.key_type, link_key):
            self._log_changed()
        self.joins.count(None)
        self.event_log.record(now, EVENT_JOINED, f"{eui} joined ({request.key_type.name})")
        log.info("CHF %s: %s joined the HAN with its %s", self.eui, eui, request.key_type.name)
        proof = hub_proof(key, self.eui, eui, request.key_type, request.nonce, hub_nonce)
        return JoinAccept(request.nonce, hub_nonce, proof)

    def refuse_malformed(self, eui: Eui64) -> JoinRefuse:
        """A JOIN that does not decode: refused like any other (no nonce to echo)."""
        return self._refuse(eui, Refusal.MALFORMED, bytes(16))

    def _refuse(self, eui: Eui64, reason: Refusal, nonce: bytes) -> JoinRefuse:
        self.joins.count(reason)
        text = f"HAN join of {eui} refused: {REFUSAL_TEXT[reason]}"
        self.security_log.record(self.clock.now(), EVENT_JOIN_REFUSED, text)
        log.warning("CHF %s: %s", self.eui, text)
        return JoinRefuse(reason, nonce)

    def remove_device(self, eui: Eui64) -> bool:
        return self.log.remove(eui)

    def _arm_window_timer(self, when: _dt.datetime) -> None:
        """Record the expiry when the window closes, not only when next asked.

        Without a running event loop (a real clock in synchronous use) the
        expiry is recorded when the log is next consulted.
        """
        with contextlib.suppress(RuntimeError):
            self.clock.call_at(when, lambda: self.log.close_windows(self.clock.now()))

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

    def on_set(self, o: Obj, attribute: int, value: Data) -> Outcome | None:
        if o.class_id == 104 and o.obis == NETWORK_CONTROL:
            now = self.clock.now()
            if attribute == 3 and isinstance(value, LongUnsigned):
                self.join_timeout = value.value
                timeout = self.join_timeout * JOIN_TIMEOUT_UNIT
                self.log.retime(now, timeout)  # windows this CCS01 opened
                self._arm_window_timer(now + timeout)
            elif attribute == 2 and isinstance(value, Boolean) and not value.value:
                self.log.close_all(now)
        return super().on_set(o, attribute, value)

    def on_action(self, o: Obj, method: int, argument: Data) -> Outcome | None:
        if o.class_id != 104:
            return super().on_action(o, method, argument)
        if method == 1 and isinstance(argument, Structure) and argument.items:
            eui = argument.items[0]
            code = argument.items[2] if len(argument.items) > 2 else OctetString(b"")
            if not isinstance(eui, OctetString) or len(eui.value) != 8:
                return Outcome(ActionResult.TYPE_UNMATCHED)
            install_code = code.value if isinstance(code, OctetString) else b""
            if eui.value not in self.log.entries and len(self.log.entries) >= (
                self.device_log_capacity
            ):
                self.log_full_refusals += 1
                log.warning(
                    "CHF %s: CCS01 for %s refused: the Device Log is full (%d devices)",
                    self.eui,
                    Eui64(eui.value),
                    len(self.log.entries),
                )
                return Outcome(LOG_FULL_RESULT)
            if self.register_device(Eui64(eui.value), 0, install_code):
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
            return self._restore(argument)
        return Outcome(ActionResult.OBJECT_UNAVAILABLE)

    def _restore(self, argument: Data) -> Outcome:
        """CCS03: take the log a replaced hub held and form the network on its PAN."""
        pairs = _restore_pairs(argument)
        if pairs is None:
            log.warning("CHF %s refused a CCS03 log it cannot read", self.eui)
            return Outcome(ActionResult.TYPE_UNMATCHED)
        pan_id, entries = pairs
        self.pan_id = pan_id
        self.log.restore(entries)
        self._log_changed()
        return Outcome(0)

    def restore_log(self, entries: list[tuple[Eui64, bytes]]) -> None:
        """Lab history: the log the hub held before (joined devices and link key hashes)."""
        self.log.restore(entries, source=KEY_LAB_HISTORY)

    def restore_historic(self, entries: list[tuple[Eui64, bytes]]) -> None:
        """Lab history: devices removed before (oldest first)."""
        for eui, key_hash in entries:
            self.log.historic.append(LogEntry(Eui64(eui), 0, b"", key_hash, "restored"))
        del self.log.historic[:-HISTORIC_CAPACITY]

    # -- copies and state ------------------------------------------------------------------------
    def clone(self) -> Chf:
        new = super().clone()
        assert isinstance(new, Chf)
        new.log = self.log.copy()
        new.joins = dataclasses.replace(self.joins)
        return new

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state.update(self.log.to_json())
        state["pan_id"] = self.pan_id.hex()
        state["join_timeout"] = self.join_timeout
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.log = DeviceLog.from_json(state)
        self.pan_id = bytes.fromhex(state.get("pan_id", self.pan_id.hex()))
        self.join_timeout = int(state.get("join_timeout", self.join_timeout))
        for entry in self.log.entries.values():
            if entry.window is not None:
                self._arm_window_timer(entry.window.closes)


def _restore_pairs(argument: Data) -> tuple[bytes, list[tuple[Eui64, bytes]]] | None:
    """(extended PAN id, [(EUI-64, link key hash)]) of a CCS03 argument, or None."""
    if not isinstance(argument, Structure) or len(argument.items) != 2:
        return None
    pan, rows = argument.items
    if not isinstance(pan, OctetString) or len(pan.value) != 8:
        return None
    pairs = device_log_rows(rows)
    return None if pairs is None else (pan.value, pairs)


def device_log_rows(rows: Data) -> list[tuple[Eui64, bytes]] | None:
    """The (EUI-64, link key hash) rows of a Device Log as `_log_structure` writes them and
    CCS03 restores them; None for anything else (the DCC's backups read CS14 with it)."""
    if not isinstance(rows, Array):
        return None
    pairs: list[tuple[Eui64, bytes]] = []
    for row in rows.items:
        if not isinstance(row, Structure) or len(row.items) != 2:
            return None
        eui, key_hash = row.items
        if not isinstance(eui, OctetString) or len(eui.value) != 8:
            return None
        if not isinstance(key_hash, OctetString):
            return None
        pairs.append((Eui64(eui.value), key_hash.value))
    return pairs
