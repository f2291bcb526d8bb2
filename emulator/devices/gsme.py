"""GSME: the battery gas meter.

Speaks GBZ through the shared ZCL server. It sleeps most of the time: it wakes on
a schedule of its clock (every `wake_interval`, 30 minutes by default), tells the
hub (WAKE), takes the commands queued for it, pushes a fresh mirror of its data
to the GPF, and sleeps again after `awake_window`. Commands that need the meter
itself (valve, tariffs, top-ups) wait in the hub for that moment.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, ClassVar

from emulator.clock import Clock, to_zigbee_time
from emulator.devices.base import DeviceType
from emulator.devices.topup import ConsumerControls
from emulator.devices.zcl_device import SUPPLY_STATUS, ZclDevice
from emulator.devices.zcl_model import CALENDAR, METERING, PREPAYMENT, PRICE


class Gsme(ConsumerControls, ZclDevice):
    device_type: ClassVar[DeviceType] = DeviceType.GSME
    #: A battery device: it pulls this many firmware blocks per wake-up at most.
    OTA_BLOCKS_PER_WAKE: ClassVar[int | None] = 4

    def __init__(
        self,
        eui: Any,
        clock: Clock,
        *,
        wake_interval: _dt.timedelta = _dt.timedelta(minutes=30),
        awake_window: _dt.timedelta = _dt.timedelta(seconds=10),
        **kwargs: Any,
    ) -> None:
        super().__init__(eui, clock, **kwargs)
        self.wake_interval = wake_interval
        self.awake_window = awake_window
        self.factory_configuration()

    def next_wake(self, after: _dt.datetime) -> _dt.datetime:
        """The first wake-up after `after`: the next multiple of the interval from midnight.

        The count restarts every midnight (as `is_awake` has it), so with an
        interval that does not divide a day the last wake-up of the day is
        followed by one at midnight, not by one a full interval later.
        """
        midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
        step = self.wake_interval
        n = int((after - midnight) / step) + 1
        return min(midnight + n * step, midnight + _dt.timedelta(days=1))

    def is_awake(self, at: _dt.datetime) -> bool:
        midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
        into = (at - midnight) % self.wake_interval
        return into < self.awake_window

    def mirror(self) -> dict[str, Any]:
        """What the GPF keeps for reads while the meter sleeps (JSON: octet-string
        attributes travel as hex under "octets", the others under "values")."""
        self.catch_up()
        return {
            "time": to_zigbee_time(self.clock.now()),
            "summation": int(self.meter.import_wh),
            "tiers": [int(t) for t in self.meter.tier_wh[:4]],
            "credit": int(self.meter.balance),
            "debt": int(self.meter.debt),
            "values": {
                **{
                    f"{c:04x}:{a:04x}": v
                    for (c, a), v in self.zcl.values.items()
                    if not isinstance(v, bytes)
                },
                f"{METERING:04x}:{SUPPLY_STATUS:04x}": self.live_value(METERING, SUPPLY_STATUS),
            },
            "octets": {
                f"{c:04x}:{a:04x}": v.hex()
                for (c, a), v in self.zcl.values.items()
                if isinstance(v, bytes)
            }
            | {f"{METERING:04x}:0206": self.firmware_version.lower()},  # GCS38: its version
        }

    def factory_configuration(self) -> None:
        """The tariff, calendar and units a meter leaves the factory (or install) with."""
        z = self.zcl
        z.values[(METERING, 0x0300)] = 1  # m3
        z.values[(METERING, 0x0301)] = 1
        z.values[(METERING, 0x0302)] = 1000
        z.values[(PRICE, 0x0616)] = 826  # GBP
        z.values[(PRICE, 0x0617)] = 0x20  # money (credit, debt) in pence: two decimals
        z.values[(PREPAYMENT, 0x0010)] = 1000
        base = {"provider_id": 0, "issuer_event_id": 0, "issuer_calendar_id": 1}
        z.published[(CALENDAR, "publish_day_profile")] = [
            {
                **base,
                "day_id": d,
                "total_number_of_schedule_entries": 1,
                "command_index": 0,
                "total_number_of_commands": 1,
                "calendar_type": 0,
                "schedule_entries": [{"start_time": 0, "tier_or_action": d}],
            }
            for d in range(1, 5)
        ]
        z.published[(CALENDAR, "publish_week_profile")] = [
            {
                **base,
                "week_id": w,
                "day_id_monday": 1,
                "day_id_tuesday": 1,
                "day_id_wednesday": 1,
                "day_id_thursday": 1,
                "day_id_friday": 1,
                "day_id_saturday": 2,
                "day_id_sunday": 2,
            }
            for w in range(1, 3)
        ]
        z.published[(CALENDAR, "publish_seasons")] = [
            {
                **base,
                "command_index": 0,
                "total_number_of_commands": 1,
                "seasons": [
                    {
                        "season_start_date": {"year": 2014, "month": 1, "day": 1, "weekday": 0xFF},
                        "week_id": 1,
                    }
                ],
            }
        ]
        z.published[(CALENDAR, "publish_special_days")] = [
            {
                **base,
                "start_time": 0,
                "calendar_type": 0,
                "total_number_of_special_days": 1,
                "command_index": 0,
                "total_number_of_commands": 1,
                "special_days": [
                    {
                        "special_day_date": {"year": 2014, "month": 12, "day": 25, "weekday": 0xFF},
                        "day_id": 2,
                    }
                ],
            }
        ]
        z.published[(PRICE, "publish_tariff_information")] = [
            {
                "provider_id": 0,
                "issuer_event_id": 0,
                "issuer_tariff_id": 1,
                "start_time": 0,
                "tariff_type_charging_scheme": 0,
                "tariff_label": b"",
                "number_of_price_tiers_in_use": 1,
                "number_of_block_thresholds_in_use": 0,
                "unit_of_measure": 1,
                "currency": 826,
                "price_trailing_digit": 0x50,
                "standing_charge": 0,
                "tier_block_mode": 0,
                "block_threshold_multiplier": 1,
                "block_threshold_divisor": 1,
            }
        ]
        # The billing calendar: monthly from the start of the month (duration type:
        # timebase months, start of timebase), what the engine then runs (00:00 on day 1).
        billing = {
            "provider_id": 0,
            "issuer_event_id": 0,
            "billing_period_start_time": 0,
            "billing_period_duration": 1,
            "billing_period_duration_type": 0x03,
            "tariff_type": 0,
        }
        z.published[(PRICE, "publish_billing_period")] = [billing]
        self.period_to_meter("publish_billing_period", billing)
