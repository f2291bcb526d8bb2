"""What a fault is: one strict pydantic model per kind, a union discriminated on `kind`.

The scenario schema embeds `FaultSpec` as a field type (a step's ``fault:``), so
the models follow the file rules of `hil.files`: strict types (a rate is a
number, never the string "0.1"), unknown keys refused. Durations are the one
exception to "no coercion": ``30s``, ``200ms``, ``5m``, ``1h``, ``-2h`` or a
number of seconds, since that is how people write them in YAML.

A target that names a device ("ESME", "1 Lab Street/GSME") can only be checked
against a lab; `FaultInjector.inject` does that and raises `FaultSpecError`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from hil.errors import HilError


class FaultSpecError(HilError, ValueError):
    """A fault that cannot be injected; the one-line message names the field."""


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)?\s*")


def parse_duration(value: object) -> float:
    """Seconds from ``30s``, ``200ms``, ``5m``, ``1h``, ``-2h`` or a plain number."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration such as 30s or 200ms, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is not None:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(f"must be a duration such as 30s, 200ms, 5m or 1h, got {value!r}")


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"must not be negative, got {value:g} s")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds (signed: a clock jump may go back)."""

Period = Annotated[float, BeforeValidator(lambda v: _non_negative(parse_duration(v)))]
"""Seconds, zero or more."""

Rate = Annotated[float, Field(ge=0.0, le=1.0)]

#: Targets that select by message rather than by device.
MESSAGE_KINDS = ("command", "response", "alert")


class _Fault(BaseModel):
    """Fields every fault has."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True, frozen=True)

    #: How long the fault lasts on the lab clock; None: until cleared.
    for_: Period | None = Field(default=None, alias="for")

    def label(self) -> str:
        """A short human name for the record: "drop 10%", "link down 30s"."""
        return self.kind_name()

    def kind_name(self) -> str:
        return str(getattr(self, "kind", "fault")).replace("_", " ")


class _Targeted(_Fault):
    #: A device of the lab, "all", a message kind (command, response, alert) or a link URL.
    target: str = "all"
    #: Share of matching messages the fault applies to.
    rate: Rate = 1.0
    #: Clear the fault after it has acted on this many messages (None: no limit).
    count: Annotated[int, Field(gt=0)] | None = None


def _pct(rate: float) -> str:
    return f"{rate * 100:g}%"


def _secs(seconds: float) -> str:
    if abs(seconds) < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


class LatencyFault(_Targeted):
    """Each message is late by `delay` plus a uniform 0..`jitter` (lab clock)."""

    kind: Literal["latency"]
    delay: Period = 0.0
    jitter: Period = 0.0

    def label(self) -> str:
        if not self.delay:
            return f"jitter {_secs(self.jitter)}"
        jitter = f", jitter {_secs(self.jitter)}" if self.jitter else ""
        return f"latency {_secs(self.delay)}{jitter}"


class DropFault(_Targeted):
    """Messages vanish on the link."""

    kind: Literal["drop"]

    def label(self) -> str:
        return f"drop {_pct(self.rate)}"


class DuplicateFault(_Targeted):
    """A message goes out twice."""

    kind: Literal["duplicate"]


class ReorderFault(_Targeted):
    """A message is held back and sent after the next one (or after `window`)."""

    kind: Literal["reorder"]
    window: Period = 1.0


class CorruptFault(_Targeted):
    """Bytes of the frame (or of the GBCS payload only) are flipped."""

    kind: Literal["corrupt"]
    bytes: Annotated[int, Field(gt=0)] = 1
    region: Literal["frame", "payload"] = "frame"


class TruncateFault(_Targeted):
    """The frame is cut short; `keep` bytes (None: a random length) survive."""

    kind: Literal["truncate"]
    keep: Annotated[int, Field(ge=0)] | None = None


class SplitFault(_Targeted):
    """A frame goes out in two pieces, or a GBCS message as GBT segments."""

    kind: Literal["split"]
    at: Annotated[int, Field(gt=0)] | None = None
    #: "frame": the raw envelope in two transport chunks; "gbt": the GBCS message
    #: as GBT blocks of `block_size` bytes, one envelope each.
    mode: Literal["frame", "gbt"] = "frame"
    block_size: Annotated[int, Field(gt=0)] = 64


class LinkDownFault(_Targeted):
    """Nothing passes the link while the fault is active."""

    kind: Literal["link_down"]

    def label(self) -> str:
        return "link down" + (f" {_secs(self.for_)}" if self.for_ is not None else "")


class _DeviceFault(_Fault):
    #: The device, by the lab's name for it ("ESME", "1 Lab Street/GSME") or EUI-64.
    device: str


class PowerCycleFault(_DeviceFault):
    """The device is off for `off_for`, then restarts from what it keeps."""

    kind: Literal["power_cycle"]
    off_for: Period = 10.0

    def label(self) -> str:
        return f"power cycle {self.device} ({_secs(self.off_for)} off)"


class ClockDriftFault(_DeviceFault):
    """The device clock runs fast (ppm > 0) or slow against the lab clock."""

    kind: Literal["clock_drift"]
    ppm: float

    def label(self) -> str:
        return f"clock drift {self.device} {self.ppm:+g} ppm"


class ClockJumpFault(_DeviceFault):
    """The device clock jumps by `by` (negative: back)."""

    kind: Literal["clock_jump"]
    by: Duration

    def label(self) -> str:
        return f"clock jump {self.device} {self.by:+g}s"


class BadMacFault(_Targeted):
    """A byte of the command's MAC is flipped: the device must refuse it."""

    kind: Literal["bad_mac"]

    def label(self) -> str:
        return "bad MAC"


class BadSignatureFault(_Targeted):
    """A byte of the command's signature is flipped."""

    kind: Literal["bad_signature"]


class StaleCounterFault(_Targeted):
    """The command goes out with an old originator counter (a replay)."""

    kind: Literal["stale_counter"]


class WrongRecipientFault(_Targeted):
    """The command's recipient is rewritten; the envelope still reaches the device."""

    kind: Literal["wrong_recipient"]


class LateAlertFault(_Targeted):
    """Alerts reach the DCC `delay` later (lab clock)."""

    kind: Literal["late_alert"]
    delay: Period = 60.0


class LostAlertFault(_Targeted):
    """Alerts never reach the DCC."""

    kind: Literal["lost_alert"]


FAULT_MODELS: tuple[type[_Fault], ...] = (
    LatencyFault,
    DropFault,
    DuplicateFault,
    ReorderFault,
    CorruptFault,
    TruncateFault,
    SplitFault,
    LinkDownFault,
    PowerCycleFault,
    ClockDriftFault,
    ClockJumpFault,
    BadMacFault,
    BadSignatureFault,
    StaleCounterFault,
    WrongRecipientFault,
    LateAlertFault,
    LostAlertFault,
)

#: Every fault kind, in the order docs/faults.md lists them.
KINDS: tuple[str, ...] = tuple(
    m.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in FAULT_MODELS
)

AnyFault = (
    LatencyFault
    | DropFault
    | DuplicateFault
    | ReorderFault
    | CorruptFault
    | TruncateFault
    | SplitFault
    | LinkDownFault
    | PowerCycleFault
    | ClockDriftFault
    | ClockJumpFault
    | BadMacFault
    | BadSignatureFault
    | StaleCounterFault
    | WrongRecipientFault
    | LateAlertFault
    | LostAlertFault
)

#: The field type the scenario schema uses: ``fault: FaultSpec``.
FaultSpec = Annotated[AnyFault, Field(discriminator="kind")]

_ADAPTER: TypeAdapter[AnyFault] = TypeAdapter(FaultSpec)


def parse_fault(data: object, *, where: str = "fault") -> AnyFault:
    """A fault from a mapping (or a model, returned as it is); `FaultSpecError` if it is not one."""
    if isinstance(data, _Fault):
        return data  # type: ignore[return-value]
    if not isinstance(data, dict):
        try:
            data = dict(data)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise FaultSpecError(f"{where}: must be a mapping with a kind, got {data!r}") from None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise FaultSpecError(describe(exc, where, data)) from None


def describe(exc: ValidationError, where: str, data: Any) -> str:
    """The first problem of a validation error on one line, naming the field."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    if loc and loc[0] in KINDS:  # the union tag pydantic puts first
        loc = loc[1:]
    field = ".".join([where, *loc])
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        kind = data.get("kind") if isinstance(data, dict) else None
        problem = (
            "missing" if kind is None else f"unknown fault kind {kind!r}"
        ) + f" (known: {', '.join(KINDS)})"
        field = f"{where}.kind"
    elif first["type"] == "extra_forbidden":
        problem = "unknown field"
    else:
        problem = first["msg"].removeprefix("Value error, ")
        if "input" in first and first["type"] != "missing":
            problem += f" (got {first['input']!r})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{field}: {problem}{more}"
