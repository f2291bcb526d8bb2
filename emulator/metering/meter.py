"""The meter: energy registers on a virtual clock, tariffs, and the prepayment purse.

Integration is lazy: `advance(now)` runs from the last time to `now` in whole
seconds, split at every half-hour, tariff switch, price change and
non-disablement edge, and inside a stretch at the second a block threshold is
crossed or credit runs out, so a jump of a day gives exactly the registers,
charges and logs of the same day advanced second by second. Within a stretch
the load, tier, block and prices are constant, so the arithmetic is exact
integers: energy in watt-seconds carried below a Wh, energy cost in
micro-pence carried below a penny, standing charge and time-debt in
millipence-seconds carried below a penny (see money.py).

The purse is one signed balance in pence: below zero the meter is spending
emergency credit (emergency credit balance = limit + balance while active).
Only prepayment mode charges the balance, recovers debt, raises credit alerts
and disables the supply; in credit mode the same charges accumulate in
`ledger.credit_mode_cost` (billed by the supplier) and the balance stays.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import Callable
from typing import Any

from emulator.metering.calendar import TIERS, gb_next_change, gb_utc_offset
from emulator.metering.money import (
    MICROPENCE_PER_PENNY,
    MILLIPENCE_PER_PENNY,
    SECONDS_PER_DAY,
    MeteringError,
)
from emulator.metering.prepay import (
    DEBT_CLEARED,
    DISABLEMENT_SUSPENDED,
    EC_ACTIVATED,
    EC_AVAILABLE,
    EC_EXHAUSTED,
    LOW_CREDIT,
    MAX_BALANCE_EXCEEDED,
    MAX_CREDIT_EXCEEDED,
    PAYMENT,
    SUPPLY_ARMED,
    SUPPLY_ARMED_BY_EC,
    SUPPLY_DISABLED,
    TIME,
    Debt,
    Ledger,
    MeterEvent,
    PrepayConfig,
)
from emulator.metering.profile import Constant, LoadProfile, profile_from_json
from emulator.metering.schedule import (
    DEFAULT_BILLING,
    DEFAULT_BLOCK_RESET,
    Execution,
    due,
    next_today,
)
from emulator.metering.tariff import BLOCKS, Tariff, TariffSchedule

ONE_SECOND = _dt.timedelta(seconds=1)
HALF_HOUR = 1800
HALF_HOUR_LOG = 48 * 396  # 13 months of half-hours
DAILY_LOG = 396
#: The SMETS2 TOU-with-blocks matrices: 4 blocks x 8 tiers (DUIS TariffTOUBlock1..4
#: RegisterMatrixValue, 8 each, indexed by tier; the ESME daily and billing rows carry
#: them as four arrays of 8 after the 48 tier registers).
MATRIX_BLOCKS, MATRIX_TIERS = 4, 8
BILLING_SNAPSHOTS = 13
MAX_EVENTS = 256
ACCEPTED = 0


class Element:
    """One measuring element: its load, tariff schedule and energy registers."""

    __slots__ = (
        "active_block",
        "active_tier",
        "block_counter_wh",
        "block_wh",
        "export_wh",
        "import_wh",
        "period_ws",
        "profile",
        "reactive_export_varh",
        "reactive_import_varh",
        "tariffs",
        "tier_block_wh",
        "tier_wh",
        "ws",
    )

    def __init__(self, profile: LoadProfile, tariffs: TariffSchedule | None = None) -> None:
        self.profile: LoadProfile = profile
        self.tariffs = tariffs or TariffSchedule()
        self.ws = 0  # watt-seconds below the next Wh
        self.import_wh = 0
        self.export_wh = 0
        self.reactive_import_varh = 0
        self.reactive_export_varh = 0
        self.tier_wh = [0] * TIERS
        self.block_wh = [0] * BLOCKS
        # Block b (0..3) of tier t (1..8) at [b * MATRIX_TIERS + t - 1]: the register
        # matrix since installation, and the counter matrix of this block period.
        self.tier_block_wh = [0] * (MATRIX_BLOCKS * MATRIX_TIERS)
        self.block_counter_wh = [0] * (MATRIX_BLOCKS * MATRIX_TIERS)
        self.period_ws = 0  # energy in the block period (since midnight)
        self.active_tier = 1
        self.active_block = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile.to_json(),
            "tariffs": self.tariffs.to_json(),
            "ws": self.ws,
            "import_wh": self.import_wh,
            "export_wh": self.export_wh,
            "reactive_import_varh": self.reactive_import_varh,
            "reactive_export_varh": self.reactive_export_varh,
            "tier_wh": list(self.tier_wh),
            "block_wh": list(self.block_wh),
            "tier_block_wh": list(self.tier_block_wh),
            "block_counter_wh": list(self.block_counter_wh),
            "period_ws": self.period_ws,
            "active_tier": self.active_tier,
            "active_block": self.active_block,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Element:
        el = cls(profile_from_json(data["profile"]), TariffSchedule.from_json(data["tariffs"]))
        for name in ("ws", "import_wh", "export_wh", "reactive_import_varh"):
            setattr(el, name, int(data.get(name, 0)))
        el.reactive_export_varh = int(data.get("reactive_export_varh", 0))
        el.tier_wh = [int(v) for v in data["tier_wh"]]
        el.block_wh = [int(v) for v in data["block_wh"]]
        for name in ("tier_block_wh", "block_counter_wh"):  # absent in older states: zeros
            if name in data:
                setattr(el, name, [int(v) for v in data[name]])
        el.period_ws = int(data.get("period_ws", 0))
        el.active_tier = int(data.get("active_tier", 1))
        el.active_block = int(data.get("active_block", 0))
        return el


class Meter:
    """Registers, tariffs and prepayment of one meter (ESME or GSME)."""

    def __init__(
        self,
        load_w: float = 500,
        *,
        balance: int = 1000,
        prepayment: bool = False,
        tariff: Tariff | None = None,
        config: PrepayConfig | None = None,
        twin: bool = False,
    ) -> None:
        schedule = TariffSchedule([(None, tariff or Tariff())])
        self.primary = Element(Constant(_watts(load_w)), schedule)
        self.secondary: Element | None = Element(Constant(0)) if twin else None
        self.prepayment = prepayment
        self.config = config or PrepayConfig()
        self.ledger = Ledger(opening_balance=int(balance), balance=int(balance))
        self.debts = [Debt(TIME), Debt(TIME), Debt(PAYMENT)]
        self.emergency_credit_active = False
        self.supply_enabled = True
        self.disabled_for_credit = False
        self.last: _dt.datetime | None = None
        self.cost_carry = 0  # micro-pence of energy not yet charged
        self.standing_carry = 0  # millipence-seconds of standing charge not yet charged
        self.cap_window = 0  # index of the debt cap period the count below is for
        self.cap_recovered = 0  # time debt recovered in that period
        self.flags: set[str] = set()  # alerts raised once per crossing
        self.events: list[MeterEvent] = []
        self.events_dropped = 0
        self.half_hour_log: deque[tuple[int, int]] = deque(maxlen=HALF_HOUR_LOG)
        self.half_hour_log_end: _dt.datetime | None = None
        self.daily_log: deque[dict[str, Any]] = deque(maxlen=DAILY_LOG)
        #: The billing calendar (ECS30, `0-0:15.0.0`): a billing snapshot and a block
        #: counter reset at each execution; and the daily block counter reset (ECS48,
        #: `0-0:15.1.0`; empty: off). The ESME writes them here: one source of truth.
        self.billing_schedule: tuple[Execution, ...] = DEFAULT_BILLING
        self.block_reset_schedule: tuple[Execution, ...] = DEFAULT_BLOCK_RESET
        #: Snapshots with a cause: "billing" (the calendar), "mode" (a change of
        #: payment mode), "tariff" (a tariff taking effect).
        self.billing_snapshots: deque[dict[str, Any]] = deque(maxlen=BILLING_SNAPSHOTS)
        #: Called with (time, cause) after each billing snapshot, the meter as it was
        #: then (the ESME captures its billing data log rows); not part of the state.
        self.billing_hook: Callable[[_dt.datetime, str], None] | None = None
        #: Calendars (tiers, non-disablement) in GB local time; False: in UTC.
        self.local_time = True

    # -- the contract other modules use -------------------------------------------------
    @property
    def load_w(self) -> int:
        """The load now (a scenario setting it makes the profile constant)."""
        if self.last is None:
            return self.primary.profile.at(_dt.datetime(2000, 1, 1))
        return self.primary.profile.at(self.last)

    @load_w.setter
    def load_w(self, watts: float) -> None:
        self.primary.profile = Constant(_watts(watts))

    @property
    def balance(self) -> int:
        return self.ledger.balance

    @balance.setter
    def balance(self, pence: int) -> None:
        """Setting the balance (a lab or test) is an adjustment the meter's limits do not
        check: the ledger records it as money in."""
        self.adjust(int(pence) - self.ledger.balance, checked=False)

    @property
    def debt(self) -> int:
        return sum(d.amount for d in self.debts)

    @debt.setter
    def debt(self, pence: int) -> None:
        """The total debt set as time debt 1 (the ZCL path sets registers one by one)."""
        self.debts[0].amount = max(0, int(pence))
        self.debts[1].amount = self.debts[2].amount = 0

    @property
    def emergency_credit_limit(self) -> int:
        return self.config.emergency_credit_limit

    @emergency_credit_limit.setter
    def emergency_credit_limit(self, pence: int) -> None:
        self.config.emergency_credit_limit = int(pence)

    @property
    def emergency_credit_balance(self) -> int:
        """Emergency credit still available: none until activated, then the limit less
        what the balance has gone below zero."""
        if not self.emergency_credit_active:
            return 0
        return max(0, self.config.emergency_credit_limit + min(self.balance, 0))

    @property
    def available_credit(self) -> int:
        ec = self.config.emergency_credit_limit if self.emergency_credit_active else 0
        return self.balance + ec

    @property
    def instantaneous_w(self) -> int:
        return self.load_w if self.supply_enabled else 0

    @property
    def import_wh(self) -> int:
        return self.primary.import_wh

    @import_wh.setter
    def import_wh(self, wh: float) -> None:
        """A register reading seeded by a test or lab (whole Wh); charges nothing."""
        self.primary.import_wh = int(wh)

    @property
    def export_wh(self) -> int:
        return self.primary.export_wh

    @export_wh.setter
    def export_wh(self, wh: float) -> None:
        self.primary.export_wh = int(wh)

    @property
    def reactive_import_varh(self) -> int:
        return self.primary.reactive_import_varh

    @reactive_import_varh.setter
    def reactive_import_varh(self, varh: float) -> None:
        self.primary.reactive_import_varh = int(varh)

    @property
    def reactive_export_varh(self) -> int:
        return self.primary.reactive_export_varh

    @reactive_export_varh.setter
    def reactive_export_varh(self, varh: float) -> None:
        self.primary.reactive_export_varh = int(varh)

    @property
    def tier_wh(self) -> list[int]:
        return self.primary.tier_wh

    @property
    def block_wh(self) -> list[int]:
        return self.primary.block_wh

    @property
    def tier_block_wh(self) -> list[int]:
        """The TOU-with-blocks register matrix: block b, tier t at [b * 8 + t - 1]."""
        return self.primary.tier_block_wh

    @property
    def block_counter_wh(self) -> list[int]:
        """The tariff block counter matrix: the same cells, this block period only."""
        return self.primary.block_counter_wh

    @property
    def active_tier(self) -> int:
        return self.primary.active_tier

    def elements(self) -> list[Element]:
        return [self.primary] if self.secondary is None else [self.primary, self.secondary]

    # -- configuration ------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> None:
        """Settings by name, as a lab or scenario file gives them: `prepayment`,
        `balance` (the opening balance, before anything happened), `load_w`, and any
        PrepayConfig field (thresholds in pence)."""
        for name, value in settings.items():
            if name == "prepayment":
                self.prepayment = bool(value)
            elif name == "balance":
                self.ledger = Ledger(opening_balance=int(value), balance=int(value))
            elif name == "load_w":
                self.load_w = value
            elif name in PrepayConfig.__dataclass_fields__ and name != "non_disablement":
                setattr(self.config, name, type(getattr(self.config, name))(value))
            else:
                raise MeteringError(f"unknown meter setting {name!r}")

    def set_profile(self, profile: LoadProfile, *, secondary: bool = False) -> None:
        self._element(secondary).profile = profile

    def publish_tariff(
        self, tariff: Tariff, at: _dt.datetime | None = None, *, secondary: bool = False
    ) -> None:
        """A published tariff: in force from `at` (future-dated) or from now."""
        if at is not None:
            at = at.replace(microsecond=0)
        self._element(secondary).tariffs.publish(tariff, at, self.last)
        if self.last is not None and (at is None or at <= self.last):
            self.billing_snapshot(self.last, "tariff")

    def set_debt(self, index: int, debt: Debt) -> None:
        if not 0 <= index < len(self.debts):
            raise MeteringError(f"debt register {index + 1} does not exist (1..{len(self.debts)})")
        self.debts[index] = debt

    def _element(self, secondary: bool) -> Element:
        if not secondary:
            return self.primary
        if self.secondary is None:
            raise MeteringError("this meter has no secondary element")
        return self.secondary

    # -- money in -----------------------------------------------------------------------
    def top_up(self, amount: int) -> int:
        """Credit `amount` pence: 0 when accepted, else the GBCS alert code of the refusal.

        Payment debt takes its share (basis points, capped) before the balance.
        """
        amount = int(amount)
        if amount < 0:
            raise MeteringError(f"a top-up of {amount}p is negative")
        c = self.config
        if c.max_credit and amount > c.max_credit:
            self._event(MAX_CREDIT_EXCEEDED, f"top-up {amount}p above {c.max_credit}p")
            return MAX_CREDIT_EXCEEDED
        if c.max_meter_balance and self.balance + amount > c.max_meter_balance:
            self._event(MAX_BALANCE_EXCEEDED, f"balance would exceed {c.max_meter_balance}p")
            return MAX_BALANCE_EXCEEDED
        recovered = 0
        if self.prepayment:
            self._cap_window()
            for index, d in enumerate(self.debts):
                if d.kind == PAYMENT and d.amount and d.rate:
                    take = min(amount * d.rate // 10_000, self._room(d))
                    recovered += self._recover(index, d, take)
        self.ledger.money_in += amount
        self.ledger.debt_recovered += recovered
        self.ledger.balance += amount - recovered
        self._after_credit()
        return ACCEPTED

    def adjust(self, amount: int, *, checked: bool = True) -> int:
        """A balance adjustment (ECS04a, GCS40): money in or out, no debt taken; 0, or
        0x8F47 (logged as an event, nothing changed) when credit would take the
        balance above the maximum meter balance."""
        amount = int(amount)
        limit = self.config.max_meter_balance
        if checked and amount > 0 and limit and self.balance + amount > limit:
            self._event(MAX_BALANCE_EXCEEDED, f"adjustment of {amount}p: balance above {limit}p")
            return MAX_BALANCE_EXCEEDED
        self.ledger.money_in += amount
        self.ledger.balance += amount
        self._after_credit()
        return ACCEPTED

    def set_balance(self, pence: int) -> int:
        """A balance reset to a value (ECS04b, GCS40 set): 0 or the refusal, as `adjust`."""
        return self.adjust(int(pence) - self.balance)

    def reset_balance(self) -> None:
        self.adjust(-self.balance)

    def activate_emergency_credit(self) -> bool:
        """Remote (ECS09, GCS06) or local activation: only when offered (balance at or
        below the threshold) and not already active."""
        if (
            not self.prepayment
            or self.emergency_credit_active
            or self.balance > self.config.emergency_credit_threshold
        ):
            return False
        self.emergency_credit_active = True
        self.flags.discard("ec_exhausted")
        self._event(EC_ACTIVATED, "emergency credit activated")
        if self.disabled_for_credit and self.available_credit > self.config.disablement_threshold:
            self.disabled_for_credit = False
            self._event(SUPPLY_ARMED_BY_EC, "supply armed: emergency credit activated")
        return True

    def set_payment_mode(self, prepayment: bool) -> None:
        """Credit <-> prepayment. Debt stays; it is recovered only in prepayment mode.
        Leaving prepayment ends emergency credit and arms a supply disabled for credit."""
        if prepayment == self.prepayment:
            return
        self.prepayment = prepayment
        if self.last is not None:
            self.billing_snapshot(self.last, "mode")
        self.flags.clear()
        if not prepayment:
            self.emergency_credit_active = False
            if self.disabled_for_credit:
                self.disabled_for_credit = False
                self._event(SUPPLY_ARMED, "supply armed: changed to credit mode")
        else:
            self._check_credit(self.last)

    def _after_credit(self) -> None:
        if self.emergency_credit_active and self.balance >= 0:
            self.emergency_credit_active = False  # emergency credit repaid
        if self.disabled_for_credit and self.available_credit > self.config.disablement_threshold:
            self.disabled_for_credit = False
            self._event(SUPPLY_ARMED, "supply armed: credit restored")
        self._check_credit(self.last)

    def _recover(self, index: int, d: Debt, take: int) -> int:
        if take <= 0:
            return 0
        d.amount -= take
        d.cap_recovered += take
        if d.amount == 0:
            self._event(DEBT_CLEARED[min(index, 2)], f"debt {index + 1} recovered")
        return take

    # -- events -------------------------------------------------------------------------
    def _event(self, code: int, detail: str) -> None:
        if len(self.events) >= MAX_EVENTS:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append(MeterEvent(self.last, code, detail, self.available_credit))

    def take_events(self) -> list[MeterEvent]:
        """The events raised since the last call (the device turns them into alerts)."""
        events, self.events = self.events, []
        return events

    def _check_credit(self, at: _dt.datetime | None) -> None:
        if not self.prepayment:
            return
        c, flags, balance = self.config, self.flags, self.balance
        _once(self, balance < c.low_credit_threshold, "low", LOW_CREDIT, "low credit")
        _once(
            self,
            not self.emergency_credit_active and balance <= c.emergency_credit_threshold,
            "ec_available",
            EC_AVAILABLE,
            "emergency credit available",
        )
        exhausted = self.available_credit <= c.disablement_threshold
        if self.emergency_credit_active and exhausted and "ec_exhausted" not in flags:
            flags.add("ec_exhausted")
            self._event(EC_EXHAUSTED, "emergency credit exhausted")
        if not (exhausted and self.supply_enabled):
            flags.discard("nd")
            return
        if at is not None and c.non_disablement.active(self.local(at)):
            _once(self, True, "nd", DISABLEMENT_SUSPENDED, "disablement suspended")
            return
        self.supply_enabled = False
        self.disabled_for_credit = True
        self._event(SUPPLY_DISABLED, "supply disabled: credit exhausted")

    def protected(self, at: _dt.datetime) -> bool:
        return self.config.non_disablement.active(self.local(at))

    def offset(self, at: _dt.datetime) -> _dt.timedelta:
        """Local time minus UTC at `at` (zero when the calendars run in UTC)."""
        return gb_utc_offset(at) if self.local_time else _dt.timedelta(0)

    def local(self, at: _dt.datetime) -> _dt.datetime:
        """`at` on the meter's local (calendar) clock."""
        return at + self.offset(at)

    # -- time ---------------------------------------------------------------------------
    def advance(self, now: _dt.datetime) -> None:
        if self.last is None:
            self.last = now.replace(microsecond=0)
            self.half_hour_log_end = _half_hour_floor(self.last)
            return
        seconds = (now - self.last) // ONE_SECOND
        if seconds <= 0:
            return
        end = self.last + seconds * ONE_SECOND
        t = self.last
        while t < end:
            boundary = self._next_boundary(t)
            stop = min(boundary, end)
            self._run(t, (stop - t) // ONE_SECOND)
            t = stop
            self.last = t
            if t == boundary:
                self._on_boundary(t)

    def _next_boundary(self, t: _dt.datetime) -> _dt.datetime:
        """The next half-hour (UTC; local time differs by whole hours, so it is a
        local half-hour too), calendar edge (local), clock change or price change."""
        midnight = t.replace(hour=0, minute=0, second=0)
        into = (t - midnight) // ONE_SECOND
        boundary = midnight + (into // HALF_HOUR + 1) * HALF_HOUR * ONE_SECOND
        offset = self.offset(t)
        lt = t + offset
        local_midnight = lt.replace(hour=0, minute=0, second=0)
        local_into = (lt - local_midnight) // ONE_SECOND
        date = lt.date()
        minutes: list[int] = list(self.config.non_disablement.edges()) if self.prepayment else []
        for el in self.elements():
            minutes.extend(el.tariffs.active(t).calendar.day_profile(date).minutes())
        for m in minutes:
            if local_into < m * 60:
                edge = local_midnight + m * 60 * ONE_SECOND - offset
                boundary = min(boundary, edge)
        if self.local_time:
            boundary = min(boundary, gb_next_change(t))
        for schedule in (self.billing_schedule, self.block_reset_schedule):
            execution = next_today(schedule, t)
            if execution is not None and execution < boundary:
                boundary = execution
        for el in self.elements():
            change = el.tariffs.next_change(t)
            if change is not None and change < boundary:
                boundary = change
        return boundary

    def _run(self, t: _dt.datetime, seconds: int) -> None:
        """`seconds` with constant load, tier and prices (block and credit may change)."""
        lt = self.local(t)
        date, minute = lt.date(), lt.hour * 60 + lt.minute
        plan: list[tuple[Element, Tariff, int]] = []
        for el in self.elements():
            tariff = el.tariffs.active(t)
            el.active_tier = tariff.calendar.day_profile(date).tier_at(minute)
            plan.append((el, tariff, el.profile.at(t)))
        standing = plan[0][1].standing_charge
        while seconds > 0:
            step = seconds
            rate = standing * MILLIPENCE_PER_PENNY  # micro-pence per day, for the estimate
            for el, tariff, watts in plan:
                load = watts if self.supply_enabled else 0
                thresholds, block_prices = tariff.blocks(el.active_tier)
                el.active_block = tariff.block_of(el.active_tier, el.period_ws // 3600)
                if load and block_prices and el.active_block < len(thresholds):
                    need = thresholds[el.active_block] * 3600 - el.period_ws
                    step = min(step, max(1, -(-need // load)))
                rate += load * tariff.price(el.active_tier, el.active_block) * 24
            recovering = self._recovering()
            if recovering:
                for d in self.debts:
                    if d.kind == TIME and d.amount:
                        rate += d.rate * MILLIPENCE_PER_PENNY * SECONDS_PER_DAY // d.period
            if self.prepayment and self.supply_enabled and rate:
                headroom = self.available_credit - self.config.disablement_threshold
                if headroom > 0:
                    est = headroom * MICROPENCE_PER_PENNY * SECONDS_PER_DAY // rate
                    step = min(step, max(1, est))
            self._apply(plan, step, standing, recovering)
            seconds -= step
            t += step * ONE_SECOND
            self.last = t
            self._check_credit(t)

    def _recovering(self) -> bool:
        c = self.config
        return (
            self.prepayment
            and not (c.suspend_debt_disabled and not self.supply_enabled)
            and not (c.suspend_debt_emergency and self.emergency_credit_active)
        )

    def _apply(
        self, plan: list[tuple[Element, Tariff, int]], step: int, standing: int, recovering: bool
    ) -> None:
        for el, tariff, watts in plan:
            if not self.supply_enabled or not watts:
                continue
            energy = watts * step
            wh, el.ws = divmod(el.ws + energy, 3600)
            el.period_ws += energy
            if wh:
                el.reactive_import_varh += (el.import_wh + wh) // 10 - el.import_wh // 10
                el.import_wh += wh
                el.tier_wh[el.active_tier - 1] += wh
                el.block_wh[el.active_block] += wh
                if el.active_tier <= MATRIX_TIERS and el.active_block < MATRIX_BLOCKS:
                    cell = el.active_block * MATRIX_TIERS + el.active_tier - 1
                    el.tier_block_wh[cell] += wh
                    el.block_counter_wh[cell] += wh
                self.cost_carry += wh * tariff.price(el.active_tier, el.active_block)
        energy_cost, self.cost_carry = divmod(self.cost_carry, MICROPENCE_PER_PENNY)
        self.standing_carry += standing * step
        standing_cost, self.standing_carry = divmod(
            self.standing_carry, SECONDS_PER_DAY * MILLIPENCE_PER_PENNY
        )
        recovered = self._recover_time_debt(step) if recovering else 0
        ledger = self.ledger
        if not self.prepayment:  # credit mode: billed by the supplier, not off the balance
            ledger.credit_mode_cost += energy_cost + standing_cost
            return
        ledger.energy_cost += energy_cost
        ledger.standing_charge += standing_cost
        ledger.debt_recovered += recovered
        ledger.balance -= energy_cost + standing_cost + recovered

    def _recover_time_debt(self, step: int) -> int:
        c = self.config
        self._cap_window()
        recovered = 0
        for index, d in enumerate(self.debts):
            if d.kind != TIME or not d.amount or not d.rate:
                continue
            d.carry += d.rate * step
            due, d.carry = divmod(d.carry, d.period * MILLIPENCE_PER_PENNY)
            room = self._room(d)
            if c.debt_cap:
                room = min(room, max(0, c.debt_cap - self.cap_recovered))
            take = self._recover(index, d, min(due, room))
            self.cap_recovered += take
            recovered += take
        return recovered

    def _cap_window(self) -> None:
        """A new debt cap period starts every count afresh (overall and per register)."""
        c = self.config
        window = int(self.last.timestamp()) // c.debt_cap_period if self.last else 0
        if window != self.cap_window:
            self.cap_window, self.cap_recovered = window, 0
            for d in self.debts:
                d.cap_recovered = 0

    @staticmethod
    def _room(d: Debt) -> int:
        """What may still be recovered from `d` in this cap period."""
        return d.amount if not d.cap else min(d.amount, max(0, d.cap - d.cap_recovered))

    def _on_boundary(self, t: _dt.datetime) -> None:
        if not (t.minute % 30 or t.second):
            self.half_hour_log.append((self.primary.import_wh, self.balance))
            self.half_hour_log_end = t
            if t.hour == 0 and t.minute == 0:
                self.daily_log.append(self._snapshot(t))
        if any(any(start == t for start, _ in el.tariffs.entries) for el in self.elements()):
            self.billing_snapshot(t, "tariff")  # a future-dated tariff takes effect
        if due(self.billing_schedule, t):
            self.billing_snapshot(t, "billing")
        if due(self.block_reset_schedule, t) or due(self.billing_schedule, t):
            self.reset_block_counters()
        self._check_credit(t)  # a tariff switch or non-disablement edge too

    def reset_block_counters(self) -> None:
        """The end of a block period: the tariff block counter matrix and the block
        period energy the thresholds are read against start again (GBCS ECS05: the
        ESME resets them at the end of the block period / billing period)."""
        for el in self.elements():
            el.period_ws = 0
            el.block_counter_wh = [0] * (MATRIX_BLOCKS * MATRIX_TIERS)

    def billing_snapshot(self, t: _dt.datetime, cause: str) -> None:
        """One snapshot per time and cause: a tariff published piece by piece (prices,
        standing charge, calendar) in one command is one change."""
        latest = self.billing_snapshots[-1] if self.billing_snapshots else None
        if latest and latest["time"] == t.isoformat() and latest.get("cause") == cause:
            return
        self.billing_snapshots.append(self._snapshot(t, cause))
        if self.billing_hook is not None:
            self.billing_hook(t, cause)

    def _snapshot(self, t: _dt.datetime, cause: str | None = None) -> dict[str, Any]:
        return {
            "time": t.isoformat(),
            **({"cause": cause} if cause else {}),
            "import_wh": self.primary.import_wh,
            "secondary_import_wh": self.secondary.import_wh if self.secondary else 0,
            "tier_wh": list(self.primary.tier_wh),
            "block_wh": list(self.primary.block_wh),
            "tier_block_wh": list(self.primary.tier_block_wh),
            "balance": self.balance,
            "debt": self.debt,
            "ledger": self.ledger.to_json(),
        }

    # -- state --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            # the main registers first, for people and tools reading a state file
            "import_wh": self.import_wh,
            "balance": self.balance,
            "debt": self.debt,
            "primary": self.primary.to_json(),
            "secondary": self.secondary.to_json() if self.secondary else None,
            "prepayment": self.prepayment,
            "config": self.config.to_json(),
            "ledger": self.ledger.to_json(),
            "debts": [d.to_json() for d in self.debts],
            "emergency_credit_active": self.emergency_credit_active,
            "supply_enabled": self.supply_enabled,
            "disabled_for_credit": self.disabled_for_credit,
            "last": self.last.isoformat() if self.last else None,
            "cost_carry": self.cost_carry,
            "standing_carry": self.standing_carry,
            "cap_window": self.cap_window,
            "cap_recovered": self.cap_recovered,
            "flags": sorted(self.flags),
            "events_dropped": self.events_dropped,
            "half_hour_log": [list(e) for e in self.half_hour_log],
            "half_hour_log_end": self.half_hour_log_end.isoformat()
            if self.half_hour_log_end
            else None,
            "daily_log": list(self.daily_log),
            "billing_schedule": [e.to_json() for e in self.billing_schedule],
            "block_reset_schedule": [e.to_json() for e in self.block_reset_schedule],
            "billing_snapshots": list(self.billing_snapshots),
            "local_time": self.local_time,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Meter:
        meter = cls()
        meter.primary = Element.from_json(data["primary"])
        meter.secondary = Element.from_json(data["secondary"]) if data.get("secondary") else None
        meter.prepayment = bool(data["prepayment"])
        meter.config = PrepayConfig.from_json(data["config"])
        meter.ledger = Ledger(**{k: int(v) for k, v in data["ledger"].items()})
        meter.debts = [Debt(**d) for d in data["debts"]]
        meter.emergency_credit_active = bool(data["emergency_credit_active"])
        meter.supply_enabled = bool(data["supply_enabled"])
        meter.disabled_for_credit = bool(data.get("disabled_for_credit", False))
        meter.last = _dt.datetime.fromisoformat(data["last"]) if data.get("last") else None
        meter.cost_carry = int(data.get("cost_carry", 0))
        meter.standing_carry = int(data.get("standing_carry", 0))
        meter.cap_window = int(data.get("cap_window", 0))
        meter.cap_recovered = int(data.get("cap_recovered", 0))
        meter.flags = set(data.get("flags", []))
        meter.events_dropped = int(data.get("events_dropped", 0))
        meter.half_hour_log.extend((int(a), int(b)) for a, b in data.get("half_hour_log", []))
        end = data.get("half_hour_log_end")
        meter.half_hour_log_end = _dt.datetime.fromisoformat(end) if end else None
        meter.daily_log.extend(data.get("daily_log", []))
        if "billing_schedule" in data:
            meter.billing_schedule = tuple(Execution.from_json(e) for e in data["billing_schedule"])
        elif "billing_day" in data:  # state files before the billing calendar
            meter.billing_schedule = (Execution(0, day=int(data["billing_day"])),)
        if "block_reset_schedule" in data:
            meter.block_reset_schedule = tuple(
                Execution.from_json(e) for e in data["block_reset_schedule"]
            )
        meter.billing_snapshots.extend(data.get("billing_snapshots", []))
        meter.local_time = bool(data.get("local_time", True))
        return meter


def _watts(value: float) -> int:
    watts = round(value)
    if watts < 0:
        raise MeteringError(f"a load of {value} W is negative")
    return watts


def _half_hour_floor(t: _dt.datetime) -> _dt.datetime:
    return t.replace(minute=t.minute - t.minute % 30, second=0, microsecond=0)


def _once(meter: Meter, condition: bool, flag: str, code: int, detail: str) -> None:
    """Raise `code` when `condition` becomes true; re-arm when it becomes false."""
    if condition:
        if flag not in meter.flags:
            meter.flags.add(flag)
            meter._event(code, detail)
    else:
        meter.flags.discard(flag)
