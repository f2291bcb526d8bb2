"""A SMETS1 device model's profile: what it supports and how it deviates.

Pure data with no I/O: `hil.dcc.smets1_profiles` reads the YAML files and
checks them; devices and the SMETS1 service provider only read a profile.
Behaviours that follow from a field (local time from `time_base`, whole pence
from `money_resolution_mp`, the script limit, the variable delay, refused
variants) are derived here, so each fact has one source.
"""

from __future__ import annotations

import random
import zoneinfo
from dataclasses import dataclass, field
from enum import StrEnum

#: Variants DOMAIN.md names as not available for SMETS1 (twin element, export and
#: prepayment daily read logs).
SMETS1_UNAVAILABLE = ("1.1.2", "1.2.2", "4.11.2", "4.6.2", "4.14")


class Behaviour(StrEnum):
    """The Secure cohort's documented behaviours (../shared/DOMAIN.md), by name."""

    CREDIT_MODE_2_1_REJECTED = "credit-mode-2.1-rejected"
    MAX_THREE_NON_DISABLEMENT_SCRIPTS = "max-three-non-disablement-scripts"
    EC_ACTIVATION_FAILURE_RESPONSE = "ec-activation-failure-response"
    DEBT_PREPAYMENT_ONLY = "2.3-prepayment-only"
    LOCAL_TIME = "local-time"
    WHOLE_PENCE = "whole-pence-rounding"
    STANDING_CHARGE_WHILE_DEBT_SUSPENDED = "standing-charge-while-debt-suspended"
    PRE_ENROLMENT_CHECKS = "pre-enrolment-checks"
    UNSUPPORTED_VARIANTS = "unsupported-variants"
    VARIABLE_ON_DEMAND_DELAY = "variable-on-demand-delay"
    PPMID_FIRMWARE_VIA_HUB = "ppmid-firmware-via-hub-electricity-supplier"


#: Behaviours a profile states by name; the others follow from its fields.
FLAGS = frozenset(
    {
        Behaviour.CREDIT_MODE_2_1_REJECTED,
        Behaviour.EC_ACTIVATION_FAILURE_RESPONSE,
        Behaviour.DEBT_PREPAYMENT_ONLY,
        Behaviour.STANDING_CHARGE_WHILE_DEBT_SUSPENDED,
        Behaviour.PRE_ENROLMENT_CHECKS,
        Behaviour.PPMID_FIRMWARE_VIA_HUB,
    }
)

#: Where a derived behaviour comes from, for the error when a file names one.
DERIVED_FROM: dict[Behaviour, str] = {
    Behaviour.LOCAL_TIME: "time_base: local",
    Behaviour.WHOLE_PENCE: "money_resolution_mp: 1000",
    Behaviour.MAX_THREE_NON_DISABLEMENT_SCRIPTS: "limits.non_disablement_scripts_per_day: 3",
    Behaviour.VARIABLE_ON_DEMAND_DELAY: "delay: {min_s, max_s}",
    Behaviour.UNSUPPORTED_VARIANTS: "supported (without 1.1.2 1.2.2 4.11.2 4.6.2 4.14)",
}


@dataclass(frozen=True, slots=True)
class DelaySpec:
    """How long an on-demand instruction waits on the meter before it runs (seconds).

    A fixed delay when `min_s == max_s`; otherwise uniform in the range from a
    generator seeded by the lab seed and the device, so a run repeats exactly.
    """

    min_s: float = 0.0
    max_s: float = 0.0

    @property
    def variable(self) -> bool:
        return self.max_s > self.min_s

    def generator(self, seed: str) -> random.Random:
        return random.Random(f"smets1-delay:{seed}")

    def draw(self, rng: random.Random) -> float:
        return self.min_s if not self.variable else rng.uniform(self.min_s, self.max_s)


@dataclass(frozen=True, slots=True)
class Limits:
    non_disablement_scripts_per_day: int | None = None  # None: no limit
    max_debt_pence: int = 100_000
    max_top_up_pence: int = 50_000
    max_ec_limit_pence: int = 5_000


@dataclass(frozen=True, slots=True)
class Factory:
    """The configuration a device leaves the factory with (pre-enrolment checks read it)."""

    debt_recovery_order: tuple[str, ...] = ("time-based", "payment-based")
    disablement_not_allowed: bool = False
    payment_mode: str = "credit"
    balance_pence: int = 1000
    ec_limit_pence: int = 500
    ec_threshold_pence: int = 100
    standing_charge_pence_per_day: int = 24
    firmware_version: str = "01000000"


@dataclass(frozen=True, slots=True)
class Smets1Profile:
    name: str  # the profile's key (file stem)
    vendor: str
    model: str
    supported: frozenset[str]
    time_base: str = "local"  # "local" (Europe/London) or "utc"
    money_resolution_mp: int = 1000  # millipence per meter unit: 1000 = whole pence
    rounding: str = "down"  # "down" (toward zero) or "half-up", to meter units
    limits: Limits = field(default_factory=Limits)
    delay: DelaySpec = field(default_factory=DelaySpec)
    flags: frozenset[Behaviour] = frozenset()
    required_debt_recovery_order: tuple[str, ...] = ("time-based", "payment-based")
    factory: Factory = field(default_factory=Factory)
    description: str = ""

    @property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo("Europe/London" if self.time_base == "local" else "UTC")

    def supports(self, variant: str) -> bool:
        return variant in self.supported

    @property
    def behaviours(self) -> frozenset[Behaviour]:
        """Every behaviour this model shows: its flags and those its fields imply."""
        found = set(self.flags)
        if self.time_base == "local":
            found.add(Behaviour.LOCAL_TIME)
        if self.money_resolution_mp == 1000:
            found.add(Behaviour.WHOLE_PENCE)
        if self.limits.non_disablement_scripts_per_day == 3:
            found.add(Behaviour.MAX_THREE_NON_DISABLEMENT_SCRIPTS)
        if self.delay.variable:
            found.add(Behaviour.VARIABLE_ON_DEMAND_DELAY)
        if not any(self.supports(v) for v in SMETS1_UNAVAILABLE):
            found.add(Behaviour.UNSUPPORTED_VARIANTS)
        return frozenset(found)

    def has(self, behaviour: Behaviour) -> bool:
        return behaviour in self.behaviours
