"""A PPMID's request to a gas meter under test over the HAN: refused at once, with one
line, when the board is on a ``gfi+`` link (GFI lines carry GBCS only); and, with the
GSME in its own process on a pty, held by the hub for the board's WAKE and answered."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from board_support import until_listening

from emulator.devices.han_consumer import emergency_credit_request
from emulator.han import open_link
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.serial import pty_pair
from emulator.han.zse import ZseMessage
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.scenario.model import load_scenarios
from hil.scenario.record import ScenarioRecord, Verdict
from hil.scenario.runner import run_scenarios

GSME = "00-DB-12-34-56-78-90-A1"
STEPS = """\
name: a gas top-up from the PPMID to the board
steps:
  - advance: 1m          # off the GSME's wake-up: it sleeps
  - name: gas top-up through the PPMID
    action: utrn
    device: PPMID
    meter: GSME
    amount_pence: 300
    timeout: 240s        # its wake-up is up to 30 virtual minutes off: 20 set_clock hooks
"""


def gsme_lab(tmp_path: Path, link: str, hooks: dict[str, str] | None = None) -> Path:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_LAB.read_text())
    for device in data["premises"][0]["devices"]:
        if device["type"] == "GSME":
            device.update(external=True, link=link, **({"hooks": hooks} if hooks else {}))
    path = tmp_path / "gsme-lab.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def run(tmp_path: Path, lab: Path) -> ScenarioRecord:
    path = tmp_path / "gsme-top-up.yaml"
    path.write_text(STEPS)
    (scenario,) = load_scenarios(path)
    record = await run_scenarios([scenario], lab=lab, interactive=False, seed=1)
    (result,) = record.scenarios
    return result


async def test_a_top_up_for_a_gsme_on_a_gfi_link_is_refused_in_one_line(tmp_path: Path) -> None:
    port = pty_pair()  # nothing behind it: no frame may even be tried
    try:
        record = await run(tmp_path, gsme_lab(tmp_path, f"gfi+{port.slave_url}"))
    finally:
        port.close()
    step = record.steps[-1]
    assert step.verdict == Verdict.ERROR, step.message
    assert step.message.endswith("gfi links carry GBCS only, not ZSE"), step.message
    assert "\n" not in step.message
    assert step.detail["refused"].startswith(GSME)


@contextlib.asynccontextmanager
async def gsme_board(lab: Path, console: Path) -> AsyncIterator[str]:
    """`smets-hil device gsme` on a pty master; yields the port the lab opens."""
    port = pty_pair()
    fd = port.master_fd
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "hil.cli", "device", "gsme", "--lab", str(lab)),
        *("--eui", GSME, "--link", f"fd://{fd}", "--console", str(console)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        pass_fds=(fd,),
    )
    try:
        await until_listening(process, [], "GSME")
        yield port.slave_url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        port.close()


@pytest.mark.slow
async def test_a_top_up_for_a_sleeping_gsme_board_is_answered_after_its_wake(
    tmp_path: Path,
) -> None:
    console = tmp_path / "gsme.sock"
    cli = f"{shlex.quote(sys.executable)} -m hil.cli board-console {shlex.quote(str(console))}"
    hooks = {"set_clock": f"{cli} clock {{iso_time}}"}
    board_lab = gsme_lab(tmp_path, "fd://0")
    async with gsme_board(board_lab, console) as port:
        record = await run(tmp_path, gsme_lab(tmp_path, port, hooks))
    step = record.steps[-1]
    assert step.verdict == Verdict.PASS, step.message
    assert "over the HAN" in step.message
    assert step.detail["held_for_wake"] is True  # asleep when asked: the hub held it
    assert step.detail["pence"] == 300


async def test_a_ppmid_under_test_wakes_a_virtual_gas_meter_with_its_request(
    tmp_path: Path,
) -> None:
    """The other way round: the PPMID is the board, the GSME ours and asleep. The hub
    holds the frame and the virtual-time lab brings the GSME's wake-up forward for it."""
    port = pty_pair()
    data: dict[str, Any] = yaml.safe_load(DEFAULT_LAB.read_text())
    for device in data["premises"][0]["devices"]:
        if device["type"] == "PPMID":
            device.update(external=True, link=port.slave_url)
    path = tmp_path / "ppmid-lab.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lab = Lab.load(path)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(port.close)
        await stack.enter_async_context(lab)
        hub = lab.premises[0].hub
        assert hub is not None
        ppmid, gsme = lab.eui("PPMID"), lab.eui("GSME")
        assert not hub.is_awake(gsme)
        board = open_link(f"fd://{port.master_fd}", local=[ppmid])
        await board.open()
        try:
            frame = emergency_credit_request(0x42, lab.clock.now())
            await board.send(Envelope(ppmid, gsme, EnvelopeKind.ZSE, frame.encode(), 1))
            answer = await board.recv(timeout=5.0)
        finally:
            await board.close()
        assert answer.kind == EnvelopeKind.ZSE and answer.source == gsme
        reply = ZseMessage.decode(answer.payload)
        assert reply.name == "default_response" and reply.frame.sequence == 0x42
        assert hub.counters.zse_held == 1 and hub.counters.relayed == 2
        assert not hub.drops
