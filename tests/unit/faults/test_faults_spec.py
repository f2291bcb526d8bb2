"""Fault specs: strict models, one-line errors naming the field, pure manipulators."""

from __future__ import annotations

import random

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from hil.faults import KINDS, FaultSpec, FaultSpecError, parse_duration, parse_fault
from hil.faults import manipulate as m


class Step(BaseModel):
    """A stand-in for the scenario schema, which embeds FaultSpec the same way."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: str
    fault: FaultSpec


def test_a_step_embeds_a_fault_with_the_yaml_spelling() -> None:
    step = Step.model_validate(
        {"name": "s", "fault": {"kind": "drop", "rate": 0.1, "target": "ESME", "for": "30s"}}
    )
    assert step.fault.kind == "drop"
    assert step.fault.for_ == 30.0 and step.fault.rate == 0.1 and step.fault.target == "ESME"


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop", "rate": "0.1"},  # strict: a string is not a number
        {"kind": "drop", "rate": 1.5},
        {"kind": "drop", "rate": -0.1},
        {"kind": "drop", "speed": 3},  # unknown field
        {"kind": "teleport"},
        {"rate": 0.1},  # no kind
        {"kind": "power_cycle"},  # device is required
        {"kind": "drop", "target": 7},
        {"kind": "latency", "jitter": "fast"},
        {"kind": "latency", "delay": "-1s"},
        {"kind": "drop", "count": 0},
        {"kind": "drop", "for": True},
    ],
)
def test_the_embedded_spec_is_strict(fault: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Step.model_validate({"name": "s", "fault": fault})
    with pytest.raises(FaultSpecError):
        parse_fault(fault)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"kind": "teleport"}, "fault.kind: unknown fault kind 'teleport' (known: latency,"),
        ({"kind": "drop", "rate": 1.5}, "fault.rate: Input should be less than or equal to 1"),
        ({"kind": "drop", "speed": 3}, "fault.speed: unknown field"),
        ({"kind": "clock_jump", "device": "ESME"}, "fault.by: Field required"),
        ({"kind": "latency", "jitter": "soon"}, "fault.jitter: must be a duration"),
    ],
)
def test_spec_errors_are_one_line_and_name_the_field(
    fault: dict[str, object], expected: str
) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_fault(fault)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(expected), text


def test_every_kind_parses_with_its_own_fields() -> None:
    examples: dict[str, dict[str, object]] = {
        "latency": {"delay": "50ms", "jitter": "200ms"},
        "drop": {"rate": 0.1},
        "duplicate": {},
        "reorder": {"window": "2s"},
        "corrupt": {"bytes": 2, "region": "payload"},
        "truncate": {"keep": 10},
        "split": {"mode": "gbt", "block_size": 32},
        "link_down": {"for": "30s"},
        "power_cycle": {"device": "ESME", "off_for": "1m"},
        "clock_drift": {"device": "ESME", "ppm": 50.0},
        "clock_jump": {"device": "ESME", "by": "-1h"},
        "bad_mac": {},
        "bad_signature": {},
        "stale_counter": {},
        "wrong_recipient": {},
        "late_alert": {"delay": "10m"},
        "lost_alert": {},
    }
    assert set(examples) == set(KINDS)
    for kind, fields in examples.items():
        fault = parse_fault({"kind": kind, **fields})
        assert fault.kind == kind
        assert fault.label()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("200ms", 0.2), ("5m", 300.0), ("1h", 3600.0), ("-2h", -7200.0), (1.5, 1.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def _envelope() -> bytes:
    return Envelope(
        Eui64("00-DB-12-34-56-78-90-A2"),
        Eui64("00-DB-12-34-56-78-90-A0"),
        EnvelopeKind.GBCS,
        bytes(range(40)),
        7,
    ).encode()


def test_manipulators_are_pure_and_repeat_under_a_seed() -> None:
    raw = _envelope()
    first = m.corrupt(raw, 3, random.Random(5), payload_only=True)
    again = m.corrupt(raw, 3, random.Random(5), payload_only=True)
    assert first == again and first != raw and len(first) == len(raw)
    assert first[:24] == raw[:24]  # payload only: the header is untouched
    assert sum(a != b for a, b in zip(first, raw, strict=True)) == 3
    assert m.truncate(raw, 10, random.Random(1)) == raw[:10]
    pieces = m.split_frame(raw, None, random.Random(2))
    assert len(pieces) == 2 and b"".join(pieces) == raw and all(pieces)
    assert m.other_eui(Eui64("00-DB-12-34-56-78-90-A0")) != Eui64("00-DB-12-34-56-78-90-A0")
