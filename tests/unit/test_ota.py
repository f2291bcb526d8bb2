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
    "4742" + "00" * 30 + "80000000"  # header string "GB" (32 bytes); total image size 128
    "0100"  # minimum hardware version 1
    "0300"  # maximum hardware version 3
)
#: GBCS 11.2.2: manufacturer image, force replace 0, signature length 0x40, signature
GOLDEN_BODY = bytes.fromhex("AABB" + "00" + "40") + SIGNATURE
GOLDEN = GOLDEN_HEADER + GOLDEN_BODY

HEADER = ota.OtaHeader(
    manufacturer_code=0x1234,
    image_type=0x0001,
    file_version=0x01000002,
    total_image_size=128,
    header_string=b"GB",
    hardware_min=1,
    hardware_max=3,
)


def test_golden_encode() -> None:
    assert ota.encode_header(HEADER) == GOLDEN_HEADER
    assert ota.encode_image(HEADER, b"\xaa\xbb", SIGNATURE) == GOLDEN
    assert len(GOLDEN) == 128


def test_golden_decode() -> None:
    image = ota.decode_image(GOLDEN)
    assert image.header == HEADER
    assert image.header.field_control == ota.FIELD_HARDWARE_VERSIONS
    assert image.header.version_hex == "01000002"
    assert image.manufacturer_image == b"\xaa\xbb"
    assert image.manufacturer_image_hash == hashlib.sha256(b"\xaa\xbb").digest()
    assert image.signature == SIGNATURE and image.force_replace == 0
    assert image.signed_bytes == b"\xaa\xbb"


def test_force_replace_round_trips() -> None:
    data = ota.encode_image(HEADER, b"hub image", SIGNATURE, force_replace=1)
    assert data[-66] == 1
    assert ota.decode_image(data).force_replace == 1


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
    data = ota.encode_image(
        ota.OtaHeader(manufacturer_code=1, image_type=2, file_version=3, total_image_size=0),
        b"z",
        SIGNATURE,
    )
    assert struct.unpack_from("<HH", data, 6) == (56, 0)
    image = ota.decode_image(data)
    assert image.header.hardware_min is None and image.header.accepts_hardware(77)
    assert image.manufacturer_image == b"z"


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
        (GOLDEN[:63] + b"\x41" + GOLDEN[64:], GbcsDecodeError, "upgrade_image.signature_length"),
        (
            GOLDEN_HEADER[:52] + struct.pack("<I", 126) + GOLDEN_HEADER[56:] + GOLDEN_BODY[2:],
            TruncatedError,
            "upgrade_image",
        ),
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
        "signature-length",
        "no-manufacturer-image",
    ],
)
def test_bad_input_raises_typed_errors(data: bytes, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as info:
        ota.decode_image(data)
    assert isinstance(info.value, GbcsDecodeError)
    assert info.value.field.startswith(field)


def test_encode_rejects_what_it_cannot_write() -> None:
    with pytest.raises(GbcsEncodeError):
        ota.encode_image(HEADER, b"", SIGNATURE)
    with pytest.raises(GbcsEncodeError):
        ota.encode_header(ota.OtaHeader(1, 2, 3, 0, header_string=b"x" * 33))
    with pytest.raises(GbcsEncodeError):
        ota.encode_header(ota.OtaHeader(0x10000, 2, 3, 0))
    with pytest.raises(GbcsEncodeError):
        ota.encode_header(ota.OtaHeader(1, 2, 3, 0, hardware_min=1))
    with pytest.raises(GbcsEncodeError):
        ota.encode_image(HEADER, b"x", b"short")
    with pytest.raises(GbcsEncodeError):
        ota.encode_image(HEADER, b"x", SIGNATURE, force_replace=256)


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
# zigpy reads the ZigBee OTA header; the GBCS upgrade image that follows is not made
# of ZigBee sub-elements, so zigpy's whole-file parser does not apply to it.


def test_zigpy_parses_our_header() -> None:
    image_mod = pytest.importorskip("zigpy.ota.image")
    key = ec.derive_private_key(12345, ec.SECP256R1())
    data = ota.encode_image(HEADER, b"manufacturer image", sign(key, b"manufacturer image"))
    h, rest = image_mod.OTAImageHeader.deserialize(data)
    assert h.upgrade_file_id == ota.FILE_IDENTIFIER
    assert (h.manufacturer_id, h.image_type, h.file_version) == (0x1234, 1, 0x01000002)
    assert h.header_length == 60 and h.image_size == len(data)
    assert h.hardware_versions_present
    assert rest == b"manufacturer image" + b"\x00\x40" + data[-64:]


def test_header_serialised_by_zigpy_decodes_here() -> None:
    image_mod = pytest.importorskip("zigpy.ota.image")
    payload = b"built by zigpy"
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
        image_size=56 + len(payload) + 66,
    )
    data = header.serialize() + payload + b"\x00\x40" + SIGNATURE
    image = ota.decode_image(data)
    assert image.header.manufacturer_code == 0x4321
    assert image.header.version_hex == "02000000"
    assert image.header.header_string == b"zigpy"
    assert image.manufacturer_image == payload
    assert image.signature == SIGNATURE


def test_an_unsigned_ppmid_image_is_header_and_manufacturer_image() -> None:
    """CS05c: a PPMID image carries no trailer (the DUIS 11.4 template's image)."""
    data = ota.encode_image(HEADER, b"\xaa\xbb", None)
    assert data == GOLDEN_HEADER[:52] + struct.pack("<I", 62) + GOLDEN_HEADER[56:] + b"\xaa\xbb"
    image = ota.decode_image(data, signed=False)
    assert image.manufacturer_image == b"\xaa\xbb" and image.signature is None
    with pytest.raises(TruncatedError):
        ota.decode_image(data)  # read as signed: too short for a trailer
    assert not ota.signed_for("PPMID") and ota.signed_for("ESME") and ota.signed_for("chf")
