"""Render decoded trees as JSON-ready values and as indented text.

One generic walk over dataclasses, so every codec's typed nodes print the same way
without each defining its own formatter. Bytes become upper-case hex, EUI-64s and
OBIS codes their usual text, DLMS data nodes ``{"type": ..., "value": ...}``.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from emulator.gbcs.dlms.axdr import Array, CompactArray, Data, Structure
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, enum.Enum):
        return obj.name.lower()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, Eui64):
        return str(obj)
    if type(obj).__name__ == "Obis":
        return str(obj)
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).hex().upper()
    if isinstance(obj, DlmsDateTime):
        return str(obj)
    if isinstance(obj, Data):
        return _data(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"@": type(obj).__name__}
        for f in dataclasses.fields(obj):
            if not f.repr:
                continue
            value = getattr(obj, f.name)
            if value is None and f.default is None:
                continue
            out[f.name] = to_jsonable(value)
        return out
    return repr(obj)


def _data(node: Data) -> Any:
    if isinstance(node, Array | Structure):
        return {"type": node.NAME, "items": [_data(i) for i in node.items]}
    if isinstance(node, CompactArray):
        return {"type": node.NAME, "values": [_data(v) for v in node.values]}
    value = getattr(node, "value", None)
    if hasattr(node, "bits"):
        return {"type": node.NAME, "bits": node.bits, "value": to_jsonable(value)}
    return {"type": node.NAME, "value": to_jsonable(value)}


def render_text(value: Any, indent: int = 0) -> list[str]:
    """Indented lines for a JSON-ready value (the CLI's human output)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        kind = value.get("@") or value.get("type")
        scalar = {
            k: v
            for k, v in value.items()
            if not isinstance(v, dict | list) and k not in ("@", "type")
        }
        nested = {k: v for k, v in value.items() if isinstance(v, dict | list)}
        head = " ".join(f"{k}={v}" for k, v in scalar.items())
        label = f"{kind}" if kind else ""
        lines.append(f"{pad}{label}{' ' if label and head else ''}{head}".rstrip() or f"{pad}{{}}")
        for key, sub in nested.items():
            if isinstance(sub, list) and not sub:
                lines.append(f"{pad}  {key}: []")
                continue
            lines.append(f"{pad}  {key}:")
            lines.extend(render_text(sub, indent + 2))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                lines.extend(render_text(item, indent))
            else:
                lines.append(f"{pad}- {item}")
    else:
        lines.append(f"{pad}{value}")
    return lines
