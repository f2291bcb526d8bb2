"""The runner: verdicts, the record, determinism, timeouts, faults, prompts, the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hil.cli import main
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.scenario import load_scenarios, run_scenario, run_scenarios
from hil.scenario.cli import select
from hil.scenario.model import parse_scenarios
from hil.scenario.record import FaultRecord, RunRecord, Stamp, Verdict


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"lab: {DEFAULT_LAB}\n" + text)
    return path


PASSING = """name: passing
steps:
  - name: read
    request: "4.18"
    user: supplier
    target: ESME
    expect:
      values:
        Meter balance: {equals: 10.0, unit: GBP}
  - advance: 30m
  - assert: ESME.meter.balance
    in_range: [0, 2000]
"""

FAILING = """name: failing
steps:
  - name: read
    request: "4.18"
    user: supplier
    target: ESME
    expect:
      values:
        Meter balance: {equals: 99.0}
  - advance: 1h
teardown:
  - assert: ESME.meter.supply_enabled
    equals: true
"""


async def test_a_passing_scenario_records_steps_messages_measurements(tmp_path: Path) -> None:
    record = await run_scenarios(load_scenarios(write(tmp_path, PASSING)), seed=1)
    [s] = record.scenarios
    assert s.verdict == Verdict.PASS and record.passed
    assert [step.verdict for step in s.steps] == [Verdict.PASS] * 3
    assert [step.line for step in s.steps] == [4, 11, 12]
    kinds = [m.kind for m in s.messages]
    assert kinds == ["service_request", "command", "response", "service_response"]
    assert s.messages[1].source == "Hub" and s.messages[1].target == "ESME"
    assert [(m.name, m.value, m.unit, m.verdict) for m in s.measurements] == [
        ("Meter balance", 10.0, "GBP", Verdict.PASS),
        ("ESME.meter.balance", 1000.0, None, Verdict.PASS),
    ]
    assert s.steps[1].ended.virtual == "2026-01-05T09:30:00+00:00"
    assert [r.variant for r in s.response_times] == ["4.18"]
    assert s.series["Meter balance"] == [("2026-01-05T09:00:00+00:00", 10.0)]


async def test_a_failed_expectation_fails_names_the_place_and_still_tears_down(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, FAILING)
    [s] = (await run_scenarios(load_scenarios(path))).scenarios
    assert s.verdict == Verdict.FAIL
    first, teardown = s.steps  # the advance after the failure did not run
    assert first.verdict == Verdict.FAIL
    assert first.message.startswith(
        f"{path}:4: step 'read': Meter balance: expected 99.0, got 10.0"
    )
    assert teardown.name == "assert ESME.meter.supply_enabled"
    assert teardown.verdict == Verdict.PASS
    assert s.measurements[0].verdict == Verdict.FAIL


def _scrub(data: Any) -> Any:
    """The record without real-time fields (seconds since start, response times).

    Messages stay whole: signatures are deterministic (RFC 6979), so a seeded
    run emits the same bytes.
    """
    if isinstance(data, dict):
        return {
            k: _scrub(v)
            for k, v in data.items()
            if k not in ("real", "measured_s", "ok", "started_at", "response_time_s")
        }
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


async def test_the_same_seed_gives_the_same_record(tmp_path: Path) -> None:
    scenarios = [
        *load_scenarios(write(tmp_path, PASSING)),
        *load_scenarios(Path("hil/fixtures/scenarios/disable-enable-supply.yaml")),
    ]
    one = (await run_scenarios(scenarios, seed=7)).to_json()
    two = (await run_scenarios(scenarios, seed=7)).to_json()
    assert _scrub(one) == _scrub(two)
    assert one["scenarios"][0]["seed"] == 7
    assert RunRecord.from_json(json.loads(json.dumps(one, default=str))).passed


async def test_a_step_that_overruns_its_timeout_is_an_error(tmp_path: Path) -> None:
    text = "name: slow\nsteps:\n  - sleep: 5s\n    timeout: 0.05\n  - advance: 1m\n"
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert s.verdict == Verdict.ERROR
    assert len(s.steps) == 1
    assert s.steps[0].message == f"{tmp_path / 's.yaml'}:4: step 'sleep 5s': timed out after 0.05 s"


async def test_expectations_wait_in_virtual_time_and_fail_at_within(tmp_path: Path) -> None:
    text = "name: quiet\nsteps:\n  - expect_alert: 0x8F1C\n    device: ESME\n    within: 10m\n"
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert s.verdict == Verdict.FAIL
    assert "no alert 0x8F1C from ESME within 600 s" in s.steps[0].message
    assert s.steps[0].ended.virtual == "2026-01-05T09:10:00+00:00"


async def test_a_response_awaited_later(tmp_path: Path) -> None:
    text = """name: later
steps:
  - name: held read
    request: "7.4"
    user: supplier
    target: ESME
    execute_at: +10m
  - expect_response: held read
    within: 15m
    values:
      "Supply (disconnect control): control_state": {equals: connected}
"""
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert s.verdict == Verdict.PASS, s.steps[-1].message
    assert s.steps[1].ended.virtual == "2026-01-05T09:10:00+00:00"


async def test_prompts_are_skipped_without_a_terminal(tmp_path: Path) -> None:
    text = "name: bench\nsteps:\n  - prompt: Press the button on the meter\n  - advance: 1m\n"
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)), interactive=False)).scenarios
    assert [step.verdict for step in s.steps] == [Verdict.SKIP, Verdict.PASS]
    assert "operator prompt skipped" in s.steps[0].message
    assert s.verdict == Verdict.PASS and s.passed


class FakeInjector:
    def __init__(self, lab: Lab, seed: int, on_record: Callable[[FaultRecord], None]) -> None:
        self.seed = seed
        self.injected: list[tuple[Any, str | None]] = []
        self.cleared: list[Any] = []
        self.closed = False
        self._records: list[FaultRecord] = []

    def inject(self, spec: Any, *, name: str | None = None) -> str:
        self.injected.append((spec, name))
        self._records.append(FaultRecord(name or "fault", "ESME", Stamp("t", 0.0)))
        return f"handle {len(self.injected)}"

    def clear(self, handle: Any = None) -> None:
        self.cleared.append(handle)

    @property
    def records(self) -> list[FaultRecord]:
        return self._records

    async def aclose(self) -> None:
        self.closed = True


async def test_fault_steps_go_to_the_injector_and_into_the_record(tmp_path: Path) -> None:
    text = """name: faulty
steps:
  - name: drop some
    fault: {kind: drop, rate: 0.5, target: ESME}
  - advance: 1m
  - clear_fault: drop some
  - fault: {kind: latency, delay: 2s, target: all}
  - clear_fault: all
"""
    made: list[FakeInjector] = []

    def factory(lab: Lab, seed: int, on_record: Callable[[FaultRecord], None]) -> FakeInjector:
        made.append(FakeInjector(lab, seed, on_record))
        return made[-1]

    scenarios = load_scenarios(write(tmp_path, text))
    [s] = (await run_scenarios(scenarios, seed=3, injector_factory=factory)).scenarios
    assert s.verdict == Verdict.PASS, [step.message for step in s.steps]
    [injector] = made
    assert injector.seed == 3 and injector.closed
    assert [name for _, name in injector.injected] == ["drop some", None]
    assert injector.cleared == ["handle 1", None]
    assert [f.name for f in s.faults] == ["drop some", "fault"]


async def test_python_steps_and_failures() -> None:
    [scenario] = parse_scenarios(
        {"name": "p", "steps": [{"assert": "ESME.meter.balance", "equals": 1.0}]}
    )
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        record = await run_scenario(scenario, lab)
    assert record.verdict == Verdict.FAIL
    assert "ESME.meter.balance: expected 1.0, got 1000" in record.steps[0].message


def test_keyword_selection() -> None:
    [a] = parse_scenarios({"name": "top-up", "tags": ["prepayment"], "steps": []})
    [b] = parse_scenarios({"name": "read registers", "tags": ["smoke"], "steps": []})
    assert select([a, b], "top") == [a]
    assert select([a, b], "smoke or prepayment") == [a, b]
    assert select([a, b], "not smoke") == [a]
    assert select([a, b], "(read and smoke) and not top") == [b]


def test_cli_exit_status_and_json(tmp_path: Path) -> None:
    good, bad = write(tmp_path, PASSING, "good.yaml"), write(tmp_path, FAILING, "bad.yaml")
    out = tmp_path / "run.json"
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(good), "--json", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    record = RunRecord.load(out)
    assert [s.name for s in record.scenarios] == ["passing"] and record.scenarios[0].seed == 4
    result = runner.invoke(main, ["run", str(good), str(bad), "--json", str(out)])
    assert result.exit_code == 1
    assert "FAIL  failing" in result.output
    assert [s.verdict for s in RunRecord.load(out).scenarios] == [Verdict.PASS, Verdict.FAIL]
    result = runner.invoke(main, ["run", str(good), str(bad), "-k", "not failing"])
    assert result.exit_code == 0


def test_cli_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = write(tmp_path, "name: x\nsteps:\n  - request: '4.1.1'\n    user: ghost\n")
    result = runner.invoke(main, ["run", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert f"{bad}:4: step '4.1.1 as ghost': user: unknown user 'ghost'" in result.output
    result = runner.invoke(main, ["run", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(main, ["run", str(good := write(tmp_path, PASSING)), "-k", "zzz"])
    assert result.exit_code == 2 and "no scenario matches" in result.output, good


async def test_local_actions_utrn_and_button(tmp_path: Path) -> None:
    text = """name: local
steps:
  - name: type a top-up on the PPMID
    action: utrn
    device: PPMID
    amount_pence: 300
  - assert: ESME.meter.balance
    equals: 1300.0
  - name: type it again
    action: utrn
    device: PPMID
    utrn: "${token}"
    accepted: false
  - name: garbage
    action: utrn
    device: ESME
    utrn: "12345678901234567890"
    accepted: false
  - request: "7.2"
    user: supplier
    target: ESME
  - action: press_button
    device: ESME
  - assert: ESME.meter.supply_enabled
    equals: false
  - request: "7.3"
    user: supplier
    target: ESME
  - action: press_button
    device: ESME
  - assert: ESME.meter.supply_enabled
    equals: true
  - action: power_cycle
    device: ESME
    off_for: 5m
  - assert: ESME.meter.supply_enabled
    equals: true
"""
    path = write(tmp_path, text)
    [first] = load_scenarios(path)
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        record = await run_scenario(first, lab)
    token = record.steps[0].detail["utrn"]
    assert record.steps[0].detail["pence"] == 300
    path.write_text(path.read_text().replace("${token}", token))
    [s] = (await run_scenarios(load_scenarios(path))).scenarios
    assert s.verdict == Verdict.PASS, [step.message for step in s.steps]
    assert s.steps[2].detail["result"] != 0  # the same token twice is refused


async def test_a_raw_command_replayed_is_rejected(tmp_path: Path) -> None:
    [read] = (await run_scenarios(load_scenarios(write(tmp_path, PASSING)))).scenarios
    command = next(m for m in read.messages if m.kind == "command")
    assert command.hex is not None
    text = f"""name: raw
steps:
  - name: read
    request: "4.18"
    user: supplier
    target: ESME
  - name: the same bytes again
    raw: "{command.hex}"
    expect: rejected
    within: 0.2s
  - name: expecting a response fails
    raw: "{command.hex}"
    within: 0.2s
"""
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert [step.verdict for step in s.steps] == [Verdict.PASS, Verdict.PASS, Verdict.FAIL]
    assert "expected a response, got" in s.steps[2].message


async def test_a_python_scenario_that_hangs_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "hang.py"
    path.write_text(
        "import asyncio\n"
        "from hil.scenario import scenario\n\n"
        "@scenario(name='hang', timeout=0.01)\n"
        "async def hang(ctx):\n"
        "    await ctx.advance('1m')\n"
        "    await asyncio.sleep(60)\n"
    )
    [s] = (await run_scenarios(load_scenarios(path))).scenarios
    assert s.verdict == Verdict.ERROR
    assert [step.verdict for step in s.steps] == [Verdict.PASS, Verdict.ERROR]
    assert s.steps[1].message == f"{path}: timed out after 0.1 s (real)"
    assert s.steps[0].line == 6


async def test_a_lab_that_cannot_start_is_an_error_not_a_crash(tmp_path: Path) -> None:
    text = DEFAULT_LAB.read_text().replace("link: memory://demo-lab", "link: mqtt://127.0.0.1:1/x")
    lab = tmp_path / "dead.yaml"
    lab.write_text(text)
    scenarios = load_scenarios(write(tmp_path, PASSING)) * 2
    record = await run_scenarios(scenarios, lab=lab)
    assert [s.verdict for s in record.scenarios] == [Verdict.ERROR, Verdict.ERROR]
    assert "cannot start" in record.scenarios[0].steps[0].message


async def test_raw_commands_built_for_a_user_skip_the_dcc_checks(tmp_path: Path) -> None:
    text = """name: raw build
steps:
  - name: the DNO's own disable, past the DCC
    raw: {variant: "7.2", user: dno, target: ESME}
    expect: any
    within: 0.5s
  - assert: ESME.meter.supply_enabled
    equals: true
  - name: the supplier's, built and signed by our builders
    raw: {variant: "7.2", user: supplier, role: Import Supplier, target: ESME}
  - assert: ESME.meter.supply_enabled
    equals: false
"""
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert s.verdict == Verdict.PASS, [step.message for step in s.steps]
    assert s.steps[0].message.startswith("rejected")  # the meter holds no DNO disable right
    assert [m.kind for m in s.messages].count("command") == 2


async def test_until_moves_the_clock_to_a_time_and_refuses_the_past(tmp_path: Path) -> None:
    text = """name: until
steps:
  - until: 2026-03-29T01:30
  - assert: ESME.meter.import_wh
    min: 1
  - until: "2026-03-29T01:00:00Z"
"""
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert s.steps[0].ended.virtual == "2026-03-29T01:30:00+00:00"
    assert [step.verdict for step in s.steps] == [Verdict.PASS, Verdict.PASS, Verdict.FAIL]
    assert "is already past" in s.steps[2].message


async def test_a_real_clock_lab_runs_in_real_time(tmp_path: Path) -> None:
    lab = tmp_path / "real.yaml"
    lab.write_text(DEFAULT_LAB.read_text().replace("clock: virtual", "clock: real"))
    text = """name: real
steps:
  - advance: 0.2s
  - request: "4.18"
    user: supplier
    target: ESME
"""
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)), lab=lab)).scenarios
    assert s.verdict == Verdict.PASS, [step.message for step in s.steps]
    assert s.steps[0].ended.real - s.steps[0].started.real >= 0.2


async def test_an_operator_answers_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["", "n"])
    monkeypatch.setattr("builtins.input", lambda _question: next(answers))
    text = """name: bench
steps:
  - prompt: Fit the clamp
  - prompt: Is the display lit?
    confirm: true
"""
    path = write(tmp_path, text)
    [s] = (await run_scenarios(load_scenarios(path), interactive=True)).scenarios
    assert [step.verdict for step in s.steps] == [Verdict.PASS, Verdict.FAIL]
    assert (
        s.steps[1].message == f"{path}:5: step 'prompt Is the display lit?': operator answered 'n'"
    )


def test_values_by_name_or_path() -> None:
    from emulator.gbcs.values import NamedValue
    from hil.scenario.runner import _MISSING, _value_at

    values = [
        NamedValue("Meter balance", 10.0, "GBP"),
        NamedValue("executed command", {"use_case": "ECS01b", "rows": [[1, 2]]}),
    ]
    assert _value_at(values, "meter balance") == (10.0, "GBP")
    assert _value_at(values, "executed command.use_case") == ("ECS01b", None)
    assert _value_at(values, "executed command.rows.0") == ([1, 2], None)
    assert _value_at(values, "executed command.nope")[0] is _MISSING
    assert _value_at(values, "nothing")[0] is _MISSING


async def test_sequenced_requests_and_their_responses(tmp_path: Path) -> None:
    text = """name: sequenced
steps:
  - name: disable
    request: "7.2"
    user: supplier
    target: ESME
    wait: false
  - name: enable after
    request: "7.1"
    user: supplier
    target: ESME
    after: disable
  - expect_response: disable
  - expect_response: enable after
  - assert: ESME.meter.supply_enabled
    equals: true
"""
    [s] = (await run_scenarios(load_scenarios(write(tmp_path, text)))).scenarios
    assert s.verdict == Verdict.PASS, [step.message for step in s.steps]
    assert "acknowledged" in s.steps[1].message and "completed" in s.steps[3].message
    responses = [m.label for m in s.messages if m.kind == "service_response"]
    assert responses == ["7.2 completed I0", "7.1 completed I0"]


async def test_a_lossy_han_ends_every_request_and_repeats_under_its_seed() -> None:
    """10% drop and 200 ms jitter on every HAN link: each read completes or fails
    with its reason, nothing hangs, and the same seed gives the same record."""
    scenarios = load_scenarios(Path("hil/fixtures/scenarios/lossy-han.yaml"))
    async with asyncio.timeout(120):
        one = await run_scenarios(scenarios, seed=11)
        two = await run_scenarios(scenarios, seed=11)
    [s] = one.scenarios
    assert s.verdict == Verdict.PASS, [x.message for x in s.steps if x.verdict != Verdict.PASS]
    reads = [x for x in s.steps if x.kind == "request"]
    assert len(reads) == 11
    assert all(x.detail["status"] in ("completed", "failed") for x in reads)
    failed = [x for x in reads if x.detail["status"] == "failed"]
    assert all(x.detail["reason"] for x in failed)
    assert {f.name for f in s.faults} >= {"drop 10%", "jitter 200 ms"}
    assert sum(f.detail.get("dropped", 0) for f in s.faults) > 0
    assert _scrub(one.to_json()) == _scrub(two.to_json())
