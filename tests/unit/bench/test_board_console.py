"""The debug console of an emulated board (hil/board_console.py), in one process: a
lab-built ESME on a virtual clock behind a memory link, driven through the socket."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.devices.runner import DeviceRunner
from emulator.han.link import open_link
from hil.bench import fill
from hil.board_console import BoardConsole, ConsoleError, send_command
from hil.standalone import Service, build_device

ESME = "00-DB-12-34-56-78-90-A0"
HUB = "00-DB-12-34-56-78-90-A2"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[BoardConsole]:
    device, _, _ = build_device("esme", ESME, "smets-hil-lab", None)
    device.clock = VirtualClock(_dt.datetime(2026, 1, 5, 9, tzinfo=_dt.UTC))
    device.han.joined = True
    link = open_link("memory://console-test", local=[device.eui])
    async with link:
        runner = DeviceRunner(device, link, HUB)
        service = Service(runner, link)
        board = BoardConsole(runner, tmp_path / "esme.sock", service)
        await board.start()
        try:
            yield board
        finally:
            await board.stop()
            await service.pause()


async def test_the_clock_moves_forward_and_runs_the_meter(console: BoardConsole) -> None:
    path = console.path
    device = console.runner.device
    assert await send_command(path, "load 2000") == "2000 W"
    before = device.meter.import_wh  # type: ignore[attr-defined]
    said = await send_command(path, "clock 2026-01-05T11:00:00Z")
    assert said == "2026-01-05T11:00:00+00:00"
    assert device.clock.now() == _dt.datetime(2026, 1, 5, 11, tzinfo=_dt.UTC)
    device.catch_up()  # type: ignore[attr-defined]
    assert device.meter.import_wh - before == pytest.approx(4000, rel=0.01)  # type: ignore[attr-defined]
    assert await send_command(path, "now") == "2026-01-05T11:00:00+00:00"


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("clock 2026-01-05T08:00:00Z", "is before"),
        ("clock yesterday", "not an ISO 8601 time"),
        ("clock 2026-01-06T00:00:00", "no time zone"),
        ("load -5", "negative"),
        ("load lots", "not a number"),
        ("reset_han zz", "not a hex install code"),
        ("dance", "unknown command 'dance'"),
    ],
)
async def test_bad_commands_are_refused_with_one_line(
    console: BoardConsole, command: str, why: str
) -> None:
    with pytest.raises(ConsoleError, match=why):
        await send_command(console.path, command)
    assert console.refused == 1 and console.served == 0
    assert await send_command(console.path, "now")  # still serving


async def test_a_console_that_is_not_there_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConsoleError, match=r"nothing\.sock"):
        await send_command(tmp_path / "nothing.sock", "now", timeout=2)


def test_hook_values_are_shell_quoted_and_other_braces_stay() -> None:
    assert fill("set {iso_time} ${HOME} {x}", iso_time="a b") == "set 'a b' ${HOME} {x}"


async def test_a_real_clock_board_says_set_the_host(console: BoardConsole) -> None:
    from emulator.clock import RealClock

    console.runner.device.clock = RealClock()
    with pytest.raises(ConsoleError, match="real time"):
        await send_command(console.path, "clock 2030-01-01T00:00:00Z")
    await asyncio.sleep(0)
