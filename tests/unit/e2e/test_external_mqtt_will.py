"""A device under test on MQTT that dies: the broker's last will marks it offline in
the live view and the record, like a closed pty, and a new process brings it back.
A real ESME process on the embedded broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from board_support import Board, board_rack, external_lab, until_online

from emulator.han.broker import EmbeddedBroker
from hil.dcc.lab import Lab
from hil.fixtures import FIXTURES
from hil.live.monitor import LabMonitor
from hil.scenario.model import load_scenarios, parse_scenarios
from hil.scenario.record import Verdict
from hil.scenario.runner import run_scenario

READ = {"request": "4.1.1", "user": "supplier", "target": "ESME"}


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


async def test_an_mqtt_device_that_dies_is_offline_then_back(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    async with EmbeddedBroker() as broker:
        url = broker.url_for("will")
        lab_path = external_lab(tmp_path, url, {"response_timeout_s": 1})
        first = boards(lab_path)
        await first.start(link=url)
        lab = Lab.load(lab_path)
        await lab.start()
        try:
            external = lab.external("ESME")
            assert external is not None and external.online
            (mid,) = parse_scenarios(
                {
                    "name": "dies mid-run",
                    "steps": [
                        {
                            "name": "before",
                            "request": "4.1.1",
                            "user": "supplier",
                            "target": "ESME",
                        },
                        {"sleep": 1.5},
                        {"name": "after", **READ},
                    ],
                }
            )

            async def die_during_the_sleep() -> None:
                await asyncio.sleep(0.5)
                await first.stop()  # SIGKILL: no DISCONNECT, the broker sends the will

            dying = asyncio.create_task(die_during_the_sleep())
            gone = await run_scenario(mid, lab, interactive=False)
            await dying
            steps = {step.name: step for step in gone.steps}
            assert steps["before"].verdict == Verdict.PASS, steps["before"].message
            assert steps["after"].verdict == Verdict.FAIL
            assert "ESME is offline: " in steps["after"].message
            assert "last will" in steps["after"].message
            assert external.state == "offline" and external.losses == 1
            warned = [line for line in gone.logs if "ESME (external" in line.text]
            assert warned and warned[0].level == "WARNING" and "last will" in warned[0].text
            rows = {row.kind: row for row in LabMonitor(lab).snapshot().devices}
            assert rows["ESME"].online == "offline"

            second = boards(lab_path)
            await second.start(link=url)
            await until_online(external)
            assert external.online and external.reconnects == 1
            (read,) = load_scenarios(FIXTURES / "scenarios" / "read-registers.yaml")
            back = await run_scenario(read, lab, interactive=False)
            assert back.verdict == Verdict.PASS
            rows = {row.kind: row for row in LabMonitor(lab).snapshot().devices}
            counters = rows["ESME"].counters()  # what `lab status` shows for its MQTT link
            assert counters is not None
            assert (counters["lost"], counters["reopened"], counters["broker_reconnects"]) == (
                1,
                1,
                0,  # the board died, not the broker
            )
        finally:
            await lab.stop()
