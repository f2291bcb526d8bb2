"""GBCS OTA Upgrade Images: the ZigBee OTA file that carries a manufacturer image.

Pure bytes in, bytes out. Layout (all integers little-endian, as in the ZigBee
OTA Upgrade cluster's file format)::

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
    sub-elements, each: tag u16, length u32, data
      0x0000  upgrade image: the manufacturer image
      0xF000  supplier signature: signer EUI-64 (8 bytes, GBCS order) then the
              ECDSA P-256/SHA-256 signature r || s (64 bytes) over every byte of
              the file before this sub-element

The manufacturer image hash, which 11.1 reports and a CS06 names, is SHA-256
over the manufacturer image alone: a device recomputes it over what it holds
before it activates anything. The tag of the signature sub-element is ours
(ZigBee leaves 0xF000-0xFFFF to manufacturers); docs/firmware.md says why.
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

TAG_UPGRADE_IMAGE = 0x0000
TAG_SUPPLIER_SIGNATURE = 0xF000
SIGNER_LENGTH = 8
SIGNATURE_LENGTH = 64
SIGNATURE_ELEMENT_LENGTH = 6 + SIGNER_LENGTH + SIGNATURE_LENGTH

_FIXED = struct.Struct("<IHHHHHIH32sI")  # the header up to the optional fields
MIN_HEADER_LENGTH = _FIXED.size  # 56
_ELEMENT = struct.Struct("<HI")


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
class SubElement:
    tag: int
    data: bytes
    offset: int = 0  # where its tag starts in the file (0 for one not yet placed)


@dataclass(frozen=True, slots=True)
class OtaImage:
    """A decoded file; `raw` is kept so the signed bytes are exactly those received."""

    header: OtaHeader
    elements: tuple[SubElement, ...]
    raw: bytes

    @property
    def manufacturer_image(self) -> bytes:
        return _only(self.elements, TAG_UPGRADE_IMAGE).data

    @property
    def manufacturer_image_hash(self) -> bytes:
        return image_hash(self.manufacturer_image)

    @property
    def signature_element(self) -> SubElement | None:
        found = [e for e in self.elements if e.tag == TAG_SUPPLIER_SIGNATURE]
        return found[0] if found else None

    @property
    def signer(self) -> bytes | None:
        element = self.signature_element
        return None if element is None else element.data[:SIGNER_LENGTH]

    @property
    def signature(self) -> bytes | None:
        element = self.signature_element
        return None if element is None else element.data[SIGNER_LENGTH:]

    @property
    def signed_bytes(self) -> bytes:
        """What the supplier signed: the file up to the signature sub-element."""
        element = self.signature_element
        return self.raw if element is None else self.raw[: element.offset]


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


def encode_element(tag: int, data: bytes) -> bytes:
    return _ELEMENT.pack(tag, len(data)) + data


def unsigned_image(header: OtaHeader, manufacturer_image: bytes) -> bytes:
    """Header and upgrade image, sized for the signature sub-element that will follow.

    The returned bytes are what the supplier signs; `attach_signature` completes the file.
    `header.total_image_size` is ignored and set here.
    """
    if not manufacturer_image:
        raise GbcsEncodeError("manufacturer_image", "is empty")
    total = header.header_length + 6 + len(manufacturer_image) + SIGNATURE_ELEMENT_LENGTH
    if total > 0xFFFFFFFF:
        raise GbcsEncodeError("manufacturer_image", "too large for an OTA file")
    sized = replace(header, total_image_size=total)
    return encode_header(sized) + encode_element(TAG_UPGRADE_IMAGE, manufacturer_image)


def attach_signature(unsigned: bytes, signer: bytes, signature: bytes) -> bytes:
    if len(signer) != SIGNER_LENGTH:
        raise GbcsEncodeError("signer", f"an EUI-64 is 8 bytes, got {len(signer)}")
    if len(signature) != SIGNATURE_LENGTH:
        raise GbcsEncodeError("signature", f"r || s is 64 bytes, got {len(signature)}")
    return unsigned + encode_element(TAG_SUPPLIER_SIGNATURE, signer + signature)


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


def decode_image(data: bytes) -> OtaImage:
    """A whole OTA Upgrade Image; its sizes must agree with the bytes given.

    Exactly one upgrade image sub-element; at most one signature, which must be
    the last sub-element (it signs everything before it).
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
    elements: list[SubElement] = []
    at = header.header_length
    while at < len(data):
        if len(data) - at < _ELEMENT.size:
            raise TruncatedError(f"sub_element[{len(elements)}]", at, _ELEMENT.size, len(data) - at)
        tag, size = _ELEMENT.unpack_from(data, at)
        start = at + _ELEMENT.size
        if size > len(data) - start:
            left = len(data) - start
            raise TruncatedError(f"sub_element[{len(elements)}].data", start, size, left)
        elements.append(SubElement(tag, bytes(data[start : start + size]), at))
        at = start + size
    image = OtaImage(header, tuple(elements), bytes(data))
    _only(image.elements, TAG_UPGRADE_IMAGE)
    signatures = [i for i, e in enumerate(elements) if e.tag == TAG_SUPPLIER_SIGNATURE]
    if signatures:
        index = signatures[0]
        element = elements[index]
        if len(signatures) > 1 or index != len(elements) - 1:
            raise GbcsDecodeError(
                "supplier_signature", element.offset, "must be the one and last sub-element"
            )
        if len(element.data) != SIGNER_LENGTH + SIGNATURE_LENGTH:
            raise GbcsDecodeError(
                "supplier_signature.length",
                element.offset + 2,
                f"{len(element.data)}, not {SIGNER_LENGTH + SIGNATURE_LENGTH}",
            )
    return image


def _only(elements: tuple[SubElement, ...], tag: int) -> SubElement:
    found = [e for e in elements if e.tag == tag]
    if len(found) != 1:
        raise GbcsDecodeError(
            f"sub_element[tag={tag:04X}]", 0, f"expected exactly one, found {len(found)}"
        )
    return found[0]


__all__ = [
    "FILE_IDENTIFIER",
    "TAG_SUPPLIER_SIGNATURE",
    "TAG_UPGRADE_IMAGE",
    "OtaHeader",
    "OtaImage",
    "SubElement",
    "attach_signature",
    "decode_header",
    "decode_image",
    "encode_header",
    "image_hash",
    "unsigned_image",
]
