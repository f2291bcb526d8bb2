"""ZigBee Smart Energy attributes of the gas meter and the gas proxy (GBCS GBZ use cases).

The attribute table (id, name, ZCL type id per cluster) lives with the codec in
`emulator.gbcs.zcl.attributes`, so decoded responses are named from the same
table; it is re-exported here. Factory values are zero of the type; the device
computes the live ones (consumption, credit). `SENSITIVE_RESPONSES` says, per
message code, which response commands GBCS requires to travel encrypted as
sensitive data.
"""

from __future__ import annotations

from emulator.gbcs.zcl.attributes import (
    ATTRIBUTES,
    BASIC,
    CALENDAR,
    DEVICE_MANAGEMENT,
    ENUM8,
    EVENTS,
    INT32,
    MAP8,
    MAP16,
    MESSAGING,
    METERING,
    OCTSTR,
    PREPAYMENT,
    PRICE,
    STRING,
    UINT8,
    UINT16,
    UINT24,
    UINT32,
    UINT48,
    AttributeDef,
    attribute,
)

#: message code -> (cluster, response command name) pairs carried encrypted.
SENSITIVE_RESPONSES: dict[int, frozenset[tuple[int, str]]] = {
    0x0074: frozenset({(METERING, "read_attributes_response")}),
    0x0075: frozenset({(PREPAYMENT, "read_attributes_response")}),
    0x0076: frozenset({(METERING, "publish_snapshot"), (PREPAYMENT, "publish_prepay_snapshot")}),
    0x0077: frozenset({(METERING, "publish_snapshot")}),
    0x0078: frozenset({(METERING, "get_sampled_data_response")}),
    0x0079: frozenset({(METERING, "get_sampled_data_response")}),
    0x0096: frozenset({(PREPAYMENT, "publish_prepay_snapshot")}),
    0x00A0: frozenset({(METERING, "get_sampled_data_response")}),
    0x00B6: frozenset({(METERING, "read_attributes_response")}),
    0x00B8: frozenset({(METERING, "read_attributes_response")}),
    0x00C3: frozenset({(METERING, "publish_snapshot"), (PREPAYMENT, "publish_prepay_snapshot")}),
    0x00C4: frozenset({(PREPAYMENT, "publish_debt_log")}),
}


__all__ = [
    "ATTRIBUTES",
    "BASIC",
    "CALENDAR",
    "DEVICE_MANAGEMENT",
    "ENUM8",
    "EVENTS",
    "INT32",
    "MAP8",
    "MAP16",
    "MESSAGING",
    "METERING",
    "OCTSTR",
    "PREPAYMENT",
    "PRICE",
    "SENSITIVE_RESPONSES",
    "STRING",
    "UINT8",
    "UINT16",
    "UINT24",
    "UINT32",
    "UINT48",
    "AttributeDef",
    "attribute",
]
