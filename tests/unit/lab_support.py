"""Helpers of the tests that run a `hil.dcc.lab.Lab` (a module, not a conftest, so test
files in any folder import it by name): the lab's parts, typed, without an Optional."""

from __future__ import annotations

import asyncio
from pathlib import Path

from emulator.devices.esme import Esme
from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab
from hil.dcc.requests import Result
from hil.dcc.service import Dcc
from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import Verdict


def dcc_of(lab: Lab) -> Dcc:
    """The lab's DCC (a started lab has one)."""
    assert lab.dcc is not None
    return lab.dcc


def esme_of(lab: Lab) -> Esme:
    """The lab's emulated ESME."""
    device = lab.device("ESME")
    assert isinstance(device, Esme)
    return device


async def settle(turns: int) -> None:
    """Let what the last step started run `turns` loop turns (alerts reach the DCC)."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def device_log_change(lab: Lab, option: str, device: Eui64) -> Result:
    """8.11 as the energy app: `device` added to or removed from the CHF's Device Log; it
    must succeed."""
    done = await dcc_of(lab).request(
        "8.11",
        as_user="energy-app",
        target=lab.eui("CHF"),
        option=option,
        params={"device": str(device)},
    )
    assert done.ok, done.detail
    return done


async def scenarios_pass(path: Path) -> None:
    """Every scenario of the file at `path` passes (seed 1); a failure names its steps."""
    record = await run_scenarios(load_scenarios(path), seed=1, interactive=False)
    assert record.scenarios
    for s in record.scenarios:
        failed = [step.message for step in s.steps if step.verdict != Verdict.PASS]
        assert s.verdict == Verdict.PASS, (s.name, failed)
