"""Consumption, registers and prepayment shared by the meter models.

A deliberately simple physical model: a constant load (W) that a scenario can
change, integrated over the device clock into energy registers; the active
tariff tier (set by the device from its calendar) decides which tier register
accrues; in prepayment mode the cost of each Wh and the standing charge come
off the meter balance. Integration is lazy (`advance(now)`), so an idle device
costs nothing until someone looks at it, and a virtual clock can jump a day.

Money is in the meter's currency unit with two decimal places (pence).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

TIERS = 48
BLOCKS = 8


@dataclass(slots=True)
class Meter:
    load_w: float = 500.0
    import_wh: float = 0.0
    export_wh: float = 0.0
    reactive_import_varh: float = 0.0
    reactive_export_varh: float = 0.0
    tier_wh: list[float] = field(default_factory=lambda: [0.0] * TIERS)
    block_wh: list[float] = field(default_factory=lambda: [0.0] * BLOCKS)
    active_tier: int = 0
    price_per_kwh: float = 20.0  # pence
    standing_charge_per_day: float = 50.0  # pence
    prepayment: bool = False
    balance: float = 1000.0  # pence
    emergency_credit_limit: float = 1000.0
    emergency_credit_active: bool = False
    debt: float = 0.0
    supply_enabled: bool = True
    last: _dt.datetime | None = None

    def advance(self, now: _dt.datetime) -> None:
        if self.last is None:
            self.last = now
            return
        seconds = (now - self.last).total_seconds()
        if seconds <= 0:
            return
        self.last = now
        if not self.supply_enabled:
            return
        wh = self.load_w * seconds / 3600.0
        self.import_wh += wh
        self.reactive_import_varh += wh * 0.1
        self.tier_wh[self.active_tier % TIERS] += wh
        self.block_wh[0] += wh
        if self.prepayment:
            cost = wh / 1000.0 * self.price_per_kwh + self.standing_charge_per_day * seconds / 86400
            self.balance -= cost
            if self.balance <= -self.emergency_credit_limit or (
                self.balance <= 0 and not self.emergency_credit_active
            ):
                self.supply_enabled = False

    def top_up(self, pence: float) -> None:
        self.balance += pence
        if self.balance > 0:
            self.emergency_credit_active = False

    @property
    def instantaneous_w(self) -> float:
        return self.load_w if self.supply_enabled else 0.0

    @property
    def emergency_credit_balance(self) -> float:
        """Emergency credit still available: none until activated, then the limit less
        what the balance has gone below zero (the model keeps a single balance)."""
        if not self.emergency_credit_active:
            return 0.0
        return max(0.0, self.emergency_credit_limit + min(self.balance, 0.0))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            k: getattr(self, k) for k in self.__dataclass_fields__ if k != "last"
        }
        data["last"] = self.last.isoformat() if self.last else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Meter:
        values = dict(data)
        last = values.pop("last", None)
        meter = cls(**values)
        meter.last = _dt.datetime.fromisoformat(last) if last else None
        return meter
