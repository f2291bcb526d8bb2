"""Bounded byte reader shared by the hand-written payload codecs.

The recursive TLV formats (A-XDR, DER, ZCL attribute records) are decoded by small
functions over this reader rather than by construct: they run per node and the
corpus benchmark needs them fast. Every read checks bounds and raises a typed error
naming the field (prefixed by the reader's path) and the absolute offset, so no
decoder can leak an IndexError or struct.error.
"""

from __future__ import annotations

from emulator.errors import GbcsDecodeError, TruncatedError


class Reader:
    __slots__ = ("data", "depth", "end", "path", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, path: str = "") -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.path = path
        self.depth = 0

    def enter(self, field: str, limit: int) -> None:
        """Count one level of nesting; hostile input must not exhaust the stack."""
        self.depth += 1
        if self.depth > limit:
            raise self.fail(field, f"nested deeper than {limit} levels")

    # -- errors ---------------------------------------------------------------------
    def name(self, field: str) -> str:
        if not self.path:
            return field
        return f"{self.path}.{field}" if field else self.path

    def fail(self, field: str, reason: str, offset: int | None = None) -> GbcsDecodeError:
        return GbcsDecodeError(self.name(field), self.pos if offset is None else offset, reason)

    def _short(self, field: str, n: int) -> TruncatedError:
        return TruncatedError(self.name(field), self.pos, n, self.end - self.pos)

    # -- primitives -----------------------------------------------------------------
    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def u8(self, field: str) -> int:
        p = self.pos
        if p >= self.end:
            raise self._short(field, 1)
        self.pos = p + 1
        return self.data[p]

    def peek(self, field: str) -> int:
        if self.pos >= self.end:
            raise self._short(field, 1)
        return self.data[self.pos]

    def take(self, n: int, field: str) -> bytes:
        p = self.pos
        q = p + n
        if n < 0 or q > self.end:
            raise self._short(field, n)
        self.pos = q
        return self.data[p:q]

    def uint(self, n: int, field: str) -> int:
        return int.from_bytes(self.take(n, field), "big")

    def uint_le(self, n: int, field: str) -> int:
        return int.from_bytes(self.take(n, field), "little")

    def sint(self, n: int, field: str) -> int:
        return int.from_bytes(self.take(n, field), "big", signed=True)

    def sint_le(self, n: int, field: str) -> int:
        return int.from_bytes(self.take(n, field), "little", signed=True)

    def ber_length(self, field: str) -> int:
        """X.690 definite length: short form, or 0x81/0x82/0x83/0x84 long forms."""
        first = self.u8(field)
        if first < 0x80:
            return first
        n = first & 0x7F
        if n == 0 or n > 4:
            raise self.fail(field, f"unsupported length form 0x{first:02X}", self.pos - 1)
        value = self.uint(n, field)
        if value < 0x80 or value >> (8 * (n - 1)) == 0:
            raise self.fail(field, "length not in minimal (DER) form", self.pos - n - 1)
        return value

    def ber_length_octets(self, field: str) -> tuple[int, int]:
        """Like `ber_length` but accepts non-minimal long forms (BER, not DER).

        Returns (length, number of length octets) so an encoder can repeat the form.
        """
        start = self.pos
        first = self.u8(field)
        if first < 0x80:
            return first, 1
        n = first & 0x7F
        if n == 0 or n > 4:
            raise self.fail(field, f"unsupported length form 0x{first:02X}", start)
        return self.uint(n, field), n + 1

    def sub(self, n: int, field: str) -> Reader:
        """A reader over the next `n` bytes; this reader skips past them."""
        p = self.pos
        q = p + n
        if n < 0 or q > self.end:
            raise self._short(field, n)
        self.pos = q
        sub = Reader(self.data, p, q, self.name(field))
        sub.depth = self.depth
        return sub

    def rest(self, field: str) -> bytes:
        return self.take(self.end - self.pos, field)

    def expect(self, value: bytes, field: str) -> None:
        start = self.pos
        got = self.take(len(value), field)
        if got != value:
            raise self.fail(
                field, f"expected {value.hex().upper()}, got {got.hex().upper()}", start
            )

    def done(self, field: str = "") -> None:
        """Raise if bytes are left over: every format we read has an exact length."""
        if self.pos != self.end:
            raise self.fail(field or "end", f"{self.end - self.pos} unexpected trailing byte(s)")


def ber_length_bytes(n: int, octets: int | None = None) -> bytes:
    """X.690 definite length: minimal, or in `octets` bytes to repeat a received form."""
    if octets is not None and octets > 1:
        return bytes((0x80 | (octets - 1),)) + n.to_bytes(octets - 1, "big")
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    if n < 0x1000000:
        return bytes((0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF))
    return b"\x84" + n.to_bytes(4, "big")
