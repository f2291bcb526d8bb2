"""ZigBee Smart Energy attributes GBCS reads, per cluster: id, name and ZCL type.

One table per cluster (ZSE 1.4 attribute sets; types checked against the reference
messages). The gas meter and the gas proxy answer from it
(`emulator.devices.zcl_model`), and `emulator.gbcs.values` names the attributes
of a response with it. `UNITS_OF_MEASURE`, the multiplier/divisor attributes and
`MONEY` say how to show a Metering or Prepayment value with its unit.
"""

from __future__ import annotations

from dataclasses import dataclass

BASIC, PRICE, METERING, MESSAGING, PREPAYMENT, CALENDAR, DEVICE_MANAGEMENT, EVENTS = (
    0x0000,
    0x0700,
    0x0702,
    0x0703,
    0x0705,
    0x0707,
    0x0708,
    0x0709,
)

# ZCL type ids used below
UINT8, UINT16, UINT24, UINT32, UINT48 = 0x20, 0x21, 0x22, 0x23, 0x25
INT32 = 0x2B
ENUM8 = 0x30
MAP8, MAP16 = 0x18, 0x19
OCTSTR, STRING = 0x41, 0x42


@dataclass(frozen=True, slots=True)
class AttributeDef:
    cluster: int
    attribute_id: int
    name: str
    type_id: int


def _table(cluster: int, rows: list[tuple[int, str, int]]) -> dict[int, AttributeDef]:
    table: dict[int, AttributeDef] = {}
    for attribute_id, name, type_id in rows:
        if attribute_id in table:
            raise TypeError(f"duplicate attribute 0x{attribute_id:04X} in cluster 0x{cluster:04X}")
        table[attribute_id] = AttributeDef(cluster, attribute_id, name, type_id)
    return table


ATTRIBUTES: dict[int, dict[int, AttributeDef]] = {
    BASIC: _table(
        BASIC,
        [
            (0x0003, "hw_version", UINT8),
            (0x0004, "manufacturer_name", STRING),
            (0x0005, "model_identifier", STRING),
        ],
    ),
    PRICE: _table(
        PRICE,
        [
            (0x0100, "block1_threshold", UINT48),
            (0x0101, "block2_threshold", UINT48),
            (0x0102, "block3_threshold", UINT48),
            (0x0202, "threshold_multiplier", UINT24),
            (0x0203, "threshold_divisor", UINT24),
            (0x0301, "standing_charge", UINT32),
            (0x0302, "conversion_factor", UINT32),
            (0x0303, "conversion_factor_trailing_digit", MAP8),
            (0x0304, "calorific_value", UINT32),
            (0x0305, "calorific_value_unit", ENUM8),
            (0x0306, "calorific_value_trailing_digit", MAP8),
            (0x0400, "no_tier_block1_price", UINT32),
            (0x0401, "no_tier_block2_price", UINT32),
            (0x0402, "no_tier_block3_price", UINT32),
            (0x0403, "no_tier_block4_price", UINT32),
            (0x0410, "tier1_block1_price", UINT32),
            (0x0420, "tier2_block1_price", UINT32),
            (0x0430, "tier3_block1_price", UINT32),
            (0x0440, "tier4_block1_price", UINT32),
            (0x0615, "unit_of_measure", ENUM8),
            (0x0616, "currency", UINT16),
            (0x0617, "price_trailing_digit", MAP8),
        ],
    ),
    METERING: _table(
        METERING,
        [
            (0x0000, "current_summation_delivered", UINT48),
            (0x0014, "supply_status", ENUM8),
            (0x0100, "current_tier1_summation_delivered", UINT48),
            (0x0102, "current_tier2_summation_delivered", UINT48),
            (0x0104, "current_tier3_summation_delivered", UINT48),
            (0x0106, "current_tier4_summation_delivered", UINT48),
            (0x0205, "remaining_battery_life_days", UINT16),
            (0x0206, "current_meter_id", OCTSTR),
            (0x0300, "unit_of_measure", ENUM8),
            (0x0301, "multiplier", UINT24),
            (0x0302, "divisor", UINT24),
            (0x0307, "site_id", OCTSTR),
            (0x0607, "supply_tamper_state", ENUM8),
            (0x0608, "supply_depletion_state", ENUM8),
            (0x0700, "current_block1_summation_delivered", UINT48),
            (0x0701, "current_block2_summation_delivered", UINT48),
            (0x0702, "current_block3_summation_delivered", UINT48),
            (0x0703, "current_block4_summation_delivered", UINT48),
            (0x0A00, "bill_to_date_delivered", UINT32),
            (0x0B10, "uncontrolled_flow_threshold", UINT16),
            (0x0B11, "uncontrolled_flow_unit_of_measure", ENUM8),
            (0x0B12, "uncontrolled_flow_multiplier", UINT16),
            (0x0B13, "uncontrolled_flow_divisor", UINT16),
            (0x0B14, "flow_stabilisation_period", UINT8),
            (0x0B15, "flow_measurement_period", UINT16),
        ],
    ),
    PREPAYMENT: _table(
        PREPAYMENT,
        [
            (0x0000, "payment_control_configuration", MAP16),
            (0x0001, "credit_remaining", INT32),
            (0x0002, "emergency_credit_remaining", INT32),
            (0x0005, "accumulated_debt", INT32),
            (0x0006, "overall_debt_cap", INT32),
            (0x0010, "emergency_credit_limit", UINT32),
            (0x0011, "emergency_credit_threshold", UINT32),
            (0x0021, "max_credit_limit", UINT32),
            (0x0022, "max_credit_per_top_up", UINT32),
            (0x0031, "low_credit_warning_level", UINT32),
            (0x0040, "cut_off_value", INT32),
            (0x0211, "debt_amount_1", UINT32),
            (0x0216, "debt_recovery_method_1", ENUM8),
            (0x0217, "debt_recovery_start_time_1", UINT32),
            (0x0221, "debt_amount_2", UINT32),
            (0x0226, "debt_recovery_method_2", ENUM8),
            (0x0227, "debt_recovery_start_time_2", UINT32),
            (0x0231, "debt_amount_3", UINT32),
            (0x0239, "debt_recovery_frequency_3", UINT16),
        ],
    ),
}


def attribute(cluster: int, attribute_id: int) -> AttributeDef | None:
    return ATTRIBUTES.get(cluster, {}).get(attribute_id)


#: Metering unit_of_measure (ZSE 1.4); 0x80 and above are the same units in BCD.
UNITS_OF_MEASURE: dict[int, str] = {
    0x00: "kWh",
    0x01: "m3",
    0x02: "ft3",
    0x03: "ccf",
    0x04: "US gal",
    0x05: "IMP gal",
    0x06: "BTU",
    0x07: "l",
    0x08: "kPa (gauge)",
    0x09: "kPa (absolute)",
    0x0A: "mcf",
    0x0B: "unitless",
    0x0C: "MJ",
    0x0D: "kvar",
}

#: Metering attributes formatted by multiplier, divisor and unit_of_measure.
SUMMATIONS: frozenset[int] = frozenset(
    {0x0000, 0x0100, 0x0102, 0x0104, 0x0106, 0x0700, 0x0701, 0x0702, 0x0703}
)
MULTIPLIER, DIVISOR, UNIT_OF_MEASURE = 0x0301, 0x0302, 0x0300

#: Price cluster attributes that say how money reads: ISO 4217 currency, and the
#: trailing digit (upper nibble: digits after the decimal point).
CURRENCY, PRICE_TRAILING_DIGIT = 0x0616, 0x0617
CURRENCIES: dict[int, str] = {826: "GBP", 978: "EUR", 840: "USD"}

#: Money attributes by cluster, scaled by the trailing digit read with them (two
#: decimals when none was read: the emulated meters keep money in pence).
MONEY: dict[int, frozenset[int]] = {
    PREPAYMENT: frozenset(
        {0x0001, 0x0002, 0x0005, 0x0006, 0x0010, 0x0011, 0x0021, 0x0022, 0x0031, 0x0040}
        | {0x0211, 0x0221, 0x0231}
    ),
    METERING: frozenset({0x0A00}),
    PRICE: frozenset({0x0301}),
}
#: Money fields of Prepayment and Metering commands (snapshots, top-ups, logs).
MONEY_FIELDS: frozenset[str] = frozenset(
    {
        "accumulated_debt",
        "amount_collected",
        "bill_to_date",
        "credit_adjustment_value",
        "credit_remaining",
        "cut_off_value",
        "debt_amount",
        "debt_recovery_amount",
        "emergency_credit_limit",
        "emergency_credit_remaining",
        "emergency_credit_threshold",
        "low_credit_warning_level",
        "maximum_credit_level",
        "maximum_credit_per_top_up",
        "outstanding_debt",
        "top_up_amount",
        "top_up_value",
        "type1_debt_remaining",
        "type2_debt_remaining",
        "type3_debt_remaining",
    }
)
