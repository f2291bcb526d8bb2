"""A board on a port for the device-under-test tests: an ESME process on a pty master."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml

from emulator.han.serial import pty_pair
from hil.dcc.lab import DEFAULT_LAB

ESME = "00-DB-12-34-56-78-90-A0"
STARTUP = 20.0


async def until_listening(
    process: asyncio.subprocess.Process,
    said: list[str],
    what: str = "device",
    timeout: float = STARTUP,
) -> None:
    """Collect a device process's output lines in `said` until it says it is listening:
    only then does its port take frames. Its exit first fails the test with what it said."""
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"{what} exited before listening: {''.join(said)}")
            said.append(line)
            if "listening on" in line:
                return


async def until_online(external: Any, timeout: float = 10.0) -> None:
    """Let the lab see its external device come back (the caller asserts it did)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while not external.online:
                await asyncio.sleep(0.05)


def external_lab(
    tmp_path: Path, link: str, top: dict[str, Any] | None = None, **extra: Any
) -> Path:
    """The demo lab with its ESME external on `link` (plus `extra` keys on that entry)."""
    data = yaml.safe_load(DEFAULT_LAB.read_text())
    data.update(top or {})
    for device in data["premises"][0]["devices"]:
        if device["type"] == "ESME":
            device.update(external=True, link=link, **extra)
    path = tmp_path / "external-lab.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Board:
    """`smets-hil device esme --lab LAB` on the master side of a pty: a board on a port."""

    def __init__(self, lab: Path, console: Path | None = None) -> None:
        self.lab = lab
        self.console = console  # its debug console (hil/board_console.py), for bench hooks
        self.pty = pty_pair()
        self.process: asyncio.subprocess.Process | None = None
        self.said: list[str] = []

    @property
    def port(self) -> str:
        return self.pty.slave_url

    async def start(self, link: str | None = None) -> None:
        """On the pty master, or on `link` (an MQTT broker) instead."""
        fd = self.pty.master_fd
        self.process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "hil.cli", "device", "esme", "--lab", str(self.lab)),
            *("--eui", ESME, "--link", link or f"fd://{fd}"),
            *(() if self.console is None else ("--console", str(self.console))),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            pass_fds=(fd,),
        )
        await until_listening(self.process, self.said)

    async def unplug(self) -> None:
        """The board goes away: its process dies and the pty with it."""
        await self.stop()
        self.pty.close()

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        if process.stdout is not None:
            await process.stdout.read()


@contextlib.asynccontextmanager
async def board_rack() -> AsyncIterator[Callable[[Path], Board]]:
    """Makes boards; every one is stopped and its pty closed at the end."""
    made: list[Board] = []

    def make(lab: Path) -> Board:
        board = Board(lab)
        made.append(board)
        return board

    try:
        yield make
    finally:
        for board in made:
            await board.stop()
            board.pty.close()
