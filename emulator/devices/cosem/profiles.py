"""Profile generic buffers (interface class 7): capture, storage, range selection.

GBCS profile buffers travel as compact arrays whose rows start with a capture
time (double-long-unsigned, seconds since 2000-01-01 UTC) followed by register
values. Rows are built from the profile's row template so their types always
match what the model declares; the values come from a provider the device
passes in (energy registers, tier arrays, event codes).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator

from emulator.clock import from_zigbee_time, to_zigbee_time
from emulator.gbcs.dlms.axdr import (
    Array,
    CompactArray,
    Data,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    Long,
    LongUnsigned,
    OctetString,
    Structure,
    Unsigned,
    _Integer,
)

ValueSource = Callable[[], int]


def build_row(template: Data, timestamp: int, values: Iterator[int]) -> Data:
    """A row shaped like `template`: first u32 is the time, the rest from `values`."""
    first = [True]

    def fill(node: Data) -> Data:
        if isinstance(node, Structure):
            return Structure([fill(i) for i in node.items])
        if isinstance(node, Array):
            return Array([fill(i) for i in node.items])
        if isinstance(node, DoubleLongUnsigned) and first[0]:
            first[0] = False
            return DoubleLongUnsigned(timestamp & 0xFFFFFFFF)
        if isinstance(node, _Integer):
            value = next(values, 0)
            return _clamp(type(node), value)
        return node

    return fill(template)


def fill(template: Data, values: Iterator[int]) -> Data:
    """A value shaped like `template` whose integers take `values` in order (0 once used up).

    Computed registers keep the model's A-XDR types whatever the meter holds:
    each integer is clamped to the range of its type.
    """
    if isinstance(template, Structure):
        return Structure([fill(i, values) for i in template.items])
    if isinstance(template, Array):
        return Array([fill(i, values) for i in template.items])
    if isinstance(template, _Integer):
        return _clamp(type(template), next(values, 0))
    return template


def _clamp(cls: type[_Integer], value: int) -> Data:
    bits = cls.SIZE * 8
    if cls.SIGNED:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    return cls(max(lo, min(hi, int(value))))  # type: ignore[call-arg]


def row_time(row: Data) -> int | None:
    if isinstance(row, Structure) and row.items and isinstance(row.items[0], DoubleLongUnsigned):
        return row.items[0].value
    return None


def select_range(rows: list[Data], selection: Data | None) -> list[Data]:
    """Selective access by range (selector 1): rows whose time is within [from, to]."""
    if not isinstance(selection, Structure) or len(selection.items) < 3:
        return rows
    start, end = selection.items[1], selection.items[2]
    lo = start.value if isinstance(start, DoubleLongUnsigned) else _time_of(start)
    hi = end.value if isinstance(end, DoubleLongUnsigned) else _time_of(end)
    if lo is None or hi is None:
        return rows
    return [r for r in rows if (t := row_time(r)) is not None and lo <= t <= hi]


def _time_of(node: Data) -> int | None:
    if isinstance(node, OctetString) and len(node.value) == 12:
        from emulator.gbcs.dlms.datetime import DlmsDateTime

        at = DlmsDateTime.from_bytes(node.value).to_datetime()
        return to_zigbee_time(at) if at is not None else None
    return None


def compact(template: CompactArray, rows: list[Data]) -> CompactArray:
    return CompactArray(template.description, rows)


def event_row(template: Data, when: _dt.datetime, code: int, extra: int = 0) -> Data:
    """An event-log row: time, event code, then any further column zeroed or `extra`."""
    assert isinstance(template, Structure)
    items: list[Data] = [DoubleLongUnsigned(to_zigbee_time(when) & 0xFFFFFFFF)]
    for column in template.items[1:]:
        if isinstance(column, LongUnsigned) and len(items) == 1:
            items.append(LongUnsigned(code & 0xFFFF))
        elif isinstance(column, Unsigned | Enum | Long | DoubleLong | DoubleLongUnsigned):
            items.append(_clamp(type(column), extra))
        else:
            items.append(column)
    return Structure(items)


__all__ = [
    "build_row",
    "compact",
    "event_row",
    "fill",
    "from_zigbee_time",
    "row_time",
    "select_range",
]
