"""Metering and prepayment engine: registers, tariffs and money on the virtual clock.

Pure (no I/O, time passed in). `Meter` is what the ESME and GSME hold as
`device.meter`; see docs/metering.md for the model and the money rule.
"""

from emulator.metering.calendar import DayProfile, NonDisablementCalendar, TouCalendar
from emulator.metering.meter import Element, Meter
from emulator.metering.money import MeteringError, pence_from_millipence
from emulator.metering.prepay import Debt, Ledger, MeterEvent, PrepayConfig
from emulator.metering.profile import Constant, HalfHourly, SeededRandom
from emulator.metering.tariff import Tariff, TariffSchedule

__all__ = [
    "Constant",
    "DayProfile",
    "Debt",
    "Element",
    "HalfHourly",
    "Ledger",
    "Meter",
    "MeterEvent",
    "MeteringError",
    "NonDisablementCalendar",
    "PrepayConfig",
    "SeededRandom",
    "Tariff",
    "TariffSchedule",
    "TouCalendar",
    "pence_from_millipence",
]
