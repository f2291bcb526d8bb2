"""Event and security logs of a device.

GBCS devices keep an Event Log and a Security Log of (time, event code, detail)
entries in bounded buffers, oldest entries overwritten. Security-relevant
rejections (malformed command, failed authentication, replayed counter, unknown
remote party) go to the security log with their GBCS event/alert code, so a
tester can see why a command was refused after the fact.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# GBCS event / alert codes used for rejections (GBCS alert code tables).
MALFORMED_COMMAND = 0x8F1E  # integrity check of content or format of command failed
AUTHENTICATION_FAILURE = 0x8F3D  # trusted source authentication failure
UNAUTHORISED = 0x8F53  # failed authentication or authorisation not covered by other codes
OUT_OF_ORDER = 0x8F60  # malformed, out-of-order (replayed) or unexpected commands
UTRN_NOT_AUTHENTIC = 0x8F63
UTRN_NOT_FOR_DEVICE = 0x8F64
COMMAND_NOT_SUPPORTED = 0x8F85


@dataclass(frozen=True, slots=True)
class LogEntry:
    time: _dt.datetime
    code: int
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "code": self.code, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogEntry:
        return cls(
            _dt.datetime.fromisoformat(data["time"]), int(data["code"]), data.get("detail", "")
        )


class EventLog:
    """Bounded, ordered log; GBCS sizes are 100 (event) and 100 (security) entries."""

    def __init__(self, capacity: int = 100) -> None:
        self.capacity = capacity
        self._entries: deque[LogEntry] = deque(maxlen=capacity)

    def record(self, time: _dt.datetime, code: int, detail: str = "") -> LogEntry:
        entry = LogEntry(time, code, detail)
        self._entries.append(entry)
        return entry

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def codes(self) -> list[int]:
        return [e.code for e in self._entries]

    def copy(self) -> EventLog:
        new = EventLog(self.capacity)
        new._entries.extend(self._entries)
        return new

    def clear(self) -> None:
        self._entries.clear()

    def between(self, start: _dt.datetime, end: _dt.datetime) -> list[LogEntry]:
        return [e for e in self._entries if start <= e.time <= end]

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self._entries]

    def load_json(self, data: list[dict[str, Any]]) -> None:
        self._entries.clear()
        for item in data:
            self._entries.append(LogEntry.from_json(item))
