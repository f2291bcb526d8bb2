"""The serial link over real ptys, pyserial's loop:// and socket://."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from han_support import GAS, HUB, METER, gbcs

from emulator.errors import GbcsDecodeError, LinkClosed, LinkError, LinkTimeout
from emulator.han import Envelope, open_link
from emulator.han.framing import Deframer, encode_frame
from emulator.han.serial import PtyPair, SerialLink, parse_serial_url, pty_pair


@pytest.fixture
def pty() -> Iterator[PtyPair]:
    with pty_pair() as pair:
        os.set_blocking(pair.master_fd, False)
        yield pair


async def read_bodies(fd: int, count: int, timeout: float = 1.0) -> list[bytes]:
    """What the far side of the line received, deframed."""
    deframer = Deframer()
    bodies: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(bodies) < count:
        try:
            bodies += deframer.feed(os.read(fd, 4096))
        except BlockingIOError:
            if loop.time() > deadline:
                raise TimeoutError(f"got {len(bodies)} of {count} frames") from None
            await asyncio.sleep(0.002)
    return bodies


# -- URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target", "settings"),
    [
        ("/dev/ttyUSB0", "/dev/ttyUSB0", {}),
        ("serial:///dev/ttyUSB0", "/dev/ttyUSB0", {}),
        (
            "serial:///dev/ttyS1?baudrate=9600&parity=e&stopbits=2&rtscts=1",
            "/dev/ttyS1",
            {"baudrate": 9600, "parity": "E", "stopbits": 2, "rtscts": True},
        ),
        ("socket://127.0.0.1:4000?logging=debug", "socket://127.0.0.1:4000?logging=debug", {}),
        ("rfc2217://host:2217?baudrate=19200", "rfc2217://host:2217", {"baudrate": 19200}),
        ("loop://?stopbits=1.5", "loop://", {"stopbits": 1.5}),
    ],
)
def test_parse_serial_url(url: str, target: str, settings: dict[str, object]) -> None:
    assert parse_serial_url(url) == (target, settings)


def test_bad_serial_urls() -> None:
    with pytest.raises(LinkError, match="bad baudrate"):
        parse_serial_url("serial:///dev/x?baudrate=fast")
    with pytest.raises(LinkError, match="needs a device path"):
        parse_serial_url("serial://")
    with pytest.raises(LinkError, match="file descriptor number"):
        SerialLink("fd://x")
    with pytest.raises(LinkError, match="reader must be"):
        SerialLink("loop://", reader="poll")  # type: ignore[arg-type]


async def test_line_settings_defaults_url_then_options() -> None:
    link = SerialLink("loop://?baudrate=9600&parity=E", baudrate=57600)
    assert link.line["baudrate"] == 57600
    assert link.line["parity"] == "E"
    assert (link.line["bytesize"], link.line["stopbits"]) == (8, 1)
    await link.close()


async def test_missing_device_is_a_link_error() -> None:
    link = open_link("/dev/does-not-exist-smets", local=[HUB])
    with pytest.raises(LinkError, match="cannot open port"):
        await link.open()
    assert link.closed


# -- a real pty ---------------------------------------------------------------------


async def test_pty_pair_has_a_slave_path(pty: PtyPair) -> None:
    assert pty.slave_path.startswith("/dev/pts/")
    assert pty.slave_url == f"serial://{pty.slave_path}"
    assert pty.master_url == f"fd://{pty.master_fd}"


async def test_send_over_pty_is_framed_on_the_wire(pty: PtyPair) -> None:
    async with open_link(pty.slave_url, local=[HUB]) as hub:
        assert isinstance(hub, SerialLink)
        assert hub.port is not None and hub.port.baudrate == 115200
        env = gbcs(HUB, METER, b"\x7e\x7d")
        await hub.send(env)
        assert await read_bodies(pty.master_fd, 1) == [env.encode()]


async def test_recv_over_pty(pty: PtyPair) -> None:
    async with open_link(pty.slave_url, local=[HUB]) as hub:
        env = gbcs(METER, HUB, b"reading")
        os.write(pty.master_fd, encode_frame(env.encode()))
        assert await hub.recv(timeout=1) == env


async def test_two_links_over_one_pty_both_ways(pty: PtyPair) -> None:
    async with (
        open_link(pty.slave_url, local=[HUB]) as hub,
        open_link(pty.master_url, local=[METER]) as meter,
    ):
        await hub.send(gbcs(HUB, METER, b"command"))
        assert (await meter.recv(timeout=1)).payload == b"command"
        await meter.send(gbcs(METER, HUB, b"response"))
        assert (await hub.recv(timeout=1)).payload == b"response"
        assert hub.counters.sent == meter.counters.sent == 1


async def test_noise_on_the_line_is_skipped_and_counted(pty: PtyPair) -> None:
    errors: list[Exception] = []
    async with open_link(
        pty.slave_url, local=[HUB], on_error=lambda exc, raw: errors.append(exc)
    ) as hub:
        good = gbcs(METER, HUB, b"after the noise")
        bad_crc = bytearray(encode_frame(gbcs(METER, HUB).encode()))
        bad_crc[5] ^= 0xFF
        bad_envelope = encode_frame(b"\x09" + good.encode()[1:])  # good CRC, bad version
        os.write(pty.master_fd, b"\x00\xff\x13" + bytes(bad_crc) + b"line noise")
        os.write(pty.master_fd, bad_envelope + encode_frame(good.encode()))
        assert await hub.recv(timeout=1) == good
        # bad CRC, the noise between two flags, and the undecodable envelope
        assert hub.counters.corrupted == 3
        assert [type(e) for e in errors] == [LinkError, LinkError, GbcsDecodeError]
        assert isinstance(hub, SerialLink)
        assert hub.deframer.crc_errors == 2
        # ...and the link still works both ways.
        await hub.send(gbcs(HUB, METER, b"still here"))
        assert Envelope.decode((await read_bodies(pty.master_fd, 1))[0]).payload == b"still here"
        os.write(pty.master_fd, encode_frame(gbcs(METER, HUB, b"me too").encode()))
        assert (await hub.recv(timeout=1)).payload == b"me too"


async def test_frame_arriving_in_pieces(pty: PtyPair) -> None:
    async with open_link(pty.slave_url, local=[HUB]) as hub:
        frame = encode_frame(gbcs(METER, HUB, bytes(range(40))).encode())
        for start in range(0, len(frame), 7):
            os.write(pty.master_fd, frame[start : start + 7])
            await asyncio.sleep(0.001)
        assert (await hub.recv(timeout=1)).payload == bytes(range(40))


async def test_point_to_point_still_filters_by_destination(pty: PtyPair) -> None:
    async with open_link(pty.slave_url, local=[HUB]) as hub:
        os.write(pty.master_fd, encode_frame(gbcs(METER, GAS).encode()))
        with pytest.raises(LinkTimeout):
            await hub.recv(timeout=0.1)
        assert hub.counters.dropped == 1


async def test_thread_reader_on_a_pty(pty: PtyPair) -> None:
    async with open_link(pty.slave_url, local=[HUB], reader="thread") as hub:
        os.write(pty.master_fd, encode_frame(gbcs(METER, HUB, b"via thread").encode()))
        assert (await hub.recv(timeout=1)).payload == b"via thread"
        await hub.send(gbcs(HUB, METER))
        assert len(await read_bodies(pty.master_fd, 1)) == 1


async def test_lost_port_wakes_the_receiver() -> None:
    pair = pty_pair()
    hub = open_link(pair.slave_url, local=[HUB])
    try:
        await hub.open()
        waiter = asyncio.create_task(hub.recv(timeout=2))
        await asyncio.sleep(0.01)
        pair.close()  # the far end hangs up
        with pytest.raises(LinkClosed, match="port lost"):
            await waiter
        with pytest.raises(LinkClosed):
            await hub.send(gbcs(HUB, METER))
    finally:
        await hub.close()
        pair.close()


# -- pyserial URL handlers -------------------------------------------------------------


async def test_loop_url_uses_a_reader_thread() -> None:
    async with open_link("loop://", local=[METER]) as link:
        assert isinstance(link, SerialLink) and link.port is not None
        await link.send(gbcs(METER, METER, b"echo"))
        assert (await link.recv(timeout=1)).payload == b"echo"


async def test_socket_url() -> None:
    """``socket://`` (ser2net and friends): a TCP server plays the device."""
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deframer = Deframer()
        while data := await reader.read(4096):
            for body in deframer.feed(data):
                await received.put(body)
                reply = gbcs(METER, HUB, b"ack", seq=Envelope.decode(body).sequence)
                writer.write(encode_frame(reply.encode()))
        writer.close()

    server = await asyncio.start_server(device, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with open_link(f"socket://127.0.0.1:{port}", local=[HUB]) as hub:
            await hub.send(gbcs(HUB, METER, seq=42))
            reply = await hub.recv(timeout=1)
            assert (reply.payload, reply.sequence) == (b"ack", 42)
            assert Envelope.decode(await asyncio.wait_for(received.get(), 1)).sequence == 42
    finally:
        server.close()
        await server.wait_closed()
