"""Serial framing of HAN envelopes: sans-IO, so any byte stream can carry it.

A UART (or a TCP socket standing in for one) delivers bytes in arbitrary chunks,
drops some and invents others. The frame format is HDLC-like, the one most
microcontroller shims already have code for::

    +------+---------------------------------------------+------+
    | 0x7E | stuffed( body  ||  CRC-16 high  ||  low )   | 0x7E |
    +------+---------------------------------------------+------+
      flag   body = one encoded Envelope (24 + n bytes)    flag

    stuffing: 0x7E -> 0x7D 0x5E      0x7D -> 0x7D 0x5D    (escape 0x7D, then byte ^ 0x20)
    CRC:      CRC-16/CCITT-FALSE over the unstuffed body: poly 0x1021, init 0xFFFF,
              no reflection, no final xor ("123456789" -> 0x29B1), sent big-endian

Receiving rules (what `Deframer` does, and what a device shim should do):

- bytes before the first flag are noise and are discarded;
- a flag ends the current frame *and* opens the next, so frames may share one
  flag and any number of flags may sit back to back (empty frames are ignored);
- after noise, the next flag resynchronises: the noise becomes one frame that
  fails its CRC and the real frame that follows is intact;
- ``0x7D 0x7E`` (an escape cut short by a flag) aborts the frame in progress;
- a frame whose unstuffed length exceeds ``max_body + 2`` is dropped, and the
  bytes up to the next flag are discarded;
- an escaped byte is accepted whatever its value (``0x7D 0x31`` is ``0x11``),
  so senders that also escape control characters interoperate.

The format knows nothing of envelopes beyond the default maximum length: it is
kept apart from the link (pymodbus-style framers) so the same code frames a pty,
a USB dongle or ``socket://`` and can be tested without any of them.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Final

from emulator.han.envelope import HEADER, MAX_PAYLOAD

FLAG: Final = 0x7E
ESCAPE: Final = 0x7D
XOR: Final = 0x20

#: Largest body the link ever sends: an envelope header plus the largest payload.
MAX_BODY: Final = HEADER.size + MAX_PAYLOAD

_FLAG = bytes([FLAG])
_ESCAPE = bytes([ESCAPE])
_ESCAPED_ESCAPE = bytes([ESCAPE, ESCAPE ^ XOR])
_ESCAPED_FLAG = bytes([ESCAPE, FLAG ^ XOR])

#: Called with a short reason ("crc", "aborted", "oversize") and the bytes dropped.
FrameErrorHandler = Callable[[str, bytes], None]


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE; binascii's crc_hqx is this CRC with a caller-chosen init."""
    return binascii.crc_hqx(data, 0xFFFF)


def stuff(data: bytes) -> bytes:
    """Escape flag and escape bytes (escape first, or the escapes would be escaped)."""
    return data.replace(_ESCAPE, _ESCAPED_ESCAPE).replace(_FLAG, _ESCAPED_FLAG)


def unstuff(data: bytes) -> bytes | None:
    """Undo `stuff`; None when an escape has no byte after it (an aborted frame)."""
    if ESCAPE not in data:
        return data
    first, *rest = data.split(_ESCAPE)
    out = bytearray(first)
    for part in rest:
        if not part:
            return None
        out.append(part[0] ^ XOR)
        out += part[1:]
    return bytes(out)


def encode_frame(body: bytes) -> bytes:
    """One complete frame: flag, stuffed body and big-endian CRC, flag."""
    return _FLAG + stuff(body + crc16(body).to_bytes(2, "big")) + _FLAG


class Deframer:
    """Turns a byte stream, chunked any way, into frame bodies that passed their CRC.

    Never raises on bad input: every loss is counted (``crc_errors``,
    ``aborted``, ``oversize``, ``discarded_bytes``) and, if ``on_error`` is set,
    reported with the bytes concerned, so a link can count corruption without
    the deframer knowing about links.
    """

    def __init__(self, max_body: int = MAX_BODY, on_error: FrameErrorHandler | None = None) -> None:
        if max_body < 0:
            raise ValueError(f"max_body must be >= 0, got {max_body}")
        self.max_body = max_body
        self.on_error = on_error
        #: Good frames delivered.
        self.frames = 0
        #: Frames (including noise between flags) whose CRC did not match.
        self.crc_errors = 0
        #: Frames cut short by ``0x7D 0x7E``.
        self.aborted = 0
        #: Frames longer than ``max_body`` (plus CRC) after unstuffing.
        self.oversize = 0
        #: Non-flag bytes that did not end up in a good frame.
        self.discarded_bytes = 0
        self._raw = bytearray()
        self._hunting = True  # discarding until a flag: at start and after an oversize frame
        # A legal frame never stuffs to more than twice its length.
        self._raw_limit = 2 * (max_body + 2)

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held back until its closing flag."""
        return len(self._raw)

    def reset(self) -> None:
        """Forget a partial frame, e.g. after reopening the port."""
        self._raw.clear()
        self._hunting = True

    def feed(self, data: bytes) -> list[bytes]:
        """Consume a chunk; returns the bodies of the frames it completed, in order."""
        out: list[bytes] = []
        pos = 0
        end = len(data)
        while pos < end:
            flag = data.find(FLAG, pos)
            if flag < 0:
                self._take(data[pos:])
                break
            if flag > pos:
                self._take(data[pos:flag])
            self._close_frame(out)
            pos = flag + 1
        return out

    def _take(self, chunk: bytes) -> None:
        if self._hunting:
            self.discarded_bytes += len(chunk)
            return
        self._raw += chunk
        if len(self._raw) > self._raw_limit:
            self._drop("oversize", bytes(self._raw))
            self._raw.clear()
            self._hunting = True

    def _close_frame(self, out: list[bytes]) -> None:
        if self._hunting:
            self._hunting = False  # this flag opens the next frame
            return
        if not self._raw:
            return  # back-to-back flags
        raw = bytes(self._raw)
        self._raw.clear()
        body = unstuff(raw)
        if body is None:
            self._drop("aborted", raw)
        elif len(body) > self.max_body + 2:
            self._drop("oversize", raw)
        elif len(body) < 2 or crc16(body[:-2]) != int.from_bytes(body[-2:], "big"):
            self._drop("crc", raw)
        else:
            self.frames += 1
            out.append(body[:-2])

    def _drop(self, reason: str, raw: bytes) -> None:
        if reason == "crc":
            self.crc_errors += 1
        elif reason == "aborted":
            self.aborted += 1
        else:
            self.oversize += 1
        self.discarded_bytes += len(raw)
        if self.on_error is not None:
            self.on_error(reason, raw)
