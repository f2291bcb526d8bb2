"""Addresses and fault injectors shared by the HAN tests (a module, not a conftest,
so test files can import it by name)."""

from __future__ import annotations

from collections.abc import Callable

from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind

HUB = Eui64("00-DB-12-34-56-78-90-B1")
METER = Eui64("00-DB-12-34-56-78-90-A0")
GAS = Eui64("00-DB-12-34-56-78-90-C2")


def gbcs(source: Eui64, destination: Eui64, payload: bytes = b"\x01\x02", seq: int = 1) -> Envelope:
    return Envelope(source, destination, EnvelopeKind.GBCS, payload, seq)


def drop_all(raw: bytes) -> list[bytes]:
    return []


def duplicate(raw: bytes) -> list[bytes]:
    return [raw, raw]


def split_at(n: int) -> Callable[[bytes], list[bytes]]:
    def split(raw: bytes) -> list[bytes]:
        return [raw[:n], raw[n:]]

    return split


def corrupt_version(raw: bytes) -> list[bytes]:
    """Break the header (version byte) but keep the address, so routing still works."""
    return [b"\x09" + raw[1:]]


def every_other(fault: Callable[[bytes], list[bytes]]) -> Callable[[bytes], list[bytes]]:
    """Apply ``fault`` to the 1st, 3rd, ... envelope and pass the others through."""
    count = 0

    def maybe(raw: bytes) -> list[bytes]:
        nonlocal count
        count += 1
        return fault(raw) if count % 2 else [raw]

    return maybe
