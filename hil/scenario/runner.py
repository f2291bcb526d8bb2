"""Running scenarios: each step against a started lab, everything kept in the record.

The runner owns the record (hil/scenario/record.py): every step with its
verdict and message, every message at the DCC boundary (service request and
response) and at the hub (GBCS command, response, alert), every measurement,
fault and log line, each stamped with the lab's virtual time and the real
seconds since the run started. Outputs are written from the record only.

A step never waits without bound: `timeout` (the scenario's default, 60 s) is
the real-time bound of every step and the virtual-time bound of its waits
(`within` for expectations); a step that overruns is an ERROR, the scenario
stops, and its teardown still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as _dt
import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.clock import VirtualClock
from emulator.errors import EmulatorError, GbcsError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, decode_message
from emulator.gbcs.inspection import inspect_message
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.tree import render_text
from emulator.hub import Hub
from hil.bench import ExternalDevice
from hil.dcc.lab import DEFAULT_LAB, Lab, LabError
from hil.dcc.requestfile import parse_when
from hil.dcc.requests import RequestStatus, Result
from hil.dcc.values import NamedValue, response_values, values_text
from hil.errors import HilError
from hil.faults import FaultInjector
from hil.scenario.model import (
    ActionStep,
    AdvanceStep,
    AssertStep,
    Check,
    ClearFaultStep,
    ExpectAlertStep,
    ExpectDccAlertStep,
    ExpectResponseStep,
    FaultStep,
    HanLogStep,
    MeasureStep,
    PromptStep,
    RawBuild,
    RawStep,
    RepeatStep,
    RequestStep,
    ResponseExpect,
    Scenario,
    ScenarioError,
    SleepStep,
    SmiStep,
    StepSpec,
    UntilStep,
    _Step,
    check_scenario,
    external_in_path,
    resolve_path,
    step_spec,
    substitute,
)
from hil.scenario.record import (
    FaultRecord,
    LogLine,
    Measurement,
    MessageRecord,
    ResponseTimeRecord,
    RunRecord,
    ScenarioRecord,
    Stamp,
    StepRecord,
    Verdict,
    prepayment_series,
)

log = logging.getLogger(__name__)

#: Real seconds a han_join waits for the hub to take or refuse the device.
JOIN_WAIT_S = 5.0

#: Actions a device under test does through a bench hook of the same name.
HOOKED_ACTIONS = ("power_cycle", "set_load", "han_join", "reset_han")

#: Steps of a virtual-time wait when devices under test follow the clock by hook.
EXTERNAL_TICKS = 20

#: Real seconds for what a device under test sent after its clock moved to arrive.
EXTERNAL_SETTLE_S = 0.2
#: Seconds (real time) an emulated PPMID waits for a board's ZSE answer over the HAN;
#: for a sleeping GSME board, this after the lab's wake interval (virtual time with a
#: set_clock hook: the hub holds the frame until the board's WAKE).
ZSE_WAIT_S = 5.0
#: Seconds (real time) to wait for a board's alert saying why it refused a UTRN.
REFUSAL_ALERT_WAIT_S = 2.0
#: Seconds (real time) with no newer refusal alert from the board before the newest is
#: taken as this step's: an earlier step's alert can still be on its way.
REFUSAL_ALERT_SETTLE_S = 0.3
#: The consumer's actions at a meter or a PPMID.
CONSUMER_ACTIONS = ("press_button", "utrn", "emergency_credit", "enable_supply")

#: A Python scenario's function is bounded at this many times its step timeout (real time).
PYTHON_BOUND = 10

EventHandler = Callable[[str, dict[str, Any]], None]
#: Builds the fault injector of a scenario: (lab, seed, on_record) -> injector.
InjectorFactory = Callable[[Lab, int, Callable[[FaultRecord], None]], Any]


class StepFailed(HilError):
    """What a step checked did not hold (FAIL); any other error is an ERROR."""


class StepSkipped(HilError):
    """The step was not run (an operator prompt in CI, the inside of an external device)."""


def interactive_default() -> bool:
    """Prompts are asked only on a terminal and outside CI."""
    return sys.stdin.isatty() and not os.environ.get("CI")


class _Capture(logging.Handler):
    """Log lines into the record while a scenario runs."""

    def __init__(self, ctx: ScenarioContext) -> None:
        super().__init__(logging.INFO)
        self.ctx = ctx

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not stop the run
            text = str(record.msg)
        self.ctx.record.logs.append(LogLine(self.ctx.stamp(), record.levelname, record.name, text))


#: The tag that makes a scenario record its meters' money over time.
PREPAYMENT_TAG = "prepayment"
PREPAYMENT_SAMPLE_S = 1800.0
#: The supply state as a plotted level: 1 enabled, 0.5 armed, 0 disabled.
SUPPLY_LEVELS = {"enabled": 1.0, "armed": 0.5, "disabled": 0.0}


@dataclass
class ScenarioContext:
    """What a scenario's steps (YAML or Python) run with: the lab, the record, the names."""

    scenario: Scenario
    lab: Lab
    record: ScenarioRecord
    seed: int
    t0: float
    interactive: bool = False
    on_event: EventHandler | None = None
    injector_factory: InjectorFactory | None = None
    results: dict[str, Result] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    random: random.Random = field(default_factory=random.Random)
    current: str | None = None  # the step running, for messages and measurements
    _injector: Any = None
    _alerts_seen: int = 0  # hub alerts already matched by an expectation
    _dcc_alerts_seen: int = 0
    utrns: dict[str, str] = field(default_factory=dict)  # UTRNs typed, by step name (utrn_of)
    #: UTRN steps skipped (typed at a board's keypad), by step name: the device's name.
    _skipped_utrns: dict[str, str] = field(default_factory=dict)
    _hub_alerts: list[tuple[bytes, str, int]] = field(default_factory=list)  # raw, device, code
    _reported: set[str] = field(default_factory=set)  # request ids with a response recorded
    _active: bool = True
    _names: dict[bytes, str] = field(default_factory=dict)
    _commands: dict[tuple[bytes, int], bytes] = field(default_factory=dict)  # for responses

    # -- time and names ------------------------------------------------------------------------
    def stamp(self) -> Stamp:
        return Stamp(self.lab.clock.now().isoformat(), round(time.perf_counter() - self.t0, 6))

    @property
    def virtual(self) -> bool:
        return isinstance(self.lab.clock, VirtualClock)

    def device_name(self, eui: bytes) -> str:
        if not self._names:
            for name, value in self.lab.names.items():
                key = bytes(value)
                if key not in self._names or len(name) < len(self._names[key]):
                    self._names[key] = name
        return self._names.get(bytes(eui), bytes(eui).hex("-").upper())

    @property
    def parameters(self) -> dict[str, Any]:
        """This cell of the scenario's matrix."""
        return self.scenario.parameters

    @property
    def dcc(self) -> Any:
        if self.lab.dcc is None:
            raise LabError("the lab is not started")
        return self.lab.dcc

    # -- the hub's traffic ---------------------------------------------------------------------
    def on_hub(self, kind: str, raw: bytes) -> None:
        if not self._active or kind not in ("command", "response", "alert"):
            return
        try:
            msg = decode_message(raw)
        except GbcsError:
            self.record.messages.append(
                MessageRecord(self.stamp(), "?", "Hub", kind, "undecodable", self.current)
            )
            return
        code = msg.message_code
        entry = lookup(code)
        label = f"0x{code:04X} {entry.use_case}".strip()
        if kind == "command":
            source, target = "Hub", self.device_name(bytes(msg.recipient))
        else:
            source, target = self.device_name(bytes(msg.originator)), "Hub"
        if kind == "alert" and msg.cra == Cra.ALERT:
            self._hub_alerts.append((raw, source, code))
        sent = None
        if kind == "command":
            self._commands[(bytes(msg.originator), msg.counter)] = raw
        elif kind == "response":
            sent = self._commands.pop((bytes(msg.recipient), msg.counter), None)
        self.record.messages.append(
            MessageRecord(
                self.stamp(),
                source,
                target,
                kind,
                label,
                step=self.current,
                message_code=code,
                hex=raw.hex().upper(),
                decoded=_decoded(raw, sent),
            )
        )

    def on_smets1(self, kind: str, device: Eui64, raw: bytes) -> None:
        """A SMETS1 vendor message (JSON, docs/smets1.md) between the S1SP and a device."""
        if not self._active:
            return
        name = self.device_name(bytes(device))
        source, target = ("S1SP", name) if kind == "command" else (name, "S1SP")
        body = json.loads(raw)
        label = f"vendor {body.get('cmd') or body.get('code')}"
        self.record.messages.append(
            MessageRecord(
                self.stamp(), source, target, kind, label, self.current, decoded=raw.decode()
            )
        )

    def _service_request(self, result: Result) -> None:
        r = result.request
        self.record.messages.append(
            MessageRecord(
                self.stamp(),
                "User",
                "DCC",
                "service_request",
                f"{r.variant} {r.label or r.request_id} ({r.user.name})",
                step=self.current,
                variant=r.variant,
            )
        )
        if result.done:
            self._service_response(result)

    def _arrow(self, source: str, target: str, kind: str, result: Result) -> None:
        label = f"{result.variant} {kind.replace('_', ' ')}"
        self.record.messages.append(
            MessageRecord(
                self.stamp(), source, target, kind, label, step=self.current, variant=result.variant
            )
        )

    def _service_response(self, result: Result) -> None:
        if result.request_id in self._reported:
            return
        self._reported.add(result.request_id)
        detail = values_text(result.values) if result.values else result.detail
        self.record.messages.append(
            MessageRecord(
                self.stamp(),
                "DCC",
                "User",
                "service_response",
                f"{result.variant} {result.status.value} {result.reason}",
                step=self.current,
                variant=result.variant,
                ok=result.ok,
                decoded=detail or None,
            )
        )

    # -- measurements --------------------------------------------------------------------------
    def check(self, name: str, value: Any, check: Check, unit: str | None = None) -> list[str]:
        """Validate, keep the measurement, return the problems."""
        problems = check.problems(value)
        if check.unit is not None and unit and check.unit != unit:
            problems.append(f"unit {unit!r}, expected {check.unit!r}")
        validators = check.validators
        verdict = Verdict.UNSET if not validators else Verdict.FAIL if problems else Verdict.PASS
        self.measure(name, value, unit or check.unit, ", ".join(validators) or None, verdict)
        return [f"{name}: {p}" for p in problems]

    def measure(
        self,
        name: str,
        value: Any,
        unit: str | None = None,
        validator: str | None = None,
        verdict: Verdict = Verdict.UNSET,
    ) -> None:
        at = self.stamp()
        shown = _jsonable(value)
        self.record.measurements.append(
            Measurement(name, shown, unit, validator, verdict, at, self.current)
        )
        if isinstance(shown, int | float) and not isinstance(shown, bool):
            self.record.series.setdefault(name, []).append((at.virtual, float(shown)))
            if unit:
                self.record.series_units[name] = unit

    # -- prepayment series (the report plots them) ----------------------------------------------
    @property
    def prepayment(self) -> bool:
        """A scenario tagged `prepayment` records each meter's balance, debt and supply."""
        return PREPAYMENT_TAG in self.scenario.tags

    async def _advance(self, seconds: float) -> None:
        """Move the clock; in a prepayment scenario a sample every half-hour on the way."""
        if not self.prepayment or not self.virtual:
            await self.lab.run_for(seconds)
            return
        left = seconds
        while left > 0:
            chunk = min(left, PREPAYMENT_SAMPLE_S)
            await self.lab.run_for(chunk)
            left -= chunk
            self.sample_prepayment()

    async def _external_clocks(self) -> str:
        """Devices under test follow the lab's clock through their set_clock hooks.

        A board's clock is its own: after the lab's time moved, each device under
        test is told the new time by its bench hook (docs/hardware.md). One with no
        such hook keeps its own time, and the step says so as a SKIP.
        """
        said = f"clock at {self.lab.clock.now().isoformat()}"
        if not self.virtual or not self.lab.externals:
            return said
        stuck = await self._sync_clocks()
        if stuck:
            raise StepSkipped(
                f"{said}; {', '.join(stuck)} with no set_clock hook: its clock did not move"
            )
        return f"{said} (devices under test too)"

    async def _sync_clocks(self) -> list[str]:
        """Each device under test with a set_clock hook to the lab's time; the others."""
        now = self.lab.clock.now()
        stuck = []
        for external in self.lab.externals.values():
            if external.hooks.set_clock:
                await external.set_clock(now)
            else:
                stuck.append(f"{external.name} is external ({external.url})")
        await asyncio.sleep(EXTERNAL_SETTLE_S)  # what the move raised, on its way over the port
        if self.lab.dcc is not None:
            await self.lab.dcc.settle()
        return stuck

    def sample_prepayment(self) -> None:
        """Balance and debt (pence) and supply state of every emulated meter, now."""
        if not self.prepayment:
            return
        from emulator.devices import supply
        from emulator.devices.topup import ConsumerControls

        at = self.stamp().virtual
        for premises in self.lab.premises:
            for device in premises.devices.values():
                if not isinstance(device, ConsumerControls):
                    continue
                meter: Any = device
                meter.catch_up()
                name = self.device_name(bytes(meter.eui))
                state = supply.state(meter)
                for what, value, unit in (
                    ("balance", meter.meter.balance, "pence"),
                    ("debt", meter.meter.debt, "pence"),
                    ("supply", SUPPLY_LEVELS[state], "supply"),
                ):
                    key = prepayment_series(name, what)
                    self.record.series.setdefault(key, []).append((at, float(value)))
                    self.record.series_units[key] = unit

    # -- running steps -------------------------------------------------------------------------
    async def step(self, step: _Step | StepSpec) -> Verdict:
        """Run one step (Python scenarios call this with a step model)."""
        spec = step if isinstance(step, StepSpec) else step_spec(step, self._python_where())
        verdict = await self._run(spec, {})
        if verdict in (Verdict.FAIL, Verdict.ERROR) and self.scenario.body is not None:
            raise StepFailed(self.record.steps[-1].message)
        return verdict

    def _python_where(self) -> str:
        frame = sys._getframe(2)
        code = self.scenario.body.__code__.co_filename if self.scenario.body else None
        for _ in range(6):
            if frame.f_code.co_filename == code:
                return f"{self.scenario.file}:{frame.f_lineno}"
            if frame.f_back is None:
                break
            frame = frame.f_back
        return self.scenario.file or self.scenario.name

    async def request(self, variant: str, **fields: Any) -> Result:
        """`RequestStep` in Python: `await ctx.request("4.1.1", user="supplier", target="ESME")`."""
        name = fields.get("name") or f"{variant} #{len(self.results) + 1}"
        fields["name"] = name
        await self.step(RequestStep(request=variant, **fields))
        return self.results[name]

    async def advance(self, duration: str | float) -> None:
        await self.step(AdvanceStep.model_validate({"advance": duration}))

    async def check_state(self, path: str, **checks: Any) -> Any:
        await self.step(AssertStep.model_validate({"assert": path, **checks}))
        if external_in_path(self.lab, path) is not None:
            return None  # skipped: the inside of a device under test
        return resolve_path(self.lab, path)

    async def _run(self, spec: StepSpec, variables: dict[str, Any]) -> Verdict:
        model = spec.model
        if variables:
            data = substitute(model.model_dump(by_alias=True, exclude_unset=True), variables)
            model = type(model).model_validate(data)
        name = substitute(spec.name, variables) if variables else spec.name
        if isinstance(model, RepeatStep):
            return await self._repeat(spec, model, name, variables)
        timeout = model.timeout if model.timeout is not None else self.scenario.timeout
        self.current = name
        started = self.stamp()
        self._event("step_started", {"step": name, "kind": spec.kind, "virtual": started.virtual})
        detail: dict[str, Any] = {}
        try:
            # In this task, under asyncio.timeout: 3.11's wait_for ran it in a task of its
            # own, waited without bound for it to end once cancelled, and could lose the
            # cancellation (emulator/tasks.py).
            async with asyncio.timeout(timeout):
                message = await self._execute(model, detail, timeout)
            verdict = Verdict.PASS
        except StepFailed as exc:
            verdict, message = Verdict.FAIL, f"{spec.where}: step {name!r}: {exc}"
        except StepSkipped as exc:
            verdict, message = Verdict.SKIP, str(exc)
        except TimeoutError:
            verdict = Verdict.ERROR
            message = f"{spec.where}: step {name!r}: timed out after {timeout:g} s"
        except (HilError, EmulatorError, ValueError, KeyError, OSError) as exc:
            verdict = Verdict.ERROR
            message = f"{spec.where}: step {name!r}: {type(exc).__name__}: {exc}"
        self._sweep_responses()
        self.sample_prepayment()
        ended = self.stamp()
        self.record.steps.append(
            StepRecord(name, spec.kind, spec.line, verdict, message, started, ended, detail)
        )
        self._event("step_ended", {"step": name, "verdict": verdict.value, "message": message})
        self.current = None
        return verdict

    async def _repeat(
        self, spec: StepSpec, model: RepeatStep, name: str, variables: dict[str, Any]
    ) -> Verdict:
        for round_ in range(model.repeat):
            inner = {**variables, "i": round_}
            for child in spec.children:
                verdict = await self._run(child, inner)
                if verdict in (Verdict.FAIL, Verdict.ERROR):
                    return verdict
        return Verdict.PASS

    def _event(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, {"scenario": self.scenario.name, **data})

    def _sweep_responses(self) -> None:
        for result in self.results.values():
            if result.done and result.request_id not in self._reported:
                self._service_response(result)

    async def _execute(self, step: _Step, detail: dict[str, Any], timeout: float) -> str:
        if isinstance(step, RequestStep):
            return await self._request(step, detail, timeout)
        if isinstance(step, ExpectResponseStep):
            return await self._expect_response(step, detail, timeout)
        if isinstance(step, ExpectAlertStep):
            return await self._expect_alert(step, detail, timeout)
        if isinstance(step, ExpectDccAlertStep):
            return await self._expect_dcc_alert(step, detail, timeout)
        if isinstance(step, AdvanceStep):
            await self._advance(step.advance)
            return await self._external_clocks()
        if isinstance(step, UntilStep):
            when = _dt.datetime.fromisoformat(step.until)
            seconds = (when - self.lab.clock.now()).total_seconds()
            if seconds < 0:
                raise StepFailed(f"{step.until} is already past ({self.lab.clock.now()})")
            await self._advance(seconds)
            return await self._external_clocks()
        if isinstance(step, SleepStep):
            await asyncio.sleep(step.sleep)
            return f"slept {step.sleep:g} s (real time)"
        if isinstance(step, AssertStep):
            return self._state(step.assert_, step, detail)
        if isinstance(step, MeasureStep):
            return self._measure(step, detail)
        if isinstance(step, SmiStep):
            return self._smi(step, detail)
        if isinstance(step, HanLogStep):
            return self._han_log(step, detail)
        if isinstance(step, ActionStep):
            return await self._action(step, detail, timeout)
        if isinstance(step, RawStep):
            return await self._raw(step, detail, timeout)
        if isinstance(step, FaultStep):
            return self._fault(step, detail)
        if isinstance(step, ClearFaultStep):
            return self._clear_fault(step)
        if isinstance(step, PromptStep):
            return await self._prompt(step)
        raise ScenarioError(f"no runner for {type(step).__name__}")

    # -- requests ------------------------------------------------------------------------------
    async def _request(self, step: RequestStep, detail: dict[str, Any], timeout: float) -> str:
        dcc = self.dcc
        target = None if step.target is None else self.lab.eui(step.target)
        execute_at = (
            None if step.execute_at is None else parse_when(step.execute_at, self.lab.clock.now())
        )
        result = dcc.submit(
            step.request,
            as_user=step.user,
            target=target,
            role=step.role,
            params=step.params,
            execute_at=execute_at,
            depends_on=None if step.after is None else self.results[step.after],
            option=step.option,
            label=step.name or "",
        )
        self.results[step.name or f"{step.request} #{len(self.results) + 1}"] = result
        self._service_request(result)
        if result.status == RequestStatus.AWAITING_SIGNATURE and result.precommand is not None:
            self._arrow("DCC", "User", "precommand", result)
            signed = dcc.sign_as_user(result)
            self._arrow("User", "DCC", "signed_precommand", result)
            dcc.signed_precommand(result.request_id, signed)
        detail["request_id"] = result.request_id
        if step.wait and step.after is None and execute_at is None:
            await result.wait(timeout)
            self._service_response(result)
            return self._judge(result, step.expect, detail)
        return f"{result.request_id} {result.status.value} {result.reason}"

    def _judge(self, result: Result, expect: ResponseExpect, detail: dict[str, Any]) -> str:
        detail.update(
            status=result.status.value,
            reason=result.reason,
            values=[v.as_dict() for v in result.values],
        )
        if result.timing is not None and result.timing.measured is not None:
            detail["response_time_s"] = round(result.timing.measured, 6)
        problems = []
        wanted = [expect.status] if isinstance(expect.status, str) else expect.status
        if wanted is not None and result.status.value not in wanted:
            why = f" ({result.detail})" if result.detail else ""
            expected = " or ".join(wanted)
            problems.append(f"expected status {expected}, got {result.status.value}{why}")
        if expect.reason is not None and result.reason != expect.reason:
            problems.append(f"expected reason {expect.reason}, got {result.reason}")
        problems += _check_values(self, result.values, dict(expect.values))
        if problems:
            raise StepFailed("; ".join(problems))
        summary = values_text(result.values) if result.values else result.detail
        return f"{result.request_id} {result.status.value} {result.reason}" + (
            f": {summary}" if summary else ""
        )

    async def _expect_response(
        self, step: ExpectResponseStep, detail: dict[str, Any], timeout: float
    ) -> str:
        result = self.results[step.expect_response]
        within = step.within if step.within is not None else timeout
        await self._wait_until(lambda: result.done, within, f"no response to {result.variant}")
        self._service_response(result)
        expect = ResponseExpect(status=step.status, reason=step.reason, values=step.values)
        return self._judge(result, expect, detail)

    # -- alerts --------------------------------------------------------------------------------
    async def _wait_until(self, done: Callable[[], bool], within: float, what: str) -> None:
        """Until `done()`: on a virtual clock by moving it (at most `within`), else real time.

        `done()` may consume what it matched, so a True is acted on at once, never asked again.
        """
        if done():
            return
        if self.virtual:
            end = self.lab.clock.now() + _dt.timedelta(seconds=within)
            # A board's clock follows through a hook (a process each time): fewer, longer ticks.
            hooked = any(e.hooks.set_clock for e in self.lab.externals.values())
            tick = max(1.0, within / (EXTERNAL_TICKS if hooked else 200))
            clock = self.lab.clock
            assert isinstance(clock, VirtualClock)
            while clock.now() < end:
                now = clock.now()
                left = (end - now).total_seconds()
                due = clock.next_due()  # a held request or a wake-up may be what we wait for
                soon = (due - now).total_seconds() if due is not None and due > now else tick
                await self.lab.run_for(min(tick, left, soon))
                # done() once per look: a match consumes what it found (an alert seen).
                if done():
                    return
                if hooked:
                    await self._sync_clocks()
                    if done():
                        return
        else:
            deadline = time.perf_counter() + within
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                if done():
                    return
        raise StepFailed(f"{what} within {within:g} s")

    async def _expect_alert(
        self, step: ExpectAlertStep, detail: dict[str, Any], timeout: float
    ) -> str:
        device = None if step.device is None else self.device_name(bytes(self.lab.eui(step.device)))

        def match() -> bool:
            for index in range(self._alerts_seen, len(self._hub_alerts)):
                _, source, code = self._hub_alerts[index]
                if (step.expect_alert is None or code == step.expect_alert) and (
                    device is None or source == device
                ):
                    self._alerts_seen = index + 1
                    detail["alert"] = f"0x{code:04X} from {source}"
                    detail["values"] = [
                        v.as_dict() for v in response_values(None, None, self._hub_alerts[index][0])
                    ]
                    return True
            return False

        code = "any" if step.expect_alert is None else f"0x{step.expect_alert:04X}"
        within = step.within if step.within is not None else timeout
        await self._wait_until(match, within, f"no alert {code} from {step.device or 'any device'}")
        raw = self._hub_alerts[self._alerts_seen - 1][0]
        problems = _check_values(self, response_values(None, None, raw), dict(step.values))
        if problems:
            raise StepFailed(f"alert {detail['alert']}: " + "; ".join(problems))
        return f"alert {detail['alert']}"

    async def _expect_dcc_alert(
        self, step: ExpectDccAlertStep, detail: dict[str, Any], timeout: float
    ) -> str:
        device = None if step.device is None else bytes(self.lab.eui(step.device))

        def match() -> bool:
            alerts = self.dcc.alerts
            for index in range(self._dcc_alerts_seen, len(alerts)):
                alert = alerts[index]
                if (
                    (step.expect_dcc_alert is None or alert.message_code == step.expect_dcc_alert)
                    and (device is None or bytes(alert.device) == device)
                    and (step.user is None or step.user in alert.users)
                ):
                    self._dcc_alerts_seen = index + 1
                    detail["alert"] = alert.as_dict()
                    self.record.messages.append(
                        MessageRecord(
                            self.stamp(),
                            "DCC",
                            "User",
                            "dcc_alert",
                            f"0x{alert.message_code:04X} to {', '.join(alert.users) or '-'}",
                            step=self.current,
                            message_code=alert.message_code,
                        )
                    )
                    return True
            return False

        code = "any" if step.expect_dcc_alert is None else f"0x{step.expect_dcc_alert:04X}"
        within = step.within if step.within is not None else timeout
        await self._wait_until(match, within, f"no DCC alert {code}")
        raw = self.dcc.alerts[self._dcc_alerts_seen - 1].raw
        problems = _check_values(self, response_values(None, None, raw), dict(step.values))
        if problems:
            raise StepFailed(f"DCC alert {detail['alert']['message_code']}: " + "; ".join(problems))
        return f"DCC alert {detail['alert']['message_code']} to {detail['alert']['users']}"

    # -- state and measurements ----------------------------------------------------------------
    def _inside(self, path: str) -> None:
        """State of a device under test is inside the board: the step is skipped, with why."""
        head = external_in_path(self.lab, path)
        external = None if head is None else self.lab.external(head)
        if head is not None and external is not None:
            raise StepSkipped(
                f"{path}: {head} is external ({external.url}); its inside cannot be read"
            )

    def _state(self, path: str, check: Check, detail: dict[str, Any]) -> str:
        self._inside(path)
        try:
            value = resolve_path(self.lab, path)
        except ScenarioError as exc:
            raise StepFailed(f"unknown device path {exc}") from None
        detail["value"] = _jsonable(value)
        problems = self.check(path, value, check)
        if problems:
            raise StepFailed("; ".join(problems))
        return f"{path} = {_short(value)}"

    def _measure(self, step: MeasureStep, detail: dict[str, Any]) -> str:
        unit: str | None = None
        if step.path is not None:
            self._inside(step.path)
            try:
                value = resolve_path(self.lab, step.path)
            except ScenarioError as exc:
                raise StepFailed(f"unknown device path {exc}") from None
        else:
            assert step.response is not None and step.value is not None
            value, unit = _value_at(self.results[step.response].values, step.value)
            if value is _MISSING:
                raise StepFailed(f"no value {step.value!r} in {step.response!r}")
        detail["value"] = _jsonable(value)
        problems = self.check(step.measure, value, step, unit)
        if problems:
            raise StepFailed("; ".join(problems))
        return f"{step.measure} = {_short(value)}" + (f" {unit}" if unit else "")

    # -- joins: the SMI and the HAN logs ------------------------------------------------------
    def _smi(self, step: SmiStep, detail: dict[str, Any]) -> str:
        device = self.lab.inventory.get(self.lab.eui(step.smi))
        status = None if device is None else device.status.value
        detail["status"] = status
        problems = self.check(f"SMI {step.smi}", status, Check(equals=step.status))
        if problems:
            raise StepFailed("; ".join(problems))
        return f"{step.smi} is {status} on the SMI"

    def _han_log(self, step: HanLogStep, detail: dict[str, Any]) -> str:
        from emulator.devices.chf import Chf

        self._inside(step.han_log)  # a board's own HAN log is inside it
        device = self.lab.device(step.han_log)
        if device is None:
            raise ScenarioError(f"han_log: {step.han_log} is not an emulated device")
        names = {bytes(self.lab.eui(n)): n for n in [*step.has, *step.logged, *step.lacks]}
        names.update({bytes(self.lab.eui(n)): n for n in [*step.historic, *step.keys]})
        problems: list[str] = []
        if isinstance(device, Chf):
            entries = device.device_log
            joined = {k for k, e in entries.items() if e.link_key_hash}
            historic = {bytes(e.eui) for e in device.historic_log}
            sources = {k: e.key_source for k, e in entries.items()}
        else:
            entries = device.han_pairings  # type: ignore[assignment]
            joined, historic, sources = set(entries), set(), {}
        shown = sorted(names.get(k, str(Eui64(k))) for k in entries)
        detail.update(log=shown, historic=sorted(names.get(k, str(Eui64(k))) for k in historic))
        for name in step.has:
            if bytes(self.lab.eui(name)) not in joined:
                problems.append(f"{name} not joined in the log")
        for name in step.logged:
            if bytes(self.lab.eui(name)) not in entries:
                problems.append(f"{name} not in the log")
        for name in step.lacks:
            if bytes(self.lab.eui(name)) in entries:
                problems.append(f"{name} is in the log")
        for name in step.historic:
            if bytes(self.lab.eui(name)) not in historic:
                problems.append(f"{name} not in the Historic Device Log")
        for name, source in step.keys.items():
            got = sources.get(bytes(self.lab.eui(name)))
            if got != source:
                problems.append(f"{name} joined with the {got} key, expected {source}")
        if step.length is not None:
            problems += self.check(
                f"{step.han_log} log length", len(entries), Check(equals=step.length)
            )
        if problems:
            raise StepFailed(f"{step.han_log} log [{', '.join(shown)}]: " + "; ".join(problems))
        return f"{step.han_log} log: {', '.join(shown) or 'empty'}"

    # -- local actions -------------------------------------------------------------------------
    async def _action(self, step: ActionStep, detail: dict[str, Any], timeout: float) -> str:
        external = self.lab.external(step.device)
        if external is not None:
            if step.action == "power_cycle" and external.hooks.power_cycle:
                return await external.power_cycle() or "power cycled (bench hook)"
            if step.action == "set_load" and external.hooks.set_load:
                await external.set_load(float(step.load_w or 0.0))
                return f"load {step.load_w:g} W (bench hook)"
            if step.action in ("han_join", "reset_han") and getattr(external.hooks, step.action):
                return await self._external_join(step, external, detail)
            if step.action == "utrn" and step.name:
                self._skipped_utrns[step.name] = step.device
            raise StepSkipped(
                f"{step.action}: {step.device} is external ({external.url}); "
                "the harness cannot do that to a board"
                + (f" (no {step.action} hook)" if step.action in HOOKED_ACTIONS else "")
            )
        device = self.lab.device(step.device)
        if device is None:
            raise ScenarioError(f"{step.device} is not an emulated device")
        if step.action in CONSUMER_ACTIONS:
            return await self._consumer(step, device, detail, timeout)
        if step.action == "set_load":
            if not hasattr(device, "meter"):
                raise ScenarioError(f"set_load: {step.device} has no meter")
            device.catch_up()  # the old load up to now, then the new one
            device.meter.load_w = float(step.load_w or 0.0)
            return f"load {step.load_w:g} W"
        if step.action == "reset_han":
            premises = next((p for p in self.lab.premises if bytes(device.eui) in p.devices), None)
            if premises is None:
                raise ScenarioError(f"reset_han: {step.device} is not a HAN device of a premises")
            code = None if step.install_code is None else bytes.fromhex(step.install_code)
            refused = device.han.refusals
            await premises.reset_han(device.eui, code)
            for _ in range(300):  # its first JOIN answered (real time: a broker may be slow)
                if device.han.joined or device.han.refusals > refused:
                    break
                await asyncio.sleep(0.01)
            first = "joined" if device.han.joined else device.han.last_refusal or "no answer"
            return f"{step.device} forgot its HAN membership; first JOIN: {first}"
        if step.action == "han_join":
            return await self._han_join(step, device, detail)
        if step.action == "replace_hub":
            return self._replace_hub(step, device)
        # power_cycle: the device loses what is not kept across a restart
        state = device.to_state()
        if step.off_for:
            await self.lab.run_for(step.off_for)
        device.load_state(state)
        log.info("%s: power cycled", step.device)
        return "power cycled" + (f" (off {step.off_for:g} s)" if step.off_for else "")

    async def _han_join(self, step: ActionStep, device: Any, detail: dict[str, Any]) -> str:
        """The device announces itself on its HAN link: one JOIN handshake (docs/wire-
        protocol.md "Joining"); the hub checks its CHF Device Log, join window and key."""
        premises = next((p for p in self.lab.premises if bytes(device.eui) in p.devices), None)
        if premises is None or premises.hub is None:
            raise ScenarioError(f"han_join: {step.device} is not a device on a HAN link")
        joined = await asyncio.wait_for(premises.han_join(device.eui), JOIN_WAIT_S)
        entry = premises.chf.device_log.get(bytes(device.eui))
        detail.update(joined=joined, key=entry.key_source if entry is not None else None)
        if joined != step.accepted:
            want = "joined" if step.accepted else "refused"
            got = (
                f"joined ({entry.key_source} key)"
                if joined and entry
                else (f"refused ({device.han.last_refusal or 'no answer'})")
            )
            raise StepFailed(f"han_join: {step.device} expected {want}, got {got}")
        if joined and entry is not None:
            return f"{step.device} joined the HAN ({entry.key_source} key)"
        return f"{step.device} refused by the hub ({device.han.last_refusal or 'no answer'})"

    async def _external_join(
        self, step: ActionStep, external: ExternalDevice, detail: dict[str, Any]
    ) -> str:
        """A board joins (its button, or a new board powered up) through its bench hook;
        whether the hub took it is read from the hub's side: the CHF Device Log."""
        eui = bytes(external.eui)
        premises = next((p for p in self.lab.premises if p.hub and eui in p.hub.routes), None)
        if premises is None:
            raise ScenarioError(f"{step.action}: {step.device} is not on a premises' hub")
        said = await external.act(step.action, install_code=step.install_code or "")
        await asyncio.sleep(EXTERNAL_SETTLE_S)
        entry = premises.chf.device_log.get(eui)
        joined = entry is not None and bool(entry.link_key_hash)
        detail.update(joined=joined, key=entry.key_source if entry is not None else None)
        if step.action == "han_join" and joined != step.accepted:
            want = "joined" if step.accepted else "refused"
            raise StepFailed(f"han_join: {step.device} expected {want}; the board said {said!r}")
        return f"{step.device} (bench hook): {said}" + (
            f"; in the CHF Device Log ({entry.key_source} key)" if joined and entry else ""
        )

    def _replace_hub(self, step: ActionStep, device: Any) -> str:
        """The hub failed and a blank one takes its place: its CHF and GPF Device Logs
        are empty (the lab keeps the hub's IDs, so routes and keys stay), until the
        DCC restores them (8.12.1, 8.12.2)."""
        from emulator.devices.chf import Chf
        from emulator.devices.device_log import DeviceLog

        premises = next((p for p in self.lab.premises if p.chf is device), None)
        if not isinstance(device, Chf) or premises is None:
            raise ScenarioError("replace_hub: the device must be a CHF")
        device.log = DeviceLog()
        premises.gpf.han_pairings = {}
        log.info("%s: hub replaced by a blank one", step.device)
        return "hub replaced: CHF and GPF Device Logs empty"

    def _build(self, spec: RawBuild) -> bytes:
        """The command as the user would send it, from our builders, signed if critical."""
        from emulator.gbcs import builder
        from hil.dcc.catalogue import Role
        from hil.dcc.commands import BuildContext, build_command
        from hil.dcc.routes import route

        dcc = self.dcc
        user = self.lab.users[spec.user]
        if spec.role is not None:
            role = Role.parse(spec.role)
        elif len(user.ids) == 1:
            [role] = user.ids
        else:
            raise ScenarioError(f"raw: {spec.user} holds several roles; say which (role:)")
        originator = user.id_for(role)
        target = self.lab.eui(spec.target)
        device = self.lab.inventory.get(target)
        if device is None:
            raise ScenarioError(f"raw: {spec.target} is not in the inventory")
        counter = dcc.next_counter(originator)
        context = BuildContext(
            now=self.lab.clock.now(),
            keystore=dcc.keystore,
            device_types={bytes(d.eui): d.kind.value for d in self.lab.inventory},
            ca_certificate=dcc.ca_certificate,
            utrn_counters=dcc.utrn_counters,
        )
        the_route = route(spec.variant, device.kind.value, spec.option)
        built = build_command(the_route, counter, originator, target, spec.params, context)
        message = builder.command(built.message_code, counter, originator, target, built.payload)
        return builder.protect(message, dcc.security, critical=built.critical).encode()

    async def _consumer(
        self, step: ActionStep, device: Any, detail: dict[str, Any], timeout: float
    ) -> str:
        """What the consumer does at the meter or the PPMID, through the devices' own API;
        from an emulated PPMID to a meter under test, over the HAN in ZSE frames."""
        from emulator.devices.han_devices import HanRequestError, Ppmid
        from emulator.devices.topup import ConsumerControls

        ppmid = device if isinstance(device, Ppmid) else None
        target: Any = device
        if ppmid is not None:
            external = self.lab.external(step.meter or "ESME")
            if external is not None:
                return await self._over_the_han(step, ppmid, external, detail, timeout)
            target = self.lab.device(step.meter or "ESME")
        elif not isinstance(device, ConsumerControls):
            raise ScenarioError(f"{step.action}: {step.device} is neither a meter nor a PPMID")
        if not isinstance(target, ConsumerControls):
            raise ScenarioError(f"{step.action}: {step.meter or 'ESME'} is not a meter")
        fuel = target.device_type.value  # type: ignore[attr-defined]
        where = f"{step.device} ({fuel})" if ppmid is not None else step.device
        try:
            if step.action == "utrn":
                return self._typed_utrn(step, ppmid, target, fuel, detail)
            if step.action == "press_button":
                if ppmid is not None:
                    raise ScenarioError(
                        "press_button: the button is on the meter; on a PPMID use enable_supply"
                    )
                done = target.press_button()
            elif step.action == "emergency_credit":
                done = (
                    ppmid.request_emergency_credit(fuel)
                    if ppmid is not None
                    else target.activate_emergency_credit()
                )
            else:  # enable_supply: PECS03 from a PPMID (or the request at the meter)
                done = ppmid.request_enable(fuel) if ppmid is not None else target.request_enable()
        except HanRequestError as exc:
            detail["refused"] = str(exc)
            if step.accepted:
                raise StepFailed(f"{step.action} at {where}: {exc}") from None
            return f"{step.action} at {where} refused: {exc}"
        detail["actioned"] = done
        if step.action == "press_button" and not done and step.accepted:
            return "supply not armed: the button does nothing"  # a button press never fails
        if done != step.accepted:
            want = "actioned" if step.accepted else "refused"
            raise StepFailed(f"{step.action} at {where}: expected {want}, it was not")
        return f"{step.action} at {where}: " + ("actioned" if done else "not actioned")

    async def _over_the_han(
        self,
        step: ActionStep,
        ppmid: Any,
        external: ExternalDevice,
        detail: dict[str, Any],
        timeout: float,
    ) -> str:
        """The emulated PPMID asks the meter under test over the HAN (ZSE frames through
        the hub, emulator/devices/han_consumer.py); the meter's answer is the outcome.
        A refused UTRN's reason is not in the ZSE answer: it is the meter's alert."""
        from emulator.devices.han_devices import HanRequestError

        if step.action == "press_button":
            raise ScenarioError(
                "press_button: the button is on the meter; on a PPMID use enable_supply"
            )
        fuel = external.kind
        where = f"{step.device} ({fuel}, over the HAN)"
        request = {"utrn": "top_up", "emergency_credit": "emergency_credit"}.get(
            step.action, "enable"
        )
        text = ""
        if step.action == "utrn":
            text = self._utrn_text(step, external.eui)
            detail["utrn"] = text
        try:
            meter, message, use_case = ppmid.han_request(fuel, request, text)
        except HanRequestError as exc:
            detail["refused"] = str(exc)
            if step.accepted:
                raise StepFailed(f"{step.action} at {where}: {exc}") from None
            return f"{step.action} at {where} refused: {exc}"
        runner = self._runner_of(ppmid)
        hub = self._hub_of(ppmid)
        refusal = None if hub is None else hub.refuse_zse(ppmid.eui, external.eui)
        if refusal is not None:  # counted and logged by the hub
            detail["refused"] = refusal
            raise ScenarioError(f"{step.action} at {where}: {refusal}")
        alerts = len(self._hub_alerts)
        if hub is not None and not hub.is_awake(external.eui):
            wait = self.lab.spec.wake_interval.total_seconds() + ZSE_WAIT_S
            detail["held_for_wake"] = True
            answer = await self._answer_after_wake(runner, meter, message, external, wait, timeout)
        else:
            wait = min(timeout, ZSE_WAIT_S)
            answer = await runner.zse_request(meter, message, wait)
        detail["zse"] = message.encode().hex()
        detail["zse_answer"] = None if answer is None else answer.encode().hex()
        if step.action != "utrn":
            done = ppmid.han_actioned(use_case, answer)  # the PPMID logs it either way
            detail["actioned"] = done
        else:
            outcome = ppmid.han_top_up(use_case, answer)
        if answer is None:
            raise StepFailed(f"{step.action} at {where}: no answer within {wait:g} s")
        if step.action != "utrn":
            if done != step.accepted:
                want = "actioned" if step.accepted else "refused"
                raise StepFailed(f"{step.action} at {where}: expected {want}, it was not")
            return f"{step.action} at {where}: " + ("actioned" if done else "not actioned")
        reason = None
        if not outcome.accepted and step.reason is not None:
            reason = await self._refusal_alert(external.name, alerts)
        outcome = dataclasses.replace(outcome, reason=reason)
        detail.update(result=outcome.result, pence=outcome.pence, reason=reason)
        return self._utrn_verdict(step, outcome, f"{fuel} over the HAN")

    async def _refusal_alert(self, device: str, since: int) -> int | None:
        """The code of the board's UTRN refusal alert for this step (the hub's alerts
        after `since`): the meter sends it beside its ZSE answer."""
        from emulator.devices import supply
        from emulator.devices.topup import ENGINE_REFUSALS

        codes = {supply.DUPLICATE_UTRN, supply.UTRN_NOT_AUTHENTIC, supply.UTRN_NOT_FOR_DEVICE}
        codes |= ENGINE_REFUSALS.keys()
        return await newest_refusal_alert(
            self._hub_alerts, since, device, frozenset(codes), REFUSAL_ALERT_WAIT_S
        )

    async def _answer_after_wake(
        self,
        runner: Any,
        meter: Eui64,
        message: Any,
        external: ExternalDevice,
        within: float,
        timeout: float,
    ) -> Any:
        """A ZSE answer from a sleeping board: the hub holds the request until its WAKE.

        On a virtual clock with a set_clock hook the lab's time moves (the board's with
        it) up to `within`, the board's wake interval and a little; otherwise the board
        wakes on its own time, and the wait is real, inside the step's bound.
        """
        asking = asyncio.ensure_future(runner.zse_request(meter, message, timeout))
        try:
            if self.virtual and external.hooks.set_clock:
                with contextlib.suppress(StepFailed):
                    await self._wait_until(asking.done, within, "no ZSE answer")
            else:
                await asyncio.wait({asking}, timeout=min(within, 0.9 * timeout))
        finally:
            if not asking.done():  # the runner counts and logs the unanswered request
                asking.cancel()
                await asyncio.gather(asking, return_exceptions=True)
        return None if asking.cancelled() else asking.result()

    def _hub_of(self, device: Any) -> Hub | None:
        for premises in self.lab.premises:
            if bytes(device.eui) in premises.devices:
                return premises.hub
        return None

    def _runner_of(self, device: Any) -> Any:
        for premises in self.lab.premises:
            if bytes(device.eui) in premises.devices:
                return premises.runner_for(device.eui)
        raise ScenarioError(f"{device.eui} is not on a premises' HAN")

    def _utrn_text(self, step: ActionStep, meter: Eui64) -> str:
        """The 20 digits the consumer types: given, one typed before, or issued now by the
        meter's supplier (for `issued_for`, another meter)."""
        from hil.utrn import UtrnIssueError, tamper

        if step.utrn_of is not None:
            text = self.utrns.get(step.utrn_of)
            if text is None and step.utrn_of in self._skipped_utrns:
                at = self._skipped_utrns[step.utrn_of]
                external = self.lab.external(at)
                raise StepSkipped(
                    f"utrn_of: {step.utrn_of!r} was typed at {at}, which is external"
                    f" ({external.url if external else '?'}): there is no UTRN to repeat"
                )
            if text is None:
                raise ScenarioError(f"utrn_of: no earlier utrn step named {step.utrn_of!r}")
        elif step.utrn is not None:
            text = step.utrn.replace(" ", "").replace("-", "")
        else:
            issued = self.lab.eui(step.issued_for) if step.issued_for else meter
            try:
                text = self._make_utrn(issued, step.amount_pence or 0, step.counter)
            except UtrnIssueError as exc:
                raise ScenarioError(f"utrn: {exc}") from None
        if step.tamper is not None:
            text = tamper(text, step.tamper)
        if step.name:
            self.utrns[step.name] = text
        return text

    def _typed_utrn(
        self, step: ActionStep, ppmid: Any, target: Any, fuel: str, detail: dict[str, Any]
    ) -> str:
        text = self._utrn_text(step, Eui64(target.eui))
        outcome = ppmid.enter_utrn(text, fuel) if ppmid is not None else target.enter_utrn(text)
        detail["utrn"] = text
        detail.update(result=outcome.result, pence=outcome.pence, reason=outcome.reason)
        return self._utrn_verdict(step, outcome, fuel)

    def _utrn_verdict(self, step: ActionStep, outcome: Any, fuel: str) -> str:
        """The step's verdict on a UTRN's outcome (a `TopUpOutcome`), wherever the meter is."""
        if outcome.accepted != step.accepted:
            want = "accepted" if step.accepted else "refused"
            why = "" if outcome.reason is None else f" (0x{outcome.reason:04X} {outcome.detail})"
            raise StepFailed(f"UTRN expected {want}, got result type {outcome.result}{why}")
        if step.reason is not None and outcome.reason != step.reason:
            got = "none" if outcome.reason is None else f"0x{outcome.reason:04X}"
            raise StepFailed(f"UTRN refused with {got}, expected 0x{step.reason:04X}")
        if outcome.accepted:
            return f"UTRN accepted by {fuel}: {outcome.pence} pence"
        return f"UTRN refused by {fuel}: 0x{outcome.reason or 0:04X} {outcome.detail}"

    def _make_utrn(self, meter: Eui64, pence: int, counter: int | None = None) -> str:
        from hil.utrn import issue_utrn

        supplier = self._supplier_of(meter)
        if supplier is None:
            raise ScenarioError("utrn: the meter has no supplier to issue a UTRN")
        counters = self.dcc.utrn_counters  # shared with the DCC's own top-ups (2.2)
        return issue_utrn(self.lab.pki.keystore, supplier, meter, pence, counters, counter=counter)

    def _supplier_of(self, meter: Eui64) -> Eui64 | None:
        """Whose prepayment key a UTRN for `meter` is made with: an emulated meter's
        supplier trust anchor; for a board, the supplier registered for it at the DCC
        (the anchor the lab gave it: `smets-hil device` builds it from the same lab)."""
        from emulator.devices.anchors import AnchorRole
        from hil.dcc.inventory import DeviceKind

        device = self.lab.device(meter)
        if device is not None:
            anchor = device.anchors.get(AnchorRole.SUPPLIER)
            return None if anchor is None else Eui64(anchor.eui)
        entry = self.lab.inventory.get(meter)
        if entry is None or entry.hub is None:
            return None
        registration = self.lab.registrations.get(bytes(entry.hub))
        if registration is None:
            return None
        if entry.kind == DeviceKind.GSME:
            return registration.gas_supplier
        return registration.import_supplier

    async def _raw(self, step: RawStep, detail: dict[str, Any], timeout: float) -> str:
        raw = bytes.fromhex(step.raw) if isinstance(step.raw, str) else self._build(step.raw)
        detail["command"] = raw.hex().upper()
        msg = decode_message(raw)
        hub = self.dcc._hub_for(msg.recipient)
        if hub is None:
            raise ScenarioError(f"no hub serves {msg.recipient}")
        try:
            response = await hub.send(raw, timeout=min(step.within, timeout))
        except EmulatorError as exc:
            detail["rejected"] = str(exc)
            if step.expect in ("rejected", "any"):
                return f"rejected: {exc}"
            raise StepFailed(f"expected a response, got {type(exc).__name__}: {exc}") from None
        values = response_values(self.dcc.security, raw, response)
        detail["values"] = [v.as_dict() for v in values]
        if step.expect == "rejected":
            raise StepFailed("expected the command to be rejected, got a response")
        return values_text(values) or "response"

    # -- faults and prompts --------------------------------------------------------------------
    def injector(self) -> Any:
        if self._injector is None:
            if self.injector_factory is not None:
                self._injector = self.injector_factory(self.lab, self.seed, self._fault_record)
            else:
                self._injector = FaultInjector(
                    self.lab, seed=self.seed, on_record=self._fault_record
                )
        return self._injector

    def _fault_record(self, record: FaultRecord) -> None:
        """Faults are collected from the injector at the end; nothing to do per record."""

    def _fault(self, step: FaultStep, detail: dict[str, Any]) -> str:
        handle = self.injector().inject(step.fault, name=step.name)
        self.faults[step.name or f"fault {len(self.faults) + 1}"] = handle
        detail["fault"] = _jsonable(step.fault)
        return f"fault injected: {_short(detail['fault'])}"

    def _clear_fault(self, step: ClearFaultStep) -> str:
        if step.clear_fault == "all":
            self.injector().clear(None)
            self.faults.clear()
            return "all faults cleared"
        handle = self.faults.pop(step.clear_fault, None)
        if handle is None:
            raise ScenarioError(f"no active fault named {step.clear_fault!r}")
        self.injector().clear(handle)
        return f"fault {step.clear_fault!r} cleared"

    async def _prompt(self, step: PromptStep) -> str:
        if not self.interactive:
            raise StepSkipped(
                f"operator prompt skipped (no prompts: CI or --no-prompt): {step.prompt}"
            )
        question = step.prompt + (" [y/n] " if step.confirm else " [Enter] ")
        answer = await asyncio.to_thread(input, question)
        if step.confirm and answer.strip().lower() not in ("y", "yes"):
            raise StepFailed(f"operator answered {answer.strip() or 'nothing'!r}")
        return f"operator: {answer.strip() or 'done'}"

    async def close(self) -> None:
        self._active = False
        if self._injector is not None:
            self.record.faults = list(self._injector.records)
            await self._injector.aclose()
            self.record.faults = list(self._injector.records)


def _decoded(raw: bytes, command: bytes | None) -> str | None:
    """The message's decoded tree as text (what a report shows for an arrow).

    Decoded without keys: the record is for reading; signature and MAC checks
    are the DCC's and the devices' job, and their outcome is in the steps.
    """
    try:
        data = inspect_message(raw, None, command).to_json()
    except (GbcsError, EmulatorError, ValueError) as exc:
        return f"not decoded: {exc}"
    data.pop("values", None)
    return "\n".join(render_text(data))


_MISSING = object()


def _value_at(values: list[NamedValue], path: str) -> tuple[Any, str | None]:
    """A value by name, or a field inside one by `name.field.field` (`_MISSING` if none)."""
    named = _find_value(values, path)
    if named is not None:
        return named.value, named.unit or None
    for value in values:
        if path.startswith(value.name + "."):
            current: Any = value.value
            for key in path[len(value.name) + 1 :].split("."):
                if isinstance(current, dict) and key in current:
                    current = current[key]
                elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
                    current = current[int(key)]
                else:
                    return _MISSING, None
            return current, None
    return _MISSING, None


def _check_values(
    ctx: ScenarioContext, values: list[NamedValue], checks: dict[str, Check]
) -> list[str]:
    problems = []
    for path, check in checks.items():
        value, unit = _value_at(values, path)
        if value is _MISSING:
            known = ", ".join(v.name for v in values) or "none"
            problems.append(f"no value {path!r} (values: {known})")
            continue
        problems += ctx.check(path, value, check, unit)
    return problems


def _find_value(values: list[NamedValue], name: str) -> NamedValue | None:
    for value in values:
        if value.name == name:
            return value
    folded = name.casefold()
    return next((v for v in values if v.name.casefold() == folded), None)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, dict):
        return {str(_jsonable(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        try:
            return _jsonable(to_json())
        except Exception:
            return str(value)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return _jsonable(model_dump(by_alias=True))
    return str(value)


def _short(value: Any, limit: int = 80) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    text = f"{value:g}" if number else repr(_jsonable(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- entry points ------------------------------------------------------------------------------


async def run_scenario(
    scenario: Scenario,
    lab: Lab,
    *,
    seed: int | None = None,
    on_event: EventHandler | None = None,
    interactive: bool | None = None,
    injector_factory: InjectorFactory | None = None,
    t0: float | None = None,
    lab_name: str | None = None,
) -> ScenarioRecord:
    """Run a scenario on a started lab; a failure is a verdict in the record, never raised."""
    t0 = time.perf_counter() if t0 is None else t0
    now = Stamp(lab.clock.now().isoformat(), round(time.perf_counter() - t0, 6))
    record = ScenarioRecord(
        name=scenario.name,
        file=scenario.file,
        lab=lab_name or lab.spec.name,
        seed=seed,
        parameters=dict(scenario.parameters),
        verdict=Verdict.UNSET,
        started=now,
        ended=now,
    )
    ctx = ScenarioContext(
        scenario,
        lab,
        record,
        seed or 0,
        t0,
        interactive=interactive_default() if interactive is None else interactive,
        on_event=on_event,
        injector_factory=injector_factory,
        random=random.Random(seed or 0),
    )
    ctx._event("scenario_started", {"lab": record.lab, "virtual": now.virtual})
    capture = _Capture(ctx)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(min(old_level or logging.WARNING, logging.INFO))
    dcc = lab.dcc
    if dcc is not None:
        for hub in dcc.hubs.values():
            hub.add_listener(ctx.on_hub)
        if dcc.smets1 is not None:
            dcc.smets1.add_listener(ctx.on_smets1)
    verdicts: list[Verdict] = []
    try:
        check_scenario(scenario, lab)
        verdicts += await _section(ctx, scenario.setup)
        if not _broken(verdicts):
            if scenario.body is not None:
                verdicts.append(await _python_body(ctx))
            else:
                verdicts += await _section(ctx, scenario.steps)
    except ScenarioError as exc:
        verdicts.append(_error_step(ctx, "check", str(exc)))
    try:
        verdicts += await _section(ctx, scenario.teardown, stop_on_failure=False)
        if dcc is not None:
            await dcc.settle(5.0)
        ctx._sweep_responses()
        await ctx.close()
    except (HilError, EmulatorError) as exc:
        verdicts.append(_error_step(ctx, "teardown", f"{type(exc).__name__}: {exc}"))
    finally:
        ctx._active = False
        root.removeHandler(capture)
        root.setLevel(old_level)
    for result in ctx.results.values():
        timing = result.timing
        if timing is not None and timing.measured is not None:
            record.response_times.append(
                ResponseTimeRecord(
                    result.variant,
                    round(timing.measured, 6),
                    timing.target,
                    timing.target is None or timing.measured <= timing.target,
                    timing.smets1,
                )
            )
    record.verdict = _overall(verdicts)
    record.ended = ctx.stamp()
    ctx._event("scenario_ended", {"verdict": record.verdict.value})
    return record


async def _python_body(ctx: ScenarioContext) -> Verdict:
    assert ctx.scenario.body is not None
    bound = PYTHON_BOUND * ctx.scenario.timeout  # its steps are bounded; its own awaits too
    try:
        await asyncio.wait_for(ctx.scenario.body(ctx), bound)
    except TimeoutError:
        where = ctx.scenario.file or ctx.scenario.name
        return _error_step(ctx, "python", f"{where}: timed out after {bound:g} s (real)")
    except StepFailed:
        return Verdict.FAIL if ctx.record.steps[-1].verdict == Verdict.FAIL else Verdict.ERROR
    except Exception as exc:  # the scenario's own code: an ERROR with its place, not a crash
        line = None
        tb = exc.__traceback__
        code = ctx.scenario.body.__code__.co_filename
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == code:
                line = tb.tb_lineno
            tb = tb.tb_next
        place = ctx.scenario.file or ctx.scenario.name
        place = place if line is None else f"{place}:{line}"
        return _error_step(ctx, "python", f"{place}: {type(exc).__name__}: {exc}")
    return Verdict.PASS


def _error_step(ctx: ScenarioContext, name: str, message: str) -> Verdict:
    at = ctx.stamp()
    ctx.record.steps.append(StepRecord(name, name, None, Verdict.ERROR, message, at, at))
    return Verdict.ERROR


async def _section(
    ctx: ScenarioContext, specs: list[StepSpec], *, stop_on_failure: bool = True
) -> list[Verdict]:
    verdicts = []
    for spec in specs:
        verdicts.append(await ctx._run(spec, {}))
        if stop_on_failure and _broken(verdicts):
            break
    return verdicts


def _broken(verdicts: list[Verdict]) -> bool:
    return any(v in (Verdict.FAIL, Verdict.ERROR) for v in verdicts)


def _overall(verdicts: list[Verdict]) -> Verdict:
    if Verdict.ERROR in verdicts:
        return Verdict.ERROR
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if verdicts and all(v == Verdict.SKIP for v in verdicts):
        return Verdict.SKIP
    return Verdict.PASS


def _tool() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"smets-hil {version('smets-hil')}"
    except PackageNotFoundError:
        return "smets-hil"


async def run_scenarios(
    scenarios: Sequence[Scenario],
    *,
    lab: str | Path | None = None,
    seed: int | None = None,
    on_event: EventHandler | None = None,
    interactive: bool | None = None,
    injector_factory: InjectorFactory | None = None,
    link: str | None = None,
) -> RunRecord:
    """Each scenario on a fresh lab (`lab`, else the scenario's, else the demo lab).

    `link` replaces the lab file's HAN link (`mqtt-embedded`, a broker URL).
    """
    run = RunRecord(_tool(), _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    t0 = time.perf_counter()
    for scenario in scenarios:
        path = lab or scenario.lab or DEFAULT_LAB
        try:
            the_lab = Lab.load(path, link=link)
            await the_lab.start()
        except (HilError, EmulatorError, OSError) as exc:  # a lab that cannot run: ERROR
            run.scenarios.append(_lab_failed(scenario, str(path), seed, t0, exc))
            if on_event is not None:
                on_event("scenario_ended", {"scenario": scenario.name, "verdict": "error"})
            continue
        try:
            record = await run_scenario(
                scenario,
                the_lab,
                seed=seed,
                on_event=on_event,
                interactive=interactive,
                injector_factory=injector_factory,
                t0=t0,
                lab_name=str(path),
            )
        finally:
            await the_lab.stop()
        run.scenarios.append(record)
    return run


def _lab_failed(
    scenario: Scenario, lab: str, seed: int | None, t0: float, exc: BaseException
) -> ScenarioRecord:
    at = Stamp("", round(time.perf_counter() - t0, 6))
    message = f"lab {lab}: cannot start: {type(exc).__name__}: {exc}"
    step = StepRecord("lab", "lab", None, Verdict.ERROR, message, at, at)
    return ScenarioRecord(
        scenario.name,
        scenario.file,
        lab,
        seed,
        dict(scenario.parameters),
        Verdict.ERROR,
        at,
        at,
        steps=[step],
    )


def _alert_code(raw: bytes, code: int) -> int:
    """The alert code a hub alert carries (a GNCA carries it inside its payload)."""
    for value in response_values(None, None, raw):
        if value.name == "alert_code" and isinstance(value.raw, int):
            code = value.raw
    return code


async def newest_refusal_alert(
    alerts: Sequence[tuple[bytes, str, int]],
    since: int,
    device: str,
    codes: frozenset[int],
    wait: float,
    settle: float = REFUSAL_ALERT_SETTLE_S,
) -> int | None:
    """The newest refusal alert (one of `codes`) from `device` in `alerts` after `since`,
    once none newer has come for `settle` seconds (at most `wait` seconds in all).

    The newest, not the first: a board answers in order, so an earlier step's refusal
    alert still on its way arrives before this step's, never after it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    found: int | None = None
    found_at = 0.0
    seen = since
    while True:
        for raw, source, code in alerts[seen:]:
            if source == device and (code := _alert_code(raw, code)) in codes:
                found, found_at = code, loop.time()
        seen = len(alerts)
        now = loop.time()
        if found is not None and now - found_at >= settle:
            return found
        if now >= deadline:
            return found
        await asyncio.sleep(0.02)
