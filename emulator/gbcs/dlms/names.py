"""Names for DLMS/COSEM numbers: interface classes, attributes, units, OBIS codes.

Facts from the DLMS Blue Book (class, attribute and method names, the unit
enumeration) and from the GBCS use cases that read each object (the GB-specific
OBIS codes are named after the use case that reads them). An object missing from
`OBJECTS` is named by its class and OBIS code, never guessed. One table each;
`emulator.gbcs.values` uses them to turn a response into named values and the
CLI's `gbcs decode` to print names next to numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASS_NAMES: dict[int, str] = {
    1: "Data",
    3: "Register",
    4: "Extended register",
    5: "Demand register",
    7: "Profile generic",
    8: "Clock",
    9: "Script table",
    10: "Schedule",
    11: "Special days table",
    15: "Association LN",
    18: "Image transfer",
    20: "Activity calendar",
    21: "Register monitor",
    22: "Single action schedule",
    30: "Data protection",
    40: "Push setup",
    64: "Security setup",
    70: "Disconnect control",
    101: "ZigBee SAS startup",
    102: "ZigBee SAS join",
    103: "ZigBee SAS APS fragmentation",
    104: "ZigBee network control",
    71: "Limiter",
    111: "Account",
    112: "Credit",
    113: "Charge",
    115: "Token gateway",
    9000: "GBCS-specific",
}

#: Attribute names by class (attribute 1 is always the logical name).
ATTRIBUTE_NAMES: dict[int, dict[int, str]] = {
    1: {2: "value"},
    3: {2: "value", 3: "scaler_unit"},
    4: {2: "value", 3: "scaler_unit", 4: "status", 5: "capture_time"},
    5: {
        2: "current_average_value",
        3: "last_average_value",
        4: "scaler_unit",
        5: "status",
        6: "capture_time",
        7: "start_time_current",
        8: "period",
        9: "number_of_periods",
    },
    7: {
        2: "buffer",
        3: "capture_objects",
        4: "capture_period",
        5: "sort_method",
        6: "sort_object",
        7: "entries_in_use",
        8: "profile_entries",
    },
    8: {
        2: "time",
        3: "time_zone",
        4: "status",
        5: "daylight_savings_begin",
        6: "daylight_savings_end",
        7: "daylight_savings_deviation",
        8: "daylight_savings_enabled",
        9: "clock_base",
    },
    9: {2: "scripts"},
    10: {2: "entries"},
    11: {2: "entries"},
    18: {
        2: "image_block_size",
        3: "image_transferred_blocks_status",
        4: "image_first_not_transferred_block_number",
        5: "image_transfer_enabled",
        6: "image_transfer_status",
        7: "image_to_activate_info",
    },
    20: {
        2: "calendar_name_active",
        3: "season_profile_active",
        4: "week_profile_table_active",
        5: "day_profile_table_active",
        6: "calendar_name_passive",
        7: "season_profile_passive",
        8: "week_profile_table_passive",
        9: "day_profile_table_passive",
        10: "activate_passive_calendar_time",
    },
    21: {2: "thresholds", 3: "monitored_value", 4: "actions"},
    22: {2: "executed_script", 3: "type", 4: "execution_time"},
    30: {
        2: "protection_buffer",
        3: "protection_object_list",
        4: "protection_parameters_get",
        5: "protection_parameters_set",
        6: "required_protection",
    },
    70: {2: "output_state", 3: "control_state", 4: "control_mode"},
    71: {
        2: "monitored_value",
        3: "threshold_active",
        4: "threshold_normal",
        5: "threshold_emergency",
        6: "min_over_threshold_duration",
        7: "min_under_threshold_duration",
        8: "emergency_profile",
        9: "emergency_profile_group_id_list",
        10: "emergency_profile_active",
        11: "actions",
    },
    111: {
        2: "account_mode_and_status",
        3: "current_credit_in_use",
        4: "current_credit_status",
        5: "available_credit",
        6: "amount_to_clear",
        7: "clearance_threshold",
        8: "aggregated_debt",
        9: "credit_reference_list",
        10: "charge_reference_list",
        11: "credit_charge_configuration",
        12: "token_gateway_configuration",
        13: "account_activation_time",
        14: "account_closure_time",
        15: "currency",
        16: "low_credit_threshold",
        17: "next_credit_available_threshold",
        18: "max_provision",
        19: "max_provision_period",
    },
    112: {
        2: "current_credit_amount",
        3: "type",
        4: "priority",
        5: "warning_threshold",
        6: "limit",
        7: "credit_configuration",
        8: "status",
        9: "preset_credit_amount",
        10: "credit_available_threshold",
        11: "period",
    },
    113: {
        2: "total_amount_paid",
        3: "charge_type",
        4: "priority",
        5: "unit_charge_active",
        6: "unit_charge_passive",
        7: "unit_charge_activation_time",
        8: "period",
        9: "charge_configuration",
        10: "last_collection_time",
        11: "last_collection_amount",
        12: "total_amount_remaining",
        13: "proportion",
    },
    115: {
        2: "token",
        3: "token_time",
        4: "token_description",
        5: "token_delivery_method",
        6: "token_status",
    },
}

METHOD_NAMES: dict[int, dict[int, str]] = {
    3: {1: "reset"},
    4: {1: "reset"},
    7: {1: "reset", 2: "capture"},
    8: {1: "adjust_to_quarter", 4: "adjust_to_minute", 5: "adjust_to_preset_time"},
    9: {1: "execute"},
    20: {1: "activate_passive_calendar"},
    30: {1: "get_protected_attributes", 2: "set_protected_attributes"},
    70: {1: "remote_disconnect", 2: "remote_reconnect"},
    112: {1: "update_amount", 2: "set_amount_to_value"},
    115: {1: "enter"},
}

#: The DLMS unit enumeration (Blue Book), as plain text.
UNITS: dict[int, str] = {
    1: "a",
    2: "mo",
    3: "wk",
    4: "d",
    5: "h",
    6: "min",
    7: "s",
    8: "deg",
    9: "degC",
    10: "currency",
    11: "m",
    12: "m/s",
    13: "m3",
    14: "m3 (corrected)",
    15: "m3/h",
    16: "m3/h (corrected)",
    17: "m3/d",
    18: "m3/d (corrected)",
    19: "l",
    20: "kg",
    21: "N",
    22: "Nm",
    23: "Pa",
    24: "bar",
    25: "J",
    26: "J/h",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    34: "C",
    35: "V",
    36: "V/m",
    37: "F",
    38: "Ohm",
    39: "Ohm m2/m",
    40: "Wb",
    41: "T",
    42: "A/m",
    43: "H",
    44: "Hz",
    45: "1/(Wh)",
    46: "1/(varh)",
    47: "1/(VAh)",
    48: "V2h",
    49: "A2h",
    50: "kg/s",
    51: "S",
    52: "K",
    53: "1/(V2h)",
    54: "1/(A2h)",
    55: "1/m3",
    56: "%",
    57: "Ah",
    60: "Wh/m3",
    61: "J/m3",
    62: "mol %",
    63: "g/m3",
    64: "Pa s",
    65: "J/kg",
    70: "dBm",
    71: "dBuV",
    72: "dB",
    254: "other",
    255: "count",
}

#: Money in the ESME data model is millipence, 10^-5 of the currency (as DUIS
#: states amounts; docs/metering.md "Money").
MONEY_SCALER, MONEY_UNIT = -5, "GBP"

#: Attributes holding money amounts, by class (Blue Book payment metering).
MONEY_ATTRIBUTES: dict[int, frozenset[int]] = {
    111: frozenset({5, 6, 7, 8, 16, 17, 18}),
    112: frozenset({2, 5, 6, 9, 10}),
    113: frozenset({2, 11, 12}),
}

#: The attribute that is "the value" of an object of a class (named by the object alone).
VALUE_ATTRIBUTE: dict[int, int] = {1: 2, 3: 2, 4: 2, 5: 3, 7: 2, 8: 2, 112: 2}


@dataclass(frozen=True, slots=True)
class ObjectName:
    """A COSEM object's name and, for structures of quantities, its fields.

    `fields` names the quantities of a class 1 structure (value/scaler-unit pairs
    count as one); `unit` is the unit a value has when no scaler-unit travels
    with it (`"money"`: millipence shown in GBP); `columns` names profile columns.
    """

    name: str
    fields: tuple[str, ...] = ()
    unit: str = ""
    columns: tuple[str, ...] = ()


_MONEY = "money"
_TIME = ("capture_time",)

OBJECTS: dict[str, ObjectName] = {
    "0-0:0.2.1.255": ObjectName("Firmware version"),
    "0-0:1.0.0.255": ObjectName("Clock"),
    "0-0:10.0.100.255": ObjectName("Tariffication script table"),
    "0-0:10.0.106.255": ObjectName("Disconnect control script table"),
    "0-0:11.0.0.255": ObjectName("Special days table"),
    "0-0:13.0.0.255": ObjectName("Activity calendar"),
    "0-0:15.0.0.255": ObjectName("Billing calendar (single action schedule)"),
    "0-0:19.0.0.255": ObjectName("Account"),
    "0-0:19.10.0.255": ObjectName("Meter balance", unit=_MONEY),
    "0-0:19.10.1.255": ObjectName("Emergency credit", unit=_MONEY),
    "0-0:19.40.0.255": ObjectName("Token gateway"),
    "0-0:30.3.0.255": ObjectName("CHF device log (ZigBee network control)"),
    "0-0:30.3.1.255": ObjectName("CHF historic device log"),
    "0-0:94.44.34.1": ObjectName("TOU registers", unit="Wh"),
    "0-0:94.44.34.2": ObjectName("TOU with blocks registers", unit="Wh"),
    "0-0:94.44.34.10": ObjectName(
        "Import energy registers", ("Active import energy", "Reactive import energy")
    ),
    "0-0:94.44.34.20": ObjectName("Instantaneous power", ("Active import power",)),
    "0-0:94.44.34.30": ObjectName(
        "Prepayment registers",
        (
            "Meter balance",
            "Emergency credit balance",
            "Accumulated debt",
            "Payment-based debt",
            "Time-based debt 1",
            "Time-based debt 2",
        ),
        unit=_MONEY,
    ),
    "0-0:96.3.10.255": ObjectName("Supply (disconnect control)"),
    "0-0:98.1.0.255": ObjectName("Billing data log (billing calendar triggered)", columns=_TIME),
    "0-0:98.1.2.255": ObjectName(
        "Billing data log (change of mode / tariff triggered)", columns=_TIME
    ),
    "0-0:98.1.4.255": ObjectName("Billing data log (payment-based debt payments)", columns=_TIME),
    "0-0:98.1.5.255": ObjectName("Billing data log (prepayment credits)", columns=_TIME),
    "0-0:98.1.8.255": ObjectName("Prepayment daily read log", columns=_TIME),
    "0-0:98.1.9.255": ObjectName("Daily read log", columns=_TIME),
    "0-0:98.1.10.255": ObjectName("Daily read log (export)", columns=_TIME),
    "0-0:99.1.0.255": ObjectName(
        "Half hour profile data (consumption)", columns=("capture_time", "active_import")
    ),
    "0-0:99.1.1.255": ObjectName("Half hour profile data (export)", columns=_TIME),
    "0-0:99.1.2.255": ObjectName("Half hour profile data (reactive import)", columns=_TIME),
    "0-0:99.1.3.255": ObjectName("Daily consumption log", columns=_TIME),
    "0-0:99.98.0.255": ObjectName("Event log", columns=("time", "event_code")),
    "0-0:99.98.1.255": ObjectName("Security log", columns=("time", "event_code")),
    "1-0:1.6.0.255": ObjectName("Maximum demand active import", unit="W"),
    "1-0:2.6.0.255": ObjectName("Maximum demand active export", unit="W"),
    "1-0:1.8.0.255": ObjectName("Active import energy", unit="Wh"),
    "1-0:2.8.0.255": ObjectName("Active export energy", unit="Wh"),
    "1-0:3.8.0.255": ObjectName("Reactive import energy", unit="varh"),
    "1-0:4.8.0.255": ObjectName("Reactive export energy", unit="varh"),
    "1-0:32.24.0.255": ObjectName("Average RMS voltage profile (L1)", columns=_TIME),
}

#: Enumerated attribute values by (class id, attribute).
ENUMS: dict[tuple[int, int], dict[int, str]] = {
    (70, 3): {0: "disconnected", 1: "connected", 2: "ready_for_reconnection"},
    (18, 6): {
        0: "transfer_not_initiated",
        1: "transfer_initiated",
        2: "verification_initiated",
        3: "verification_successful",
        4: "verification_failed",
        5: "activation_initiated",
        6: "activation_successful",
        7: "activation_failed",
    },
    (112, 3): {0: "token_credit", 1: "reserved_credit", 2: "emergency_credit", 3: "time_based"},
    (113, 3): {0: "consumption_based", 1: "time_based", 2: "payment_event_based"},
}


def object_name(class_id: int, obis: str) -> str:
    """The object's name, or its class and OBIS code when we have none."""
    known = OBJECTS.get(obis)
    if known is not None:
        return known.name
    if class_id == 30 and obis.startswith("0-0:43.2."):
        return "Data protection"
    if class_id == 70 and obis.endswith(":96.3.10.255"):
        return f"Auxiliary load control switch {obis.split(':')[0].split('-')[1]}"
    return f"{CLASS_NAMES.get(class_id, f'class {class_id}')} {obis}"


def attribute_name(class_id: int, attribute: int) -> str:
    if attribute == 1:
        return "logical_name"
    return ATTRIBUTE_NAMES.get(class_id, {}).get(attribute, f"attribute {attribute}")


def method_name(class_id: int, method: int) -> str:
    return METHOD_NAMES.get(class_id, {}).get(method, f"method {method}")


def unit_name(code: int) -> str:
    """Text of a unit code; 0 (not a unit) and unknown codes give ""."""
    return UNITS.get(code, "")
