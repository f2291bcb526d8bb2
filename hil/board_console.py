"""The debug console of an emulated board: what a bench hook uses to act on it.

A real meter on a bench has a debug UART or a test-mode command set through
which a lab moves its real-time clock and feeds its metrology a load; the
hooks of a device under test (docs/hardware.md) call that. Our emulated
standalone device (`smets-hil device ... --console PATH`) offers the same on a
Unix socket, one text line per command and one line back (``ok ...`` or
``error ...``), so the same lab file drives it and a board alike:

``clock ISO``  move the device's clock to that UTC time (never back); its timers
               due on the way (consumption, credit, alerts) run in order
``load W``     the meter's load from now, in watts
``join``       the join button: one JOIN handshake now (it retries on its own after)
``reset_han [CODE]``  forget its HAN membership (a new board), maybe a new install
               code in hex, and join as after a power-up
``now``        the device's clock

This is no GBCS frame kind: nothing of it goes over the device's HAN link.
`smets-hil board-console PATH COMMAND...` is the client a hook runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hil.errors import HilError

if TYPE_CHECKING:
    from emulator.devices.runner import DeviceRunner
    from hil.standalone import Service

log = logging.getLogger(__name__)

#: Seconds an alert raised by a clock move may take to leave on the link.
FLUSH_S: Final = 5.0
#: Real seconds a JOIN from the console waits for the hub's answer.
JOIN_S: Final = 5.0
#: Seconds the client waits for the board's answer.
CLIENT_TIMEOUT_S: Final = 30.0


class ConsoleError(HilError):
    """A console command the board refused, or a console that cannot be reached."""


class BoardConsole:
    """Serves console commands for one device runner on a Unix socket."""

    def __init__(self, runner: DeviceRunner, path: str | Path, service: Service) -> None:
        self.runner = runner
        self.service = service
        self.path = Path(path)
        self._server: asyncio.AbstractServer | None = None
        #: Commands served and commands refused (each refusal is also logged).
        self.served = 0
        self.refused = 0

    async def start(self) -> None:
        if self.path.exists() and not self.path.is_socket():
            raise ConsoleError(f"--console {self.path}: exists and is not a socket")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        try:
            self._server = await asyncio.start_unix_server(self._client, path=str(self.path))
        except OSError as exc:
            raise ConsoleError(f"--console {self.path}: {exc.strerror or exc}") from None

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = await self.execute(line.decode("utf-8", "replace").strip())
                writer.write(answer.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def execute(self, line: str) -> str:
        """One command line; the answer line (never raises for bad input)."""
        try:
            answer = await self._execute(line)
        except ConsoleError as exc:
            self.refused += 1
            log.warning("%s: console: %r refused: %s", self.runner.device, line, exc)
            return f"error {exc}"
        self.served += 1
        log.info("%s: console: %s -> %s", self.runner.device, line, answer)
        return f"ok {answer}"

    async def _execute(self, line: str) -> str:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "now":
            return self.runner.device.clock.now().isoformat()
        if word == "clock":
            return await self._set_clock(rest)
        if word == "load":
            return self._set_load(rest)
        if word == "join":
            return await self._join()
        if word == "reset_han":
            return await self._reset_han(rest)
        raise ConsoleError(
            f"unknown command {word!r} (clock ISO, load W, join, reset_han [CODE], now)"
        )

    async def _join(self) -> str:
        """The join button: one JOIN now (link key if it has one, else install code)."""
        han = self.runner.device.han
        await self.service.pause()
        try:
            joined = await asyncio.wait_for(self.runner.join_once(), JOIN_S)
        except TimeoutError:
            joined = False
        finally:
            self.service.resume()  # refused: it retries on its own, as after a power-up
        self.runner.save()
        return "joined" if joined else f"refused {han.last_refusal or 'no answer'}"

    async def _reset_han(self, text: str) -> str:
        """A factory reset of its HAN membership, maybe a new install code; then it joins."""
        code: bytes | None = None
        if text:
            try:
                code = bytes.fromhex(text)
            except ValueError:
                raise ConsoleError(f"reset_han: {text!r} is not a hex install code") from None
        han = self.runner.device.han
        refusals = han.refusals
        await self.service.pause()
        han.forget()
        if code is not None:
            han.install_code = code
        self.service.resume()  # its serving joins first
        loop = asyncio.get_running_loop()
        deadline = loop.time() + JOIN_S
        while not han.joined and han.refusals == refusals and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self.runner.save()
        return "joined" if han.joined else f"refused {han.last_refusal or 'no answer'}"

    async def _set_clock(self, text: str) -> str:
        from emulator.clock import VirtualClock

        try:
            when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConsoleError(f"clock: {text!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ConsoleError(f"clock: {text!r} has no time zone (give Z or +00:00)")
        clock = self.runner.device.clock
        if not isinstance(clock, VirtualClock):
            raise ConsoleError("clock: this device runs on real time; set the host's clock")
        if when < clock.now():
            raise ConsoleError(f"clock: {when.isoformat()} is before {clock.now().isoformat()}")
        clock.set(when)
        await self._flush()
        self.runner.save()
        return clock.now().isoformat()

    def _set_load(self, text: str) -> str:
        try:
            watts = float(text)
        except ValueError:
            raise ConsoleError(f"load: {text!r} is not a number of watts") from None
        if watts < 0:
            raise ConsoleError(f"load: {watts:g} W is negative")
        device = self.runner.device
        meter = getattr(device, "meter", None)
        if meter is None:
            raise ConsoleError(f"load: {device} has no meter")
        catch_up = getattr(device, "catch_up", None)
        if catch_up is not None:
            catch_up()  # the old load up to now, then the new one
        meter.load_w = watts
        self.runner.save()
        return f"{watts:g} W"

    async def _flush(self) -> None:
        """The alerts the move raised are on the link before the answer goes back."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLUSH_S
        await asyncio.sleep(0)
        while self.runner._alerts and loop.time() < deadline:
            await asyncio.sleep(0.01)


async def send_command(path: str | Path, command: str, timeout: float = CLIENT_TIMEOUT_S) -> str:
    """Send one command to a board console; its ``ok`` answer, or `ConsoleError`."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(command.strip().encode() + b"\n")
                await writer.drain()
                answer = (await reader.readline()).decode("utf-8", "replace").strip()
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
    except TimeoutError:
        raise ConsoleError(f"{path}: no answer in {timeout:g} s") from None
    except OSError as exc:
        raise ConsoleError(f"{path}: {exc.strerror or exc}") from None
    word, _, rest = answer.partition(" ")
    if word != "ok":
        raise ConsoleError(rest or "the console closed without an answer")
    return rest
