"""Load profiles: the power drawn in each half-hour, a pure function of time.

A profile answers for a half-hour slot, so the lazily integrated meter gives
the same registers however the clock jumps (one day at once or second by
second). Loads are whole watts.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from emulator.metering.money import MeteringError

SLOTS_PER_DAY = 48
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Constant:
    watts: int

    def at(self, slot_start: _dt.datetime) -> int:
        return self.watts

    def to_json(self) -> dict[str, Any]:
        return {"kind": "constant", "watts": self.watts}


@dataclass(frozen=True, slots=True)
class HalfHourly:
    """48 loads, one per half-hour of the day from midnight (e.g. from a CSV)."""

    watts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.watts) != SLOTS_PER_DAY or min(self.watts) < 0:
            raise MeteringError("a half-hourly profile has 48 non-negative loads")

    def at(self, slot_start: _dt.datetime) -> int:
        return self.watts[slot_start.hour * 2 + slot_start.minute // 30]

    @classmethod
    def from_csv_text(cls, text: str) -> HalfHourly:
        """One load in W per line (or the last column of each line); '#' lines and a
        header line that is not a number are skipped."""
        values: list[int] = []
        for number, line in enumerate(text.splitlines(), 1):
            cell = line.split("#", 1)[0].strip().split(",")[-1].strip()
            if not cell:
                continue
            try:
                values.append(int(cell))
            except ValueError:
                if values:
                    raise MeteringError(f"line {number}: {cell!r} is not a load in W") from None
        return cls(tuple(values))

    def to_json(self) -> dict[str, Any]:
        return {"kind": "half_hourly", "watts": list(self.watts)}


@dataclass(frozen=True, slots=True)
class SeededRandom:
    """A load drawn uniformly in [low, high] W for each half-hour, from the seed and the
    slot's start alone (splitmix64), so a replay gives the same consumption."""

    seed: int
    low: int
    high: int

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise MeteringError("random load bounds need 0 <= low <= high")

    def at(self, slot_start: _dt.datetime) -> int:
        z = (self.seed * 0x9E3779B97F4A7C15 + int(slot_start.timestamp()) // 1800) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        return self.low + z % (self.high - self.low + 1)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "random", "seed": self.seed, "low": self.low, "high": self.high}


LoadProfile = Constant | HalfHourly | SeededRandom


def profile_from_json(data: dict[str, Any]) -> LoadProfile:
    kind = data.get("kind")
    if kind == "constant":
        return Constant(int(data["watts"]))
    if kind == "half_hourly":
        return HalfHourly(tuple(int(w) for w in data["watts"]))
    if kind == "random":
        return SeededRandom(int(data["seed"]), int(data["low"]), int(data["high"]))
    raise MeteringError(f"unknown load profile kind {kind!r}")
