"""Cluster-specific ZCL commands used by GBCS (ZigBee Smart Energy 1.4 clusters).

Each command is a row: cluster, direction, command id, name and its payload
schema. The table is built and checked at import (no duplicate ids or names within
a cluster and direction), as zigpy does for its clusters. Directions are the ZCL
frame-control direction bit: TO_SERVER (client to server, bit3 = 0) and TO_CLIENT
(server to client, bit3 = 1). In GBCS the DCC-side commands to a gas meter are
mostly "server to client" commands (Publish..., Set...) because the meter is the
client of those clusters.

Commands absent from this table are listed in `UNIMPLEMENTED` so a reader can see
the gap; decoding one raises a clear error instead of returning opaque bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from emulator.gbcs.reader import Reader
from emulator.gbcs.zcl.types import (
    DATE,
    ENUM8,
    MAP8,
    MAP16,
    MAP24,
    MAP32,
    OCTSTR,
    S32,
    U8,
    U16,
    U24,
    U32,
    U48,
    UTC,
    Counted,
    Fields,
    FieldType,
    Fixed,
    ListOf,
    Optional,
    Struct,
    Switch,
    nibble_product,
    struct_of,
)


class Direction(IntEnum):
    TO_SERVER = 0
    TO_CLIENT = 1


class Cluster(IntEnum):
    BASIC = 0x0000
    TIME = 0x000A
    OTA_UPGRADE = 0x0019
    PRICE = 0x0700
    METERING = 0x0702
    MESSAGING = 0x0703
    TUNNELING = 0x0704
    PREPAYMENT = 0x0705
    CALENDAR = 0x0707
    DEVICE_MANAGEMENT = 0x0708
    EVENTS = 0x0709


@dataclass(frozen=True, slots=True)
class CommandDef:
    cluster: int
    direction: Direction
    command_id: int
    name: str
    schema: Struct


@dataclass(frozen=True, slots=True)
class TierThresholds(FieldType):
    """Block threshold sub-payload entry: tier (high nibble), count (low), uint48 * count."""

    name: str = "tier_thresholds"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        head = r.u8("tier_number_of_thresholds")
        count = head & 0x0F
        return {
            "tier": head >> 4,
            "thresholds": [
                int.from_bytes(r.take(6, "block_threshold"), "little") for _ in range(count)
            ],
        }

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        thresholds = value["thresholds"]
        out.append(((value["tier"] & 0x0F) << 4) | (len(thresholds) & 0x0F))
        for t in thresholds:
            out += int(t).to_bytes(6, "little")


COMMANDS: dict[tuple[int, Direction, int], CommandDef] = {}
_NAMES: set[tuple[int, Direction, str]] = set()


def _cmd(
    cluster: Cluster,
    direction: Direction,
    command_id: int,
    name: str,
    *fields: tuple[str, FieldType],
) -> None:
    key = (int(cluster), direction, command_id)
    if key in COMMANDS:
        raise TypeError(f"duplicate command {cluster.name} {direction.name} 0x{command_id:02X}")
    if (int(cluster), direction, name) in _NAMES:
        raise TypeError(f"duplicate command name {cluster.name} {direction.name} {name}")
    _NAMES.add((int(cluster), direction, name))
    COMMANDS[key] = CommandDef(int(cluster), direction, command_id, name, Struct(tuple(fields)))


S, C = Direction.TO_SERVER, Direction.TO_CLIENT
PROVIDER = ("provider_id", U32)
EVENT = ("issuer_event_id", U32)
TARIFF = ("issuer_tariff_id", U32)
CALENDAR = ("issuer_calendar_id", U32)

# -- Price (0x0700) ---------------------------------------------------------------------
P = Cluster.PRICE
_cmd(P, S, 0x00, "get_current_price", ("command_options", MAP8))
_cmd(P, S, 0x01, "get_scheduled_prices", ("start_time", UTC), ("number_of_events", U8))
_cmd(
    P, S, 0x02, "price_acknowledgement", PROVIDER, EVENT, ("price_ack_time", UTC), ("control", MAP8)
)
_cmd(
    P,
    S,
    0x03,
    "get_block_period",
    ("start_time", UTC),
    ("number_of_events", U8),
    ("tariff_type", MAP8),
)
_cmd(
    P,
    S,
    0x04,
    "get_conversion_factor",
    ("start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_commands", U8),
)
_cmd(
    P,
    S,
    0x05,
    "get_calorific_value",
    ("start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_commands", U8),
)
_cmd(
    P,
    S,
    0x06,
    "get_tariff_information",
    ("earliest_start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_commands", U8),
    ("tariff_type", MAP8),
)
_cmd(P, S, 0x07, "get_price_matrix", TARIFF)
_cmd(P, S, 0x08, "get_block_thresholds", TARIFF)
_cmd(
    P,
    S,
    0x09,
    "get_co2_value",
    ("earliest_start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_commands", U8),
    ("tariff_type", MAP8),
)
_cmd(P, S, 0x0A, "get_tier_labels", TARIFF)
_cmd(
    P,
    S,
    0x0B,
    "get_billing_period",
    ("earliest_start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_commands", U8),
    ("tariff_type", MAP8),
)
_cmd(
    P,
    S,
    0x0C,
    "get_consolidated_bill",
    ("earliest_start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_commands", U8),
    ("tariff_type", MAP8),
)
_cmd(P, S, 0x0D, "cpp_event_response", EVENT, ("cpp_auth", ENUM8))
_cmd(P, S, 0x0E, "get_credit_payment", ("latest_end_time", UTC), ("number_of_records", U8))
_cmd(P, S, 0x0F, "get_currency_conversion")
_cmd(P, S, 0x10, "get_tariff_cancellation")
_cmd(
    P,
    C,
    0x00,
    "publish_price",
    PROVIDER,
    ("rate_label", OCTSTR),
    EVENT,
    ("current_time", UTC),
    ("unit_of_measure", ENUM8),
    ("currency", U16),
    ("price_trailing_digit_and_tier", MAP8),
    ("number_of_price_tiers_and_register_tier", MAP8),
    ("start_time", UTC),
    ("duration_in_minutes", U16),
    ("price", U32),
    # GBCS meters stop after price; the rest are optional trailing fields in ZSE.
    ("price_ratio", Optional(U8)),
    ("generation_price", Optional(U32)),
    ("generation_price_ratio", Optional(U8)),
    ("alternate_cost_delivered", Optional(U32)),
    ("alternate_cost_unit", Optional(ENUM8)),
    ("alternate_cost_trailing_digit", Optional(MAP8)),
    ("number_of_block_thresholds", Optional(U8)),
    ("price_control", Optional(MAP8)),
    ("number_of_generation_tiers", Optional(U8)),
    ("generation_tier", Optional(ENUM8)),
    ("extended_number_of_price_tiers", Optional(ENUM8)),
    ("extended_price_tier", Optional(ENUM8)),
    ("extended_register_tier", Optional(ENUM8)),
)
_cmd(
    P,
    C,
    0x01,
    "publish_block_period",
    PROVIDER,
    EVENT,
    ("block_period_start_time", UTC),
    ("block_period_duration", MAP24),
    ("block_period_control", MAP8),
    ("block_period_duration_type", MAP8),
    ("tariff_type", MAP8),
    ("tariff_resolution_period", ENUM8),
)
_cmd(
    P,
    C,
    0x02,
    "publish_conversion_factor",
    EVENT,
    ("start_time", UTC),
    ("conversion_factor", U32),
    ("conversion_factor_trailing_digit", MAP8),
)
_cmd(
    P,
    C,
    0x03,
    "publish_calorific_value",
    EVENT,
    ("start_time", UTC),
    ("calorific_value", U32),
    ("calorific_value_unit", ENUM8),
    ("calorific_value_trailing_digit", MAP8),
)
_cmd(
    P,
    C,
    0x04,
    "publish_tariff_information",
    PROVIDER,
    EVENT,
    TARIFF,
    ("start_time", UTC),
    ("tariff_type_charging_scheme", MAP8),
    ("tariff_label", OCTSTR),
    ("number_of_price_tiers_in_use", U8),
    ("number_of_block_thresholds_in_use", U8),
    ("unit_of_measure", ENUM8),
    ("currency", U16),
    ("price_trailing_digit", MAP8),
    ("standing_charge", U32),
    ("tier_block_mode", U8),
    ("block_threshold_multiplier", U24),
    ("block_threshold_divisor", U24),
)
_cmd(
    P,
    C,
    0x05,
    "publish_price_matrix",
    PROVIDER,
    EVENT,
    ("start_time", UTC),
    TARIFF,
    ("command_index", U8),
    ("number_of_commands", U8),
    ("sub_payload_control", MAP8),
    ("entries", ListOf(struct_of(("tier_block_id", U8), ("price", U32)))),
)
_cmd(
    P,
    C,
    0x06,
    "publish_block_thresholds",
    PROVIDER,
    EVENT,
    ("start_time", UTC),
    TARIFF,
    ("command_index", U8),
    ("number_of_commands", U8),
    ("sub_payload_control", MAP8),
    ("entries", ListOf(TierThresholds())),
)
_cmd(
    P,
    C,
    0x07,
    "publish_co2_value",
    PROVIDER,
    EVENT,
    ("start_time", UTC),
    ("tariff_type", ENUM8),
    ("co2_value", U32),
    ("co2_value_unit", ENUM8),
    ("co2_value_trailing_digit", MAP8),
)
_cmd(
    P,
    C,
    0x08,
    "publish_tier_labels",
    PROVIDER,
    EVENT,
    TARIFF,
    ("command_index", U8),
    ("number_of_commands", U8),
    ("number_of_labels", U8),
    ("labels", ListOf(struct_of(("tier_id", U8), ("tier_label", OCTSTR)))),
)
_cmd(
    P,
    C,
    0x09,
    "publish_billing_period",
    PROVIDER,
    EVENT,
    ("billing_period_start_time", UTC),
    ("billing_period_duration", MAP24),
    ("billing_period_duration_type", MAP8),
    ("tariff_type", MAP8),
)
_cmd(
    P,
    C,
    0x0A,
    "publish_consolidated_bill",
    PROVIDER,
    EVENT,
    ("billing_period_start_time", UTC),
    ("billing_period_duration", MAP24),
    ("billing_period_duration_type", MAP8),
    ("tariff_type", MAP8),
    ("consolidated_bill", U32),
    ("currency", U16),
    ("bill_trailing_digit", MAP8),
)
_cmd(
    P,
    C,
    0x0B,
    "publish_cpp_event",
    PROVIDER,
    EVENT,
    ("start_time", UTC),
    ("duration_in_minutes", U16),
    ("tariff_type", MAP8),
    ("cpp_price_tier", U8),
    ("cpp_auth", ENUM8),
)
_cmd(
    P,
    C,
    0x0C,
    "publish_credit_payment",
    PROVIDER,
    EVENT,
    ("credit_payment_due_date", UTC),
    ("credit_payment_overdue_amount", U32),
    ("credit_payment_status", ENUM8),
    ("credit_payment", U32),
    ("credit_payment_date", UTC),
    ("credit_payment_ref", OCTSTR),
)
_cmd(
    P,
    C,
    0x0D,
    "publish_currency_conversion",
    PROVIDER,
    EVENT,
    ("start_time", UTC),
    ("old_currency", U16),
    ("new_currency", U16),
    ("conversion_factor", U32),
    ("conversion_factor_trailing_digit", MAP8),
    ("currency_change_control_flags", MAP32),
)
_cmd(P, C, 0x0E, "cancel_tariff", PROVIDER, TARIFF, ("tariff_type", MAP8))

# -- Metering (0x0702) --------------------------------------------------------------------
M = Cluster.METERING
_cmd(
    M,
    S,
    0x00,
    "get_profile",
    ("interval_channel", ENUM8),
    ("end_time", UTC),
    ("number_of_periods", U8),
)
_cmd(
    M,
    S,
    0x04,
    "schedule_snapshot",
    EVENT,
    ("command_index", U8),
    ("command_count", U8),
    (
        "snapshot_schedule",
        ListOf(
            struct_of(
                ("snapshot_schedule_id", U8),
                ("snapshot_start_time", UTC),
                ("snapshot_schedule", MAP24),
                ("snapshot_payload_type", ENUM8),
                ("snapshot_cause", MAP32),
            )
        ),
    ),
)
_cmd(M, S, 0x05, "take_snapshot", ("snapshot_cause", MAP32))
_cmd(
    M,
    S,
    0x06,
    "get_snapshot",
    ("earliest_start_time", UTC),
    ("latest_end_time", UTC),
    ("snapshot_offset", U8),
    ("snapshot_cause", MAP32),
)
_cmd(
    M,
    S,
    0x07,
    "start_sampling",
    EVENT,
    ("start_sampling_time", UTC),
    ("sample_type", ENUM8),
    ("sample_request_interval", U16),
    ("max_number_of_samples", U16),
)
_cmd(
    M,
    S,
    0x08,
    "get_sampled_data",
    ("sample_id", U16),
    ("earliest_sample_time", UTC),
    ("sample_type", ENUM8),
    ("number_of_samples", U16),
)
_cmd(M, S, 0x0A, "reset_load_limit_counter", PROVIDER, EVENT)
_cmd(
    M,
    S,
    0x0B,
    "change_supply",
    PROVIDER,
    EVENT,
    ("request_date_time", UTC),
    ("implementation_date_time", UTC),
    ("proposed_supply_status", ENUM8),
    ("supply_control_bits", MAP8),
)
_cmd(M, S, 0x0C, "local_change_supply", ("proposed_supply_status", ENUM8))
_cmd(
    M,
    S,
    0x0D,
    "set_supply_status",
    EVENT,
    ("supply_tamper_state", ENUM8),
    ("supply_depletion_state", ENUM8),
    ("supply_uncontrolled_flow_state", ENUM8),
    ("load_limit_supply_state", ENUM8),
)
_cmd(
    M,
    S,
    0x0E,
    "set_uncontrolled_flow_threshold",
    PROVIDER,
    EVENT,
    ("uncontrolled_flow_threshold", U16),
    ("unit_of_measure", ENUM8),
    ("multiplier", U16),
    ("divisor", U16),
    ("stabilisation_period", U8),
    ("measurement_period", U16),
)
_cmd(
    M,
    C,
    0x00,
    "get_profile_response",
    ("end_time", UTC),
    ("status", ENUM8),
    ("profile_interval_period", ENUM8),
    ("number_of_periods_delivered", U8),
    ("intervals", ListOf(U24)),
)
_cmd(
    M,
    C,
    0x04,
    "schedule_snapshot_response",
    EVENT,
    (
        "snapshot_response",
        ListOf(struct_of(("snapshot_schedule_id", U8), ("snapshot_schedule_confirmation", ENUM8))),
    ),
)
_cmd(M, C, 0x05, "take_snapshot_response", ("snapshot_id", U32), ("snapshot_confirmation", ENUM8))

_SUMMATIONS = ("tier_summations", Counted("number_of_tiers_in_use", U48))
_BLOCK_SUMMATIONS = (
    "tier_block_summations",
    Counted("number_of_tiers_and_block_thresholds_in_use", U48, nibble_product),
)
_BILL = (
    ("bill_to_date", U32),
    ("bill_to_date_time_stamp", UTC),
    ("projected_bill", U32),
    ("projected_bill_time_stamp", UTC),
    ("bill_trailing_digit", MAP8),
)
_METERING_SNAPSHOTS: dict[int, FieldType] = {
    0: struct_of(
        ("current_summation_delivered", U48), *_BILL, ("number_of_tiers_in_use", U8), _SUMMATIONS
    ),
    1: struct_of(
        ("current_summation_received", U48), *_BILL, ("number_of_tiers_in_use", U8), _SUMMATIONS
    ),
    2: struct_of(
        ("current_summation_delivered", U48),
        *_BILL,
        ("number_of_tiers_in_use", U8),
        _SUMMATIONS,
        ("number_of_tiers_and_block_thresholds_in_use", U8),
        _BLOCK_SUMMATIONS,
    ),
    3: struct_of(
        ("current_summation_received", U48),
        *_BILL,
        ("number_of_tiers_in_use", U8),
        _SUMMATIONS,
        ("number_of_tiers_and_block_thresholds_in_use", U8),
        _BLOCK_SUMMATIONS,
    ),
    4: struct_of(("current_summation_delivered", U48), ("number_of_tiers_in_use", U8), _SUMMATIONS),
    5: struct_of(("current_summation_received", U48), ("number_of_tiers_in_use", U8), _SUMMATIONS),
    6: struct_of(
        ("current_summation_delivered", U48),
        ("number_of_tiers_in_use", U8),
        _SUMMATIONS,
        ("number_of_tiers_and_block_thresholds_in_use", U8),
        _BLOCK_SUMMATIONS,
    ),
    7: struct_of(
        ("current_summation_received", U48),
        ("number_of_tiers_in_use", U8),
        _SUMMATIONS,
        ("number_of_tiers_and_block_thresholds_in_use", U8),
        _BLOCK_SUMMATIONS,
    ),
    8: struct_of(),  # data unavailable
}
_cmd(
    M,
    C,
    0x06,
    "publish_snapshot",
    ("snapshot_id", U32),
    ("snapshot_time", UTC),
    ("total_snapshots_found", U8),
    ("command_index", U8),
    ("total_number_of_commands", U8),
    ("snapshot_cause", MAP32),
    ("snapshot_payload_type", ENUM8),
    (
        "snapshot_payload",
        Switch("snapshot_payload_type", _METERING_SNAPSHOTS, name="snapshot_payload"),
    ),
)
_cmd(
    M,
    C,
    0x07,
    "get_sampled_data_response",
    ("sample_id", U16),
    ("sample_start_time", UTC),
    ("sample_type", ENUM8),
    ("sample_request_interval", U16),
    ("number_of_samples", U16),
    ("samples", ListOf(U24)),
)
_cmd(
    M,
    C,
    0x0C,
    "supply_status_response",
    PROVIDER,
    EVENT,
    ("implementation_date_time", UTC),
    ("supply_status", ENUM8),
)
_cmd(M, C, 0x0D, "start_sampling_response", ("sample_id", U16))

# -- Messaging (0x0703) -------------------------------------------------------------------
G = Cluster.MESSAGING
_cmd(
    G,
    C,
    0x00,
    "display_message",
    ("message_id", U32),
    ("message_control", MAP8),
    ("start_time", UTC),
    ("duration_in_minutes", U16),
    ("message", OCTSTR),
    ("extended_message_control", Optional(MAP8)),
)
_cmd(G, C, 0x01, "cancel_message", ("message_id", U32), ("message_control", MAP8))
_cmd(
    G,
    C,
    0x02,
    "display_protected_message",
    ("message_id", U32),
    ("message_control", MAP8),
    ("start_time", UTC),
    ("duration_in_minutes", U16),
    ("message", OCTSTR),
    ("extended_message_control", Optional(MAP8)),
)
_cmd(G, C, 0x03, "cancel_all_messages", ("implementation_date_time", UTC))
_cmd(G, S, 0x00, "get_last_message")
_cmd(
    G,
    S,
    0x01,
    "message_confirmation",
    ("message_id", U32),
    ("confirmation_time", UTC),
    ("message_confirmation_control", Optional(MAP8)),
    ("message_response", Optional(OCTSTR)),
)
_cmd(G, S, 0x02, "get_message_cancellation", ("earliest_implementation_time", UTC))

# -- Prepayment (0x0705) ------------------------------------------------------------------
Y = Cluster.PREPAYMENT
_cmd(
    Y,
    S,
    0x00,
    "select_available_emergency_credit",
    ("command_issue_date_time", UTC),
    ("originating_device", ENUM8),
)
_cmd(
    Y,
    S,
    0x02,
    "change_debt",
    EVENT,
    ("debt_label", OCTSTR),
    ("debt_amount", S32),
    ("debt_recovery_method", ENUM8),
    ("debt_amount_type", ENUM8),
    ("debt_recovery_start_time", UTC),
    ("debt_recovery_collection_time", U16),
    ("debt_recovery_frequency", ENUM8),
    ("debt_recovery_amount", S32),
    ("debt_recovery_balance_percentage", U16),
)
_cmd(
    Y,
    S,
    0x03,
    "emergency_credit_setup",
    EVENT,
    ("start_time", UTC),
    ("emergency_credit_limit", U32),
    ("emergency_credit_threshold", U32),
)
_cmd(Y, S, 0x04, "consumer_top_up", ("originating_device", ENUM8), ("top_up_code", OCTSTR))
_cmd(
    Y,
    S,
    0x05,
    "credit_adjustment",
    EVENT,
    ("start_time", UTC),
    ("credit_adjustment_type", ENUM8),
    ("credit_adjustment_value", S32),
)
_cmd(
    Y,
    S,
    0x06,
    "change_payment_mode",
    PROVIDER,
    EVENT,
    ("implementation_date_time", UTC),
    ("proposed_payment_control_configuration", MAP16),
    ("cut_off_value", S32),
)
_cmd(
    Y,
    S,
    0x07,
    "get_prepay_snapshot",
    ("earliest_start_time", UTC),
    ("latest_end_time", UTC),
    ("snapshot_offset", U8),
    ("snapshot_cause", MAP32),
)
_cmd(Y, S, 0x08, "get_top_up_log", ("latest_end_time", UTC), ("number_of_records", U8))
_cmd(Y, S, 0x09, "set_low_credit_warning_level", ("low_credit_warning_level", U32))
_cmd(
    Y,
    S,
    0x0A,
    "get_debt_repayment_log",
    ("latest_end_time", UTC),
    ("number_of_debts", U8),
    ("debt_type", ENUM8),
)
_cmd(
    Y,
    S,
    0x0B,
    "set_maximum_credit_limit",
    PROVIDER,
    EVENT,
    ("implementation_date_time", UTC),
    ("maximum_credit_level", U32),
    ("maximum_credit_per_top_up", U32),
)
_cmd(
    Y,
    S,
    0x0C,
    "set_overall_debt_cap",
    PROVIDER,
    EVENT,
    ("implementation_date_time", UTC),
    ("overall_debt_cap", S32),
)
_PREPAY_SNAPSHOTS: dict[int, FieldType] = {
    0: struct_of(
        ("accumulated_debt", S32),
        ("type1_debt_remaining", U32),
        ("type2_debt_remaining", U32),
        ("type3_debt_remaining", U32),
        ("emergency_credit_remaining", S32),
        ("credit_remaining", S32),
    ),
}
_cmd(
    Y,
    C,
    0x01,
    "publish_prepay_snapshot",
    ("snapshot_id", U32),
    ("snapshot_time", UTC),
    ("total_snapshots_found", U8),
    ("command_index", U8),
    ("total_number_of_commands", U8),
    ("snapshot_cause", MAP32),
    ("snapshot_payload_type", ENUM8),
    (
        "snapshot_payload",
        Switch("snapshot_payload_type", _PREPAY_SNAPSHOTS, name="snapshot_payload"),
    ),
)
_cmd(
    Y,
    C,
    0x02,
    "change_payment_mode_response",
    ("friendly_credit", MAP8),
    ("friendly_credit_calendar_id", U32),
    ("emergency_credit_limit", U32),
    ("emergency_credit_threshold", U32),
)
_cmd(
    Y,
    C,
    0x03,
    "consumer_top_up_response",
    ("result_type", ENUM8),
    ("top_up_value", S32),
    ("source_of_top_up", ENUM8),
    ("credit_remaining", S32),
)
_cmd(
    Y,
    C,
    0x05,
    "publish_top_up_log",
    ("command_index", U8),
    ("total_number_of_commands", U8),
    (
        "top_ups",
        ListOf(struct_of(("top_up_code", OCTSTR), ("top_up_amount", S32), ("top_up_time", UTC))),
    ),
)
_cmd(
    Y,
    C,
    0x06,
    "publish_debt_log",
    ("command_index", U8),
    ("total_number_of_commands", U8),
    (
        "debts",
        ListOf(
            struct_of(
                ("collection_time", UTC),
                ("amount_collected", U32),
                ("debt_type", ENUM8),
                ("outstanding_debt", U32),
            )
        ),
    ),
)

# -- Calendar (0x0707) --------------------------------------------------------------------
K = Cluster.CALENDAR
_cmd(
    K,
    S,
    0x00,
    "get_calendar",
    ("earliest_start_time", UTC),
    ("min_issuer_event_id", U32),
    ("number_of_calendars", U8),
    ("calendar_type", ENUM8),
    PROVIDER,
)
_cmd(
    K, S, 0x01, "get_day_profiles", PROVIDER, CALENDAR, ("start_day_id", U8), ("number_of_days", U8)
)
_cmd(
    K,
    S,
    0x02,
    "get_week_profiles",
    PROVIDER,
    CALENDAR,
    ("start_week_id", U8),
    ("number_of_weeks", U8),
)
_cmd(K, S, 0x03, "get_seasons", PROVIDER, CALENDAR)
_cmd(
    K,
    S,
    0x04,
    "get_special_days",
    ("start_time", UTC),
    ("number_of_events", U8),
    ("calendar_type", ENUM8),
    PROVIDER,
    CALENDAR,
)
_cmd(K, S, 0x05, "get_calendar_cancellation")
_cmd(
    K,
    C,
    0x00,
    "publish_calendar",
    PROVIDER,
    EVENT,
    CALENDAR,
    ("start_time", UTC),
    ("calendar_type", ENUM8),
    ("calendar_time_reference", U8),
    ("calendar_name", OCTSTR),
    ("number_of_seasons", U8),
    ("number_of_week_profiles", U8),
    ("number_of_day_profiles", U8),
)
_cmd(
    K,
    C,
    0x01,
    "publish_day_profile",
    PROVIDER,
    EVENT,
    CALENDAR,
    ("day_id", U8),
    ("total_number_of_schedule_entries", U8),
    ("command_index", U8),
    ("total_number_of_commands", U8),
    ("calendar_type", ENUM8),
    ("schedule_entries", ListOf(struct_of(("start_time", U16), ("tier_or_action", U8)))),
)
_cmd(
    K,
    C,
    0x02,
    "publish_week_profile",
    PROVIDER,
    EVENT,
    CALENDAR,
    ("week_id", U8),
    ("day_id_monday", U8),
    ("day_id_tuesday", U8),
    ("day_id_wednesday", U8),
    ("day_id_thursday", U8),
    ("day_id_friday", U8),
    ("day_id_saturday", U8),
    ("day_id_sunday", U8),
)
_cmd(
    K,
    C,
    0x03,
    "publish_seasons",
    PROVIDER,
    EVENT,
    CALENDAR,
    ("command_index", U8),
    ("total_number_of_commands", U8),
    ("seasons", ListOf(struct_of(("season_start_date", DATE), ("week_id", U8)))),
)
_cmd(
    K,
    C,
    0x04,
    "publish_special_days",
    PROVIDER,
    EVENT,
    CALENDAR,
    ("start_time", UTC),
    ("calendar_type", ENUM8),
    ("total_number_of_special_days", U8),
    ("command_index", U8),
    ("total_number_of_commands", U8),
    ("special_days", ListOf(struct_of(("special_day_date", DATE), ("day_id", U8)))),
)
_cmd(K, C, 0x05, "cancel_calendar", PROVIDER, CALENDAR, ("calendar_type", ENUM8))

# -- Device Management (0x0708) -------------------------------------------------------------
D = Cluster.DEVICE_MANAGEMENT
_cmd(D, S, 0x00, "get_change_of_tenancy")
_cmd(D, S, 0x01, "get_change_of_supplier")
_cmd(D, S, 0x02, "request_new_password", ("password_type", ENUM8))
_cmd(D, S, 0x03, "get_site_id")
_cmd(
    D,
    S,
    0x04,
    "report_event_configuration",
    ("command_index", U8),
    ("total_commands", U8),
    ("events", ListOf(struct_of(("event_id", U16), ("event_configuration", MAP8)))),
)
_cmd(D, S, 0x05, "get_cin")
_cmd(
    D,
    C,
    0x00,
    "publish_change_of_tenancy",
    PROVIDER,
    EVENT,
    ("tariff_type", MAP8),
    ("implementation_date_time", UTC),
    ("proposed_tenancy_change_control", MAP32),
)
_cmd(
    D,
    C,
    0x01,
    "publish_change_of_supplier",
    ("current_provider_id", U32),
    EVENT,
    ("tariff_type", MAP8),
    ("proposed_provider_id", U32),
    ("provider_change_implementation_time", UTC),
    ("provider_change_control", MAP32),
    ("proposed_provider_name", OCTSTR),
    ("proposed_provider_contact_details", OCTSTR),
)
_cmd(
    D,
    C,
    0x02,
    "request_new_password_response",
    EVENT,
    ("implementation_date_time", UTC),
    ("duration_in_minutes", U16),
    ("password_type", ENUM8),
    ("password", OCTSTR),
)
_cmd(D, C, 0x03, "update_site_id", EVENT, ("site_id_time", UTC), PROVIDER, ("site_id", OCTSTR))
_EVENT_CONFIG: dict[int, FieldType] = {
    0: struct_of(("number_of_events", U8), ("event_ids", Counted("number_of_events", U16))),
    1: struct_of(("event_group_id", U16)),
    2: struct_of(("log_id", ENUM8)),
    3: struct_of(("configuration_value_match", MAP8)),
}
_cmd(
    D,
    C,
    0x04,
    "set_event_configuration",
    EVENT,
    ("start_date_time", UTC),
    ("event_configuration", MAP8),
    ("configuration_control", ENUM8),
    ("payload", Switch("configuration_control", _EVENT_CONFIG, name="event_configuration_payload")),
)
_cmd(D, C, 0x05, "get_event_configuration", ("event_id", U16))
_cmd(
    D,
    C,
    0x06,
    "update_cin",
    EVENT,
    ("implementation_time", UTC),
    PROVIDER,
    ("customer_id_number", OCTSTR),
)

# -- Events (0x0709) ------------------------------------------------------------------------
E = Cluster.EVENTS
_cmd(
    E,
    S,
    0x00,
    "get_event_log",
    ("event_control_log_id", MAP8),
    ("event_id", U16),
    ("start_time", UTC),
    ("end_time", UTC),
    ("number_of_events", U8),
    ("event_offset", U16),
)
_cmd(E, S, 0x01, "clear_event_log_request", ("log_id", ENUM8))
_EVENT_ENTRY = struct_of(
    ("log_id", ENUM8), ("event_id", U16), ("event_time", UTC), ("event_data", OCTSTR)
)
_cmd(
    E,
    C,
    0x00,
    "publish_event",
    ("log_id", ENUM8),
    ("event_id", U16),
    ("event_time", UTC),
    ("event_control", MAP8),
    ("event_data", OCTSTR),
)
_cmd(
    E,
    C,
    0x01,
    "publish_event_log",
    ("total_number_of_events", U16),
    ("command_index", U8),
    ("total_commands", U8),
    ("log_payload_control", MAP8),
    ("events", ListOf(_EVENT_ENTRY)),
)
_cmd(E, C, 0x02, "clear_event_log_response", ("cleared_event_logs", MAP8))

# -- OTA Upgrade (0x0019) -------------------------------------------------------------------
OTA = Cluster.OTA_UPGRADE
_cmd(
    OTA,
    C,
    0x00,
    "image_notify",
    ("payload_type", ENUM8),
    ("query_jitter", U8),
    ("manufacturer_code", Optional(U16)),
    ("image_type", Optional(U16)),
    ("new_file_version", Optional(U32)),
)
_cmd(
    OTA,
    S,
    0x01,
    "query_next_image_request",
    ("field_control", MAP8),
    ("manufacturer_code", U16),
    ("image_type", U16),
    ("current_file_version", U32),
    ("hardware_version", Optional(U16)),
)
_cmd(
    OTA,
    S,
    0x03,
    "image_block_request",
    ("field_control", MAP8),
    ("manufacturer_code", U16),
    ("image_type", U16),
    ("file_version", U32),
    ("file_offset", U32),
    ("maximum_data_size", U8),
    ("request_node_address", Optional(Fixed(8))),
    ("minimum_block_period", Optional(U16)),
)
_cmd(
    OTA,
    S,
    0x06,
    "upgrade_end_request",
    ("status", ENUM8),
    ("manufacturer_code", U16),
    ("image_type", U16),
    ("file_version", U32),
)

UNIMPLEMENTED: tuple[str, ...] = (
    "Price 0x10 get_tariff_cancellation payload (none in ZSE 1.4 beyond the header)",
    "Metering mirror commands (request_mirror, remove_mirror, configure_mirror, notifications)",
    "OTA image_block_response / query_next_image_response (carried over the HAN, not in GBZ)",
)


def lookup(cluster: int, direction: Direction, command_id: int) -> CommandDef | None:
    return COMMANDS.get((cluster, direction, command_id))


def by_name(cluster: int, direction: Direction, name: str) -> CommandDef:
    for definition in COMMANDS.values():
        if (
            definition.cluster == cluster
            and definition.direction == direction
            and definition.name == name
        ):
            return definition
    raise KeyError(f"no command {name!r} in cluster 0x{cluster:04X} {direction.name}")
