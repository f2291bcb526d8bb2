"""Payloads of the firmware block-transfer envelopes (pure: bytes in, bytes out).

The exchange follows the ZigBee OTA Upgrade cluster's shape (image notify, query
next image, image block request / response, upgrade end) carried in HAN
envelopes of their own kinds; docs/wire-protocol.md has the table. Integers are
big-endian, as in the envelope header. Every payload starts with the SHA-256 of
the whole OTA file being moved (the transfer's identity: a resumed transfer of
another image starts again from offset 0).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from emulator.errors import GbcsDecodeError

HASH = 32
_NOTIFY = struct.Struct(">32sIH4s")  # file hash, total size, block size, file version
_REQUEST = struct.Struct(">32sI")  # file hash, offset
_BLOCK = struct.Struct(">32sI")  # file hash, offset; the block's bytes follow
_END = struct.Struct(">32sB")  # file hash, status

END_OK = 0
END_FAILED = 1  # the assembled file does not decode, or its hash is not the offered one


@dataclass(frozen=True, slots=True)
class Notify:
    file_hash: bytes
    size: int
    block_size: int
    version: bytes  # the OTA header's file version (4 bytes)

    def encode(self) -> bytes:
        return _NOTIFY.pack(self.file_hash, self.size, self.block_size, self.version)

    @classmethod
    def decode(cls, raw: bytes) -> Notify:
        _check(raw, _NOTIFY.size, "ota.notify", exact=True)
        file_hash, size, block_size, version = _NOTIFY.unpack(raw)
        if block_size == 0:
            raise GbcsDecodeError("ota.notify.block_size", 36, "block size 0")
        return cls(file_hash, size, block_size, version)


@dataclass(frozen=True, slots=True)
class BlockRequest:
    file_hash: bytes
    offset: int

    def encode(self) -> bytes:
        return _REQUEST.pack(self.file_hash, self.offset)

    @classmethod
    def decode(cls, raw: bytes) -> BlockRequest:
        _check(raw, _REQUEST.size, "ota.request", exact=True)
        return cls(*_REQUEST.unpack(raw))


@dataclass(frozen=True, slots=True)
class Block:
    file_hash: bytes
    offset: int
    data: bytes

    def encode(self) -> bytes:
        return _BLOCK.pack(self.file_hash, self.offset) + self.data

    @classmethod
    def decode(cls, raw: bytes) -> Block:
        _check(raw, _BLOCK.size, "ota.block", exact=False)
        file_hash, offset = _BLOCK.unpack_from(raw)
        return cls(file_hash, offset, raw[_BLOCK.size :])


@dataclass(frozen=True, slots=True)
class End:
    file_hash: bytes
    status: int

    def encode(self) -> bytes:
        return _END.pack(self.file_hash, self.status)

    @classmethod
    def decode(cls, raw: bytes) -> End:
        _check(raw, _END.size, "ota.end", exact=True)
        return cls(*_END.unpack(raw))


def _check(raw: bytes, size: int, field: str, *, exact: bool) -> None:
    if len(raw) < size or (exact and len(raw) != size):
        raise GbcsDecodeError(field, len(raw), f"needs {size} bytes, got {len(raw)}")
