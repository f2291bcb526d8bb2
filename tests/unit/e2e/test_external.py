"""A device under test: the lab's ESME as its own process, reached on a port.

The lab file marks the ESME ``external: true`` on a link; the meter itself is
`smets-hil device esme --lab LAB` in another process, on the master side of a
pty (what a board on a USB adapter looks like from our side) or behind a
``socket://`` TCP bridge (ser2net). The scenario files run unchanged; steps
that read the inside of the meter are SKIP with the reason in the record.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from board_support import Board, board_rack, external_lab, until_online

from hil.bridge import TcpBridge
from hil.dcc.lab import Lab
from hil.fixtures import FIXTURES
from hil.scenario.model import load_scenarios, parse_scenarios
from hil.scenario.record import ScenarioRecord, Verdict
from hil.scenario.runner import run_scenario, run_scenarios

SCENARIOS = FIXTURES / "scenarios"


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


def skipped(record: ScenarioRecord) -> list[str]:
    return [s.message for s in record.steps if s.verdict == Verdict.SKIP]


def failures(record: ScenarioRecord) -> str:
    return "; ".join(s.message for s in record.steps if s.verdict in (Verdict.FAIL, Verdict.ERROR))


SCENARIO_FILES = ["read-registers.yaml", "top-up.yaml", "disable-enable-supply.yaml"]


@pytest.mark.parametrize("bridge", [False, True], ids=["pty", "socket"])
@pytest.mark.parametrize("name", SCENARIO_FILES)
async def test_scenarios_pass_against_an_external_esme(
    tmp_path: Path, boards: Callable[[Path], Board], name: str, bridge: bool
) -> None:
    for scenario in load_scenarios(SCENARIOS / name):
        # A fresh board per matrix cell: its balance and replay counters start over.
        board = boards(external_lab(tmp_path, "serial:///dev/null"))
        tcp = TcpBridge(board.port) if bridge else None
        url = board.port if tcp is None else f"socket://127.0.0.1:{await tcp.start()}"
        lab = external_lab(tmp_path, url)
        await board.start()
        try:
            run = await run_scenarios([scenario], lab=lab, interactive=False)
        finally:
            if tcp is not None:
                await tcp.stop()
            await board.stop()
        (record,) = run.scenarios
        assert record.verdict == Verdict.PASS, failures(record)
        reasons = skipped(record)
        assert reasons, "state steps on an external meter must be skipped, not run"
        assert all("ESME is external" in r for r in reasons), reasons
        # What the meter answered came over the port: the DCC saw responses.
        assert any(m.kind == "response" for m in record.messages)


async def test_a_lost_port_is_offline_and_the_lab_goes_on_then_resumes(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    # A stable name for the port (udev's /dev/serial/by-id): the board comes back behind it.
    by_id = tmp_path / "ttyESME"
    first = boards(tmp_path / "unused.yaml")
    os.symlink(first.pty.slave_path, by_id)
    lab_path = external_lab(tmp_path, f"serial://{by_id}", {"response_timeout_s": 1})
    first.lab = lab_path
    await first.start()
    lab = Lab.load(lab_path)
    (read,) = load_scenarios(SCENARIOS / "read-registers.yaml")
    await lab.start()
    try:
        external = lab.external("ESME")
        assert external is not None and external.online
        # The pty closes in the middle of a scenario: between its two reads.
        (mid,) = parse_scenarios(
            {
                "name": "unplugged mid-run",
                "steps": [
                    {"name": "before", "request": "4.1.1", "user": "supplier", "target": "ESME"},
                    {"sleep": 1.0},
                    {"name": "after", "request": "4.1.1", "user": "supplier", "target": "ESME"},
                ],
            }
        )

        async def unplug_during_the_sleep() -> None:
            await asyncio.sleep(0.5)
            await first.unplug()

        unplugging = asyncio.create_task(unplug_during_the_sleep())
        gone = await run_scenario(mid, lab, interactive=False)
        await unplugging
        steps = {step.name: step for step in gone.steps}
        assert steps["before"].verdict == Verdict.PASS, steps["before"].message
        assert steps["after"].verdict == Verdict.FAIL
        assert "ESME is offline: end of stream" in steps["after"].message
        assert external.state == "offline"
        offline = [line for line in gone.logs if "ESME (external" in line.text]
        assert offline and offline[0].level == "WARNING" and "offline" in offline[0].text
        assert len(offline[0].text.splitlines()) == 1
        gas = next(
            s
            for s in load_scenarios(SCENARIOS / "read-matrix.yaml")
            if s.parameters == {"user": "supplier", "meter": "GSME"}
        )
        other = await run_scenario(gas, lab, interactive=False)
        assert other.verdict == Verdict.PASS, failures(other)
        from hil.live.monitor import LabMonitor

        rows = {row.kind: row for row in LabMonitor(lab).snapshot().devices}
        assert rows["ESME"].online == "offline"

        second = boards(lab_path)
        os.unlink(by_id)
        os.symlink(second.pty.slave_path, by_id)
        await second.start()
        await until_online(external)
        assert external.online and external.reconnects == 1
        back = await run_scenario(read, lab, interactive=False)
        assert back.verdict == Verdict.PASS, failures(back)
        from hil.live.view import plain_summary

        snapshot = LabMonitor(lab).snapshot()
        esme = next(row for row in snapshot.devices if row.kind == "ESME")
        counters = esme.counters()  # the reopened port's, with the losses (lab status)
        assert counters is not None and (counters["lost"], counters["reopened"]) == (1, 1)
        assert counters["received"] >= 1  # the read after it came back
        line = next(line for line in plain_summary(snapshot) if line.startswith("  device ESME"))
        assert line.endswith(" lost 1 reopened 1"), line
    finally:
        await lab.stop()


IMAGES = Path(__file__).resolve().parents[3] / "firmware_images"


async def test_firmware_update_of_an_external_esme_through_the_hub(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    """11.1 moves the OTA file in serial-sized blocks over the port; 11.3 activates; 11.2 reads."""
    from emulator.gbcs import ota
    from emulator.hub_ota import Outcome

    board = boards(tmp_path / "unused.yaml")
    lab_path = external_lab(tmp_path, board.port)
    board.lab = lab_path
    await board.start()
    data = (IMAGES / "esme.ota").read_bytes()
    async with Lab.load(lab_path) as lab:
        dcc, hub, esme = lab.dcc, lab.premises[0].hub, lab.eui("ESME")
        assert dcc is not None and hub is not None
        sent = await dcc.request(
            "11.1", as_user="supplier", target=esme, params={"image": data.hex()}
        )
        assert sent.ok, sent.detail
        for _ in range(2000):
            done = [o for eui, o in hub.ota.outcomes if eui == bytes(esme)]
            if done:
                break
            await asyncio.sleep(0.01)
        assert done == [Outcome.TRANSFER_SUCCEEDED]
        digest = ota.decode_image(data).manufacturer_image_hash.hex()
        activate = await dcc.request(
            "11.3", as_user="supplier", target=esme, params={"image_hash": digest}
        )
        assert activate.ok, activate.detail
        read = await dcc.request("11.2", as_user="supplier", target=esme)
        assert read.ok
        assert [str(v.value) for v in read.values] == ["01000001"]


async def test_an_external_esme_on_an_mqtt_topic(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    """The board's shim speaks MQTT (section 4 of the wire protocol) on the embedded broker."""
    from emulator.han.broker import EmbeddedBroker

    async with EmbeddedBroker() as broker:
        url = broker.url_for("bench")
        board = boards(tmp_path / "unused.yaml")
        lab_path = external_lab(tmp_path, url)
        board.lab = lab_path
        await board.start(link=url)
        try:
            (read,) = load_scenarios(SCENARIOS / "read-registers.yaml")
            run = await run_scenarios([read], lab=lab_path, interactive=False)
        finally:
            await board.stop()
    (record,) = run.scenarios
    assert record.verdict == Verdict.PASS, failures(record)
    assert skipped(record)
