"""The join scenarios (hil/fixtures/scenarios/join/) over every link type: the
memory medium, a pty pair per device (the serial framing), and MQTT through the
embedded broker and through mosquitto (marked: CI runs `pytest -m mosquitto`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from broker_support import mosquitto_or_skip

from emulator.han.broker import EmbeddedBroker
from emulator.han.serial import pty_pair
from emulator.premises import Premises
from hil.fixtures import FIXTURES
from hil.report.console import summary_text
from hil.scenario import Scenario, load_scenarios, run_scenarios

JOIN = FIXTURES / "scenarios" / "join"
#: The scenarios this branch wrote; every one must be in the folder.
OURS = {
    "install-premises.yaml",
    "rejoin-ppmid-historic-key.yaml",
    "replace-hub.yaml",
    "full-log.yaml",
    "other-user-cad.yaml",
}


def _scenarios() -> list[Scenario]:
    files = sorted(JOIN.glob("*.yaml"))
    assert {f.name for f in files} >= OURS
    return [s for f in files for s in load_scenarios(f)]


async def _run_all(link: str | None = None) -> None:
    record = await run_scenarios(_scenarios(), link=link)
    assert record.passed, summary_text(record, width=200)
    assert len(record.scenarios) >= len(OURS)


@contextlib.contextmanager
def _pty_per_device(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every emulated device of every lab reaches its hub over its own pty pair."""
    original = Premises.connect
    opened: list[str] = []
    with contextlib.ExitStack() as stack:

        async def connect(self: Premises, hub_url: str, *args: Any, **kwargs: Any) -> Any:
            urls = {}
            for eui in self.devices:
                pty = stack.enter_context(pty_pair())
                urls[eui] = f"{pty.master_url} {pty.slave_url}"
                opened.append(pty.slave_url)
            kwargs["per_device_urls"] = urls
            return await original(self, hub_url, *args, **kwargs)

        monkeypatch.setattr(Premises, "connect", connect)
        yield opened


async def test_join_scenarios_over_memory() -> None:
    await _run_all()


async def test_join_scenarios_over_a_pty_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    with _pty_per_device(monkeypatch) as opened:
        await _run_all()
    assert len(opened) >= 3 * len(OURS)  # ESME, GSME and PPMID of every lab


async def test_join_scenarios_over_mqtt_embedded() -> None:
    async with EmbeddedBroker() as broker:
        await _run_all(broker.url_for("join-scenarios"))


@pytest.mark.mosquitto
async def test_join_scenarios_over_mosquitto(request: pytest.FixtureRequest) -> None:
    async with mosquitto_or_skip(request.config) as broker:
        await _run_all(broker.url_for("join-scenarios"))
