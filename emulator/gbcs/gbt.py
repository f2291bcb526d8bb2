"""General Block Transfer: segmenting a large GBCS message and joining it again.

Each GBT frame repeats a routing header (a general-ciphering APDU whose
transaction id is filled in) and carries one general-block-transfer APDU::

    DD 09 <CRA 1> <counter 8> 08 <originator 8> 08 <recipient 8> 00
       <other-info length> <message code 2> 00 <BER L> <SC 1> <IC 4>
    E0 <block control 1> <block number 2> <acked block number 2> <BER len> data

Block control: bit 7 last block, bit 6 streaming, bits 0-5 window. Blocks are
numbered from 1; the joined block data is a complete ``DD 00`` or ``DF`` message.
An acknowledgement carries no data.

Provenance: the reference test data holds no GBT frame. This layout follows the
Wireshark GBCS dissector and DLMS; L is taken as 5 + the length of the E0 APDU
(the same rule as the MAC header) and SC/IC default to zero. See
docs/gbcs-codec.md before relying on it against a real hub.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from construct import BitsInteger, BitStruct, Flag

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra
from emulator.gbcs.reader import Reader, ber_length_bytes

GBT_TAG = 0xE0
BLOCK_CONTROL = BitStruct(
    "last_block" / Flag,
    "streaming" / Flag,
    "window" / BitsInteger(6),
).compile()


@dataclass(slots=True)
class RoutingHeader:
    cra: Cra
    originator_counter: int
    originator: Eui64
    recipient: Eui64
    message_code: int
    security_control: int = 0x00
    invocation_counter: int = 0


@dataclass(slots=True)
class GbtFrame:
    routing: RoutingHeader
    block_number: int
    acked_block_number: int = 0
    last_block: bool = False
    streaming: bool = False
    window: int = 1
    data: bytes = b""

    @property
    def is_ack(self) -> bool:
        return not self.data

    def encode(self) -> bytes:
        h = self.routing
        if not 0 <= self.window < 64:
            raise GbcsEncodeError("gbt.window", f"0..63, got {self.window}")
        control: bytes = BLOCK_CONTROL.build(
            {"last_block": self.last_block, "streaming": self.streaming, "window": self.window}
        )
        apdu = (
            bytes((GBT_TAG,))
            + control
            + self.block_number.to_bytes(2, "big")
            + self.acked_block_number.to_bytes(2, "big")
            + ber_length_bytes(len(self.data))
            + self.data
        )
        return (
            b"\xdd\x09"
            + bytes((int(h.cra),))
            + h.originator_counter.to_bytes(8, "big")
            + b"\x08"
            + bytes(h.originator)
            + b"\x08"
            + bytes(h.recipient)
            + b"\x00\x02"
            + h.message_code.to_bytes(2, "big")
            + b"\x00"
            + ber_length_bytes(5 + len(apdu))
            + bytes((h.security_control,))
            + h.invocation_counter.to_bytes(4, "big")
            + apdu
        )


def decode_gbt_frame(raw: bytes) -> GbtFrame:
    r = Reader(bytes(raw), path="gbt")
    r.expect(b"\xdd\x09", "routing_header.tag")
    cra = r.u8("routing_header.cra")
    if cra not in (1, 2, 3):
        raise r.fail("routing_header.cra", f"invalid CRA flag {cra}", r.pos - 1)
    counter = r.uint(8, "routing_header.counter")
    r.expect(b"\x08", "routing_header.originator.length")
    originator = Eui64(r.take(8, "routing_header.originator"))
    r.expect(b"\x08", "routing_header.recipient.length")
    recipient = Eui64(r.take(8, "routing_header.recipient"))
    dt_len = r.u8("routing_header.date_time.length")
    if dt_len not in (0, 12):
        raise r.fail("routing_header.date_time.length", f"must be 0 or 12, got {dt_len}", r.pos - 1)
    r.take(dt_len, "routing_header.date_time")
    other_len = r.u8("routing_header.other_information.length")
    other = r.sub(other_len, "routing_header.other_information")
    code = other.uint(2, "message_code")
    r.expect(b"\x00", "routing_header.key_info")
    length = r.ber_length("routing_header.length")
    if length != r.remaining:
        raise r.fail("routing_header.length", f"says {length} but {r.remaining} follow")
    sc = r.u8("routing_header.security_control")
    ic = r.uint(4, "routing_header.invocation_counter")
    r.expect(bytes((GBT_TAG,)), "block.tag")
    control = BLOCK_CONTROL.parse(r.take(1, "block.control"))
    number = r.uint(2, "block.number")
    acked = r.uint(2, "block.acked_number")
    data = r.take(r.ber_length("block.length"), "block.data")
    r.done("block")
    routing = RoutingHeader(Cra(cra), counter, originator, recipient, code, sc, ic)
    return GbtFrame(
        routing,
        number,
        acked,
        bool(control.last_block),
        bool(control.streaming),
        control.window,
        data,
    )


def segment(
    message: bytes, routing: RoutingHeader, block_size: int, window: int = 1
) -> list[bytes]:
    """Split an encoded message into GBT frames of at most `block_size` data bytes."""
    if block_size <= 0:
        raise GbcsEncodeError("gbt.block_size", "must be positive")
    chunks = [message[i : i + block_size] for i in range(0, len(message), block_size)] or [b""]
    frames = []
    for index, chunk in enumerate(chunks, start=1):
        frames.append(
            GbtFrame(routing, index, 0, index == len(chunks), False, window, chunk).encode()
        )
    return frames


def is_gbt(raw: bytes) -> bool:
    return len(raw) > 1 and raw[0] == 0xDD and raw[1] == 0x09


@dataclass(slots=True)
class _Transfer:
    blocks: dict[int, bytes] = field(default_factory=dict)
    last: int | None = None


class Reassembler:
    """Sans-IO reassembly keyed by (originator, counter); `feed` returns a whole message.

    Duplicated blocks are ignored, out-of-order blocks are held, and a block
    beyond the announced last one is an error.
    """

    def __init__(self, max_transfers: int = 64) -> None:
        self._transfers: dict[tuple[bytes, int], _Transfer] = {}
        self.max_transfers = max_transfers

    def feed(self, raw: bytes) -> bytes | None:
        frame = decode_gbt_frame(raw)
        if frame.is_ack:
            return None
        key = (bytes(frame.routing.originator), frame.routing.originator_counter)
        transfer = self._transfers.get(key)
        if transfer is None:
            if len(self._transfers) >= self.max_transfers:
                self._transfers.pop(next(iter(self._transfers)))
            transfer = self._transfers[key] = _Transfer()
        if frame.block_number == 0:
            raise GbcsDecodeError("gbt.block.number", 0, "blocks are numbered from 1")
        if transfer.last is not None and frame.block_number > transfer.last:
            raise GbcsDecodeError("gbt.block.number", 0, "block after the last block")
        transfer.blocks.setdefault(frame.block_number, frame.data)
        if frame.last_block:
            transfer.last = frame.block_number
        if transfer.last is None or len(transfer.blocks) < transfer.last:
            return None
        del self._transfers[key]
        return b"".join(transfer.blocks[i] for i in range(1, transfer.last + 1))

    @property
    def pending(self) -> int:
        return len(self._transfers)
