"""EUI-64 identifiers of devices and remote parties."""

from __future__ import annotations

from typing import Self

from emulator.errors import GbcsEncodeError


class Eui64(bytes):
    """Eight bytes that print the way DUIS and the SEC write them (``00-DB-12-...``).

    A bytes subclass so it drops straight into wire encoding and dict keys, while
    ``str()`` gives the hyphenated form testers recognise.
    """

    __slots__ = ()

    def __new__(cls, value: bytes | str | int) -> Self:
        # Every decoded header makes two: plain 8 bytes take the short way.
        if type(value) is bytes and len(value) == 8:
            return super().__new__(cls, value)
        if isinstance(value, Eui64):
            return value  # type: ignore[return-value]
        if isinstance(value, str):
            text = value.replace("-", "").replace(":", "").replace(" ", "")
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raise GbcsEncodeError("eui64", f"not hexadecimal: {value!r}") from None
        elif isinstance(value, int):
            if not 0 <= value < 1 << 64:
                raise GbcsEncodeError("eui64", f"out of range: {value}")
            raw = value.to_bytes(8, "big")
        else:
            raw = bytes(value)
        if len(raw) != 8:
            raise GbcsEncodeError("eui64", f"needs 8 bytes, got {len(raw)}: {value!r}")
        return super().__new__(cls, raw)

    def __str__(self) -> str:
        return "-".join(f"{b:02X}" for b in self)

    def __repr__(self) -> str:
        return f"Eui64('{self}')"

    @property
    def compact(self) -> str:
        """Lower-case hex without separators: the RTDS keystore file naming."""
        return self.hex()
