"""GBCS OTA Upgrade Image codec (emulator/gbcs/ota.py) and the deterministic signer.

The golden bytes are written by hand from the ZigBee OTA file layout (little-endian
fields), not produced by the codec; zigpy, an independent OTA parser, checks the
other direction when it is installed.
"""

from __future__ import annotations

import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError
from emulator.gbcs import ota
from emulator.gbcs.crypto import sign, verify

SIGNER = bytes.fromhex("90B3D51F30010000")
SIGNATURE = bytes([0x11]) * 64

GOLDEN_HEADER = bytes.fromhex(
    "1EF1EE0B"  # file identifier 0x0BEEF11E, then
    "0001"  # header version 0x0100
    "3C00"  # header length 60
    "0400"  # field control: hardware versions present
    "3412"  # manufacturer code 0x1234
    "0100"  # image type 0x0001
    "02000001"  # file version 0x01000002
    "0200"  # stack version: ZigBee PRO
    "4742" + "00" * 30 + "92000000"  # header string "GB" (32 bytes); total image size 146
    "0100"  # minimum hardware version 1
    "0300"  # maximum hardware version 3
)
GOLDEN_IMAGE_ELEMENT = bytes.fromhex("000002000000AABB")
GOLDEN_SIGNATURE_ELEMENT = bytes.fromhex("00F048000000") + SIGNER + SIGNATURE
GOLDEN = GOLDEN_HEADER + GOLDEN_IMAGE_ELEMENT + GOLDEN_SIGNATURE_ELEMENT

HEADER = ota.OtaHeader(
    manufacturer_code=0x1234,
    image_type=0x0001,
    file_version=0x01000002,
    total_image_size=146,
    header_string=b"GB",
    hardware_min=1,
    hardware_max=3,
)


def test_golden_encode() -> None:
    assert ota.encode_header(HEADER) == GOLDEN_HEADER
    unsigned = ota.unsigned_image(HEADER, b"\xaa\xbb")
    assert unsigned == GOLDEN_HEADER + GOLDEN_IMAGE_ELEMENT
    assert ota.attach_signature(unsigned, SIGNER, SIGNATURE) == GOLDEN
    assert len(GOLDEN) == 146


def test_golden_decode() -> None:
    image = ota.decode_image(GOLDEN)
    assert image.header == HEADER
    assert image.header.field_control == ota.FIELD_HARDWARE_VERSIONS
    assert image.header.version_hex == "01000002"
    assert image.manufacturer_image == b"\xaa\xbb"
    assert image.manufacturer_image_hash == hashlib.sha256(b"\xaa\xbb").digest()
    assert image.signer == SIGNER and image.signature == SIGNATURE
    assert image.signed_bytes == GOLDEN_HEADER + GOLDEN_IMAGE_ELEMENT


def test_all_optional_fields_round_trip() -> None:
    header = ota.OtaHeader(
        manufacturer_code=0xFFFF,
        image_type=0xFFBF,
        file_version=0xFFFFFFFF,
        total_image_size=0,
        header_string=b"x" * 32,
        security_credential_version=2,
        destination=bytes.fromhex("00DB1234567890A0"),
        hardware_min=0,
        hardware_max=0xFFFF,
    )
    encoded = ota.encode_header(header)
    assert len(encoded) == header.header_length == 56 + 1 + 8 + 4
    assert encoded[8:10] == b"\x07\x00"
    assert encoded[57:65] == bytes.fromhex("A090785634 12DB00".replace(" ", ""))  # reversed
    assert ota.decode_header(encoded) == header


def test_header_without_optional_fields() -> None:
    data = ota.unsigned_image(
        ota.OtaHeader(manufacturer_code=1, image_type=2, file_version=3, total_image_size=0),
        b"z",
    )
    assert struct.unpack_from("<HH", data, 6) == (56, 0)
    image = ota.decode_image(ota.attach_signature(data, SIGNER, SIGNATURE))
    assert image.header.hardware_min is None and image.header.accepts_hardware(77)


@pytest.mark.parametrize(
    ("data", "error", "field"),
    [
        (b"", TruncatedError, "ota_header.file_identifier"),
        (GOLDEN[:3], TruncatedError, "ota_header.file_identifier"),
        (b"\x00" * 200, GbcsDecodeError, "ota_header.file_identifier"),
        (bytes(range(256)), GbcsDecodeError, "ota_header.file_identifier"),
        (GOLDEN[:40], TruncatedError, "ota_header"),
        (GOLDEN[:58], TruncatedError, "ota_header.optional_fields"),
        (GOLDEN[:-1], TruncatedError, "ota_image"),
        (GOLDEN + b"\x00", GbcsDecodeError, "ota_header.total_image_size"),
        (GOLDEN[:6] + b"\x40\x00" + GOLDEN[8:], GbcsDecodeError, "ota_header.header_length"),
        (GOLDEN[:8] + b"\x08\x00" + GOLDEN[10:], GbcsDecodeError, "ota_header.field_control"),
        (GOLDEN[:56] + b"\x04\x00\x03\x00" + GOLDEN[60:], GbcsDecodeError, "ota_header.hardware"),
    ],
    ids=[
        "empty",
        "three-bytes",
        "zeros",
        "garbage",
        "short-header",
        "short-optional",
        "truncated",
        "trailing",
        "header-length",
        "field-control",
        "hardware-range",
    ],
)
def test_bad_input_raises_typed_errors(data: bytes, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as info:
        ota.decode_image(data)
    assert isinstance(info.value, GbcsDecodeError)
    assert info.value.field.startswith(field)


def test_element_running_past_the_end_is_truncated() -> None:
    bad = bytearray(GOLDEN)
    bad[62:66] = struct.pack("<I", 200)  # the upgrade image claims 200 bytes
    with pytest.raises(TruncatedError, match="sub_element"):
        ota.decode_image(bytes(bad))


def test_image_needs_one_upgrade_image_and_a_last_signature() -> None:
    no_image = GOLDEN_HEADER[:52] + struct.pack("<I", 60 + 78) + GOLDEN_HEADER[56:]
    with pytest.raises(GbcsDecodeError, match="exactly one"):
        ota.decode_image(no_image + GOLDEN_SIGNATURE_ELEMENT)
    swapped = GOLDEN_HEADER + GOLDEN_SIGNATURE_ELEMENT + GOLDEN_IMAGE_ELEMENT
    with pytest.raises(GbcsDecodeError, match="last"):
        ota.decode_image(swapped)


def test_encode_rejects_what_it_cannot_write() -> None:
    with pytest.raises(GbcsEncodeError):
        ota.unsigned_image(HEADER, b"")
    with pytest.raises(GbcsEncodeError):
        ota.encode_header(ota.OtaHeader(1, 2, 3, 0, header_string=b"x" * 33))
    with pytest.raises(GbcsEncodeError):
        ota.encode_header(ota.OtaHeader(0x10000, 2, 3, 0))
    with pytest.raises(GbcsEncodeError):
        ota.encode_header(ota.OtaHeader(1, 2, 3, 0, hardware_min=1))
    with pytest.raises(GbcsEncodeError):
        ota.attach_signature(b"", SIGNER, b"short")


# -- RFC 6979 ----------------------------------------------------------------------------------

RFC6979_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            b"sample",
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
            "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
        ),
        (
            b"test",
            "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367"
            "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083",
        ),
    ],
)
def test_deterministic_signature_matches_rfc6979_p256_sha256(message: bytes, expected: str) -> None:
    """RFC 6979 appendix A.2.5, P-256 with SHA-256."""
    key = ec.derive_private_key(RFC6979_KEY, ec.SECP256R1())
    signature = sign(key, message)
    assert signature.hex().upper() == expected
    verify(key.public_key(), message, signature)


# -- an independent parser: zigpy --------------------------------------------------------------


def test_zigpy_parses_our_image() -> None:
    image_mod = pytest.importorskip("zigpy.ota.image")
    key = ec.derive_private_key(12345, ec.SECP256R1())
    unsigned = ota.unsigned_image(HEADER, b"manufacturer image")
    data = ota.attach_signature(unsigned, SIGNER, sign(key, unsigned))
    parsed, rest = image_mod.parse_ota_image(data)
    assert rest == b""
    h = parsed.header
    assert h.upgrade_file_id == ota.FILE_IDENTIFIER
    assert (h.manufacturer_id, h.image_type, h.file_version) == (0x1234, 1, 0x01000002)
    assert h.header_length == 60 and h.image_size == len(data)
    assert h.hardware_versions_present
    assert [int(e.tag_id) for e in parsed.subelements] == [0x0000, 0xF000]
    assert bytes(parsed.subelements[0].data) == b"manufacturer image"
    assert parsed.serialize() == data


def test_image_serialised_by_zigpy_decodes_here() -> None:
    image_mod = pytest.importorskip("zigpy.ota.image")
    t = pytest.importorskip("zigpy.types")
    payload = b"built by zigpy"
    elements = [
        image_mod.SubElement(tag_id=image_mod.ElementTagId.UPGRADE_IMAGE, data=payload),
        image_mod.SubElement(tag_id=0xF000, data=SIGNER + SIGNATURE),
    ]
    header = image_mod.OTAImageHeader(
        upgrade_file_id=ota.FILE_IDENTIFIER,
        header_version=0x0100,
        header_length=56,
        field_control=image_mod.FieldControl(0),
        manufacturer_id=0x4321,
        image_type=0x0002,
        file_version=0x02000000,
        stack_version=2,
        header_string="zigpy",
        image_size=56 + sum(len(e.serialize()) for e in elements),
    )
    data = image_mod.OTAImage(header=header, subelements=elements).serialize()
    assert t is not None
    image = ota.decode_image(data)
    assert image.header.manufacturer_code == 0x4321
    assert image.header.version_hex == "02000000"
    assert image.header.header_string == b"zigpy"
    assert image.manufacturer_image == payload
    assert image.signer == SIGNER
