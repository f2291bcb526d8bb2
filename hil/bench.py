"""Devices under test: real (or out-of-process) devices on their own link in a lab.

A lab device marked ``external: true`` is not emulated here: the hub reaches
it through its own point-to-point link (a serial port, a ``socket://`` or
``rfc2217://`` bridge, an MQTT topic, a BLE address) exactly as it reaches a
virtual device, so scenarios run unchanged against it. What the harness cannot
do for a board it asks the bench to do: each device may name shell commands
(``hooks``) for a reset before the lab starts, a power cycle when a scenario
asks for one, and a console reader whose output lines go into the log, and so
into the test record and the report.

A link that goes away under a running lab (a pty closed, a USB adapter
unplugged, a TCP bridge gone) is one WARNING line naming the device, the
device is shown offline, the other devices go on, and the link is reopened
every `RETRY` seconds until the device is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import os
import shlex
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from emulator.errors import EmulatorError, LinkClosed
from emulator.gbcs.eui import Eui64
from emulator.han.link import Link, open_link, scheme_of
from hil.errors import HilError

if TYPE_CHECKING:
    from emulator.hub import Hub

log = logging.getLogger(__name__)

#: Seconds between attempts to reopen the link of a device that went offline.
RETRY: Final = 0.5

#: Seconds a reset or power-cycle command may take before it counts as failed.
HOOK_TIMEOUT: Final = 60.0

#: How often the link of an online device is looked at for a loss (seconds).
WATCH: Final = 0.1


#: Seconds to wait for the retained status of a device under test on MQTT.
STATUS_WAIT: Final = 1.0


def _peer_gone(link: Link, eui: Eui64) -> str | None:
    """Why the broker says the device is gone (its last will), or None."""
    status = getattr(link, "peer_status", {}).get(bytes(eui))
    if status == "offline":
        return "the broker says offline (its last will, or it left)"
    return None


class OfflineLink(Link):
    """Where the hub's route to a device under test points while its port is gone."""

    def __init__(self, url: str, reason: str) -> None:
        self.reason = reason
        super().__init__(url)

    async def _send(self, raw: bytes) -> None:
        raise LinkClosed(self.reason)

    async def _recv(self) -> bytes:
        raise LinkClosed(self.reason)

    def __del__(self) -> None:
        """Nothing to release: it never had a transport."""


class BenchError(HilError):
    """A bench hook that failed or a device under test that cannot be reached."""


@dataclass(frozen=True, slots=True)
class BenchHooks:
    """Shell commands that act on a real device (a USB relay, a PDU, a debug probe).

    Each runs through ``/bin/sh -c`` with ``SMETS_DEVICE`` (its name) and
    ``SMETS_EUI`` in the environment.
    """

    power_cycle: str | None = None  # the `power_cycle` scenario action
    reset: str | None = None  # before the lab connects to the device
    console: str | None = None  # runs for the lab's lifetime; every stdout line is logged
    #: After the lab's clock moved (`advance`, `until`): ``{iso_time}`` is the lab's time.
    set_clock: str | None = None
    #: The `set_load` scenario action: ``{load_w}`` is the load in watts.
    set_load: str | None = None
    #: The `han_join` action (the join button); the hub's Device Log says how it went.
    han_join: str | None = None
    #: The `reset_han` action (a new board): ``{install_code}`` is hex, or empty.
    reset_han: str | None = None


def fill(command: str, **values: str) -> str:
    """``{name}`` in a hook replaced by its value, shell-quoted; other braces left alone."""
    for name, value in values.items():
        command = command.replace("{" + name + "}", shlex.quote(value))
    return command


async def run_hook(
    name: str,
    eui: Eui64,
    what: str,
    command: str,
    timeout: float,
    extra: dict[str, str] | None = None,
) -> str:
    """Run one hook; its output (stdout and stderr) on success, `BenchError` otherwise."""
    env = {**os.environ, "SMETS_DEVICE": name, "SMETS_EUI": str(eui), **(extra or {})}
    try:
        process = await asyncio.create_subprocess_shell(
            command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills its children too
        )
    except OSError as exc:
        raise BenchError(f"{name}: {what} hook {command!r} cannot start: {exc}") from None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        _kill_group(process, signal.SIGKILL)
        await process.communicate()
        raise BenchError(f"{name}: {what} hook {command!r} took over {timeout:g} s") from None
    text = output.decode("utf-8", "replace").strip()
    if process.returncode != 0:
        last = text.splitlines()[-1] if text else "no output"
        raise BenchError(
            f"{name}: {what} hook {command!r} exited with {process.returncode}: {last}"
        )
    log.info("%s: %s hook done%s", name, what, f": {text}" if text else "")
    return text


@dataclass
class ExternalDevice:
    """One device under test: its link to the hub, its hooks, whether it is online.

    ``open`` is the link factory (tests give one that counts or fails); the
    default opens the URL with `open_link`.
    """

    name: str
    eui: Eui64
    url: str
    hooks: BenchHooks = field(default_factory=BenchHooks)
    retry: float = RETRY
    hook_timeout: float = HOOK_TIMEOUT
    #: Its device type (ESME...) and the hardware version the hub checks OTA images against.
    kind: str = ""
    hardware_version: int | None = None
    opener: Callable[[str], Link] | None = None
    link: Link | None = None
    online: bool = False
    #: Why it is offline (the last loss or failed reopen), None while online.
    problem: str | None = None
    #: Times the link was lost and times it came back.
    losses: int = 0
    reconnects: int = 0
    #: Console lines read so far (also logged under ``console.NAME``).
    console_lines: list[str] = field(default_factory=list)
    _hub: Hub | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _console: asyncio.subprocess.Process | None = None

    @property
    def state(self) -> str:
        return "online" if self.online else "offline"

    async def start(self, hub: Hub) -> None:
        """Reset it (hook), start its console reader, connect; raise if the first connect fails."""
        self._hub = hub
        if self.hooks.reset:
            await run_hook(self.name, self.eui, "reset", self.hooks.reset, self.hook_timeout)
        if self.hooks.console:
            await self._start_console(self.hooks.console)
        try:
            await self._connect()
        except (EmulatorError, OSError) as exc:
            await self.stop()
            raise BenchError(f"{self.name} (external) on {self.url}: {exc}") from None
        self._tasks.append(asyncio.create_task(self._watch(), name=f"external[{self.name}]"))

    async def power_cycle(self) -> str:
        """Run the power-cycle hook; the link comes back by itself when the device does."""
        if not self.hooks.power_cycle:
            raise BenchError(f"{self.name} is external and has no power_cycle hook in the lab file")
        return await run_hook(
            self.name, self.eui, "power_cycle", self.hooks.power_cycle, self.hook_timeout
        )

    async def set_clock(self, when: _dt.datetime) -> str:
        """Run the set_clock hook: the device's clock to the lab's `when`."""
        if not self.hooks.set_clock:
            raise BenchError(f"{self.name} is external and has no set_clock hook in the lab file")
        iso = when.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
        command = fill(self.hooks.set_clock, iso_time=iso)
        return await run_hook(
            self.name, self.eui, "set_clock", command, self.hook_timeout, {"SMETS_TIME": iso}
        )

    async def set_load(self, watts: float) -> str:
        """Run the set_load hook: the meter's load from now on."""
        if not self.hooks.set_load:
            raise BenchError(f"{self.name} is external and has no set_load hook in the lab file")
        text = f"{watts:g}"
        command = fill(self.hooks.set_load, load_w=text)
        return await run_hook(
            self.name, self.eui, "set_load", command, self.hook_timeout, {"SMETS_LOAD_W": text}
        )

    async def act(self, what: str, **values: str) -> str:
        """Run the hook named `what` (han_join, reset_han) with its ``{values}`` filled."""
        command = getattr(self.hooks, what)
        if not command:
            raise BenchError(f"{self.name} is external and has no {what} hook in the lab file")
        env = {f"SMETS_{k.upper()}": v for k, v in values.items()}
        return await run_hook(
            self.name, self.eui, what, fill(command, **values), self.hook_timeout, env
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._drop_link()
        console, self._console = self._console, None
        if console is not None:
            _kill_group(console, signal.SIGTERM)  # the reader (picocom...) and its children
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(console.wait(), 2.0)
            _kill_group(console, signal.SIGKILL)
            await console.wait()
        self.online = False

    # -- the link ------------------------------------------------------------------------------

    async def _connect(self) -> None:
        assert self._hub is not None
        if self.opener is not None:
            link = self.opener(self.url)
        elif scheme_of(self.url).startswith("gfi+"):  # GFI lines carry no addresses
            link = open_link(self.url, peer=self.eui)
        else:
            link = open_link(self.url)
        try:
            await link.open()
            await self._peer_alive(link)
        except BaseException:
            await link.close()
            raise
        self.link = link
        await self._hub.add_link(link, [self.eui])
        self.online = True
        self.problem = None

    async def _peer_alive(self, link: Link) -> None:
        """On MQTT the broker is up whether the device is or not: its status says which."""
        watch = getattr(link, "watch_peer", None)
        if watch is None:
            return
        await watch(self.eui)
        for _ in range(int(STATUS_WAIT / 0.02)):  # a retained status comes at once, if any
            if bytes(self.eui) in link.peer_status:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        why = _peer_gone(link, self.eui)
        if why is not None:
            raise LinkClosed(f"{self.url}: {why}")

    async def _drop_link(self) -> None:
        link, self.link = self.link, None
        if link is None:
            return
        if self._hub is not None:
            if link in self._hub.links:
                self._hub.links.remove(link)
            # Commands for it fail at once, saying why, instead of waiting for a timeout.
            offline = OfflineLink(self.url, f"{self.name} is offline: {self.problem or 'stopped'}")
            self._hub.routes[bytes(self.eui)] = offline
        await link.close()

    async def _watch(self) -> None:
        """Notice a lost link, say so once, and reopen it until the device is back."""
        while True:
            link = self.link
            gone = None if link is None else _peer_gone(link, self.eui)
            if link is not None and link.lost is None and not link.closed and gone is None:
                await asyncio.sleep(WATCH)
                continue
            why = (
                gone
                if gone is not None
                else str(link.lost)
                if link is not None and link.lost is not None
                else "link closed"
            )
            self.online = False
            self.losses += 1
            self.problem = why
            log.warning("%s (external, %s) offline: %s", self.name, self.url, why)
            await self._drop_link()
            while True:
                await asyncio.sleep(self.retry)
                try:
                    await self._connect()
                except (EmulatorError, OSError) as exc:
                    self.problem = str(exc)
                    continue
                break
            self.reconnects += 1
            log.warning("%s (external, %s) back online", self.name, self.url)

    # -- the console ---------------------------------------------------------------------------

    async def _start_console(self, command: str) -> None:
        env = {**os.environ, "SMETS_DEVICE": self.name, "SMETS_EUI": str(self.eui)}
        try:
            self._console = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise BenchError(f"{self.name}: console hook {command!r} cannot start: {exc}") from None
        self._tasks.append(asyncio.create_task(self._read_console(), name=f"console[{self.name}]"))

    async def _read_console(self) -> None:
        assert self._console is not None and self._console.stdout is not None
        out = logging.getLogger(f"console.{self.name}")
        stream = self._console.stdout
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            self.console_lines.append(text)
            out.info("%s", text)
        code = await self._console.wait()
        log.warning("%s: console hook ended (exit status %s)", self.name, code)


def _kill_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    """Signal a hook and everything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def describe(hooks: BenchHooks) -> str:
    """The hooks in one line, for logs and the live view."""
    parts = [
        f"{k}={shlex.quote(v)}"
        for k, v in (
            ("power_cycle", hooks.power_cycle),
            ("reset", hooks.reset),
            ("console", hooks.console),
        )
        if v
    ]
    return " ".join(parts) or "no hooks"
