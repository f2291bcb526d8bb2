"""GBCS frames: MAC header, grouping header, payload, signature field, MAC.

Wire layout (GBCS section 4; offsets checked against the reference messages)::

    MAC-wrapped (non-critical commands, responses to them, non-critical alerts,
    and critical commands, which are signed *and* MACed):
      DD 00 00 00 00 00 00 <BER L> 11 00000000 | DF ... payload | sig | MAC(12)
      ^general-ciphering  ^5 empty fields      ^security control + invocation counter
      ^key-info absent                        L = 5 + len(DF..sig) + 12

    Unwrapped (responses to critical commands, critical alerts, CS02a/f signed
    commands, and DUIS pre-commands which have no signature field at all):
      DF ... payload | sig

    Grouping header (general-signing):
      DF 09 <CRA 1> <counter 8> 08 <originator 8> 08 <recipient 8>
         <date-time: 00 | 0C + 12> <BER len> <other-information> <BER len> payload
         <signature field: 00 | 40 + r(32) s(32)>

The decoder keeps the received bytes and the spans that signatures and MACs cover,
so verification always runs over what arrived, never over a re-encoding.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.reader import Reader, ber_length_bytes

GENERAL_CIPHERING = 0xDD
GENERAL_SIGNING = 0xDF
SECURITY_CONTROL_AUTH_ONLY = 0x11
MAC_LENGTH = 12
SIGNATURE_LENGTH = 64

_FIXED = struct.Struct(">BBBQB8sB8s")  # DF 09 CRA counter 08 orig 08 recip
_MAC_PREFIX = b"\xdd\x00\x00\x00\x00\x00\x00"  # tag, 5 empty fields, key-info absent
_EMPTY_CIPHERING_FIELDS = b"\x00\x00\x00\x00\x00"


class Cra(IntEnum):
    """Command / Response / Alert flag: the first byte of the transaction id."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


@dataclass(slots=True)
class OtherInformation:
    """The grouping header's other-information: message code plus optional parts.

    Supplementary remote party fields appear when the ACB originates a command on
    behalf of a party (or a response goes back to the ACB) and name who the
    sensitive data is for; some alerts carry the ID alone. Commands may then carry
    that party's key-agreement certificate; responses may carry a supplementary
    originator counter.
    """

    message_code: int
    supplementary_remote_party_id: Eui64 | None = None
    supplementary_remote_party_counter: int | None = None
    supplementary_originator_counter: int | None = None
    supplementary_ka_certificate: bytes | None = None

    def encode(self) -> bytes:
        if not 0 <= self.message_code <= 0xFFFF:
            raise GbcsEncodeError("message_code", f"out of range: {self.message_code}")
        out = self.message_code.to_bytes(2, "big")
        has_tail = (
            self.supplementary_originator_counter is not None
            or self.supplementary_ka_certificate is not None
        )
        if self.supplementary_remote_party_id is not None:
            out += bytes(Eui64(self.supplementary_remote_party_id))
            if self.supplementary_remote_party_counter is not None:
                out += _u64(
                    self.supplementary_remote_party_counter, "supplementary_remote_party_counter"
                )
            elif has_tail:
                raise GbcsEncodeError(
                    "supplementary_remote_party_counter", "required before supplementary fields"
                )
        elif self.supplementary_remote_party_counter is not None or has_tail:
            raise GbcsEncodeError(
                "supplementary_remote_party_id", "required before supplementary fields"
            )
        if self.supplementary_originator_counter is not None:
            if self.supplementary_ka_certificate is not None:
                raise GbcsEncodeError(
                    "other_information", "carries either an originator counter or a certificate"
                )
            out += _u64(self.supplementary_originator_counter, "supplementary_originator_counter")
        elif self.supplementary_ka_certificate is not None:
            out += self.supplementary_ka_certificate
        return out

    @classmethod
    def read(cls, r: Reader) -> OtherInformation:
        code = r.uint(2, "message_code")
        if r.at_end():
            return cls(code)
        rp_id = Eui64(r.take(8, "supplementary_remote_party_id"))
        if r.at_end():  # ECS200 alerts name the party without a counter
            return cls(code, rp_id)
        rp_counter = r.uint(8, "supplementary_remote_party_counter")
        if r.at_end():
            return cls(code, rp_id, rp_counter)
        if r.remaining == 8:
            return cls(code, rp_id, rp_counter, r.uint(8, "supplementary_originator_counter"))
        start = r.pos
        if r.u8("supplementary_ka_certificate") != 0x30:
            raise r.fail("supplementary_ka_certificate", "expected a DER SEQUENCE (30)", start)
        length, _ = r.ber_length_octets("supplementary_ka_certificate.length")
        if length != r.remaining:
            raise r.fail(
                "supplementary_ka_certificate.length",
                f"certificate says {length} byte(s) but {r.remaining} follow",
                start,
            )
        r.pos = r.end
        return cls(code, rp_id, rp_counter, None, r.data[start : r.end])


@dataclass(slots=True)
class GroupingHeader:
    cra: Cra
    originator_counter: int
    originator: Eui64
    recipient: Eui64
    other: OtherInformation
    date_time: DlmsDateTime | None = None

    @property
    def message_code(self) -> int:
        return self.other.message_code

    @property
    def transaction_id(self) -> bytes:
        """CRA flag and counter: the 9 bytes that identify a request and its response."""
        return bytes((self.cra,)) + self.originator_counter.to_bytes(8, "big")

    def encode(self, content_length: int) -> bytes:
        """Header bytes from DF up to (not including) the payload."""
        try:
            fixed = _FIXED.pack(
                GENERAL_SIGNING,
                9,
                int(self.cra),
                self.originator_counter,
                8,
                bytes(Eui64(self.originator)),
                8,
                bytes(Eui64(self.recipient)),
            )
        except struct.error as exc:
            raise GbcsEncodeError("grouping_header", str(exc)) from exc
        dt = b"\x00" if self.date_time is None else b"\x0c" + self.date_time.encode()
        other = self.other.encode()
        return fixed + dt + ber_length_bytes(len(other)) + other + ber_length_bytes(content_length)


@dataclass(slots=True)
class GbcsMessage:
    """One complete GBCS message (not a GBT segment).

    ``signature`` is None when the signature field is absent (pre-commands), empty
    when the field is the single byte 00, and 64 bytes (r||s) when signed.
    ``mac`` is None when the message is not wrapped in a MAC header.
    """

    header: GroupingHeader
    payload: bytes
    signature: bytes | None = b""
    mac: bytes | None = None
    security_control: int = SECURITY_CONTROL_AUTH_ONLY
    invocation_counter: int = 0
    raw: bytes | None = field(default=None, repr=False, compare=False)
    # offsets into raw: DF, payload start, payload end, end of signature field
    spans: tuple[int, int, int, int] | None = field(default=None, repr=False, compare=False)

    # -- convenient views -----------------------------------------------------------
    @property
    def message_code(self) -> int:
        return self.header.other.message_code

    @property
    def cra(self) -> Cra:
        return self.header.cra

    @property
    def counter(self) -> int:
        return self.header.originator_counter

    @property
    def originator(self) -> Eui64:
        return self.header.originator

    @property
    def recipient(self) -> Eui64:
        return self.header.recipient

    @property
    def is_signed(self) -> bool:
        return bool(self.signature)

    @property
    def is_maced(self) -> bool:
        return self.mac is not None

    @property
    def is_precommand(self) -> bool:
        return self.signature is None and self.mac is None

    # -- encoding -------------------------------------------------------------------
    def _signature_field(self) -> bytes:
        if self.signature is None:
            if self.mac is not None:
                raise GbcsEncodeError("signature", "a MAC-wrapped message needs a signature field")
            return b""
        if len(self.signature) not in (0, SIGNATURE_LENGTH):
            raise GbcsEncodeError("signature", f"must be 0 or 64 bytes, got {len(self.signature)}")
        return bytes((len(self.signature),)) + self.signature

    def grouping_bytes(self) -> bytes:
        """DF ... payload ... signature field: the general-signing APDU."""
        if self.raw is not None and self.spans is not None:
            return self.raw[self.spans[0] : self.spans[3]]
        return self.header.encode(len(self.payload)) + self.payload + self._signature_field()

    def signed_data(self) -> bytes:
        """What the ECDSA signature covers: from after DF to the end of the payload."""
        if self.raw is not None and self.spans is not None:
            return self.raw[self.spans[0] + 1 : self.spans[2]]
        return self.header.encode(len(self.payload))[1:] + self.payload

    def mac_aad(self) -> bytes:
        """Additional authenticated data of the MAC (see `mac_aad`)."""
        return mac_aad(self.security_control, self.grouping_bytes())

    def encode(self) -> bytes:
        inner = self.header.encode(len(self.payload)) + self.payload + self._signature_field()
        if self.mac is None:
            return inner
        if len(self.mac) != MAC_LENGTH:
            raise GbcsEncodeError("mac", f"must be {MAC_LENGTH} bytes, got {len(self.mac)}")
        return wrap_mac_header(self.security_control, self.invocation_counter, inner, self.mac)

    def without_protection(self) -> GbcsMessage:
        """The pre-command form: same header and payload, no signature field, no MAC."""
        return GbcsMessage(self.header, self.payload, None, None)


def mac_aad(security_control: int, grouping: bytes) -> bytes:
    """DLMS general-ciphering AAD: security control, the five header fields as sent
    (transaction id, originator and recipient system titles, date-time and
    other-information, each an empty octet string in a GBCS MAC header), then the
    general-signing APDU up to the MAC. The invocation counter goes into the IV."""
    return bytes((security_control,)) + _EMPTY_CIPHERING_FIELDS + grouping


def wrap_mac_header(
    security_control: int, invocation_counter: int, grouping: bytes, mac: bytes
) -> bytes:
    length = 5 + len(grouping) + len(mac)
    return (
        _MAC_PREFIX
        + ber_length_bytes(length)
        + bytes((security_control,))
        + invocation_counter.to_bytes(4, "big")
        + grouping
        + mac
    )


def _u64(value: int, name: str) -> bytes:
    if not 0 <= value < 1 << 64:
        raise GbcsEncodeError(name, f"out of range: {value}")
    return value.to_bytes(8, "big")


# ---------------------------------------------------------------------------------
# decoding


def decode_message(data: bytes) -> GbcsMessage:
    """Decode a complete GBCS message (MAC-wrapped or not).

    Raises GbcsDecodeError (TruncatedError when bytes are missing) naming the field
    and offset. A GBT routing header is reported as such: reassemble first.
    """
    data = bytes(data)
    if not data:
        raise GbcsDecodeError("message", 0, "empty input")
    first = data[0]
    if first == GENERAL_SIGNING:
        r = Reader(data, path="grouping_header")
        msg = _read_grouping(r, data)
        if r.pos != len(data):
            raise GbcsDecodeError("message", r.pos, f"{len(data) - r.pos} trailing byte(s)")
        if msg.signature is None and msg.cra != Cra.COMMAND:
            raise GbcsDecodeError(
                "grouping_header.signature_length",
                r.pos,
                "missing: only pre-commands omit the signature field",
            )
        return msg
    if first == GENERAL_CIPHERING:
        if len(data) > 1 and data[1] != 0x00:
            raise GbcsDecodeError(
                "mac_header.transaction_id",
                1,
                "non-empty transaction id: a GBT routing header, reassemble the blocks first",
            )
        r = Reader(data, path="mac_header")
        r.expect(_MAC_PREFIX, "fields")
        length = r.ber_length("length")
        if length != r.remaining:
            raise GbcsDecodeError(
                "mac_header.length",
                7,
                f"says {length} byte(s) but {r.remaining} follow",
            )
        if length < 5 + MAC_LENGTH:
            raise GbcsDecodeError("mac_header.length", 7, f"too short for a MAC: {length}")
        security_control = r.u8("security_control")
        invocation_counter = r.uint(4, "invocation_counter")
        inner = Reader(data, r.pos, len(data) - MAC_LENGTH, "grouping_header")
        msg = _read_grouping(inner, data)
        if inner.pos != inner.end:
            raise GbcsDecodeError(
                "grouping_header", inner.pos, f"{inner.end - inner.pos} byte(s) before the MAC"
            )
        if msg.signature is None:
            raise GbcsDecodeError("grouping_header.signature_length", inner.pos, "missing")
        msg.mac = data[-MAC_LENGTH:]
        msg.security_control = security_control
        msg.invocation_counter = invocation_counter
        return msg
    raise GbcsDecodeError("message", 0, f"unknown frame tag 0x{first:02X} (expected DD or DF)")


def _read_grouping(r: Reader, data: bytes) -> GbcsMessage:
    start = r.pos
    head = r.take(_FIXED.size, "fixed_part")
    tag, txlen, cra, counter, olen, orig, rlen, recip = _FIXED.unpack(head)
    if tag != GENERAL_SIGNING:
        raise GbcsDecodeError("grouping_header.tag", start, f"expected DF, got {tag:02X}")
    if txlen != 9:
        raise GbcsDecodeError("grouping_header.transaction_id.length", start + 1, f"{txlen} != 9")
    if cra not in (1, 2, 3):
        raise GbcsDecodeError("grouping_header.cra_flag", start + 2, f"invalid value {cra}")
    if olen != 8:
        raise GbcsDecodeError("grouping_header.originator.length", start + 11, f"{olen} != 8")
    if rlen != 8:
        raise GbcsDecodeError("grouping_header.recipient.length", start + 20, f"{rlen} != 8")
    dt_len = r.u8("date_time.length")
    if dt_len == 0:
        date_time = None
    elif dt_len == 12:
        date_time = DlmsDateTime.read(r, "date_time")
    else:
        raise r.fail("date_time.length", f"must be 0 or 12, got {dt_len}", r.pos - 1)
    other_len = r.ber_length("other_information.length")
    other = OtherInformation.read(r.sub(other_len, "other_information"))
    content_len = r.ber_length("content.length")
    payload_start = r.pos
    payload = r.take(content_len, "content")
    payload_end = r.pos
    if r.at_end():
        signature: bytes | None = None
    else:
        sig_len = r.u8("signature_length")
        if sig_len not in (0, SIGNATURE_LENGTH):
            raise r.fail("signature_length", f"must be 0 or 64, got {sig_len}", r.pos - 1)
        signature = r.take(sig_len, "signature")
    header = GroupingHeader(Cra(cra), counter, Eui64(orig), Eui64(recip), other, date_time)
    return GbcsMessage(
        header,
        payload,
        signature,
        None,
        raw=data,
        spans=(start, payload_start, payload_end, r.pos),
    )
