"""DLMS COSEM date-time (12 octets), date (5) and time (4).

GBCS uses the date-time both inside A-XDR data and in the grouping header. Fields
keep their wire values, including the "not specified" markers (0xFF, 0xFFFF, 0x8000),
because commands use the all-zero and all-0xFF patterns as "now" and "never" and a
device must be able to tell them apart from a real instant.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from emulator.errors import GbcsEncodeError
from emulator.gbcs.reader import Reader

DEVIATION_UNSPECIFIED = 0x8000
UNSPECIFIED = 0xFF


@dataclass(frozen=True, slots=True)
class DlmsDate:
    year: int  # 0xFFFF = not specified
    month: int  # 1..12, 0xFD/0xFE daylight-saving markers, 0xFF not specified
    day: int  # 1..31, 0xFD/0xFE last days, 0xFF not specified
    weekday: int  # 1 = Monday .. 7, 0xFF not specified

    SIZE = 5

    def encode(self) -> bytes:
        return _pack(">HBBB", "dlms_date", self.year, self.month, self.day, self.weekday)

    @classmethod
    def read(cls, r: Reader, field: str = "date") -> DlmsDate:
        b = r.take(5, field)
        return cls((b[0] << 8) | b[1], b[2], b[3], b[4])

    def to_date(self) -> _dt.date | None:
        if self.year == 0xFFFF or self.month > 12 or self.day > 31:
            return None
        try:
            return _dt.date(self.year, self.month, self.day)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class DlmsTime:
    hour: int
    minute: int
    second: int
    hundredths: int

    SIZE = 4

    def encode(self) -> bytes:
        return _pack(">BBBB", "dlms_time", self.hour, self.minute, self.second, self.hundredths)

    @classmethod
    def read(cls, r: Reader, field: str = "time") -> DlmsTime:
        b = r.take(4, field)
        return cls(b[0], b[1], b[2], b[3])


@dataclass(frozen=True, slots=True)
class DlmsDateTime:
    year: int
    month: int
    day: int
    weekday: int
    hour: int
    minute: int
    second: int
    hundredths: int
    deviation: int  # minutes from local to UTC as uint16 wire value; 0x8000 = unspecified
    clock_status: int

    SIZE = 12

    def encode(self) -> bytes:
        return _pack(
            ">HBBBBBBBHB",
            "dlms_date_time",
            self.year,
            self.month,
            self.day,
            self.weekday,
            self.hour,
            self.minute,
            self.second,
            self.hundredths,
            self.deviation,
            self.clock_status,
        )

    @classmethod
    def read(cls, r: Reader, field: str = "date_time") -> DlmsDateTime:
        b = r.take(12, field)
        return cls(
            (b[0] << 8) | b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], (b[9] << 8) | b[10], b[11]
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> DlmsDateTime:
        r = Reader(raw)
        value = cls.read(r)
        r.done("date_time")
        return value

    @classmethod
    def from_datetime(cls, value: _dt.datetime, clock_status: int = 0x00) -> DlmsDateTime:
        """UTC instant with deviation 0 (GBCS devices keep UTC)."""
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC).replace(tzinfo=None)
        return cls(
            value.year,
            value.month,
            value.day,
            value.isoweekday(),
            value.hour,
            value.minute,
            value.second,
            value.microsecond // 10000,
            0,
            clock_status,
        )

    @classmethod
    def now_marker(cls) -> DlmsDateTime:
        """All-zero date-time with unspecified deviation: "execute now" in commands."""
        return cls(0, 0, 0, 0, 0, 0, 0, 0, DEVIATION_UNSPECIFIED, UNSPECIFIED)

    @classmethod
    def never_marker(cls) -> DlmsDateTime:
        """All-0xFF date-time: "never" / not specified."""
        return cls(
            0xFFFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, DEVIATION_UNSPECIFIED, UNSPECIFIED
        )

    @property
    def is_now_marker(self) -> bool:
        return self.year == 0 and self.month == 0 and self.day == 0 and self.hour == 0

    @property
    def is_never_marker(self) -> bool:
        return self.year == 0xFFFF and self.month == 0xFF and self.day == 0xFF

    def to_datetime(self) -> _dt.datetime | None:
        """The instant as an aware UTC datetime, or None if fields are unspecified."""
        if self.year in (0, 0xFFFF) or not 1 <= self.month <= 12 or not 1 <= self.day <= 31:
            return None
        if self.hour > 23 or self.minute > 59 or self.second > 59:
            return None
        try:
            naive = _dt.datetime(
                self.year,
                self.month,
                self.day,
                self.hour,
                self.minute,
                self.second,
                (self.hundredths if self.hundredths <= 99 else 0) * 10000,
            )
        except ValueError:
            return None
        if self.deviation != DEVIATION_UNSPECIFIED:
            deviation = self.deviation - 0x10000 if self.deviation & 0x8000 else self.deviation
            # DLMS deviation is minutes from local time to UTC.
            naive += _dt.timedelta(minutes=deviation)
        return naive.replace(tzinfo=_dt.UTC)

    def __str__(self) -> str:
        if self.is_now_marker:
            return "now"
        if self.is_never_marker:
            return "never"
        at = self.to_datetime()
        return at.isoformat() if at is not None else self.encode().hex().upper()


def _pack(fmt: str, field: str, *values: int) -> bytes:
    import struct

    try:
        return struct.pack(fmt, *values)
    except struct.error as exc:
        raise GbcsEncodeError(field, f"field out of range: {values}") from exc
