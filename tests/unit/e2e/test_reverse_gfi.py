"""Reverse mode: our ESME on someone else's hub that speaks GFI lines over a pty.

The hub here is a script, not our `Hub`: it writes ``GBCS:DATA#0:<len>:<HEX>``
lines on the master side of a pty and reads the meter's lines back, as DCC test
tooling or an open hub emulator would. The meter is `smets-hil device esme
--format gfi` in its own process on the slave side.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from board_support import until_listening
from e2e_support import action_results, check_response, decrypted, supplier_security

from emulator.clock import RealClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.esme import CONTROL_DISCONNECTED
from emulator.gbcs.dlms.apdu import AccessResponse
from emulator.gbcs.dlms.axdr import Enum
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.han.gfi import LineSplitter, encode_line, parse_line
from emulator.han.serial import pty_pair
from emulator.premises import Premises
from hil.dcc.commands import Sender

STARTUP = 20.0
ANSWER = 10.0


class ScriptedHub:
    """Writes GFI lines to the pty master and hands back the lines the meter writes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.splitter = LineSplitter()
        self.lines: asyncio.Queue[bytes] = asyncio.Queue()
        self.raw = bytearray()
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return
        self.raw += data
        for line in self.splitter.feed(data):
            self.lines.put_nowait(line)

    async def ask(self, command: bytes) -> GbcsMessage:
        os.write(self.fd, encode_line(command))
        line = await asyncio.wait_for(self.lines.get(), ANSWER)
        return decode_message(parse_line(line))

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)


async def test_a_scripted_gfi_hub_reads_and_commands_our_esme() -> None:
    premises = Premises.build(devices=((DeviceType.ESME, 0xA0),), clock=RealClock())
    eui = premises.device(DeviceType.ESME).eui
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    with pty_pair() as pty:
        os.set_blocking(pty.master_fd, False)
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "hil.cli", "device", "esme", "--format", "gfi"),
            *("--eui", str(eui), "--link", pty.slave_url),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        hub = ScriptedHub(pty.master_fd)
        try:
            await until_listening(process, [], timeout=STARTUP)

            read = supplier.command("4.1.1", eui)
            response = await hub.ask(read.encode())
            check_response(response, read, supplier.security)
            assert decrypted(response, supplier.security).decrypted_dlms

            disable = supplier.command("7.2", eui)
            response = await hub.ask(disable.encode())
            assert action_results(check_response(response, disable, supplier.security)) == [0]

            status = supplier.command("7.4", eui)
            response = await hub.ask(status.encode())
            tree = check_response(response, status, supplier.security).tree
            assert isinstance(tree, AccessResponse)
            (value,) = tree.data
            assert isinstance(value, Enum) and value.value == CONTROL_DISCONNECTED

            # Every byte the meter wrote was a GFI line: upper-case hex, CR LF.
            text = bytes(hub.raw)
            assert text.endswith(b"\r\n")
            lines = text.split(b"\r\n")[:-1]
            assert len(lines) == 3
            for line in lines:
                assert line.startswith(b"GBCS:DATA#0:")
                digits = line.rsplit(b":", 1)[1]
                assert digits == digits.upper()
        finally:
            hub.close()
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await process.wait()
            assert process.stdout is not None
            await process.stdout.read()


async def test_a_gfi_hub_on_tcp_reads_our_esme_connected_as_client() -> None:
    """The hub emulator listens on TCP; our meter connects with ``socket://`` and answers."""
    premises = Premises.build(devices=((DeviceType.ESME, 0xA0),), clock=RealClock())
    eui = premises.device(DeviceType.ESME).eui
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    connected: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await connected.put((reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "hil.cli", "device", "esme", "--format", "gfi"),
        *("--eui", str(eui), "--link", f"socket://127.0.0.1:{port}"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        reader, writer = await asyncio.wait_for(connected.get(), STARTUP)
        # pyserial empties a socket:// port's input when it opens it: wait for "listening on".
        await until_listening(process, [], timeout=STARTUP)
        read = supplier.command("4.1.1", eui)
        writer.write(encode_line(read.encode()))
        line = await asyncio.wait_for(reader.readline(), ANSWER)
        assert line.startswith(b"GBCS:DATA#0:") and line.endswith(b"\r\n")
        response = decode_message(parse_line(line))
        check_response(response, read, supplier.security)
    finally:
        while not connected.empty():
            connected.get_nowait()[1].close()
        if "writer" in locals():
            writer.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await process.wait()
        assert process.stdout is not None
        await process.stdout.read()
        server.close()
        await server.wait_closed()
