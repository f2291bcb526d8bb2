"""Reader: bounds, error types, BER lengths, field paths and offsets."""

from __future__ import annotations

import pytest

from emulator.errors import EmulatorError, GbcsDecodeError, GbcsError, TruncatedError
from emulator.gbcs.reader import Reader, ber_length_bytes


def test_primitives_read_big_and_little_endian() -> None:
    r = Reader(bytes.fromhex("01 0203 0405 FFFE FEFF 0A0B0C"))
    assert r.u8("a") == 1
    assert r.uint(2, "b") == 0x0203
    assert r.uint_le(2, "c") == 0x0504
    assert r.sint(2, "d") == -2
    assert r.sint_le(2, "e") == -2
    assert r.peek("f") == 0x0A
    assert r.pos == 9  # peek does not advance
    assert r.remaining == 3
    assert r.rest("g") == b"\x0a\x0b\x0c"
    assert r.at_end()


def test_reading_past_the_end_is_a_truncation_naming_field_and_offset() -> None:
    r = Reader(b"\x01\x02", path="hdr")
    r.u8("first")
    with pytest.raises(TruncatedError) as info:
        r.uint(2, "counter")
    err = info.value
    assert err.field == "hdr.counter"
    assert err.offset == 1
    assert (err.needed, err.available) == (2, 1)
    assert str(err) == "hdr.counter at offset 1: needs 2 byte(s), only 1 left"
    assert r.pos == 1  # a failed read does not move the reader


def test_error_hierarchy() -> None:
    assert issubclass(TruncatedError, GbcsDecodeError)
    assert issubclass(GbcsDecodeError, GbcsError)
    assert issubclass(GbcsDecodeError, ValueError)
    assert issubclass(GbcsError, EmulatorError)


@pytest.mark.parametrize("op", ["u8", "peek"])
def test_single_byte_reads_at_end(op: str) -> None:
    r = Reader(b"")
    with pytest.raises(TruncatedError) as info:
        getattr(r, op)("x")
    assert (info.value.needed, info.value.available) == (1, 0)


def test_end_bound_is_respected_even_if_the_buffer_is_longer() -> None:
    data = bytes(range(10))
    r = Reader(data, pos=2, end=4)
    assert r.take(2, "two") == b"\x02\x03"
    with pytest.raises(TruncatedError) as info:
        r.u8("beyond")
    assert info.value.offset == 4


def test_negative_take_is_rejected() -> None:
    with pytest.raises(TruncatedError):
        Reader(b"abc").take(-1, "x")
    with pytest.raises(TruncatedError):
        Reader(b"abc").sub(-1, "x")


def test_sub_reader_prefixes_path_and_keeps_absolute_offsets() -> None:
    r = Reader(bytes.fromhex("AA 03 010203 BB"), path="msg")
    r.u8("tag")
    n = r.u8("len")
    sub = r.sub(n, "body")
    assert r.pos == 5  # parent skipped the sub-range
    assert sub.path == "msg.body"
    assert sub.take(3, "all") == b"\x01\x02\x03"
    with pytest.raises(TruncatedError) as info:
        sub.u8("more")  # parent still has BB, the sub-reader must not see it
    assert info.value.field == "msg.body.more"
    assert info.value.offset == 5


def test_sub_longer_than_remaining_is_truncation() -> None:
    with pytest.raises(TruncatedError) as info:
        Reader(b"\x00\x01", path="p").sub(3, "s")
    assert info.value.field == "p.s"


def test_name_without_path() -> None:
    r = Reader(b"")
    assert r.name("x") == "x"
    assert Reader(b"", path="p").name("") == "p"


def test_expect_mismatch_is_decode_error_not_truncation() -> None:
    r = Reader(bytes.fromhex("00 DE AD"), path="hdr")
    r.u8("skip")
    with pytest.raises(GbcsDecodeError) as info:
        r.expect(b"\xbe\xef", "magic")
    assert not isinstance(info.value, TruncatedError)
    assert info.value.field == "hdr.magic"
    assert info.value.offset == 1
    assert "expected BEEF, got DEAD" in str(info.value)


def test_expect_short_is_truncation() -> None:
    with pytest.raises(TruncatedError):
        Reader(b"\xbe").expect(b"\xbe\xef", "magic")


def test_done_reports_trailing_bytes() -> None:
    r = Reader(b"\x01\x02\x03", path="x")
    r.u8("a")
    with pytest.raises(GbcsDecodeError) as info:
        r.done()
    assert info.value.field == "x.end"
    assert info.value.offset == 1
    assert "2 unexpected trailing byte(s)" in str(info.value)
    r.take(2, "b")
    r.done()  # no error at the end


def test_fail_uses_given_offset() -> None:
    r = Reader(b"\x00\x00", path="p")
    r.u8("a")
    assert r.fail("f", "bad").offset == 1
    assert r.fail("f", "bad", 0).offset == 0
    assert str(r.fail("f", "bad", 7)) == "p.f at offset 7: bad"


# -- BER lengths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_in", "value", "consumed"),
    [
        ("00", 0, 1),
        ("05", 5, 1),
        ("7F", 127, 1),
        ("8180", 128, 2),
        ("81FF", 255, 2),
        ("820100", 256, 3),
        ("8201A9", 425, 3),
        ("82FFFF", 65535, 3),
        ("83010000", 65536, 4),
    ],
)
def test_ber_length_minimal_forms(hex_in: str, value: int, consumed: int) -> None:
    r = Reader(bytes.fromhex(hex_in + "EE"))
    assert r.ber_length("len") == value
    assert r.pos == consumed
    r2 = Reader(bytes.fromhex(hex_in))
    assert r2.ber_length_octets("len") == (value, consumed)


@pytest.mark.parametrize(
    ("hex_in", "value", "octets"),
    [("8105", 5, 2), ("817F", 127, 2), ("820005", 5, 3), ("8200FF", 255, 3), ("83000100", 256, 4)],
)
def test_non_minimal_long_forms(hex_in: str, value: int, octets: int) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        Reader(bytes.fromhex(hex_in), path="p").ber_length("len")
    assert not isinstance(info.value, TruncatedError)
    assert info.value.field == "p.len"
    assert info.value.offset == 0
    assert "minimal" in str(info.value)
    # the BER reader accepts them and says how many octets were used
    assert Reader(bytes.fromhex(hex_in)).ber_length_octets("len") == (value, octets)


def test_non_minimal_offset_is_the_length_start() -> None:
    r = Reader(bytes.fromhex("AA BB 81 05"), path="p")
    r.take(2, "x")
    with pytest.raises(GbcsDecodeError) as info:
        r.ber_length("len")
    assert info.value.offset == 2


@pytest.mark.parametrize("hex_in", ["80", "85", "FF"])
def test_unsupported_length_forms(hex_in: str) -> None:
    for method in ("ber_length", "ber_length_octets"):
        with pytest.raises(GbcsDecodeError) as info:
            getattr(Reader(bytes.fromhex(hex_in + "0000000000")), method)("len")
        assert not isinstance(info.value, TruncatedError)
        assert f"0x{hex_in}" in str(info.value)


@pytest.mark.parametrize("hex_in", ["", "81", "82", "8201", "83FFFF"])
def test_truncated_lengths(hex_in: str) -> None:
    for method in ("ber_length", "ber_length_octets"):
        with pytest.raises(TruncatedError):
            getattr(Reader(bytes.fromhex(hex_in)), method)("len")


@pytest.mark.parametrize(
    ("value", "hex_out"),
    [
        (0, "00"),
        (127, "7F"),
        (128, "8180"),
        (255, "81FF"),
        (256, "820100"),
        (425, "8201A9"),
        (65535, "82FFFF"),
        (65536, "83010000"),
        (1 << 24, "8401000000"),
    ],
)
def test_ber_length_bytes_minimal(value: int, hex_out: str) -> None:
    assert ber_length_bytes(value) == bytes.fromhex(hex_out)
    assert Reader(bytes.fromhex(hex_out)).ber_length("len") == value


@pytest.mark.parametrize(
    ("value", "octets", "hex_out"),
    [(5, 2, "8105"), (5, 3, "820005"), (3, 2, "8103"), (300, 3, "82012C"), (7, 1, "07")],
)
def test_ber_length_bytes_repeats_a_received_form(value: int, octets: int, hex_out: str) -> None:
    raw = bytes.fromhex(hex_out)
    assert ber_length_bytes(value, octets) == raw
    assert Reader(raw).ber_length_octets("len") == (value, octets)
