"""The HAN envelope: what every link carries between the hub and a device.

A link moves envelopes, not GBCS messages: the envelope says who sends to whom
and why, the payload is the GBCS message (or a small control body). The binary
form below is the same on every transport (serial frames carry it, MQTT
publishes it), and docs/wire-protocol.md documents it for device makers::

    offset size field
    0      1    version (1)
    1      1    kind (EnvelopeKind)
    2      4    sequence (uint32 BE, per sender, wraps)
    6      8    source EUI-64
    14     8    destination EUI-64
    22     2    payload length (uint16 BE)
    24     n    payload
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.eui import Eui64

VERSION = 1
HEADER = struct.Struct(">BBI8s8sH")
MAX_PAYLOAD = 0xFFFF
BROADCAST = Eui64(b"\xff" * 8)


class EnvelopeKind(IntEnum):
    GBCS = 1  # a GBCS command, response or alert
    ACK = 2  # link-level receipt of a sequence number (payload empty)
    NACK = 3  # rejected at the link: payload is a UTF-8 reason
    WAKE = 4  # a sleepy device is awake and listening (GSME to hub)
    SLEEP = 5  # a sleepy device stops listening
    STATE = 6  # device state report (JSON, UTF-8)
    JOIN = 7  # device asks to join the HAN (payload: emulator/han/join.py JoinRequest)
    MIRROR = 8  # GSME pushes data to its GPF mirror (payload: GBZ)
    # Firmware block transfer (docs/wire-protocol.md, "Firmware blocks"):
    OTA_NOTIFY = 9  # hub offers an image (hash, size, block size, version)
    OTA_REQUEST = 10  # device asks for the block at an offset (query next image / block)
    OTA_BLOCK = 11  # hub answers with the block at that offset
    OTA_END = 12  # device reports the transfer's end (status: 0 whole image, else failed)
    # Joining (docs/wire-protocol.md, "Joining"; payloads in emulator/han/join.py):
    JOIN_ACCEPT = 13  # hub admits the device: nonces and the hub's proof
    JOIN_REFUSE = 14  # hub refuses the JOIN: reason byte, device nonce echoed
    VENDOR = 15  # a SMETS1 vendor protocol message (JSON, docs/smets1.md), not GBCS
    ZSE = 16  # a ZigBee Smart Energy cluster command between HAN devices (emulator/han/zse.py)


@dataclass(frozen=True, slots=True)
class Envelope:
    source: Eui64
    destination: Eui64
    kind: EnvelopeKind
    payload: bytes = b""
    sequence: int = 0

    def encode(self) -> bytes:
        if len(self.payload) > MAX_PAYLOAD:
            raise GbcsEncodeError("envelope.payload", f"too long: {len(self.payload)}")
        return (
            HEADER.pack(
                VERSION,
                int(self.kind),
                self.sequence & 0xFFFFFFFF,
                bytes(self.source),
                bytes(self.destination),
                len(self.payload),
            )
            + self.payload
        )

    @classmethod
    def decode(cls, raw: bytes) -> Envelope:
        if len(raw) < HEADER.size:
            raise GbcsDecodeError("envelope", len(raw), f"needs {HEADER.size} header bytes")
        version, kind, seq, src, dst, length = HEADER.unpack_from(raw)
        if version != VERSION:
            raise GbcsDecodeError("envelope.version", 0, f"unsupported version {version}")
        try:
            kind_enum = EnvelopeKind(kind)
        except ValueError:
            raise GbcsDecodeError("envelope.kind", 1, f"unknown kind {kind}") from None
        if len(raw) != HEADER.size + length:
            raise GbcsDecodeError(
                "envelope.length",
                22,
                f"says {length} payload byte(s), {len(raw) - HEADER.size} follow",
            )
        return cls(Eui64(src), Eui64(dst), kind_enum, bytes(raw[HEADER.size :]), seq)
