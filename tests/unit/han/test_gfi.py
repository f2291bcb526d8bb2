"""GFI lines (emulator/han/gfi.py): the format, bad lines, and a GFI link on a pty."""

from __future__ import annotations

import asyncio
import os

import pytest

from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.gfi import MAX_MESSAGE, GfiError, GfiLink, LineSplitter, encode_line, parse_line
from emulator.han.link import open_link
from emulator.han.serial import pty_pair

HUB = Eui64("00-DB-12-34-56-78-90-A2")
METER = Eui64("00-DB-12-34-56-78-90-A0")

#: The example line of the public GFI converter (gfi.h), a 72-byte GBT block.
EXAMPLE = (
    b"GBCS:DATA#0:72:DD000000000000401100000000DF090200000000000003EB0800DB1234567890A008"
    b"90B3D51F30010000000200210CDA200003EB0000010001020000F4E3A029790221B3B6549478\r\n"
)


def test_the_published_example_line_parses() -> None:
    message = parse_line(EXAMPLE)
    assert len(message) == 72 and message[0] == 0xDD
    assert encode_line(message) == EXAMPLE


def test_lines_round_trip_and_accept_lower_case_and_bare_lf() -> None:
    assert encode_line(b"\x01\xab") == b"GBCS:DATA#0:2:01AB\r\n"
    assert parse_line(b"GBCS:DATA#3:2:01ab\n") == b"\x01\xab"
    assert parse_line(b"GBCS:DATA#0:0:") == b""


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"GBCS:DATA#0:3:01AB", "length says 3 bytes, 2 follow"),
        (b"GBCS:DATA#0:1:0", "length says 1 bytes, 0.5 follow"),
        (b"GBCS:DATA#0:2:01XY", "not GBCS:DATA"),
        (b"HELLO", "not GBCS:DATA"),
    ],
)
def test_bad_lines_are_refused_by_name(line: bytes, says: str) -> None:
    with pytest.raises(GfiError, match=says):
        parse_line(line)


def test_a_message_too_long_for_gfi_is_refused() -> None:
    with pytest.raises(GfiError, match="at most 1200"):
        encode_line(bytes(MAX_MESSAGE + 1))


def test_line_splitter_joins_chunks_and_drops_an_oversize_line() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r\nde\n") == [b"abc", b"de"]
    assert splitter.feed(b"x" * 11) == []
    assert splitter.feed(b"yy\nok\n") == [b"ok"]
    assert splitter.oversize == 1


async def test_gfi_link_turns_lines_into_envelopes_and_back() -> None:
    with pty_pair() as pty:
        os.set_blocking(pty.master_fd, False)
        link = GfiLink(pty.slave_url, local=[METER], peer=HUB)
        async with link:
            os.write(pty.master_fd, b"noise\r\n" + encode_line(b"\x01\x02\x03"))
            env = await link.recv(timeout=2)
            assert (env.source, env.destination, env.kind) == (HUB, METER, EnvelopeKind.GBCS)
            assert env.payload == b"\x01\x02\x03"
            assert link.counters.corrupted == 1  # the noise line, counted

            await link.send(Envelope(METER, HUB, EnvelopeKind.GBCS, b"\xff"))
            await link.send(Envelope(METER, HUB, EnvelopeKind.WAKE))  # no GFI form
            await asyncio.sleep(0.05)
            assert os.read(pty.master_fd, 100) == b"GBCS:DATA#0:1:FF\r\n"
            assert link.counters.dropped == 1


async def test_gfi_url_schemes_open_a_gfi_link_and_need_a_peer() -> None:
    link = open_link("gfi+socket://127.0.0.1:1", peer=HUB)
    assert isinstance(link, GfiLink) and link.url == "gfi+socket://127.0.0.1:1"
    await link.close()
    with pytest.raises(Exception, match="needs the EUI-64 of its peer"):
        open_link("gfi+serial:///dev/null")
