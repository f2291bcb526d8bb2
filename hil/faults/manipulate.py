"""Pure byte and message manipulators: what each fault does to one thing passing.

Nothing here does I/O or keeps time; the injector decides when a fault applies
(rate, target, window) and calls these with its own seeded `random.Random`, so
the same seed gives the same bytes. Envelope offsets are those of
`emulator.han.envelope` (24 header bytes, then the payload).
"""

from __future__ import annotations

import dataclasses
import random

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.gbt import RoutingHeader, segment
from emulator.han.envelope import HEADER, Envelope


def flip_bytes(raw: bytes, count: int, rng: random.Random, start: int = 0) -> bytes:
    """`count` distinct bytes at or after `start` XORed with a non-zero value."""
    if len(raw) <= start:
        return raw
    out = bytearray(raw)
    positions = rng.sample(range(start, len(raw)), min(count, len(raw) - start))
    for pos in positions:
        out[pos] ^= rng.randrange(1, 256)
    return bytes(out)


def corrupt(raw: bytes, count: int, rng: random.Random, *, payload_only: bool) -> bytes:
    return flip_bytes(raw, count, rng, HEADER.size if payload_only else 0)


def truncate(raw: bytes, keep: int | None, rng: random.Random) -> bytes:
    if len(raw) <= 1:
        return b""
    return raw[: keep if keep is not None else rng.randrange(1, len(raw))]


def split_frame(raw: bytes, at: int | None, rng: random.Random) -> list[bytes]:
    """Two transport chunks; a frame too short to split goes out whole."""
    if len(raw) < 2:
        return [raw]
    cut = min(at, len(raw) - 1) if at is not None else rng.randrange(1, len(raw))
    return [raw[:cut], raw[cut:]]


def split_gbt(env: Envelope, msg: GbcsMessage, block_size: int) -> list[bytes]:
    """The envelope's GBCS message as GBT blocks, one envelope each."""
    routing = RoutingHeader(msg.cra, msg.counter, msg.originator, msg.recipient, msg.message_code)
    blocks = segment(env.payload, routing, block_size)
    return [dataclasses.replace(env, payload=block).encode() for block in blocks]


def bad_mac(msg: GbcsMessage, rng: random.Random) -> GbcsMessage | None:
    """One MAC byte flipped; None when the message carries no MAC."""
    if msg.mac is None:
        return None
    return _changed(msg, mac=flip_bytes(msg.mac, 1, rng))


def bad_signature(msg: GbcsMessage, rng: random.Random) -> GbcsMessage | None:
    """One signature byte flipped; None when the message is not signed."""
    if not msg.signature:
        return None
    return _changed(msg, signature=flip_bytes(msg.signature, 1, rng))


def with_counter(msg: GbcsMessage, counter: int) -> GbcsMessage:
    header = dataclasses.replace(msg.header, originator_counter=counter)
    return _changed(msg, header=header)


def with_recipient(msg: GbcsMessage, recipient: Eui64) -> GbcsMessage:
    header = dataclasses.replace(msg.header, recipient=recipient)
    return _changed(msg, header=header)


def other_eui(eui: Eui64) -> Eui64:
    """An EUI-64 that is not `eui` (last octet inverted)."""
    raw = bytearray(bytes(eui))
    raw[-1] ^= 0xFF
    return Eui64(bytes(raw))


def _changed(msg: GbcsMessage, **changes: object) -> GbcsMessage:
    """A copy with `changes`, forgetting the received bytes (encode builds it anew)."""
    return dataclasses.replace(msg, raw=None, spans=None, **changes)  # type: ignore[arg-type]
