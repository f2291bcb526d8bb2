"""Response times: where the clock starts, what it leaves out, and the report.

SEC H3.14 and H3.15 set the start points for SMETS2+ devices:

- a non-critical on-demand request: when the DCC receives the service request;
- a critical on-demand request: when the DCC receives the signed pre-command
  (the pre-command itself must reach the user within 3 s of the request);
- a future-dated or scheduled request: at the execution time it names;
- a sequenced request: when the DCC has the response of the request it follows.

The clock stops when the service response reaches the user. Time the command
spends on the HAN (the hub forwarding it to the device and the answer coming
back, including a sleepy gas meter's wait for its wake-up) and time in
quarantine are not counted. For SMETS1 devices the whole interval counts, as
the SMETS1 service provider's round trip is the service, and the SMETS1 column
of the catalogue gives the target.

Targets come from the catalogue, except: future-dated requests have 24 hours
(30 seconds for 6.23 Update Security Credentials (CoS)) and scheduled requests
on SMETS2+ devices always have 24 hours.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from hil.dcc.catalogue import ServiceVariant

PRECOMMAND_TARGET = 3.0  # seconds, SEC H3.14(a)
ALERT_TARGET = 60.0  # seconds, SEC H3.14(g)
FUTURE_DATED_TARGET = _dt.timedelta(hours=24)
FUTURE_DATED_COS_TARGET = _dt.timedelta(seconds=30)
SCHEDULED_TARGET = _dt.timedelta(hours=24)


class Category(StrEnum):
    ON_DEMAND = "on-demand"
    FUTURE_DATED = "future-dated"
    SCHEDULED = "scheduled"
    SEQUENCED = "sequenced"


class StartPoint(StrEnum):
    REQUEST_RECEIVED = "service request received"
    SIGNED_PRECOMMAND_RECEIVED = "signed pre-command received"
    EXECUTION_TIME = "execution time"
    PREDECESSOR_RESPONSE = "predecessor response received"


def target_for(
    service: ServiceVariant, category: Category, *, smets1: bool
) -> _dt.timedelta | None:
    if category == Category.FUTURE_DATED:
        if service.variant == "6.23":
            return FUTURE_DATED_COS_TARGET
        return FUTURE_DATED_TARGET if not smets1 else service.smets1_target
    if category == Category.SCHEDULED and not smets1:
        return SCHEDULED_TARGET
    return service.target(smets1=smets1)


@dataclass
class ResponseTiming:
    """One request's clock: start and stop readings of the lab stopwatch, in seconds."""

    request_id: str
    variant: str
    category: Category
    smets1: bool
    target: float | None
    start_point: StartPoint = StartPoint.REQUEST_RECEIVED
    received: float = 0.0
    start: float | None = None
    stop: float | None = None
    han: float = 0.0
    precommand: float | None = None  # seconds from request to pre-command (critical only)

    @property
    def elapsed(self) -> float | None:
        """Start to stop, HAN time included."""
        if self.start is None or self.stop is None:
            return None
        return self.stop - self.start

    @property
    def measured(self) -> float | None:
        """The response time judged against the target: `elapsed` less HAN time on SMETS2+."""
        elapsed = self.elapsed
        if elapsed is None:
            return None
        excluded = 0.0 if self.smets1 else self.han
        return max(0.0, elapsed - excluded)

    @property
    def breach(self) -> bool:
        m = self.measured
        late = m is not None and self.target is not None and m > self.target
        slow_precommand = self.precommand is not None and self.precommand > PRECOMMAND_TARGET
        return late or slow_precommand

    def as_dict(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "variant": self.variant,
            "category": self.category.value,
            "smets1": self.smets1,
            "start_point": self.start_point.value,
            "elapsed_s": _round(self.elapsed),
            "measured_s": _round(self.measured),
            "han_s": _round(self.han),
            "excluded_han": not self.smets1,
            "precommand_s": _round(self.precommand),
            "target_s": self.target,
            "breach": self.breach,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class VariantStats:
    variant: str
    count: int
    p50: float
    p95: float
    max: float
    breaches: int
    target: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "variant": self.variant,
            "count": self.count,
            "p50_s": round(self.p50, 6),
            "p95_s": round(self.p95, 6),
            "max_s": round(self.max, 6),
            "breaches": self.breaches,
            "target_s": self.target,
        }


@dataclass
class TimingReport:
    timings: list[ResponseTiming] = field(default_factory=list)

    def add(self, timing: ResponseTiming) -> None:
        self.timings.append(timing)

    def extend(self, timings: Iterable[ResponseTiming]) -> None:
        self.timings.extend(timings)

    def per_variant(self) -> list[VariantStats]:
        by: dict[str, list[ResponseTiming]] = {}
        for t in self.timings:
            if t.measured is not None:
                by.setdefault(t.variant, []).append(t)
        out = []
        for variant, items in sorted(by.items(), key=lambda kv: _variant_key(kv[0])):
            values = [t.measured for t in items if t.measured is not None]
            targets = {t.target for t in items}
            out.append(
                VariantStats(
                    variant,
                    len(values),
                    percentile(values, 50),
                    percentile(values, 95),
                    max(values),
                    sum(1 for t in items if t.breach),
                    targets.pop() if len(targets) == 1 else None,
                )
            )
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": [t.as_dict() for t in self.timings],
            "variants": [s.as_dict() for s in self.per_variant()],
            "breaches": sum(1 for t in self.timings if t.breach),
        }


def _variant_key(variant: str) -> list[int]:
    return [int(p) if p.isdigit() else 0 for p in variant.split(".")]
