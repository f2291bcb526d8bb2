"""GFI text lines: how DCC test tooling and open hub emulators put GBCS on a port.

One GBCS message per line, the bytes in upper-case hex, the length in decimal::

    GBCS:DATA#<n>:<length>:<HEX>\\r\\n
    GBCS:DATA#0:72:DD000000000000401100000000DF0902...\\r\\n

Source of the format: DCC's "GFI segmented processing" note
(smartdcc.co.uk/media/3089/gfi-segmented-processing.pdf), as read by the public
domain conversion routines ``gfi.c``/``gfi.h`` (GitHub singh4jitendra/junk):
the sender writes ``#0``, the receiver accepts any decimal after ``#``;
``length`` counts bytes (two hex digits each); the line ends with CR LF; their
buffer holds messages of up to 1200 bytes. We also accept lower-case hex and a
bare LF, and refuse a line whose hex does not match its length.

`GfiLink` is a serial link (any URL a serial link takes, after ``gfi+``) that
speaks these lines instead of HAN frames. The lines carry no addresses, so the
link has a ``peer``: the EUI-64 on the other side of the port. Every line
received becomes a GBCS envelope from ``peer`` to this end's first address;
every GBCS envelope sent becomes a line. Other envelope kinds (WAKE, SLEEP,
STATE, MIRROR, OTA...) have no GFI form: they are counted as dropped and
logged, never silently lost. Bad lines count as corrupted, like bad frames.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Final

from emulator.errors import EmulatorError, GbcsDecodeError, LinkError
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import EuiLike
from emulator.han.serial import SerialLink

log = logging.getLogger(__name__)

PREFIX: Final = b"GBCS:DATA#"
#: The largest message a GFI line carries (the public converter's buffer).
MAX_MESSAGE: Final = 1200
#: A line longer than this cannot be a GFI line of at most `MAX_MESSAGE` bytes.
MAX_LINE: Final = 32 + 2 * MAX_MESSAGE

_LINE = re.compile(rb"GBCS:DATA#(\d+):(\d+):([0-9A-Fa-f]*)")


class GfiError(EmulatorError, ValueError):
    """A line that is not a GFI GBCS line; the message says what is wrong."""


def encode_line(message: bytes, channel: int = 0) -> bytes:
    """One GBCS message as a GFI line (upper-case hex, CR LF)."""
    if len(message) > MAX_MESSAGE:
        raise GfiError(f"GFI line: {len(message)} bytes, at most {MAX_MESSAGE}")
    return b"GBCS:DATA#%d:%d:%s\r\n" % (channel, len(message), message.hex().upper().encode())


def parse_line(line: bytes) -> bytes:
    """The GBCS message of one line (with or without its line end)."""
    text = line.rstrip(b"\r\n")
    match = _LINE.fullmatch(text)
    if match is None:
        shown = text[:40].decode("ascii", "replace")
        raise GfiError(f"GFI line: not GBCS:DATA#<n>:<length>:<hex>: {shown!r}")
    length = int(match[2])
    digits = match[3]
    if len(digits) != 2 * length:
        raise GfiError(f"GFI line: length says {length} bytes, {len(digits) / 2:g} follow")
    return bytes.fromhex(digits.decode())


class LineSplitter:
    """Bytes from a port into lines (without line ends); over-long lines are dropped."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._skipping = False
        #: Lines dropped for being longer than `max_line`.
        self.oversize = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        lines: list[bytes] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
                continue
            if line:
                lines.append(line)
        if len(self._buffer) > self.max_line:
            self.oversize += 1
            self._buffer.clear()
            self._skipping = True
        return lines


class GfiLink(SerialLink):
    """A serial port that carries GFI lines; ``peer`` is the EUI-64 at the other end."""

    def __init__(
        self,
        url: str,
        *,
        local: Iterable[EuiLike] = (),
        peer: EuiLike | None = None,
        hub: EuiLike | None = None,
        **options: Any,
    ) -> None:
        other = peer if peer is not None else hub
        if other is None:
            raise LinkError(f"{url}: a GFI link needs the EUI-64 of its peer (peer=...)")
        self.peer = Eui64(other)
        self.lines = LineSplitter()
        port_url = url[len("gfi+") :] if url.lower().startswith("gfi+") else url
        super().__init__(port_url, local=local, **options)
        self.url = url

    def _bodies(self, data: bytes) -> list[bytes]:
        bodies = []
        local = self.addresses
        for line in self.lines.feed(data):
            try:
                message = parse_line(line)
            except GfiError as exc:
                self._report_corrupt(LinkError(f"{self.url}: {exc}"), line)
                continue
            if not local:
                self._report_corrupt(LinkError(f"{self.url}: no local address for a line"), line)
                continue
            bodies.append(Envelope(self.peer, local[0], EnvelopeKind.GBCS, message).encode())
        return bodies

    def _frame(self, raw: bytes) -> bytes | None:
        try:
            env = Envelope.decode(raw)
        except GbcsDecodeError:  # our own encoder made it: cannot happen, but never silently
            self.counters.dropped += 1
            log.warning("%s: dropped an envelope that does not decode", self.url)
            return None
        if env.kind != EnvelopeKind.GBCS:
            self.counters.dropped += 1
            log.info("%s: %s envelope has no GFI form, not sent", self.url, env.kind.name)
            return None
        return encode_line(env.payload)
