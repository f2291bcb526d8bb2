"""Scenarios as data: the YAML format, its schema, and the steps a runner executes.

A scenario file holds one scenario (docs/scenarios.md has the format):

```yaml
name: read the registers
lab: ../labs/demo.yaml        # optional; `--lab` wins
timeout: 60s                  # default timeout of every step
parameters: {user: [supplier, dno]}   # optional matrix: one scenario per cell
setup: [...]                  # steps run first
steps: [...]                  # the test
teardown: [...]               # always run, even after a failure
```

Each step is a mapping with exactly one kind key (`request`, `advance`,
`assert`, ...) plus its own fields, an optional `name` and `timeout`. The file
is checked by `hil.files` (strict types, unknown keys refused, errors
`path:line: field: problem`); names that need the lab (users, device paths)
are checked by `check_scenario` before anything runs.

Python scenarios build the same step models (`RequestStep(request="4.1.1",
...)`) and run them through a `ScenarioContext`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import importlib.util
import itertools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    model_validator,
)

from hil.dcc.catalogue import load_catalogue
from hil.dcc.inventory import SmiStatus
from hil.dcc.requestfile import check_role, check_status, parse_offset
from hil.errors import HilError
from hil.faults import FaultSpec
from hil.files import FileFormatError, FileModel, YamlDocument, python_document, read_yaml, tag

if TYPE_CHECKING:
    from hil.dcc.lab import Lab
    from hil.scenario.runner import ScenarioContext

DEFAULT_TIMEOUT = 60.0  # seconds, virtual for waits on the lab clock, real as a bound


class ScenarioError(HilError, ValueError):
    """A scenario that cannot be run; the message names file, line and step."""


class ScenarioFileError(FileFormatError, ScenarioError):
    """A scenario file that does not match the format: `path:line: field: problem`."""


# -- field types -------------------------------------------------------------------------------


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a duration such as 30s, 15m, 2h or 1d, got {value!r}")
    try:
        seconds = parse_offset(value)
    except ValueError:
        raise ValueError(f"must be a duration such as 30s, 15m, 2h or 1d, got {value!r}") from None
    if seconds < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return seconds


Duration = Annotated[float, BeforeValidator(_duration)]


def _variant(text: str) -> str:
    if text not in load_catalogue():
        raise ValueError(f"no service reference variant {text!r} (smets-hil catalogue lists them)")
    return text


def _when(value: object) -> str:
    if isinstance(value, _dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"must be an ISO 8601 time, got {value!r}") from None
    else:
        raise ValueError(f"must be an ISO 8601 time such as 2026-03-29T01:30, got {value!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return when.isoformat()


def _code(value: object) -> int:
    """An alert or message code: 0x8F1C, "0x8F1C" or 36636."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF:
        return value
    if isinstance(value, str):
        try:
            number = int(value, 0)
        except ValueError:
            number = -1
        if 0 <= number <= 0xFFFF:
            return number
    raise ValueError(f"must be a 16-bit code such as 0x8F1C, got {value!r}")


def _hex(text: str) -> str:
    cleaned = re.sub(r"[\s:-]", "", text)
    if not cleaned or len(cleaned) % 2 or re.fullmatch(r"[0-9A-Fa-f]+", cleaned) is None:
        raise ValueError("must be hex digits (an even number of them)")
    return cleaned.upper()


Variant = Annotated[str, AfterValidator(_variant)]
Code = Annotated[int, BeforeValidator(_code)]


# -- checks (OpenHTF-style validators) ---------------------------------------------------------


class Check(FileModel):
    """Validators of one value; every checked value becomes a measurement in the record."""

    equals: Any = None
    not_equals: Any = None
    in_range: list[float] | None = None
    min: float | None = None
    max: float | None = None
    contains: Any = None
    length: int | None = None
    unit: str | None = None

    @model_validator(mode="after")
    def _range(self) -> Check:
        if self.in_range is not None and len(self.in_range) != 2:
            raise ValueError(f"in_range: needs [low, high], got {self.in_range}")
        if self.in_range is not None and self.in_range[0] > self.in_range[1]:
            raise ValueError(f"in_range: low {self.in_range[0]} is above high {self.in_range[1]}")
        return self

    @property
    def validators(self) -> list[str]:
        out = []
        for key in ("equals", "not_equals", "contains", "length", "min", "max"):
            value = getattr(self, key)
            if value is not None:
                out.append(f"{key}({value!r})")
        if self.in_range is not None:
            out.append(f"in_range({self.in_range[0]:g}, {self.in_range[1]:g})")
        return out

    def problems(self, value: Any) -> list[str]:
        """What does not hold of `value` ([] when every validator passes)."""
        found = []
        if self.equals is not None and value != self.equals:
            found.append(f"expected {self.equals!r}, got {value!r}")
        if self.not_equals is not None and value == self.not_equals:
            found.append(f"expected anything but {value!r}")
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        limits: list[tuple[str, float, float, str]] = []
        if self.in_range is not None:
            low, high = self.in_range
            limits.append(("in_range", low, high, f"[{low:g}, {high:g}]"))
        if self.min is not None:
            limits.append(("min", self.min, float("inf"), f"{self.min:g}"))
        if self.max is not None:
            limits.append(("max", float("-inf"), self.max, f"{self.max:g}"))
        for key, low, high, shown in limits:
            if number is None:
                found.append(f"{key}: not a number: {value!r}")
            elif not low <= number <= high:
                found.append(f"{number:g} is outside {key} {shown}")
        if self.contains is not None:
            try:
                ok = self.contains in value
            except TypeError:
                ok = False
            if not ok:
                found.append(f"{self.contains!r} not in {value!r}")
        if self.length is not None:
            try:
                size: int | None = len(value)
            except TypeError:
                size = None
            if size != self.length:
                found.append(f"expected length {self.length}, got {size}")
        return found


class ValueCheck(Check):
    pass


class _Step(FileModel):
    name: str | None = None
    timeout: Duration | None = None


# -- steps -------------------------------------------------------------------------------------


Status = Annotated[str, AfterValidator(check_status)]


class ResponseExpect(FileModel):
    #: One status, or a list of those accepted (`[completed, failed]`: on a lossy link a
    #: request must end one way or the other, with its reason in the record).
    status: Status | list[Status] | None = None
    reason: str | None = None
    values: dict[str, ValueCheck] = {}


class RequestStep(_Step):
    """A service request through the DCC (a critical one signed as the user)."""

    request: Variant
    user: str
    target: str | None = None
    role: Annotated[str, AfterValidator(check_role)] | None = None
    params: dict[str, Any] = {}
    option: str | None = None
    execute_at: str | None = None  # ISO time or +offset
    after: str | None = None  # name of an earlier request step
    wait: bool = True
    expect: ResponseExpect = ResponseExpect(status="completed")


class RawBuild(FileModel):
    """A command our builders make for a user, without the DCC's checks (eligibility, ...)."""

    variant: Variant
    user: str
    target: str
    role: Annotated[str, AfterValidator(check_role)] | None = None
    params: dict[str, Any] = {}
    option: str | None = None


class RawStep(_Step):
    """A GBCS command sent to the hub as is: hex, or built by our builders for a user."""

    raw: Annotated[str, AfterValidator(_hex)] | RawBuild
    expect: Literal["response", "rejected", "any"] = "response"
    #: How long (real seconds) the hub waits for the response; silence is a rejection.
    within: Duration = 5.0


class ActionStep(_Step):
    """A local action on a device: what a person at the premises does."""

    action: Literal[
        "press_button",
        "utrn",
        "emergency_credit",
        "enable_supply",
        "power_cycle",
        "set_load",
        "reset_han",
        "han_join",
        "replace_hub",
    ]
    device: str
    utrn: str | None = None  # for `utrn`: the 20 digits typed
    amount_pence: int | None = None  # for `utrn`: type a valid UTRN the supplier made for this
    utrn_of: str | None = None  # for `utrn`: type again the UTRN an earlier step typed (replay)
    counter: int | None = None  # for `utrn` with amount_pence: the supplier counter (an old one)
    issued_for: str | None = None  # for `utrn` with amount_pence: made for this meter instead
    tamper: Literal["check_digit", "mac"] | None = None  # for `utrn`: spoil the digits typed
    meter: str | None = None  # on a PPMID: the meter it asks (default ESME)
    accepted: bool = True  # `utrn`, `emergency_credit`, `enable_supply`: the meter says yes;
    # `han_join`: the hub takes it
    reason: Code | None = None  # for a refused `utrn`: the GBCS event code the meter logs
    load_w: float | None = None  # for `set_load`
    off_for: Duration = 0.0  # for `power_cycle`
    install_code: str | None = None  # for `reset_han`: the new device's code (hex)

    @model_validator(mode="after")
    def _needs(self) -> ActionStep:
        given = [x for x in (self.utrn, self.amount_pence, self.utrn_of) if x is not None]
        if self.action == "utrn" and len(given) != 1:
            raise ValueError(
                "action utrn needs one of utrn: (the 20 digits typed), amount_pence: or utrn_of:"
            )
        if (self.counter is not None or self.issued_for is not None) and self.amount_pence is None:
            raise ValueError("counter: and issued_for: make a UTRN: they need amount_pence:")
        if self.reason is not None and self.accepted:
            raise ValueError("reason: is the GBCS code of a refusal: it needs accepted: false")
        if self.action == "set_load" and self.load_w is None:
            raise ValueError("action set_load needs load_w:")
        if self.install_code is not None:
            try:
                bytes.fromhex(self.install_code)
            except ValueError:
                raise ValueError("install_code: not hex digits") from None
        return self


class ExpectResponseStep(_Step):
    """Wait for the response to an earlier request made with `wait: false`."""

    expect_response: str  # the request step's name
    within: Duration | None = None
    status: Annotated[str, AfterValidator(check_status)] | None = "completed"
    reason: str | None = None
    values: dict[str, ValueCheck] = {}


class ExpectAlertStep(_Step):
    """Wait for a GBCS alert crossing the hub (from `device`, with `code`)."""

    expect_alert: Code | None
    device: str | None = None
    within: Duration | None = None
    values: dict[str, ValueCheck] = {}  # the alert's decoded values, by name or path


class ExpectDccAlertStep(_Step):
    """Wait for an alert the DCC delivers to users (optionally to `user`)."""

    expect_dcc_alert: Code | None
    device: str | None = None
    user: str | None = None
    within: Duration | None = None
    values: dict[str, ValueCheck] = {}


class AdvanceStep(_Step):
    """Move the lab's virtual clock timer by timer (real time on a real-clock lab)."""

    advance: Duration


class UntilStep(_Step):
    until: Annotated[str, BeforeValidator(_when)]


class SleepStep(_Step):
    """Real time passes (the lab's clock does not move unless it is a real clock)."""

    sleep: Duration


class AssertStep(Check, _Step):
    """Device state by path (`ESME.meter.balance`), checked and kept as a measurement."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)
    assert_: str = Field(alias="assert")


def _smi_status(text: str) -> str:
    return SmiStatus.parse(text).value


class SmiStep(_Step):
    """A device's status on the DCC's inventory (SMI), as 8.2 would read it."""

    smi: str  # a device of the lab or an EUI-64 (one pre-notified during the scenario)
    status: Annotated[str, AfterValidator(_smi_status)]


class HanLogStep(_Step):
    """Who is in a device's log: the CHF Device Log (and Historic Device Log), the GPF
    Device Log, or a meter's or PPMID's pairings (CS03/CS04). Devices by name or EUI-64."""

    han_log: str
    has: list[str] = []  # in the log (for the CHF: and joined, with a link key)
    logged: list[str] = []  # CHF: in the log, joined or not
    lacks: list[str] = []  # not in the log
    historic: list[str] = []  # CHF: in the Historic Device Log
    keys: dict[
        str, str
    ] = {}  # CHF: the key each joined with (install_code, historic, restored, rejoined)
    length: int | None = None  # how many entries the log holds


class MeasureStep(Check, _Step):
    """A measurement: a state path or a value of an earlier response, with validators."""

    measure: str
    path: str | None = None
    response: str | None = None  # request step name
    value: str | None = None  # the response value's name

    @model_validator(mode="after")
    def _source(self) -> MeasureStep:
        if (self.path is None) == (self.response is None or self.value is None):
            raise ValueError("a measure step needs path:, or response: and value:")
        return self


class FaultStep(_Step):
    """Inject a fault (hil.faults.FaultInjector); `for:` inside the spec clears it later."""

    fault: FaultSpec


class ClearFaultStep(_Step):
    clear_fault: str  # a fault step's name, or "all"


class PromptStep(_Step):
    """An operator prompt on a real bench; SKIP in CI (`--no-prompt`, CI set)."""

    prompt: str
    confirm: bool = False  # the operator answers yes or no; no fails the step


class RepeatStep(_Step):
    """Run `steps` `repeat` times; `${i}` in their strings is the round (0-based)."""

    repeat: int = Field(ge=1, le=10000)
    steps: list[Step]


STEP_KINDS: dict[str, type[_Step]] = {
    "request": RequestStep,
    "raw": RawStep,
    "action": ActionStep,
    "expect_response": ExpectResponseStep,
    "expect_alert": ExpectAlertStep,
    "expect_dcc_alert": ExpectDccAlertStep,
    "advance": AdvanceStep,
    "until": UntilStep,
    "sleep": SleepStep,
    "assert": AssertStep,
    "measure": MeasureStep,
    "smi": SmiStep,
    "han_log": HanLogStep,
    "fault": FaultStep,
    "clear_fault": ClearFaultStep,
    "prompt": PromptStep,
    "repeat": RepeatStep,
}


class UnknownStep(_Step):
    """What a mapping without a step key is validated as: always an error."""

    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"a step must be a mapping, got {data!r}")
        keys = ", ".join(str(k) for k in data) or "nothing"
        close = [m for k in data for m in difflib.get_close_matches(str(k), STEP_KINDS, 1)]
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(
            f"unknown step (keys: {keys}); a step has one of: {', '.join(STEP_KINDS)}{hint}"
        )


def _step_kind(value: object) -> str:
    if isinstance(value, dict):
        for key in STEP_KINDS:
            if key in value:
                return f"{key} step"
    elif isinstance(value, _Step):
        for key, model in STEP_KINDS.items():
            if type(value) is model:
                return f"{key} step"
    return "unknown step"


Step = Annotated[
    Annotated[RequestStep, tag("request step")]
    | Annotated[RawStep, tag("raw step")]
    | Annotated[ActionStep, tag("action step")]
    | Annotated[ExpectResponseStep, tag("expect_response step")]
    | Annotated[ExpectAlertStep, tag("expect_alert step")]
    | Annotated[ExpectDccAlertStep, tag("expect_dcc_alert step")]
    | Annotated[AdvanceStep, tag("advance step")]
    | Annotated[UntilStep, tag("until step")]
    | Annotated[SleepStep, tag("sleep step")]
    | Annotated[AssertStep, tag("assert step")]
    | Annotated[MeasureStep, tag("measure step")]
    | Annotated[SmiStep, tag("smi step")]
    | Annotated[HanLogStep, tag("han_log step")]
    | Annotated[FaultStep, tag("fault step")]
    | Annotated[ClearFaultStep, tag("clear_fault step")]
    | Annotated[PromptStep, tag("prompt step")]
    | Annotated[RepeatStep, tag("repeat step")]
    | Annotated[UnknownStep, tag("unknown step")],
    Discriminator(_step_kind),
]
RepeatStep.model_rebuild()


class ScenarioFileModel(FileModel):
    """A scenario file; docs/scenarios.md describes every field."""

    name: str
    description: str | None = None
    lab: str | None = None
    tags: list[str] = []
    timeout: Duration = DEFAULT_TIMEOUT
    parameters: dict[str, list[Any]] = {}
    setup: list[Step] = []
    steps: list[Step]
    teardown: list[Step] = []


# -- scenarios ---------------------------------------------------------------------------------


@dataclass
class StepSpec:
    """A step with its place: the model, its name, its line, and nested steps of a repeat."""

    model: _Step
    kind: str
    name: str
    line: int | None
    where: str  # "file:line" or the Python function
    children: list[StepSpec] = field(default_factory=list)


PythonBody = Callable[["ScenarioContext"], Awaitable[None]]


@dataclass
class Scenario:
    name: str
    file: str | None = None
    line: int | None = None
    lab: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    setup: list[StepSpec] = field(default_factory=list)
    steps: list[StepSpec] = field(default_factory=list)
    teardown: list[StepSpec] = field(default_factory=list)
    body: PythonBody | None = None  # a Python scenario's function
    description: str = ""

    @property
    def markers(self) -> list[str]:
        return self.tags

    def all_steps(self) -> list[StepSpec]:
        out: list[StepSpec] = []

        def walk(specs: list[StepSpec]) -> None:
            for spec in specs:
                out.append(spec)
                walk(spec.children)

        walk([*self.setup, *self.steps, *self.teardown])
        return out


_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(data: Any, values: dict[str, Any], *, keep_unknown: bool = True) -> Any:
    """`${name}` in strings replaced; a string that is only `${name}` takes the value's type."""
    if isinstance(data, str):
        whole = _PARAM.fullmatch(data)
        if whole is not None and whole.group(1) in values:
            return values[whole.group(1)]

        def one(m: re.Match[str]) -> str:
            key = m.group(1)
            if key in values:
                return str(values[key])
            return m.group(0) if keep_unknown else ""

        return _PARAM.sub(one, data)
    if isinstance(data, list):
        return [substitute(v, values, keep_unknown=keep_unknown) for v in data]
    if isinstance(data, dict):
        return {k: substitute(v, values, keep_unknown=keep_unknown) for k, v in data.items()}
    return data


def load_scenarios(path: str | Path) -> list[Scenario]:
    """A scenario file (YAML or Python) as scenarios, a matrix expanded one per cell."""
    path = Path(path)
    if path.suffix == ".py":
        return load_python_scenarios(path)
    doc = read_yaml(path, ScenarioFileError)
    return scenarios_from_document(doc, base=path.parent)


def parse_scenarios(data: object, where: str = "scenario") -> list[Scenario]:
    """Scenario data already in Python (no line numbers in errors)."""
    return scenarios_from_document(python_document(data, where, ScenarioFileError))


def scenarios_from_document(doc: YamlDocument, base: Path | None = None) -> list[Scenario]:
    matrix = doc.validate(_Matrix).parameters if isinstance(doc.data, dict) else {}
    for key, values in matrix.items():
        if not values:
            raise doc.error(("parameters", key), "needs at least one value")
    cells: list[dict[str, Any]] = [
        dict(zip(matrix, combo, strict=True)) for combo in itertools.product(*matrix.values())
    ] or [{}]
    out = []
    for cell in cells:
        data = substitute(doc.data, cell) if cell else doc.data
        cell_doc = YamlDocument(doc.path, data, doc.root, doc.make_error, doc.from_text)
        out.append(_scenario(cell_doc, cell_doc.validate(ScenarioFileModel), cell, base))
    return out


class _Matrix(BaseModel):
    """The `parameters:` of a file, read before the rest (its values fill `${...}`)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    parameters: dict[str, list[Any]] = {}


def _scenario(
    doc: YamlDocument, model: ScenarioFileModel, cell: dict[str, Any], base: Path | None
) -> Scenario:
    lab = cell.get("lab", model.lab)
    if isinstance(lab, str) and base is not None and not Path(lab).is_absolute():
        lab = str((base / lab).resolve())
    name = model.name
    if cell:
        name += "[" + ",".join(f"{k}={v}" for k, v in cell.items()) + "]"
    requests: dict[str, int] = {}
    faults: set[str] = set()
    sections = {}
    for section in ("setup", "steps", "teardown"):
        sections[section] = _specs(doc, getattr(model, section), (section,), requests, faults)
    return Scenario(
        name=name,
        file=doc.path if doc.from_text else None,
        line=doc.locate(())[0],
        lab=None if lab is None else str(lab),
        parameters=cell,
        tags=list(model.tags),
        timeout=model.timeout,
        setup=sections["setup"],
        steps=sections["steps"],
        teardown=sections["teardown"],
        description=model.description or "",
    )


def _specs(
    doc: YamlDocument,
    steps: Sequence[_Step],
    loc: tuple[str | int, ...],
    requests: dict[str, int],
    faults: set[str],
) -> list[StepSpec]:
    out = []
    for index, step in enumerate(steps):
        here = (*loc, index)
        kind = _step_kind(step).removesuffix(" step")
        line = doc.locate(here)[0]
        name = step.name or _default_name(kind, step)
        place = (
            f"{doc.path}:{line}" if line is not None else f"{doc.path}: {'.'.join(map(str, here))}"
        )
        if isinstance(step, RequestStep):
            if step.after is not None and step.after not in requests:
                raise doc.error(
                    (*here, "after"), f"no earlier request step is named {step.after!r}"
                )
            if step.name is not None:
                if step.name in requests:
                    raise doc.error(
                        (*here, "name"),
                        f"request name {step.name!r} is already used (line {requests[step.name]})",
                    )
                requests[step.name] = line or 0
        for key, ref in (
            ("expect_response", getattr(step, "expect_response", None)),
            ("response", getattr(step, "response", None)),
        ):
            if ref is not None and ref not in requests:
                raise doc.error((*here, key), f"no earlier request step is named {ref!r}")
        if isinstance(step, FaultStep) and step.name is not None:
            faults.add(step.name)
        if isinstance(step, ClearFaultStep) and step.clear_fault not in (*faults, "all"):
            raise doc.error(
                (*here, "clear_fault"), f"no earlier fault step is named {step.clear_fault!r}"
            )
        children = (
            _specs(doc, step.steps, (*here, "steps"), requests, faults)
            if isinstance(step, RepeatStep)
            else []
        )
        out.append(StepSpec(step, kind, name, line, place, children))
    return out


def _default_name(kind: str, step: _Step) -> str:
    if isinstance(step, RequestStep):
        return f"{step.request} as {step.user}" + (f" to {step.target}" if step.target else "")
    if isinstance(step, AssertStep):
        return f"assert {step.assert_}"
    value = getattr(step, kind if kind != "assert" else "assert_", "")
    if isinstance(value, float):
        return f"{kind} {human_duration(value)}"
    if isinstance(value, int) and kind.startswith("expect"):
        return f"{kind} 0x{value:04X}"
    text = str(value) if not isinstance(value, dict | list) else ""
    return f"{kind} {text}".strip()[:60]


def human_duration(seconds: float) -> str:
    """3600 -> "1h", 90 -> "90s", 5400 -> "1.5h"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and (seconds / size) * 10 == int((seconds / size) * 10):
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def step_spec(step: _Step, where: str = "python") -> StepSpec:
    """A step built in Python, for `ScenarioContext.step`."""
    kind = _step_kind(step).removesuffix(" step")
    children = [step_spec(s, where) for s in step.steps] if isinstance(step, RepeatStep) else []
    head, _, tail = where.rpartition(":")
    line = int(tail) if head and tail.isdigit() else None
    return StepSpec(step, kind, step.name or _default_name(kind, step), line, where, children)


# -- Python scenarios --------------------------------------------------------------------------

_MARK = "__smets_hil_scenario__"


def scenario(
    name: str | None = None,
    *,
    lab: str | None = None,
    tags: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    parameters: dict[str, Sequence[Any]] | None = None,
) -> Callable[[PythonBody], PythonBody]:
    """Mark `async def f(ctx: ScenarioContext)` as a scenario (a matrix via `parameters`)."""

    def mark(func: PythonBody) -> PythonBody:
        setattr(
            func,
            _MARK,
            {
                "name": name or func.__name__,
                "lab": lab,
                "tags": list(tags),
                "timeout": timeout,
                "parameters": {k: list(v) for k, v in (parameters or {}).items()},
            },
        )
        return func

    return mark


def python_scenarios(func: PythonBody, file: str | None = None) -> list[Scenario]:
    info = getattr(func, _MARK, None)
    if info is None:
        raise ScenarioError(f"{func!r} is not marked with @scenario")
    matrix: dict[str, list[Any]] = info["parameters"]
    cells = [
        dict(zip(matrix, combo, strict=True)) for combo in itertools.product(*matrix.values())
    ] or [{}]
    out = []
    for cell in cells:
        name = info["name"]
        if cell:
            name += "[" + ",".join(f"{k}={v}" for k, v in cell.items()) + "]"
        lab = cell.get("lab", info["lab"])
        if isinstance(lab, str) and file is not None and not Path(lab).is_absolute():
            lab = str((Path(file).parent / lab).resolve())
        out.append(
            Scenario(
                name=name,
                file=file,
                line=getattr(getattr(func, "__code__", None), "co_firstlineno", None),
                lab=lab,
                parameters=cell,
                tags=list(info["tags"]),
                timeout=float(info["timeout"]),
                body=func,
                description=(func.__doc__ or "").strip().split("\n")[0],
            )
        )
    return out


def load_python_scenarios(path: Path) -> list[Scenario]:
    """The `@scenario` functions of a Python file, in the order they are defined."""
    module_name = "smets_hil_scenario_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioFileError(str(path), None, "", "cannot import this file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise ScenarioFileError(str(path), None, "", "cannot read: no such file") from None
    except Exception as exc:  # the file's own error, shown on one line
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
                line = tb.tb_lineno
            tb = tb.tb_next
        problem = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SyntaxError) and exc.lineno is not None:  # no frame of the file
            line, problem = exc.lineno, f"{type(exc).__name__}: {exc.msg}"
        raise ScenarioFileError(str(path), line, "", problem) from None
    found = [f for f in vars(module).values() if callable(f) and hasattr(f, _MARK)]
    if not found:
        raise ScenarioFileError(str(path), None, "", "no @scenario function in this file")
    return [s for f in found for s in python_scenarios(f, str(path))]


# -- checks against a lab ----------------------------------------------------------------------


def resolve_path(lab: Lab, path: str, *, catch_up: bool = True) -> Any:
    """Device state by path: `ESME.meter.balance`, `CHF.device_log`, `GSME.firmware.version`.

    The first part names a device of the lab (alias, `premises/alias` or EUI-64);
    the rest are attributes or mapping keys. `a.b` also finds an attribute `a_b`
    (`firmware.version` is `firmware_version`). Raises ScenarioError naming what
    is missing. `catch_up` first brings the device's time-driven state (meter
    registers, balance, profiles) up to the lab clock, as a read would.
    """
    from hil.dcc.lab import LabError

    head, *rest = split_path(path)
    try:
        device = lab.device(head)
    except LabError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    if device is None:
        raise ScenarioError(f"{path}: {head} is not an emulated device (no state to read)")
    if catch_up:  # devices integrate lazily: bring the state up to the lab clock first
        device.catch_up()
    value: Any = device
    index = 0
    while index < len(rest):
        part = rest[index]
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif hasattr(value, part) and not part.startswith("_"):
            value = getattr(value, part)
        elif index + 1 < len(rest) and hasattr(value, f"{part}_{rest[index + 1]}"):
            value = getattr(value, f"{part}_{rest[index + 1]}")
            index += 1
        else:
            shown = ".".join([head, *rest[: index + 1]])
            known = sorted(
                k
                for k in (value if isinstance(value, dict) else _attributes(value))
                if isinstance(k, str) and not k.startswith("_")
            )[:20]
            raise ScenarioError(f"{path}: no {shown!r} (known here: {', '.join(known)})")
        index += 1
    return value


def split_path(path: str) -> list[str]:
    """`1 Lab Street/ESME.meter.balance` -> ["1 Lab Street/ESME", "meter", "balance"]."""
    device, _, rest = path.rpartition("/")
    parts = rest.split(".")
    if device:
        parts[0] = f"{device}/{parts[0]}"
    return parts


def _attributes(value: Any) -> list[str]:
    names = set(getattr(value, "__dict__", {}))
    names |= set(getattr(value, "__slots__", ()) or ())
    names |= set(getattr(value, "__dataclass_fields__", {}) or {})
    names |= {n for c in type(value).__mro__ for n, v in vars(c).items() if isinstance(v, property)}
    return list(names)


def external_in_path(lab: Lab, path: str) -> str | None:
    """The device under test a path reads the inside of (its own state, or what another
    device shows of it, like ``PPMID.display.ESME``); None when the path has none."""
    from hil.dcc.lab import LabError

    for part in split_path(path):
        try:
            if lab.external(part) is not None:
                return part
        except (LabError, KeyError, ValueError):
            continue
    return None


def _external(lab: Lab, path: str) -> bool:
    """A path into a device under test: checked by nobody, skipped when run."""
    return external_in_path(lab, path) is not None


def check_scenario(scenario: Scenario, lab: Lab) -> None:
    """Names the lab must know before anything runs: users, devices, state paths.

    Raises ScenarioError `file:line: step 'name': problem` for the first, with a
    count of the others.
    """
    from hil.dcc.lab import LabError

    problems: list[str] = []
    typed: set[str] = set()  # utrn steps so far, by name, for a later utrn_of
    for spec in scenario.all_steps():
        step = spec.model
        names: list[tuple[str, str | None]] = []
        if isinstance(step, RequestStep):
            if lab.users.get(step.user) is None:
                known = ", ".join(u.name for u in lab.users)
                problems.append(_at(spec, f"user: unknown user {step.user!r} (known: {known})"))
            names.append(("target", step.target))
        elif isinstance(step, ActionStep):
            names += [
                ("device", step.device),
                ("meter", step.meter),
                ("issued_for", step.issued_for),
            ]
            if step.utrn_of is not None and step.utrn_of not in typed and "${" not in step.utrn_of:
                problems.append(_at(spec, f"utrn_of: no earlier utrn step {step.utrn_of!r}"))
            if step.action == "utrn" and step.name:
                typed.add(step.name)
        elif isinstance(step, SmiStep):
            names.append(("smi", step.smi))
        elif isinstance(step, HanLogStep):
            names.append(("han_log", step.han_log))
            for field_name in ("has", "logged", "lacks", "historic"):
                names += [(field_name, n) for n in getattr(step, field_name)]
            names += [("keys", n) for n in step.keys]
        elif isinstance(step, RawStep) and isinstance(step.raw, RawBuild):
            if lab.users.get(step.raw.user) is None:
                known = ", ".join(u.name for u in lab.users)
                problems.append(_at(spec, f"raw.user: unknown user {step.raw.user!r} ({known})"))
            names.append(("raw.target", step.raw.target))
        elif isinstance(step, ExpectAlertStep | ExpectDccAlertStep):
            names.append(("device", step.device))
            user = step.user if isinstance(step, ExpectDccAlertStep) else None
            if user is not None and lab.users.get(user) is None:
                problems.append(_at(spec, f"user: unknown user {user!r}"))
        for key, value in names:
            if value is None or "${" in value:
                continue
            try:
                lab.eui(value)
            except LabError as exc:
                problems.append(_at(spec, f"{key}: {exc}"))
        path = step.assert_ if isinstance(step, AssertStep) else getattr(step, "path", None)
        if isinstance(path, str) and "${" not in path and not _external(lab, path):
            try:
                resolve_path(lab, path, catch_up=False)
            except ScenarioError as exc:
                problems.append(_at(spec, f"unknown device path {exc}"))
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ScenarioError(problems[0] + more)


def _at(spec: StepSpec, problem: str) -> str:
    return f"{spec.where}: step {spec.name!r}: {problem}"
