"""The join-on-the-link scenarios (hil/fixtures/scenarios/join/) pass on the demo lab
with its HAN in memory, over MQTT through amqtt and through mosquitto, and the
`reset_han` action is checked when the file is read."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from emulator.han.broker import MosquittoBroker, find_mosquitto
from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.model import ActionStep
from hil.scenario.record import Verdict

JOIN = Path(__file__).resolve().parents[3] / "hil" / "fixtures" / "scenarios" / "join"
OURS = ["wrong-install-code.yaml", "window-expires.yaml"]


@contextlib.asynccontextmanager
async def _han(kind: str) -> AsyncIterator[str | None]:
    if kind == "memory":
        yield None
    elif kind == "mqtt-amqtt":
        yield "mqtt-embedded"
    else:
        if find_mosquitto() is None:
            pytest.skip("mosquitto not installed")
        async with MosquittoBroker() as broker:
            yield broker.url_for("joinscenario")


@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize(
    "kind", ["memory", "mqtt-amqtt", pytest.param("mqtt-mosquitto", marks=pytest.mark.mosquitto)]
)
async def test_join_scenario_passes(name: str, kind: str) -> None:
    async with _han(kind) as link:
        record = await run_scenarios(
            load_scenarios(JOIN / name), seed=1, interactive=False, link=link
        )
    [scenario] = record.scenarios
    failed = [step.message for step in scenario.steps if step.verdict != Verdict.PASS]
    assert scenario.verdict == Verdict.PASS, failed
    asserted = [step.message for step in scenario.steps if step.name.startswith("assert")]
    assert any("joined = True" in m for m in asserted)
    assert any("joined = False" in m for m in asserted)


def test_reset_han_install_code_must_be_hex() -> None:
    with pytest.raises(ValueError, match="install_code: not hex"):
        ActionStep(action="reset_han", device="ESME", install_code="zz")
    assert ActionStep(action="reset_han", device="ESME").install_code is None
