"""The CHF Device Log and Historic Device Log, with the join windows CCS01 opens.

Pure state: the CHF passes the time in, so the rules can be tested without a device.

Rules (GBCS CCS01, CCS02, CS14):

- CCS01 adds a device with its install code and opens a join window of
  `join_timeout`. A device in the Historic Device Log may, in the first half of
  the window, join with its historic TC link key; otherwise (and in the second
  half) it joins with a key from its install code. A device that has not joined
  when the window closes is not admitted to the HAN (it stays in the log; the
  expiry is recorded in `expired`).
- An entry added without a window (the lab's provisioning: a hub installed with
  its meters) is admitted as before.
- CCS02 removes a device; one that established a link key goes to the Historic
  Device Log (an existing record for it is updated in place; at most 15
  records, the oldest overwritten). One that never joined has no link key to
  keep and is forgotten (GBCS: "where the CHF has established a TC Link Key").

Joining on the link (emulator/han/join.py, docs/wire-protocol.md "Joining"):
`join_key` says which key a JOIN must prove (or why it is refused), `joined_with`
records the link key the handshake established. A device's link key stays in
its entry (the hub's secret) and follows it to the Historic Device Log; the
logs show only its hash. A logged device that has joined may prove its current
link key again (a rejoin after a restart) without changing the log.

A log restored by CCS03 holds each device's link key hash only (what CS14
carried), not the key. Such an entry admits nothing until its device proves
that hash in a JOIN (`JoinKey.KEY_HASH`): a JOIN with the link key itself is
refused with `Refusal.KEY_HASH_ONLY` (the hub cannot check it), a proof keyed
with another hash with `Refusal.BAD_PROOF`. The accepted join establishes a
fresh link key from the hash and both nonces (a CS14 follows).
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any

from emulator.gbcs.eui import Eui64
from emulator.han.join import JoinKey, Refusal, install_code_key, key_hash

log = logging.getLogger(__name__)

HISTORIC_CAPACITY = 15

#: Which key a device joined (or may join) with.
KEY_INSTALL_CODE = "install_code"
KEY_HISTORIC = "historic"
KEY_RESTORED = "restored"  # CCS03 carried the hash; the key itself came with the old hub
KEY_LAB_HISTORY = "lab_history"  # the lab's record of the log this very hub held
KEY_REJOINED = "rejoined"  # a restored entry whose device proved the hash (JoinKey.KEY_HASH)


#: The key source an accepted JOIN records, by the key it proved.
_SOURCES = {
    JoinKey.INSTALL_CODE: KEY_INSTALL_CODE,
    JoinKey.LINK_KEY: KEY_HISTORIC,
    JoinKey.KEY_HASH: KEY_REJOINED,
}


@dataclass(slots=True)
class JoinWindow:
    """A join window opened by CCS01 at `opened` for `timeout`."""

    opened: _dt.datetime
    timeout: _dt.timedelta
    historic_hash: bytes = b""  # the historic key the device may re-use first
    historic_key: bytes = b""  # that key itself, when the hub still holds it

    @property
    def closes(self) -> _dt.datetime:
        return self.opened + self.timeout

    @property
    def historic_until(self) -> _dt.datetime:
        return self.opened + self.timeout / 2

    def to_json(self) -> dict[str, Any]:
        return {
            "opened": self.opened.isoformat(),
            "timeout": self.timeout.total_seconds(),
            "historic_hash": self.historic_hash.hex(),
            "historic_key": self.historic_key.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JoinWindow:
        return cls(
            _dt.datetime.fromisoformat(data["opened"]),
            _dt.timedelta(seconds=float(data["timeout"])),
            bytes.fromhex(data.get("historic_hash", "")),
            bytes.fromhex(data.get("historic_key", "")),
        )


@dataclass(slots=True)
class LogEntry:
    eui: Eui64
    device_type: int = 0
    install_code: bytes = b""
    link_key_hash: bytes = b""  # empty until the device has joined
    key_source: str = ""  # KEY_*: which key the link key hash is of
    window: JoinWindow | None = None  # the open join window, if any
    needs_join: bool = False  # added by CCS01: admitted once joined, or while its window is open
    link_key: bytes = b""  # the key itself (the hub's secret; the logs show its hash)

    def copy(self) -> LogEntry:
        return LogEntry(
            self.eui,
            self.device_type,
            self.install_code,
            self.link_key_hash,
            self.key_source,
            self.window,
            self.needs_join,
            self.link_key,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "eui": str(self.eui),
            "type": self.device_type,
            "install_code": self.install_code.hex(),
            "link_key_hash": self.link_key_hash.hex(),
            "key_source": self.key_source,
            "needs_join": self.needs_join,
            "link_key": self.link_key.hex(),
        }
        if self.window is not None:
            data["window"] = self.window.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogEntry:
        window = data.get("window")
        return cls(
            Eui64(data["eui"]),
            int(data.get("type", 0)),
            bytes.fromhex(data.get("install_code", "")),
            bytes.fromhex(data.get("link_key_hash", "")),
            str(data.get("key_source", "")),
            JoinWindow.from_json(window) if window else None,
            bool(data.get("needs_join", False)),
            bytes.fromhex(data.get("link_key", "")),
        )


@dataclass(slots=True)
class ExpiredJoin:
    """A device whose join window closed before it joined."""

    eui: Eui64
    closed: _dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {"eui": str(self.eui), "closed": self.closed.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExpiredJoin:
        return cls(Eui64(data["eui"]), _dt.datetime.fromisoformat(data["closed"]))


def install_code_key_hash(install_code: bytes, eui: Eui64) -> bytes:
    """The hash of the link key derived from the install code (ZigBee AES-MMO).

    What a join outside the handshake records (`DeviceLog.join`); `eui` names
    the device for the reader, the key depends on the code alone.
    """
    del eui
    return key_hash(install_code_key(install_code))


@dataclass(slots=True)
class DeviceLog:
    entries: dict[bytes, LogEntry] = field(default_factory=dict)
    historic: list[LogEntry] = field(default_factory=list)  # oldest first
    expired: list[ExpiredJoin] = field(default_factory=list)
    #: Devices removed by CCS02 before they ever joined (nothing kept for them).
    removed_unjoined: int = 0

    # -- queries ----------------------------------------------------------------------------
    def admits(self, eui: Eui64, now: _dt.datetime) -> bool:
        entry = self.entries.get(bytes(eui))
        if entry is None or entry.key_source == KEY_RESTORED:
            return False  # restored: admitted once its device proved the hash
        self.close_windows(now)
        return bool(entry.link_key_hash) or entry.window is not None or not entry.needs_join

    def key_choice(self, eui: Eui64, now: _dt.datetime) -> str | None:
        """The key the device may join with now: KEY_HISTORIC in the first half of
        its window when it has a historic key, else KEY_INSTALL_CODE; None when it
        has joined already, is not logged, or its window has closed."""
        entry = self.entries.get(bytes(eui))
        self.close_windows(now)
        if entry is None or entry.window is None:
            return None
        if entry.window.historic_hash and now < entry.window.historic_until:
            return KEY_HISTORIC
        return KEY_INSTALL_CODE

    @property
    def joined(self) -> list[str]:
        """The logged devices holding a link key (EUI-64 text; for scenario assertions);
        a restored entry has only the hash until its device rejoins."""
        return [
            str(e.eui)
            for e in self.entries.values()
            if e.link_key_hash and e.key_source != KEY_RESTORED
        ]

    def historic_entry(self, eui: Eui64) -> LogEntry | None:
        return next((e for e in self.historic if e.eui == eui), None)

    # -- changes (each returns True when the Device Log changed: a CS14 is due) ----------
    def add(
        self,
        eui: Eui64,
        device_type: int,
        install_code: bytes,
        *,
        now: _dt.datetime | None = None,
        timeout: _dt.timedelta | None = None,
    ) -> bool:
        """Add a device; with `now` and `timeout` (CCS01) open its join window.

        A device already logged is left as it is (GBCS: its key parameter is
        discarded, its link key kept).
        """
        if bytes(eui) in self.entries:
            return False
        window = None
        if now is not None and timeout is not None:
            known = self.historic_entry(eui)
            window = JoinWindow(
                now,
                timeout,
                known.link_key_hash if known else b"",
                known.link_key if known else b"",
            )
        self.entries[bytes(eui)] = LogEntry(
            Eui64(eui), device_type, install_code, window=window, needs_join=window is not None
        )
        return True

    def retime(self, opened: _dt.datetime, timeout: _dt.timedelta) -> None:
        """Windows opened at `opened` (by the same CCS01) take the join timeout it sets."""
        for entry in self.entries.values():
            if entry.window is not None and entry.window.opened == opened:
                entry.window.timeout = timeout

    def close_all(self, now: _dt.datetime) -> None:
        """Joining disabled: every open window closes now."""
        for entry in self.entries.values():
            if entry.window is not None and entry.window.closes > now:
                entry.window.timeout = now - entry.window.opened
        self.close_windows(now)

    def close_windows(self, now: _dt.datetime) -> None:
        for entry in self.entries.values():
            window = entry.window
            if window is not None and now >= window.closes:
                entry.window = None
                self.expired.append(ExpiredJoin(entry.eui, window.closes))
                log.warning("join window of %s closed at %s before it joined", entry.eui, now)

    def join(self, eui: Eui64, now: _dt.datetime) -> bool:
        """A logged device completed SMHAN joining; True if its link key was recorded."""
        entry = self.entries.get(bytes(eui))
        if entry is None or entry.link_key_hash:
            return False
        if entry.window is None:
            if entry.needs_join:
                log.warning("%s tried to join after its join window closed", eui)
                return False
            entry.link_key = install_code_key(entry.install_code)
            entry.link_key_hash = key_hash(entry.link_key)
            entry.key_source = KEY_INSTALL_CODE
            return True
        choice = self.key_choice(eui, now)
        if choice is None:  # the window closed just now
            return False
        assert entry.window is not None
        if choice == KEY_HISTORIC:
            entry.link_key_hash = entry.window.historic_hash
            entry.link_key = entry.window.historic_key
        else:
            entry.link_key = install_code_key(entry.install_code)
            entry.link_key_hash = key_hash(entry.link_key)
        entry.key_source = choice
        entry.window = None
        return True

    def join_key(
        self, eui: Eui64, now: _dt.datetime, key_type: JoinKey, capacity: int
    ) -> bytes | Refusal:
        """The key a JOIN proving `key_type` must verify with now, or why it is refused.

        The rules of `key_choice`, plus: a device not logged is refused (LOG_FULL
        when `capacity` entries are logged), one logged without a window (lab
        provisioning) joins with its install code, and one that has joined may
        prove its current link key (a rejoin).
        """
        entry = self.entries.get(bytes(eui))
        if entry is None:
            return Refusal.LOG_FULL if len(self.entries) >= capacity else Refusal.NOT_IN_LOG
        self.close_windows(now)
        if entry.key_source == KEY_RESTORED:  # only the hash: the device proves that
            if key_type == JoinKey.KEY_HASH:
                return entry.link_key_hash
            if key_type == JoinKey.LINK_KEY:
                return Refusal.KEY_HASH_ONLY
            return Refusal.KEY_NOT_ALLOWED
        if entry.link_key_hash and entry.window is None:  # joined: a rejoin
            if key_type == JoinKey.LINK_KEY and entry.link_key:
                return entry.link_key
            if key_type == JoinKey.INSTALL_CODE and entry.key_source == KEY_INSTALL_CODE:
                # its JOIN_ACCEPT was lost: it never learnt the link key and proves the
                # install code again, which is what it was let in with (a fresh key follows)
                return install_code_key(entry.install_code)
            return Refusal.KEY_NOT_ALLOWED
        if entry.window is None:
            if entry.needs_join:
                return Refusal.WINDOW_CLOSED
            if key_type == JoinKey.INSTALL_CODE:
                return install_code_key(entry.install_code)
            return Refusal.KEY_NOT_ALLOWED
        choice = self.key_choice(eui, now)
        if choice == KEY_HISTORIC and key_type == JoinKey.LINK_KEY and entry.window.historic_key:
            return entry.window.historic_key
        if choice == KEY_INSTALL_CODE and key_type == JoinKey.INSTALL_CODE:
            return install_code_key(entry.install_code)
        return Refusal.KEY_NOT_ALLOWED

    def joined_with(self, eui: Eui64, key_type: JoinKey, link_key: bytes) -> bool:
        """Record the link key a JOIN established; True if the Device Log changed (CS14)."""
        entry = self.entries[bytes(eui)]
        if entry.link_key_hash and entry.window is None and entry.link_key == link_key:
            return False  # a rejoin with the key it holds
        historic = key_type == JoinKey.LINK_KEY
        entry.link_key = link_key
        entry.link_key_hash = (
            entry.window.historic_hash
            if historic and entry.window is not None and entry.window.historic_hash
            else key_hash(link_key)
        )
        entry.key_source = _SOURCES[key_type]
        entry.window = None
        return True

    def remove(self, eui: Eui64) -> bool:
        entry = self.entries.pop(bytes(eui), None)
        if entry is None:
            return False
        if not entry.link_key_hash:
            self.removed_unjoined += 1
            log.info("%s removed before it joined: no link key for the historic log", eui)
            return True
        known = self.historic_entry(entry.eui)
        kept = LogEntry(
            entry.eui,
            entry.device_type,
            b"",
            entry.link_key_hash,
            entry.key_source,
            link_key=entry.link_key,
        )
        if known is not None:
            self.historic[self.historic.index(known)] = kept
        else:
            self.historic.append(kept)
            del self.historic[:-HISTORIC_CAPACITY]
        return True

    def restore(self, pairs: list[tuple[Eui64, bytes]], *, source: str = KEY_RESTORED) -> None:
        """CCS03: the log becomes the one given (devices and their link key hashes).

        An entry with a hash admits its device once it proved that hash in a JOIN
        (`join_key`); `source=KEY_LAB_HISTORY` is the lab's record of what this
        hub held before, admitted as it was.
        """
        self.entries = {
            bytes(eui): LogEntry(Eui64(eui), 0, b"", key_hash, source if key_hash else "")
            for eui, key_hash in pairs
        }

    # -- copies and state -------------------------------------------------------------------
    def copy(self) -> DeviceLog:
        return DeviceLog(
            {k: _copy_entry(v) for k, v in self.entries.items()},
            [e.copy() for e in self.historic],
            list(self.expired),
            self.removed_unjoined,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "device_log": [e.to_json() for e in self.entries.values()],
            "historic_log": [e.to_json() for e in self.historic],
            "expired_joins": [e.to_json() for e in self.expired],
            "removed_unjoined": self.removed_unjoined,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceLog:
        entries = [LogEntry.from_json(e) for e in data.get("device_log", [])]
        return cls(
            {bytes(e.eui): e for e in entries},
            [LogEntry.from_json(e) for e in data.get("historic_log", [])],
            [ExpiredJoin.from_json(e) for e in data.get("expired_joins", [])],
            int(data.get("removed_unjoined", 0)),
        )


def _copy_entry(entry: LogEntry) -> LogEntry:
    new = entry.copy()
    if entry.window is not None:
        w = entry.window
        new.window = JoinWindow(w.opened, w.timeout, w.historic_hash, w.historic_key)
    return new
