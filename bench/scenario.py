"""Scenario runner speed: steps per second, and its overhead per step over a bare request.

    python bench/scenario.py [--rounds N]

On the demo lab (virtual clock, in-process HAN), three figures:

- `advance_steps_per_s`: `advance: 1m` steps through the runner (virtual time
  moved, the record kept): how fast a scenario gets through simulated time;
- `request_steps_per_s`: `4.1.1` read steps through the runner, each recorded
  with its messages, values, measurement and response time;
- `overhead_ms_per_step`: the runner's request step time less a bare
  `Dcc.request` of the same read on the same kind of lab, per request.

Prints one JSON line. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.scenario.model import parse_scenarios
from hil.scenario.runner import run_scenario


def _scenario(kind: str, rounds: int) -> dict[str, object]:
    if kind == "advance":
        inner: dict[str, object] = {"advance": "1m"}
    else:
        inner = {
            "request": "4.1.1",
            "user": "supplier",
            "target": "ESME",
            "expect": {"values": {"Active import energy": {"min": 0}}},
        }
    return {"name": kind, "steps": [{"repeat": rounds, "steps": [inner]}]}


async def through_runner(kind: str, rounds: int) -> float:
    [scenario] = parse_scenarios(_scenario(kind, rounds), kind)
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        started = time.perf_counter()
        record = await run_scenario(scenario, lab)
        elapsed = time.perf_counter() - started
    assert record.verdict.value == "pass", [s.message for s in record.steps if s.verdict != "pass"]
    assert len(record.steps) == rounds
    return elapsed


async def bare_requests(rounds: int) -> float:
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        assert lab.dcc is not None
        esme = lab.eui("ESME")
        started = time.perf_counter()
        for _ in range(rounds):
            result = await lab.dcc.request("4.1.1", as_user="supplier", target=esme)
            assert result.ok
        return time.perf_counter() - started


async def main(rounds: int) -> dict[str, object]:
    await through_runner("request", 5)  # warm up: imports, key caches
    await bare_requests(5)
    advance = await through_runner("advance", rounds)
    runner = await through_runner("request", rounds)
    bare = await bare_requests(rounds)
    return {
        "rounds": rounds,
        "advance_steps_per_s": round(rounds / advance, 1),
        "request_steps_per_s": round(rounds / runner, 1),
        "bare_requests_per_s": round(rounds / bare, 1),
        "overhead_ms_per_step": round((runner - bare) / rounds * 1000, 3),
        "virtual_s_per_real_s": round(rounds * 60 / advance, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rounds))))
