"""Tariffs as published, and their schedule of price changes.

A tariff prices energy either by time-of-use tier (the calendar picks the tier)
or by block (energy used so far in the block period, one day from midnight,
picks the block; the tier registers still follow the calendar), or both (TOU
with blocks: each tier may have its own thresholds and block prices, read
against the same block period energy; a tier without its own takes the
tariff-wide `block_thresholds`/`block_prices`, else its tier price). Prices are in
millipence per kWh and the standing charge in millipence per day, the DUIS
units, so a published tariff is kept exactly.
"""

from __future__ import annotations

import bisect
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from emulator.metering.calendar import TIERS, TouCalendar
from emulator.metering.money import MeteringError

BLOCKS = 8


@dataclass(frozen=True, slots=True)
class Tariff:
    tier_prices: tuple[int, ...] = (20_000,)  # millipence per kWh, tier 1 first
    standing_charge: int = 50_000  # millipence per day
    block_thresholds: tuple[int, ...] = ()  # Wh in the block period, ascending
    block_prices: tuple[int, ...] = ()  # millipence per kWh by block; empty: priced by tier
    calendar: TouCalendar = field(default_factory=TouCalendar)
    #: TOU with blocks: (thresholds, block prices) of tier 1, 2, ...; empty prices: none
    tier_blocks: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= len(self.tier_prices) <= TIERS or min(self.tier_prices) < 0:
            raise MeteringError(f"a tariff has 1..{TIERS} non-negative tier prices")
        if self.standing_charge < 0:
            raise MeteringError("the standing charge is not negative")
        if len(self.tier_blocks) > TIERS:
            raise MeteringError(f"TOU with blocks has at most {TIERS} tiers")
        for thresholds, prices in ((self.block_thresholds, self.block_prices), *self.tier_blocks):
            _check_blocks(thresholds, prices)

    @property
    def is_block(self) -> bool:
        return bool(self.block_prices) or any(prices for _, prices in self.tier_blocks)

    def blocks(self, tier: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The thresholds and block prices that price `tier` (no prices: by tier)."""
        if 1 <= tier <= len(self.tier_blocks) and self.tier_blocks[tier - 1][1]:
            return self.tier_blocks[tier - 1]
        return self.block_thresholds, self.block_prices

    def block_of(self, tier: int, period_wh: int) -> int:
        thresholds, prices = self.blocks(tier)
        return bisect.bisect_right(thresholds, period_wh) if prices else 0

    def price(self, tier: int, block: int) -> int:
        _, prices = self.blocks(tier)
        if prices:
            return prices[block]
        return self.tier_prices[min(tier, len(self.tier_prices)) - 1]

    def to_json(self) -> dict[str, Any]:
        return {
            "tier_prices": list(self.tier_prices),
            "standing_charge": self.standing_charge,
            "block_thresholds": list(self.block_thresholds),
            "block_prices": list(self.block_prices),
            "calendar": self.calendar.to_json(),
            "tier_blocks": [
                {"thresholds": list(t), "prices": list(p)} for t, p in self.tier_blocks
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tariff:
        return cls(
            tier_prices=tuple(int(p) for p in data["tier_prices"]),
            standing_charge=int(data["standing_charge"]),
            block_thresholds=tuple(int(t) for t in data.get("block_thresholds", [])),
            block_prices=tuple(int(p) for p in data.get("block_prices", [])),
            calendar=TouCalendar.from_json(data["calendar"])
            if "calendar" in data
            else TouCalendar(),
            tier_blocks=tuple(
                (tuple(int(t) for t in b["thresholds"]), tuple(int(p) for p in b["prices"]))
                for b in data.get("tier_blocks", [])
            ),
        )


def _check_blocks(thresholds: tuple[int, ...], prices: tuple[int, ...]) -> None:
    if list(thresholds) != sorted(set(thresholds)) or any(t <= 0 for t in thresholds):
        raise MeteringError("block thresholds are positive and ascending")
    if prices and (len(prices) != len(thresholds) + 1 or len(prices) > BLOCKS or min(prices) < 0):
        raise MeteringError("a block tariff has one more price than thresholds (at most 8)")


@dataclass(slots=True)
class TariffSchedule:
    """The tariff in force from each time on; later entries are future-dated changes."""

    entries: list[tuple[_dt.datetime | None, Tariff]] = field(
        default_factory=lambda: [(None, Tariff())]
    )

    def active(self, at: _dt.datetime) -> Tariff:
        current = self.entries[0][1]
        for start, tariff in self.entries:
            if start is None or start <= at:
                current = tariff
            else:
                break
        return current

    def next_change(self, after: _dt.datetime) -> _dt.datetime | None:
        for start, _ in self.entries:
            if start is not None and start > after:
                return start
        return None

    def publish(self, tariff: Tariff, at: _dt.datetime | None, now: _dt.datetime | None) -> None:
        """Tariff in force from `at` (None or past: from now); a change at the same
        time replaces the one published before; changes after it stay."""
        if at is None or (now is not None and at <= now):
            at = now
        if at is None:
            self.entries = [(None, tariff)]
            return
        undated = [(s, t) for s, t in self.entries if s is None]
        dated = {s: t for s, t in self.entries if s is not None}
        dated[at] = tariff
        keep: list[tuple[_dt.datetime | None, Tariff]] = [*undated]
        keep.extend((s, dated[s]) for s in sorted(dated))
        if now is not None:  # drop what is fully superseded before now
            while len(keep) > 1 and (start := keep[1][0]) is not None and start <= now:
                keep.pop(0)
        self.entries = keep

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"from": s.isoformat() if s else None, "tariff": t.to_json()} for s, t in self.entries
        ]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> TariffSchedule:
        return cls(
            [
                (
                    _dt.datetime.fromisoformat(e["from"]) if e["from"] else None,
                    Tariff.from_json(e["tariff"]),
                )
                for e in data
            ]
        )
