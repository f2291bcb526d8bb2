"""What a device's response says, as named values with units.

A response payload is a tree of wire types; a user wants "Active import energy
12.345 kWh". `payload_values` maps each item of a response to what was asked:

- DLMS: each item of an access-response belongs to one request specification
  (class, OBIS, attribute) of the command (or of the response's echo); registers
  are scaled by the scaler-unit read with them, structures of quantities are
  split into their named fields, profile buffers become rows under column names,
  enumerations are named. A sensitive read (data protection) is opened with the
  key when one is given, otherwise reported as encrypted for the user;
- GBZ: cluster, command and attribute names; Metering summations scaled by the
  multiplier, divisor and unit of measure read with them, money in GBP;
- ASN.1: the fields named by the use case's schema (`asn1_fields`);
- alerts: the alert code's name, its time, and for future-dated outcomes which
  command they report on.

Pure: no I/O, no clock; names come from the tables in `dlms.names`,
`zcl.attributes`, `alert_codes` and `message_codes`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.errors import EmulatorError, GbcsError
from emulator.gbcs import crypto
from emulator.gbcs.alert_codes import alert_name
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerBoolean,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerObjectIdentifier,
    DerOctetString,
    DerPrimitive,
    DerString,
)
from emulator.gbcs.asn1_fields import RESPONSES as ASN1_RESPONSES
from emulator.gbcs.asn1_fields import Seq, SeqOf
from emulator.gbcs.dlms import names as dlms_names
from emulator.gbcs.dlms.apdu import (
    AccessRequest,
    AccessResponse,
    DataNotification,
    Obis,
    RequestSpec,
    ResponseSpec,
    SpecKind,
)
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Boolean,
    CompactArray,
    Data,
    Date,
    DateTime,
    DoubleLongUnsigned,
    Enum,
    Float32,
    Float64,
    NullData,
    OctetString,
    Structure,
    Time,
    Utf8String,
    VisibleString,
    _Integer,
    decode_data,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.payload import (
    SENSITIVE_AAD,
    DecodedPayload,
    PayloadTree,
    decode_message_payload,
    decrypt_payload,
    open_blob,
)
from emulator.gbcs.zcl import attributes as zcl_attributes
from emulator.gbcs.zcl.clusters import Cluster
from emulator.gbcs.zcl.foundation import ZCL_STATUS_NAMES
from emulator.gbcs.zcl.gbz import FutureDatedGbzOutcome, GbzAlert, GbzComponent, GbzPayload
from emulator.gbcs.zcl.types import ZclValue

ENCRYPTED = "encrypted for the user"
_EPOCH_2000 = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


@dataclass(frozen=True, slots=True)
class NamedValue:
    """One value of a response: a name, a JSON-ready value and its unit.

    `raw` is the wire number when `value` was scaled or named; `source` says
    where the value came from (class/OBIS/attribute, cluster/attribute);
    `status` is empty for a value, else why there is none (a failed item, or
    encrypted for the user when the key is not at hand).
    """

    name: str
    value: Any = None
    unit: str = ""
    source: str = ""
    raw: Any = None
    status: str = ""

    @property
    def text(self) -> str:
        """The value as a person reads it: `12.345 kWh`, `10.00 GBP`, `3 rows`."""
        if self.status:
            return self.status
        return format_value(self.value, self.unit)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "value": self.value}
        if self.unit:
            out["unit"] = self.unit
        out["text"] = self.text
        if self.raw is not None:
            out["raw"] = self.raw
        if self.source:
            out["source"] = self.source
        if self.status:
            out["status"] = self.status
        return out


def format_value(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict) and "rows" in value:
        return f"{len(value['rows'])} rows"
    if isinstance(value, list):
        shown = ", ".join(format_value(v, "") for v in value[:4])
        more = f", ... ({len(value)} values)" if len(value) > 4 else ""
        return f"[{shown}{more}]" + (f" {unit}" if unit else "")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v, '')}" for k, v in value.items()) + "}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value} {unit}".strip()
    if unit in ("Wh", "varh", "VAh") and abs(value) >= 1000:
        return f"{value / 1000:.3f} k{unit}"
    if unit in zcl_attributes.CURRENCIES.values():
        return f"{value:.2f} {unit}"
    return f"{value:g} {unit}".strip() if isinstance(value, float) else f"{value} {unit}".strip()


# -- entry points ---------------------------------------------------------------------------


def message_values(
    msg: GbcsMessage,
    *,
    command: GbcsMessage | PayloadTree | None = None,
    key: bytes | None = None,
) -> list[NamedValue]:
    """The named values of a response or alert message (see `payload_values`)."""
    try:
        decoded = decode_message_payload(msg)
    except GbcsError as exc:
        return [NamedValue("payload", status=f"undecodable: {exc}")]
    request: PayloadTree | None
    if isinstance(command, GbcsMessage):
        try:
            request = decode_message_payload(command).tree
        except GbcsError:
            request = None
    else:
        request = command
    return payload_values(decoded, msg.message_code, msg.originator, request, key)


def payload_values(
    decoded: DecodedPayload,
    message_code: int,
    originator: Eui64 | bytes,
    command: PayloadTree | None = None,
    key: bytes | None = None,
) -> list[NamedValue]:
    """Named values of a decoded payload.

    `command` is the command the response answers (its request specifications
    name DLMS items); `key` is the sensitive-data key for encrypted parts and
    `originator` the device that encrypted them (IV).
    """
    tree = decoded.tree
    if isinstance(tree, AccessResponse):
        specs = command.specs if isinstance(command, AccessRequest) else tree.request_specs
        arguments = command.data if isinstance(command, AccessRequest) else None
        return _dlms_response(tree, specs, arguments, key, bytes(originator))
    if isinstance(tree, DataNotification):
        return _dlms_alert(tree.body)
    if isinstance(tree, GbzPayload | GbzAlert):
        if key is not None and decoded.encrypted_parts > decoded.decrypted_parts:
            # on a wrong key the parts stay encrypted and are reported so
            with contextlib.suppress(EmulatorError):
                decrypt_payload(decoded, key, bytes(originator))
        if isinstance(tree, GbzAlert):
            return _gbz_alert(tree)
        return _gbz_components(tree.components)
    if isinstance(tree, Der):
        return _asn1(tree, message_code)
    return []


# -- DLMS -----------------------------------------------------------------------------------


def data_value(node: Data) -> Any:
    """A DLMS data node as a plain value (times as ISO text, bytes as hex)."""
    if isinstance(node, NullData):
        return None
    if isinstance(node, Boolean):
        return node.value
    if isinstance(node, _Integer):
        return node.value
    if isinstance(node, Float32 | Float64):
        return node.value
    if isinstance(node, VisibleString | Utf8String):
        return node.text.rstrip()
    if isinstance(node, OctetString):
        return _octets(node.value)
    if isinstance(node, BitString):
        return "".join(f"{b:08b}" for b in node.value)[: node.bits]
    if isinstance(node, DateTime | Date | Time):
        return str(node.value)
    if isinstance(node, Array | Structure):
        return [data_value(i) for i in node.items]
    if isinstance(node, CompactArray):
        return [data_value(v) for v in node.values]
    return repr(node)


def _octets(raw: bytes) -> str:
    if len(raw) == 12:
        try:
            moment = DlmsDateTime.from_bytes(raw)
        except (GbcsError, ValueError):
            return raw.hex().upper()
        if moment.to_datetime() is not None:
            return str(moment)
    return raw.hex().upper()


def _scaler_unit(node: Data | None) -> tuple[int, int] | None:
    if (
        isinstance(node, Structure)
        and len(node.items) == 2
        and isinstance(node.items[0], _Integer)
        and isinstance(node.items[1], Enum)
    ):
        return node.items[0].value, node.items[1].value
    return None


def _scaled(raw: int, scaler: int) -> int | float:
    if scaler >= 0:
        return int(raw * 10**scaler)
    return round(raw * 10.0**scaler, -scaler)


def _money(raw: int) -> float:
    return float(_scaled(raw, dlms_names.MONEY_SCALER))


def _describe(spec: RequestSpec) -> tuple[str, str]:
    obis = str(Obis(spec.instance))
    base = dlms_names.object_name(spec.class_id, obis)
    if spec.kind == SpecKind.ACTION:
        member = dlms_names.method_name(spec.class_id, spec.member)
        return f"{base}: {member}", f"{spec.class_id} {obis} method {spec.member}"
    return base, f"{spec.class_id} {obis} attribute {spec.member}"


def _dlms_response(
    tree: AccessResponse,
    specs: list[RequestSpec] | None,
    arguments: list[Data] | None,
    key: bytes | None,
    originator: bytes,
) -> list[NamedValue]:
    out: list[NamedValue] = []
    # scaler-units read next to their registers: (class, OBIS) -> (scaler, unit)
    scalers: dict[tuple[int, bytes], tuple[int, int]] = {}
    for read, value in zip(specs or [], tree.data, strict=False):
        su = _scaler_unit(value) if _is_scaler_unit(read) else None
        if su is not None:
            scalers[(read.class_id, bytes(read.instance))] = su
    for i, data in enumerate(tree.data):
        result = tree.results[i] if i < len(tree.results) else None
        if specs is None or i >= len(specs):
            out.extend(_unnamed_item(i, data, result, key, originator))
            continue
        spec = specs[i]
        name, source = _describe(spec)
        if result is not None and not result.ok:
            out.append(NamedValue(name, source=source, status=result.result_name))
            continue
        if spec.kind in (SpecKind.SET, SpecKind.SET_WITH_SELECTION):
            continue
        if spec.kind == SpecKind.ACTION:
            argument = arguments[i] if arguments is not None and i < len(arguments) else None
            if spec.class_id == 30 and spec.member == 1:
                out.extend(_protected_read(data, argument, key, originator, source))
            elif not isinstance(data, NullData):
                out.append(NamedValue(name, data_value(data), source=source))
            continue
        if _folded(spec, specs or [], scalers):
            continue  # folded into the register's value
        out.extend(
            _attribute_values(
                spec.class_id,
                str(Obis(spec.instance)),
                spec.member,
                data,
                scalers.get((spec.class_id, bytes(spec.instance))),
                source,
            )
        )
    return out


def _is_scaler_unit(spec: RequestSpec) -> bool:
    if spec.kind not in (SpecKind.GET, SpecKind.GET_WITH_SELECTION):
        return False
    return (spec.class_id, spec.member) in ((3, 3), (4, 3), (5, 4))


def _folded(
    spec: RequestSpec, specs: list[RequestSpec], scalers: Mapping[tuple[int, bytes], object]
) -> bool:
    """A scaler-unit read with its register's value is shown with that value."""
    if not _is_scaler_unit(spec) or (spec.class_id, bytes(spec.instance)) not in scalers:
        return False
    value_attribute = 3 if spec.class_id == 5 else 2
    return any(
        s.member == value_attribute
        and s.class_id == spec.class_id
        and bytes(s.instance) == bytes(spec.instance)
        for s in specs
    )


def _unnamed_item(
    i: int, data: Data, result: ResponseSpec | None, key: bytes | None, originator: bytes
) -> list[NamedValue]:
    """An item without its request specification (no command given): by position."""
    name = f"item {i + 1}"
    if result is not None and not result.ok:
        return [NamedValue(name, status=result.result_name)]
    if _protected_blob(data) is not None:
        return _protected_read(data, None, key, originator, name)
    if isinstance(data, NullData):
        return []
    return [NamedValue(name, data_value(data))]


def _attribute_values(
    class_id: int,
    obis: str,
    attribute: int,
    data: Data,
    scaler_unit: tuple[int, int] | None,
    source: str,
) -> list[NamedValue]:
    known = dlms_names.OBJECTS.get(obis)
    base = dlms_names.object_name(class_id, obis)
    main = dlms_names.VALUE_ATTRIBUTE.get(class_id)
    name = (
        base if attribute == main else f"{base}: {dlms_names.attribute_name(class_id, attribute)}"
    )
    # profile buffers
    if class_id == 7 and attribute == 2 and isinstance(data, CompactArray | Array):
        return [NamedValue(name, _profile(data, known), source=source)]
    # enumerations
    names = dlms_names.ENUMS.get((class_id, attribute))
    if names is not None and isinstance(data, _Integer):
        return [
            NamedValue(name, names.get(data.value, str(data.value)), source=source, raw=data.value)
        ]
    # money
    if isinstance(data, _Integer) and (
        attribute in dlms_names.MONEY_ATTRIBUTES.get(class_id, frozenset())
        or (known is not None and known.unit == "money" and attribute == main)
    ):
        return [
            NamedValue(
                name, _money(data.value), dlms_names.MONEY_UNIT, source=source, raw=data.value
            )
        ]
    # registers with their scaler-unit
    if isinstance(data, _Integer) and class_id in (3, 4, 5) and attribute == main:
        if scaler_unit is not None and dlms_names.unit_name(scaler_unit[1]):
            scaler, unit = scaler_unit
            return [
                NamedValue(
                    name,
                    _scaled(data.value, scaler),
                    dlms_names.unit_name(unit),
                    source=source,
                    raw=data.value,
                )
            ]
        return [NamedValue(name, data.value, known.unit if known else "", source=source)]
    su = _scaler_unit(data)
    if su is not None:
        unit_text = dlms_names.unit_name(su[1])
        return [NamedValue(name, f"10^{su[0]} {unit_text}".strip(), source=source)]
    # structures of quantities (value, scaler-unit pairs; named fields)
    if isinstance(data, Structure):
        quantities = _quantities(data, known)
        if quantities is not None:
            return [
                NamedValue(field, value, unit, source=source, raw=raw)
                for field, value, unit, raw in quantities
            ]
    if isinstance(data, _Integer) and known is not None and known.unit and attribute == main:
        return [NamedValue(name, data.value, known.unit, source=source)]
    value = data_value(data)
    if isinstance(value, list) and known is not None and known.unit and attribute == main:
        flat = value[0] if len(value) == 1 and isinstance(value[0], list) else value
        return [NamedValue(name, flat, known.unit, source=source)]
    return [NamedValue(name, value, source=source)]


def _quantities(
    data: Structure, known: dlms_names.ObjectName | None
) -> list[tuple[str, Any, str, Any]] | None:
    """A structure of integers (each optionally followed by its scaler-unit), named."""
    if known is None or not known.fields:
        return None
    found: list[tuple[Any, str, Any]] = []
    items = data.items
    i = 0
    while i < len(items):
        node = items[i]
        if not isinstance(node, _Integer):
            return None
        su = _scaler_unit(items[i + 1]) if i + 1 < len(items) else None
        if su is not None:
            found.append((_scaled(node.value, su[0]), dlms_names.unit_name(su[1]), node.value))
            i += 2
        elif known.unit == "money":
            found.append((_money(node.value), dlms_names.MONEY_UNIT, node.value))
            i += 1
        else:
            found.append((node.value, known.unit, None))
            i += 1
    names = list(known.fields) + [
        f"{known.name} {n + 1}" for n in range(len(known.fields), len(found))
    ]
    return [(names[n], v, u, r) for n, (v, u, r) in enumerate(found)]


def _profile(data: CompactArray | Array, known: dlms_names.ObjectName | None) -> dict[str, Any]:
    rows_nodes = data.values if isinstance(data, CompactArray) else data.items
    given = list(known.columns) if known is not None else []
    first = rows_nodes[0] if rows_nodes else None
    if not given and isinstance(first, Structure) and first.items:
        # GBCS profile rows start with their capture time (u32 seconds since 2000)
        given = ["capture_time"] if isinstance(first.items[0], DoubleLongUnsigned) else []
    timed = given[:1] in (["capture_time"], ["time"])
    rows: list[list[Any]] = []
    width = 0
    for row in rows_nodes:
        cells = list(row.items) if isinstance(row, Structure) else [row]
        width = max(width, len(cells))
        values = [data_value(c) for c in cells]
        if cells and isinstance(cells[0], _Integer) and timed:
            values[0] = (_EPOCH_2000 + _dt.timedelta(seconds=cells[0].value)).isoformat()
        rows.append(values)
    columns = given[:width] + [f"value {n + 1}" for n in range(width - len(given[:width]))]
    return {"columns": columns, "rows": rows}


def _protected_blob(data: Data) -> OctetString | None:
    if (
        isinstance(data, Structure)
        and len(data.items) == 2
        and isinstance(data.items[1], OctetString)
        and data.items[1].value[:1] == SENSITIVE_AAD
    ):
        return data.items[1]
    return None


def _protected_read(
    data: Data, argument: Data | None, key: bytes | None, originator: bytes, source: str
) -> list[NamedValue]:
    """A data protection read: the decrypted structure, one item per object descriptor."""
    descriptors: list[Data] = []
    if isinstance(argument, Structure) and argument.items and isinstance(argument.items[0], Array):
        descriptors = list(argument.items[0].items)
    targets = [_descriptor(d) for d in descriptors]
    label = ", ".join(dlms_names.object_name(c, o) for c, o, _ in targets) or "protected data"
    blob = _protected_blob(data)
    if blob is None:
        return [NamedValue(label, data_value(data), source=source)]
    if key is None:
        return [NamedValue(label, source=source, status=ENCRYPTED)]
    try:
        plain = decode_data(open_blob(key, crypto.iv_for(originator), blob.value))
    except EmulatorError as exc:
        return [NamedValue(label, source=source, status=f"not decrypted: {exc}")]
    items = plain.items if isinstance(plain, Structure) else [plain]
    out: list[NamedValue] = []
    for n, item in enumerate(items):
        if n < len(targets):
            class_id, obis, attribute = targets[n]
            out.extend(
                _attribute_values(
                    class_id,
                    obis,
                    attribute,
                    item,
                    None,
                    f"{class_id} {obis} attribute {attribute} (sensitive data)",
                )
            )
        else:
            out.append(NamedValue(f"{source}.{n + 1}", data_value(item), source=source))
    return out


def _descriptor(node: Data) -> tuple[int, str, int]:
    """(class, OBIS, attribute) of a protection object descriptor structure."""
    if isinstance(node, Structure) and len(node.items) >= 3:
        cls, inst, attr = node.items[0], node.items[1], node.items[2]
        if (
            isinstance(cls, _Integer)
            and isinstance(inst, OctetString)
            and len(inst.value) == 6
            and isinstance(attr, _Integer)
        ):
            return cls.value, str(Obis(inst.value)), attr.value
    return 0, "?", 0


def _dlms_alert(body: Data) -> list[NamedValue]:
    items = body.items if isinstance(body, Structure) else [body]
    out: list[NamedValue] = []
    for n, item in enumerate(items):
        if n == 0 and isinstance(item, _Integer):
            out.append(alert_code_value(item.value))
        elif n == 1 and isinstance(item, OctetString) and len(item.value) == 12:
            out.append(NamedValue("time", _octets(item.value)))
        elif isinstance(item, OctetString) and len(item.value) == 19:
            out.append(NamedValue("executed command", _dlms_outcome(item.value)))
        else:
            out.append(NamedValue(f"item {n + 1}", data_value(item)))
    return out


def alert_code_value(code: int) -> NamedValue:
    return NamedValue("alert_code", f"0x{code:04X} {alert_name(code)}", raw=code)


def _dlms_outcome(raw: bytes) -> dict[str, Any]:
    """A future-dated DLMS outcome: message code(2) counter(8) class(2) OBIS(6) attribute(1)."""
    code = int.from_bytes(raw[0:2], "big")
    class_id = int.from_bytes(raw[10:12], "big")
    obis = str(Obis(raw[12:18]))
    return {
        "message_code": f"0x{code:04X}",
        "use_case": lookup(code).use_case,
        "originator_counter": int.from_bytes(raw[2:10], "big"),
        "object": dlms_names.object_name(class_id, obis),
        "class": class_id,
        "obis": obis,
        "attribute": raw[18],
    }


# -- GBZ / ZCL ------------------------------------------------------------------------------


def cluster_name(cluster: int) -> str:
    try:
        return Cluster(cluster).name.replace("_", " ").title()
    except ValueError:
        return f"cluster 0x{cluster:04X}"


def zcl_attribute_name(cluster: int, attribute_id: int) -> str:
    found = zcl_attributes.attribute(cluster, attribute_id)
    return found.name if found is not None else f"attribute 0x{attribute_id:04X}"


def _zcl_plain(value: Any) -> Any:
    if isinstance(value, ZclValue):
        return _zcl_plain(value.value)
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, Mapping):
        return {str(k): _zcl_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_zcl_plain(v) for v in value]
    return value


def _gbz_components(components: list[GbzComponent]) -> list[NamedValue]:
    # multiplier, divisor and unit of measure anywhere in the response
    formatting: dict[int, int] = {}
    money = _Money()
    for component in components:
        fields = component.frame.fields
        if fields is None:
            continue
        for record in fields.get("records") or []:
            if not (isinstance(record, dict) and record.get("status", 0) == 0):
                continue
            value = _zcl_plain(record.get("value"))
            if not isinstance(value, int):
                continue
            attribute_id = int(record["attribute_id"])
            if component.cluster == zcl_attributes.METERING and attribute_id in (
                zcl_attributes.MULTIPLIER,
                zcl_attributes.DIVISOR,
                zcl_attributes.UNIT_OF_MEASURE,
            ):
                formatting[attribute_id] = value
            elif component.cluster == zcl_attributes.PRICE:
                if attribute_id == zcl_attributes.PRICE_TRAILING_DIGIT:
                    money.scaler = -(value >> 4)
                elif attribute_id == zcl_attributes.CURRENCY:
                    money.unit = zcl_attributes.CURRENCIES.get(value, f"currency {value}")
    out: list[NamedValue] = []
    for component in components:
        out.extend(_gbz_component(component, formatting, money))
    return out


@dataclass(slots=True)
class _Money:
    """How a GBZ response's money reads: its Price trailing digit and currency."""

    scaler: int = -2  # pence, until the response's trailing digit says otherwise
    unit: str = dlms_names.MONEY_UNIT

    def value(self, name: str, raw: int, source: str) -> NamedValue:
        return NamedValue(name, float(_scaled(raw, self.scaler)), self.unit, source, raw=raw)


def _gbz_component(
    component: GbzComponent, formatting: Mapping[int, int], money: _Money
) -> list[NamedValue]:
    cluster = component.cluster
    frame = component.frame
    label = f"{cluster_name(cluster)} {frame.name or f'command 0x{frame.command_id:02X}'}"
    source = f"0x{cluster:04X} {cluster_name(cluster)}"
    if frame.fields is None:
        return [NamedValue(label, source=source, status=ENCRYPTED)]
    fields = frame.fields
    if frame.name == "default_response":
        status = int(fields.get("status", 0))
        if status == 0:
            return []
        return [NamedValue(label, source=source, status=ZCL_STATUS_NAMES.get(status, str(status)))]
    records = fields.get("records")
    if isinstance(records, list):
        return [
            _zcl_record(cluster, r, formatting, money, source)
            for r in records
            if isinstance(r, dict)
        ]
    out: list[NamedValue] = []
    _flatten_fields(fields, "", out, f"{source} {frame.name}", money)
    return out


def _zcl_record(
    cluster: int,
    record: Mapping[str, Any],
    formatting: Mapping[int, int],
    money: _Money,
    source: str,
) -> NamedValue:
    attribute_id = int(record.get("attribute_id", 0))
    name = zcl_attribute_name(cluster, attribute_id)
    where = f"{source} attribute 0x{attribute_id:04X}"
    status = int(record.get("status", 0))
    if status != 0 or "value" not in record:
        return NamedValue(name, source=where, status=ZCL_STATUS_NAMES.get(status, str(status)))
    raw = _zcl_plain(record["value"])
    if cluster == zcl_attributes.METERING and isinstance(raw, int):
        multiplier = formatting.get(zcl_attributes.MULTIPLIER, 1)
        divisor = formatting.get(zcl_attributes.DIVISOR, 1)
        if attribute_id in zcl_attributes.SUMMATIONS and formatting and multiplier and divisor:
            unit = zcl_attributes.UNITS_OF_MEASURE.get(
                formatting.get(zcl_attributes.UNIT_OF_MEASURE, -1) & 0x7F, ""
            )
            return NamedValue(name, raw * multiplier / divisor, unit, source=where, raw=raw)
        if attribute_id == zcl_attributes.UNIT_OF_MEASURE:
            return NamedValue(
                name,
                zcl_attributes.UNITS_OF_MEASURE.get(raw & 0x7F, str(raw)),
                source=where,
                raw=raw,
            )
    if isinstance(raw, int) and attribute_id in zcl_attributes.MONEY.get(cluster, frozenset()):
        return money.value(name, raw, where)
    if cluster == zcl_attributes.PRICE and isinstance(raw, int):
        if attribute_id == zcl_attributes.PRICE_TRAILING_DIGIT:
            return NamedValue(name, f"{raw >> 4} decimal places", source=where, raw=raw)
        if attribute_id == zcl_attributes.CURRENCY:
            text = zcl_attributes.CURRENCIES.get(raw, str(raw))
            return NamedValue(name, text, source=where, raw=raw)
    return NamedValue(name, raw, source=where)


def _flatten_fields(
    fields: Mapping[str, Any], prefix: str, out: list[NamedValue], source: str, money: _Money
) -> None:
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten_fields(value, f"{name}.", out, source, money)
        elif key in zcl_attributes.MONEY_FIELDS and isinstance(value, int):
            out.append(money.value(name, value, source))
        elif _is_time_field(key) and isinstance(value, int) and value > 0:
            moment = (_EPOCH_2000 + _dt.timedelta(seconds=value)).isoformat()
            out.append(NamedValue(name, moment, source=source, raw=value))
        else:
            out.append(NamedValue(name, _zcl_plain(value), source=source))


def _is_time_field(key: str) -> bool:
    """ZCL UTC times (seconds since 2000) among command fields."""
    return key.endswith(("_time", "_date", "time_stamp")) and "period" not in key


def _gbz_alert(alert: GbzAlert) -> list[NamedValue]:
    out = [
        alert_code_value(alert.alert_code),
        NamedValue("time", (_EPOCH_2000 + _dt.timedelta(seconds=alert.timestamp)).isoformat()),
    ]
    body = alert.body
    if isinstance(body, FutureDatedGbzOutcome):
        out.append(
            NamedValue(
                "executed command",
                {
                    "message_code": f"0x{body.message_code:04X}",
                    "use_case": lookup(body.message_code).use_case,
                    "originator_counter": body.originator_counter,
                    "cluster": cluster_name(body.cluster),
                    "command_id": body.command_id,
                },
            )
        )
    elif isinstance(body, list):
        out.extend(_gbz_components(body))
    elif isinstance(body, int):
        out.append(NamedValue(alert.body_kind, body))
    elif isinstance(body, bytes):
        out.append(NamedValue(alert.body_kind, body.hex().upper()))
    return out


# -- ASN.1 ----------------------------------------------------------------------------------


def der_value(node: Der) -> Any:
    if isinstance(node, DerInteger | DerEnumerated):
        return node.value
    if isinstance(node, DerBoolean):
        return node.value
    if isinstance(node, DerNull):
        return None
    if isinstance(node, DerOctetString):
        return node.value.hex().upper()
    if isinstance(node, DerString):
        return node.text
    if isinstance(node, DerBitString | DerPrimitive):
        return node.value.hex().upper()
    if isinstance(node, DerObjectIdentifier):
        return node.dotted
    if isinstance(node, DerConstructed):
        return [der_value(i) for i in node.items]
    return node.encode().hex().upper()


_EUI_FIELDS = frozenset({"device_id", "entity_id"})


def _named(node: Der, schema: Seq | SeqOf | str) -> Any:
    if isinstance(schema, str):
        if schema in _EUI_FIELDS and isinstance(node, DerOctetString) and len(node.value) == 8:
            return str(Eui64(node.value))
        return der_value(node)
    if isinstance(schema, SeqOf):
        if not isinstance(node, DerConstructed):
            return der_value(node)
        return [_named(i, schema.element) for i in node.items]
    if not isinstance(node, DerConstructed) or len(node.items) > len(schema.fields):
        return der_value(node)
    out: dict[str, Any] = {}
    for item, field in zip(node.items, schema.fields, strict=False):
        out[_field_name(field)] = _named(item, field)
    return out


def _field_name(field: Seq | SeqOf | str) -> str:
    if isinstance(field, str):
        return field
    if isinstance(field, SeqOf):
        return field.name
    return "sequence"


def _asn1(tree: Der, message_code: int) -> list[NamedValue]:
    schema = ASN1_RESPONSES.get(message_code)
    if isinstance(schema, str):
        return [NamedValue(schema, der_value(tree))]
    if isinstance(schema, SeqOf):
        return [NamedValue(schema.name, _named(tree, schema))]
    if schema is not None and isinstance(tree, DerConstructed):
        named = _named(tree, schema)
        if isinstance(named, dict):
            return [NamedValue(k, v) for k, v in named.items()]
    if isinstance(tree, DerConstructed):
        return [NamedValue(f"field {n + 1}", der_value(i)) for n, i in enumerate(tree.items)]
    return [NamedValue("value", der_value(tree))]


# -- names next to numbers in a decoded tree ------------------------------------------------


def naming(node: Any, cluster: int | None = None) -> Any:
    """A JSON-ready decoded tree with names added next to the numbers that have one.

    Clusters, ZCL attributes, alert codes, message codes and DLMS request
    specifications (object and attribute or method) get a sibling key right after
    the number (`cluster_name`, `attribute_name`, `alert_name`, `use_case`,
    `object`, `member_name`); the numbers themselves are unchanged.
    """
    if isinstance(node, list):
        return [naming(item, cluster) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("cluster"), int):
        cluster = int(node["cluster"])
    out: dict[str, Any] = {}
    for key, value in node.items():
        out[key] = naming(value, cluster)
        for name_key, name in _names_for(node, key, value, cluster):
            out[name_key] = name
    return out


def _names_for(
    node: Mapping[str, Any], key: str, value: Any, cluster: int | None
) -> list[tuple[str, str]]:
    if not isinstance(value, int) or isinstance(value, bool):
        if key == "body" and node.get("@") == "DataNotification":
            code = _notification_alert(value)
            return [] if code is None else [("alert_name", f"0x{code:04X} {alert_name(code)}")]
        return []
    if key == "cluster":
        return [("cluster_name", f"0x{value:04X} {cluster_name(value)}")]
    if key == "alert_code":
        return [("alert_name", f"0x{value:04X} {alert_name(value)}")]
    if key == "message_code":
        found = lookup(value)
        return [("use_case", f"0x{value:04X} {found.use_case} {found.name}".strip())]
    if key == "attribute_id" and cluster is not None:
        return [("attribute_name", zcl_attribute_name(cluster, value))]
    if key == "member" and node.get("@") == "RequestSpec":
        class_id = int(node.get("class_id", 0))
        obis = str(node.get("instance", ""))
        member = (
            dlms_names.method_name(class_id, value)
            if node.get("kind") == "action"
            else dlms_names.attribute_name(class_id, value)
        )
        return [("object", dlms_names.object_name(class_id, obis)), ("member_name", member)]
    return []


def _notification_alert(body: Any) -> int | None:
    """The alert code of a DLMS alert body (a structure starting with long-unsigned)."""
    if isinstance(body, dict) and body.get("type") == "structure":
        items = body.get("items") or []
        first = items[0] if items else None
        if isinstance(first, dict) and first.get("type") == "long-unsigned":
            value = first.get("value")
            return value if isinstance(value, int) else None
    return None
