"""Prepayment configuration, debt registers, the ledger and the events the meter raises.

Event codes are the GBCS alert codes (emulator/gbcs/alert_codes.py) so a device
turns an event into its alert without a second table.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from emulator.metering.calendar import NonDisablementCalendar
from emulator.metering.money import MeteringError

LOW_CREDIT = 0x810D  # Combined Credit Below Low Credit Threshold
EC_AVAILABLE = 0x8119  # Emergency Credit Has Become Available
EC_ACTIVATED = 0x81AB
EC_EXHAUSTED = 0x81AA
SUPPLY_DISABLED = 0x8F0F  # Credit Below Disablement Threshold: supply disabled
DISABLEMENT_SUSPENDED = 0x8F83  # ... suspended (non-disablement calendar)
SUPPLY_ARMED_BY_EC = 0x8168  # Supply Disabled then Armed - Activate Emergency Credit triggered
SUPPLY_ARMED = 0x8F32
MAX_CREDIT_EXCEEDED = 0x8F5B  # UTRN exceeds Maximum Credit Threshold
MAX_BALANCE_EXCEEDED = 0x8F47
DEBT_CLEARED = (0x81A7, 0x81A8, 0x81A9)  # time debt 1, time debt 2, payment debt

#: Debt register kinds: recovered with time (a rate per period) or with each payment.
TIME, PAYMENT = "time", "payment"


@dataclass(slots=True)
class MeterEvent:
    at: _dt.datetime | None
    code: int
    detail: str = ""
    credit: int = 0  # available credit (pence) when it was raised


@dataclass(slots=True)
class PrepayConfig:
    """Thresholds in pence. 0 for max_credit or max_meter_balance means no limit."""

    low_credit_threshold: int = 100
    emergency_credit_limit: int = 1000
    emergency_credit_threshold: int = 100
    disablement_threshold: int = 0
    max_credit: int = 0
    max_meter_balance: int = 0
    #: Debt recovery stops while the supply is disabled / while emergency credit is in use.
    suspend_debt_disabled: bool = True
    suspend_debt_emergency: bool = True
    #: At most `debt_cap` pence of time debt recovered per `debt_cap_period` seconds
    #: (periods counted from the Unix epoch: whole days or weeks in UTC); 0: no cap.
    debt_cap: int = 0
    debt_cap_period: int = 86_400
    non_disablement: NonDisablementCalendar = field(default_factory=NonDisablementCalendar)

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "non_disablement"}
        data["non_disablement"] = self.non_disablement.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrepayConfig:
        values = dict(data)
        nd = NonDisablementCalendar.from_json(values.pop("non_disablement", {}))
        return cls(**values, non_disablement=nd)


@dataclass(slots=True)
class Debt:
    """One debt register (pence outstanding) and how it is recovered.

    Time debt: `rate` millipence per `period` seconds (3600 or 86400), accrued
    every second and collected in whole pence, within the meter's debt recovery
    cap (PrepayConfig.debt_cap per debt_cap_period) and the register's own `cap`
    per that period; payment debt: `rate` basis points of every top-up, within
    its `cap` per period too.
    """

    kind: str = TIME
    amount: int = 0
    rate: int = 0
    period: int = 86_400
    carry: int = 0  # millipence-seconds not yet a whole penny (time debt)
    #: This register's own cap: at most `cap` pence of it recovered per the meter's
    #: debt cap period (PrepayConfig.debt_cap_period), within the overall cap; 0: none.
    cap: int = 0
    cap_recovered: int = 0  # recovered in the current cap period

    def __post_init__(self) -> None:
        if self.kind not in (TIME, PAYMENT) or min(self.amount, self.rate, self.cap) < 0:
            raise MeteringError("a debt is time or payment, with non-negative amount and rate")
        if self.kind == TIME and self.period not in (3600, 86_400):
            raise MeteringError("a time debt's rate period is 3600 (hourly) or 86400 (daily)")

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(slots=True)
class Ledger:
    """Where every penny went since the meter was created.

    money in = energy cost + standing charge + debt recovered + balance change,
    exactly, whatever happened (top-ups, adjustments, resets, mode changes).
    """

    opening_balance: int = 0
    balance: int = 0
    money_in: int = 0  # top-ups and adjustments (negative for a downward adjustment)
    energy_cost: int = 0
    standing_charge: int = 0
    debt_recovered: int = 0
    credit_mode_cost: int = 0  # energy and standing charge while in credit mode (not above)

    @property
    def balanced(self) -> bool:
        return self.money_in == (
            self.energy_cost
            + self.standing_charge
            + self.debt_recovered
            + self.balance
            - self.opening_balance
        )

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
