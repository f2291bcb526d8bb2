"""ZCL profile-wide ("general") commands: attribute reads and writes, default response.

Their payloads do not depend on the cluster; attribute values carry their own type
id, so a read response decodes to typed values without any attribute table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.gbcs.reader import Reader
from emulator.gbcs.zcl.types import (
    ENUM8,
    U8,
    U16,
    Fields,
    FieldType,
    ListOf,
    Struct,
    ZclValue,
    read_typed,
    read_zcl_value,
    struct_of,
    write_typed,
    write_zcl_value,
)

STATUS_SUCCESS = 0x00
STATUS_UNSUPPORTED_ATTRIBUTE = 0x86
STATUS_UNSUP_CLUSTER_COMMAND = 0x81
STATUS_NOT_FOUND = 0x8B

ZCL_STATUS_NAMES = {
    0x00: "SUCCESS",
    0x01: "FAILURE",
    0x7E: "NOT_AUTHORIZED",
    0x80: "MALFORMED_COMMAND",
    0x81: "UNSUP_CLUSTER_COMMAND",
    0x82: "UNSUP_GENERAL_COMMAND",
    0x83: "UNSUP_MANUF_CLUSTER_COMMAND",
    0x84: "UNSUP_MANUF_GENERAL_COMMAND",
    0x85: "INVALID_FIELD",
    0x86: "UNSUPPORTED_ATTRIBUTE",
    0x87: "INVALID_VALUE",
    0x88: "READ_ONLY",
    0x89: "INSUFFICIENT_SPACE",
    0x8A: "DUPLICATE_EXISTS",
    0x8B: "NOT_FOUND",
    0x8C: "UNREPORTABLE_ATTRIBUTE",
    0x8D: "INVALID_DATA_TYPE",
    0x8E: "INVALID_SELECTOR",
    0x8F: "WRITE_ONLY",
    0x90: "INCONSISTENT_STARTUP_STATE",
    0x91: "DEFINED_OUT_OF_BAND",
    0x92: "INCONSISTENT",
    0x93: "ACTION_DENIED",
    0x94: "TIMEOUT",
    0x95: "ABORT",
    0x96: "INVALID_IMAGE",
    0x97: "WAIT_FOR_DATA",
    0x98: "NO_IMAGE_AVAILABLE",
    0x99: "REQUIRE_MORE_IMAGE",
    0x9A: "NOTIFICATION_PENDING",
    0xC0: "HARDWARE_FAILURE",
    0xC1: "SOFTWARE_FAILURE",
    0xC2: "CALIBRATION_ERROR",
    0xC3: "UNSUPPORTED_CLUSTER",
}


@dataclass(frozen=True, slots=True)
class ReadAttributeRecord(FieldType):
    """attribute id, status, then type id and value only when status is SUCCESS."""

    name: str = "read_attribute_record"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        attribute = int.from_bytes(r.take(2, "attribute_id"), "little")
        status = r.u8("status")
        if status != STATUS_SUCCESS:
            return {"attribute_id": attribute, "status": status}
        value = read_zcl_value(r)
        return {"attribute_id": attribute, "status": status, "value": value}

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        out += int(value["attribute_id"]).to_bytes(2, "little")
        out.append(value["status"])
        if value["status"] == STATUS_SUCCESS:
            write_zcl_value(value["value"], out)


@dataclass(frozen=True, slots=True)
class WriteAttributeRecord(FieldType):
    name: str = "write_attribute_record"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        attribute = int.from_bytes(r.take(2, "attribute_id"), "little")
        return {"attribute_id": attribute, "value": read_zcl_value(r)}

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        out += int(value["attribute_id"]).to_bytes(2, "little")
        write_zcl_value(value["value"], out)


@dataclass(frozen=True, slots=True)
class WriteStatusRecord(FieldType):
    """status, then the attribute id only for a failure (all-success is one 00)."""

    name: str = "write_status_record"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        status = r.u8("status")
        if status == STATUS_SUCCESS:
            return {"status": status}
        return {
            "status": status,
            "attribute_id": int.from_bytes(r.take(2, "attribute_id"), "little"),
        }

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        out.append(value["status"])
        if value["status"] != STATUS_SUCCESS:
            out += int(value["attribute_id"]).to_bytes(2, "little")


@dataclass(frozen=True, slots=True)
class ReportRecord(FieldType):
    name: str = "report_record"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        attribute = int.from_bytes(r.take(2, "attribute_id"), "little")
        return {"attribute_id": attribute, "value": read_zcl_value(r)}

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        out += int(value["attribute_id"]).to_bytes(2, "little")
        write_zcl_value(value["value"], out)


@dataclass(frozen=True, slots=True)
class ConfigureReportingRecord(FieldType):
    """direction, attribute, then either reporting parameters or a timeout."""

    name: str = "configure_reporting_record"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        direction = r.u8("direction")
        attribute = int.from_bytes(r.take(2, "attribute_id"), "little")
        if direction == 0x01:
            return {
                "direction": direction,
                "attribute_id": attribute,
                "timeout": int.from_bytes(r.take(2, "timeout"), "little"),
            }
        type_id = r.u8("data_type")
        out: Fields = {
            "direction": direction,
            "attribute_id": attribute,
            "data_type": type_id,
            "minimum_interval": int.from_bytes(r.take(2, "minimum_interval"), "little"),
            "maximum_interval": int.from_bytes(r.take(2, "maximum_interval"), "little"),
        }
        if _is_analog(type_id):
            out["reportable_change"] = read_typed(type_id, r)
        return out

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        out.append(value["direction"])
        out += int(value["attribute_id"]).to_bytes(2, "little")
        if value["direction"] == 0x01:
            out += int(value["timeout"]).to_bytes(2, "little")
            return
        out.append(value["data_type"])
        out += int(value["minimum_interval"]).to_bytes(2, "little")
        out += int(value["maximum_interval"]).to_bytes(2, "little")
        if _is_analog(value["data_type"]):
            write_typed(value["data_type"], value["reportable_change"], out)


def _is_analog(type_id: int) -> bool:
    return 0x20 <= type_id <= 0x3A or 0xE0 <= type_id <= 0xE2


@dataclass(frozen=True, slots=True)
class GeneralCommand:
    command_id: int
    name: str
    schema: Struct


GENERAL_COMMANDS: dict[int, GeneralCommand] = {}


def _general(command_id: int, name: str, schema: Struct) -> None:
    if command_id in GENERAL_COMMANDS:
        raise TypeError(f"duplicate general command 0x{command_id:02X}")
    GENERAL_COMMANDS[command_id] = GeneralCommand(command_id, name, schema)


_general(0x00, "read_attributes", struct_of(("attribute_ids", ListOf(U16))))
_general(0x01, "read_attributes_response", struct_of(("records", ListOf(ReadAttributeRecord()))))
_general(0x02, "write_attributes", struct_of(("records", ListOf(WriteAttributeRecord()))))
_general(0x03, "write_attributes_undivided", struct_of(("records", ListOf(WriteAttributeRecord()))))
_general(0x04, "write_attributes_response", struct_of(("records", ListOf(WriteStatusRecord()))))
_general(
    0x05, "write_attributes_no_response", struct_of(("records", ListOf(WriteAttributeRecord())))
)
_general(0x06, "configure_reporting", struct_of(("records", ListOf(ConfigureReportingRecord()))))
_general(0x0A, "report_attributes", struct_of(("records", ListOf(ReportRecord()))))
_general(0x0B, "default_response", struct_of(("command_id", U8), ("status", ENUM8)))
_general(0x0C, "discover_attributes", struct_of(("start_attribute_id", U16), ("maximum", U8)))
_general(
    0x0D,
    "discover_attributes_response",
    struct_of(
        ("complete", U8),
        ("attributes", ListOf(struct_of(("attribute_id", U16), ("data_type", U8)))),
    ),
)

__all__ = ["GENERAL_COMMANDS", "ZCL_STATUS_NAMES", "GeneralCommand", "ZclValue"]
