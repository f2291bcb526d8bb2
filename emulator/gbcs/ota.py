"""GBCS OTA Upgrade Images: the ZigBee OTA file that carries a manufacturer image.

Pure bytes in, bytes out. Layout (GBCS 11.2.2-11.2.4; integers little-endian, as
in the ZigBee OTA Upgrade cluster's file format)::

    OTA header
      file identifier        u32  0x0BEEF11E
      header version         u16  0x0100
      header length          u16  bytes of the header, optional fields included
      field control          u16  bit 0 security credential version present,
                                  bit 1 upgrade file destination present,
                                  bit 2 minimum/maximum hardware version present
      manufacturer code      u16
      image type             u16
      file version           u32  the firmware version a device reports (11.2)
      ZigBee stack version   u16  0x0002 (ZigBee PRO)
      header string          32 bytes, NUL padded
      total image size       u32  the whole file, header included
      [security credential version u8]
      [upgrade file destination    8 bytes, an EUI-64 as ZigBee sends it: reversed]
      [minimum hardware version    u16, maximum hardware version u16]
    Upgrade Image (no ZigBee sub-element tag or length)
      manufacturer image     every byte up to the last 66
      force replace          u8   used by a communications hub only; 0 otherwise
      signature length       u8   0x40
      supplier signature     64 bytes: ECDSA P-256/SHA-256 r || s by the authorising
                                  remote party (the supplier) over the manufacturer
                                  image alone

An image for a PPMID (CS05c, DUIS 11.4) has no trailer: the PPMID holds no
supplier trust anchor, and the DUIS 11.4 template's image is the header and the
manufacturer image alone. `decode_image(..., signed=False)` reads that form;
`signed_for` says which form a device type takes.

The manufacturer image hash, which 11.1 reports and a CS06 names, is SHA-256
over the manufacturer image alone: a device recomputes it over what it holds
before it activates anything. The file does not name its signer: a device checks
the signature with its supplier's trust anchor.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError

FILE_IDENTIFIER = 0x0BEEF11E
HEADER_VERSION = 0x0100
ZIGBEE_PRO = 0x0002
HEADER_STRING_LENGTH = 32

FIELD_SECURITY_CREDENTIAL = 0x0001
FIELD_DESTINATION = 0x0002
FIELD_HARDWARE_VERSIONS = 0x0004
_KNOWN_FIELDS = FIELD_SECURITY_CREDENTIAL | FIELD_DESTINATION | FIELD_HARDWARE_VERSIONS

SIGNATURE_LENGTH = 64
#: force replace (1), signature length (1), signature (64): what follows the manufacturer image
TRAILER_LENGTH = 2 + SIGNATURE_LENGTH

_FIXED = struct.Struct("<IHHHHHIH32sI")  # the header up to the optional fields
MIN_HEADER_LENGTH = _FIXED.size  # 56


@dataclass(frozen=True, slots=True)
class OtaHeader:
    """The OTA header; `header_length` and field control follow from what is present."""

    manufacturer_code: int
    image_type: int
    file_version: int
    total_image_size: int
    header_string: bytes = b""
    stack_version: int = ZIGBEE_PRO
    header_version: int = HEADER_VERSION
    security_credential_version: int | None = None
    destination: bytes | None = None  # EUI-64 in GBCS (most significant first) order
    hardware_min: int | None = None
    hardware_max: int | None = None

    @property
    def field_control(self) -> int:
        return (
            (FIELD_SECURITY_CREDENTIAL if self.security_credential_version is not None else 0)
            | (FIELD_DESTINATION if self.destination is not None else 0)
            | (FIELD_HARDWARE_VERSIONS if self.hardware_min is not None else 0)
        )

    @property
    def header_length(self) -> int:
        return (
            MIN_HEADER_LENGTH
            + (1 if self.security_credential_version is not None else 0)
            + (8 if self.destination is not None else 0)
            + (4 if self.hardware_min is not None else 0)
        )

    @property
    def version_hex(self) -> str:
        """The file version as the 4-byte firmware version a device reports (8 hex digits)."""
        return f"{self.file_version:08X}"

    def accepts_hardware(self, version: int) -> bool:
        """True when the image is for hardware `version` (no range: any hardware)."""
        if self.hardware_min is None or self.hardware_max is None:
            return True
        return self.hardware_min <= version <= self.hardware_max


@dataclass(frozen=True, slots=True)
class OtaImage:
    """A decoded file; `raw` is kept so the bytes are exactly those received."""

    header: OtaHeader
    manufacturer_image: bytes
    signature: bytes | None  # None: an unsigned (PPMID) image
    raw: bytes
    force_replace: int = 0

    @property
    def manufacturer_image_hash(self) -> bytes:
        return image_hash(self.manufacturer_image)

    @property
    def signed_bytes(self) -> bytes:
        """What the supplier signed: the manufacturer image (GBCS 11.2.2)."""
        return self.manufacturer_image


#: Device types whose images carry no supplier signature (GBCS CS05c).
UNSIGNED_DEVICE_TYPES = frozenset({"PPMID"})


def signed_for(device_type: str) -> bool:
    """Whether an image for `device_type` (ESME, GSME, CHF, PPMID...) is signed."""
    return device_type.upper() not in UNSIGNED_DEVICE_TYPES


def image_hash(manufacturer_image: bytes) -> bytes:
    """The manufacturer image hash (SHA-256 over the manufacturer image)."""
    return hashlib.sha256(manufacturer_image).digest()


# -- encoding -----------------------------------------------------------------------------


def encode_header(header: OtaHeader) -> bytes:
    if len(header.header_string) > HEADER_STRING_LENGTH:
        size = len(header.header_string)
        raise GbcsEncodeError("header_string", f"at most {HEADER_STRING_LENGTH} bytes, got {size}")
    if (header.hardware_min is None) != (header.hardware_max is None):
        raise GbcsEncodeError("hardware_version", "give both the minimum and the maximum or none")
    if header.destination is not None and len(header.destination) != 8:
        raise GbcsEncodeError("destination", "an EUI-64 is 8 bytes")
    try:
        out = _FIXED.pack(
            FILE_IDENTIFIER,
            header.header_version,
            header.header_length,
            header.field_control,
            header.manufacturer_code,
            header.image_type,
            header.file_version,
            header.stack_version,
            header.header_string.ljust(HEADER_STRING_LENGTH, b"\x00"),
            header.total_image_size,
        )
        if header.security_credential_version is not None:
            out += struct.pack("<B", header.security_credential_version)
        if header.destination is not None:
            out += header.destination[::-1]
        if header.hardware_min is not None and header.hardware_max is not None:
            out += struct.pack("<HH", header.hardware_min, header.hardware_max)
    except struct.error as exc:
        raise GbcsEncodeError("ota_header", f"a field is out of range: {exc}") from None
    return out


def encode_image(
    header: OtaHeader,
    manufacturer_image: bytes,
    signature: bytes | None,
    *,
    force_replace: int = 0,
) -> bytes:
    """The whole file: header, manufacturer image, force replace, signature.

    `signature` is the supplier's over `manufacturer_image` (see `signed_bytes`);
    None makes an unsigned (PPMID) image: header and manufacturer image only.
    `header.total_image_size` is ignored and set here.
    """
    if not manufacturer_image:
        raise GbcsEncodeError("manufacturer_image", "is empty")
    if signature is None:
        total = header.header_length + len(manufacturer_image)
        if total > 0xFFFFFFFF:
            raise GbcsEncodeError("manufacturer_image", "too large for an OTA file")
        return encode_header(replace(header, total_image_size=total)) + manufacturer_image
    if len(signature) != SIGNATURE_LENGTH:
        raise GbcsEncodeError("signature", f"r || s is 64 bytes, got {len(signature)}")
    if not 0 <= force_replace <= 0xFF:
        raise GbcsEncodeError("force_replace", f"one byte, got {force_replace}")
    total = header.header_length + len(manufacturer_image) + TRAILER_LENGTH
    if total > 0xFFFFFFFF:
        raise GbcsEncodeError("manufacturer_image", "too large for an OTA file")
    sized = replace(header, total_image_size=total)
    trailer = bytes([force_replace, SIGNATURE_LENGTH]) + signature
    return encode_header(sized) + manufacturer_image + trailer


# -- decoding -----------------------------------------------------------------------------


def decode_header(data: bytes) -> OtaHeader:
    """The header at the start of `data` (which may hold more: the rest of the file)."""
    if len(data) < 4:
        raise TruncatedError("ota_header.file_identifier", 0, 4, len(data))
    (identifier,) = struct.unpack_from("<I", data)
    if identifier != FILE_IDENTIFIER:
        raise GbcsDecodeError(
            "ota_header.file_identifier",
            0,
            f"{identifier:08X}, not 0BEEF11E: not a ZigBee OTA file",
        )
    if len(data) < MIN_HEADER_LENGTH:
        raise TruncatedError("ota_header", 0, MIN_HEADER_LENGTH, len(data))
    (
        _,
        version,
        length,
        control,
        manufacturer,
        image_type,
        file_version,
        stack,
        text,
        total,
    ) = _FIXED.unpack_from(data)
    if control & ~_KNOWN_FIELDS:
        raise GbcsDecodeError("ota_header.field_control", 8, f"unknown bits in {control:04X}")
    expected = (
        MIN_HEADER_LENGTH
        + (1 if control & FIELD_SECURITY_CREDENTIAL else 0)
        + (8 if control & FIELD_DESTINATION else 0)
        + (4 if control & FIELD_HARDWARE_VERSIONS else 0)
    )
    if length != expected:
        raise GbcsDecodeError(
            "ota_header.header_length",
            6,
            f"{length}, but the field control {control:04X} makes it {expected}",
        )
    if len(data) < length:
        raise TruncatedError("ota_header.optional_fields", MIN_HEADER_LENGTH, length, len(data))
    at = MIN_HEADER_LENGTH
    credential = destination = low = high = None
    if control & FIELD_SECURITY_CREDENTIAL:
        credential = data[at]
        at += 1
    if control & FIELD_DESTINATION:
        destination = bytes(data[at : at + 8][::-1])
        at += 8
    if control & FIELD_HARDWARE_VERSIONS:
        low, high = struct.unpack_from("<HH", data, at)
        if low > high:
            raise GbcsDecodeError(
                "ota_header.hardware_version", at, f"minimum {low} above maximum {high}"
            )
    return OtaHeader(
        manufacturer_code=manufacturer,
        image_type=image_type,
        file_version=file_version,
        total_image_size=total,
        header_string=bytes(text).rstrip(b"\x00"),
        stack_version=stack,
        header_version=version,
        security_credential_version=credential,
        destination=destination,
        hardware_min=low,
        hardware_max=high,
    )


def decode_image(data: bytes, *, signed: bool = True) -> OtaImage:
    """A whole OTA Upgrade Image; its sizes must agree with the bytes given.

    Signed: the manufacturer image is what lies between the header and the last
    66 bytes (force replace, signature length 0x40, signature). Unsigned (a PPMID
    image): everything after the header. It must not be empty.
    """
    if not data:
        raise TruncatedError("ota_header.file_identifier", 0, 4, 0)
    header = decode_header(data)
    if header.total_image_size > len(data):
        raise TruncatedError("ota_image", 0, header.total_image_size, len(data))
    if header.total_image_size < len(data):
        raise GbcsDecodeError(
            "ota_header.total_image_size",
            52,
            f"{header.total_image_size}, but {len(data) - header.total_image_size} byte(s) follow",
        )
    start = header.header_length
    if not signed:
        if len(data) <= start:
            raise TruncatedError("upgrade_image", start, 1, 0)
        return OtaImage(header, bytes(data[start:]), None, bytes(data))
    if len(data) - start < TRAILER_LENGTH + 1:
        raise TruncatedError("upgrade_image", start, TRAILER_LENGTH + 1, len(data) - start)
    end = len(data) - TRAILER_LENGTH
    if data[end + 1] != SIGNATURE_LENGTH:
        raise GbcsDecodeError(
            "upgrade_image.signature_length",
            end + 1,
            f"{data[end + 1]:02X}, not 40: no 64-byte supplier signature ends the file",
        )
    return OtaImage(
        header=header,
        manufacturer_image=bytes(data[start:end]),
        signature=bytes(data[end + 2 :]),
        raw=bytes(data),
        force_replace=data[end],
    )


__all__ = [
    "FILE_IDENTIFIER",
    "SIGNATURE_LENGTH",
    "TRAILER_LENGTH",
    "OtaHeader",
    "OtaImage",
    "decode_header",
    "decode_image",
    "encode_header",
    "encode_image",
    "image_hash",
    "signed_for",
]
