"""Error hierarchy of the emulator package.

One root (`EmulatorError`) so callers can catch everything we raise, categories that
also inherit the matching stdlib class so generic handlers keep working, and
structured fields so a test or a log line can say *where* input went wrong without
parsing a message string.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Root of every error raised by the `emulator` package."""


class GbcsError(EmulatorError):
    """Anything wrong with GBCS bytes or with building them."""


class GbcsDecodeError(GbcsError, ValueError):
    """Malformed input: names the field being read and the byte offset.

    `offset` counts from the start of the buffer handed to the decoder that failed,
    which for nested payloads is the payload, not the whole message; `field` is a
    dotted path such as ``grouping_header.other_information.length``.
    """

    def __init__(self, field: str, offset: int, reason: str) -> None:
        self.field = field
        self.offset = offset
        self.reason = reason
        super().__init__(f"{field} at offset {offset}: {reason}")


class TruncatedError(GbcsDecodeError):
    """The input ended before the field was complete.

    Kept apart from other malformations so that stream framers can treat it as
    "need more bytes" while a complete message that is short is still an error.
    """

    def __init__(self, field: str, offset: int, needed: int, available: int) -> None:
        self.needed = needed
        self.available = available
        super().__init__(field, offset, f"needs {needed} byte(s), only {available} left")


class GbcsEncodeError(GbcsError, ValueError):
    """A value cannot be represented in the GBCS wire format."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class SecurityError(EmulatorError):
    """A cryptographic check failed or could not be performed."""


class KeyNotFoundError(SecurityError, KeyError):
    """The key store has no key or certificate for that party and usage."""

    def __init__(self, eui: str, usage: str, private: bool) -> None:
        self.eui = eui
        self.usage = usage
        self.private = private
        kind = "private key" if private else "certificate"
        super().__init__(f"no {usage} {kind} for {eui}")

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0])


class SignatureError(SecurityError):
    """An ECDSA signature did not verify."""


class MacError(SecurityError):
    """An AES-GCM tag (MAC or decryption) did not verify."""


class UtrnError(SecurityError, ValueError):
    """A UTRN is malformed, has a bad check digit or fails its GMAC."""


class LinkError(EmulatorError):
    """A HAN link could not be opened, used or kept up.

    Malformed envelopes arriving on a link are *not* raised: the link counts them,
    hands them to its ``on_error`` callback and keeps receiving, because one noisy
    frame must not take a device off the HAN.
    """


class LinkTimeout(LinkError, TimeoutError):
    """Nothing addressed to this endpoint arrived (or a send did not finish) in time."""


class LinkClosed(LinkError, ConnectionError):
    """The link was closed, or its transport went away (port unplugged, broker gone)."""
