"""Generate the DLMS and GBZ command shapes (`hil/dcc/templates/{dlms,gbz}.py`).

Usage::

    .venv/bin/python tools/gen_request_templates.py RTDS_DIR [--out hil/dcc/templates]

RTDS_DIR is a reference test data set folder (``RTDS-4.5.0`` or its parent)
holding ``<variant>_<use case>/*_COMMAND_GBCS.HEX``. A development tool only:
the library and the tests never import it, and never read the RTDS.

What it takes from the reference commands is the *shape* of each use case: the
request specifications (kind, class, OBIS, attribute or method) and the A-XDR
type and size of every value (DLMS), or the ZCL commands with their field layout
(GBZ). Values are not copied: they become neutral (zeros, blanks, empty), except
where they define the command rather than carry data (the rules are in
`_dlms_value` and `_zcl_value`); times become slots filled at build time. The
output is formatted with ruff and is meant to be reviewed before it is committed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.gbcs.dlms.apdu import AccessRequest, Obis, RequestSpec, SpecKind
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Boolean,
    Data,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    Integer,
    Long,
    Long64,
    Long64Unsigned,
    LongUnsigned,
    NullData,
    OctetString,
    Structure,
    Unsigned,
    Utf8String,
    VisibleString,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.gbcs.zcl.gbz import FC_CLUSTER_SPECIFIC, GbzComponent, GbzPayload, schema_for
from emulator.gbcs.zcl.types import (
    Counted,
    FieldType,
    Fixed,
    ListOf,
    OctStr,
    Optional,
    SInt,
    Struct,
    Switch,
    UInt,
    ZDate,
)

#: Use cases whose builders are written by hand (UTRNs, device EUIs, clock windows).
HAND_WRITTEN = frozenset(
    {"CS01a", "CS01b", "CCS01", "CCS02", "CCS03", "ECS70", "ECS70Commission", "PCS01", "PCS02"}
)

_INTS: dict[type[Data], str] = {
    Unsigned: "U8",
    LongUnsigned: "U16",
    DoubleLongUnsigned: "U32",
    Long64Unsigned: "U64",
    Integer: "I8",
    Long: "I16",
    DoubleLong: "I32",
    Long64: "I64",
}

#: ZCL integer fields kept as in the reference: they size lists or index a sequence.
_ZCL_KEPT_NAMES = frozenset(
    {"command_index", "sub_payload_control", "snapshot_offset", "snapshot_payload_type"}
)
_MARKERS = frozenset({0, 0xFFFFFFFF, 0xFFFFFFFE})


@dataclass(slots=True)
class Example:
    name: str
    message_code: int
    tree: Any


# -- reading the reference commands --------------------------------------------------------


def read_examples(root: Path) -> dict[str, list[Example]]:
    if (root / "RTDS-4.5.0").is_dir():
        root = root / "RTDS-4.5.0"
    found: dict[str, list[Example]] = defaultdict(list)
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and "_" in p.name):
        use_case = folder.name.split("_", 1)[1]
        for path in sorted(folder.glob("*_COMMAND_GBCS.HEX")):
            if "PRECOMMAND" in path.name:
                continue
            raw = bytes.fromhex("".join(path.read_text().split()))
            msg = decode_message(raw)
            tree = decode_message_payload(msg).tree
            found[use_case].append(Example(path.name, msg.message_code, tree))
    return found


def _size(e: Example) -> int:
    t = e.tree
    if isinstance(t, AccessRequest):
        return len(t.specs)
    if isinstance(t, GbzPayload):
        return len(t.components)
    return 0


def choose(examples: list[Example]) -> tuple[Example, Example | None]:
    """The fullest immediate success example, and a future-dated one to compare."""

    def rank(e: Example) -> tuple[int, int, int, str]:
        n = e.name
        success = "SUCCESS" in n and not any(w in n for w in ("CANCELLATION", "NOT_FOUND"))
        return (not success, "IMMEDIATE" not in n, -_size(e), n)

    base = sorted(examples, key=rank)[0]
    future = [e for e in examples if "FUTURE_DATED" in e.name and "SUCCESS" in e.name]
    future = future or [e for e in examples if "FUTURE_DATED" in e.name]
    return base, (future[0] if future else None)


# -- DLMS ------------------------------------------------------------------------------------


def _is_datetime(node: Data) -> bool:
    if not (isinstance(node, OctetString) and len(node.value) == 12):
        return False
    dt = DlmsDateTime.from_bytes(node.value)
    return dt.is_now_marker or dt.is_never_marker or dt.to_datetime() is not None


def _kept(node: Data) -> str:
    """A node reproduced exactly (descriptors: class, OBIS, attribute, index)."""
    if isinstance(node, NullData):
        return "NULL"
    if isinstance(node, Enum):
        return f"E({node.value})"
    if isinstance(node, Boolean):
        return "B(True)" if node.value else "B()"
    if type(node) in _INTS:
        return f"{_INTS[type(node)]}({node.value})"  # type: ignore[attr-defined]
    if isinstance(node, OctetString) and len(node.value) == 6:
        return f'OBIS("{Obis(node.value)}")'
    if isinstance(node, Structure):
        return "S(" + ", ".join(_kept(i) for i in node.items) + ")"
    if isinstance(node, Array):
        return "A(" + ", ".join(_kept(i) for i in node.items) + ")"
    return _dlms_value(node)


def _dlms_value(node: Data) -> str:
    """The neutral shape of a value.

    Kept: enumerations and booleans (they choose what the command does: payment
    mode, boost on or off). Neutral: integers 0, octet strings zeros of the same
    size, visible and UTF-8 strings blanks, bit strings zeros; structures and
    arrays keep their item count.
    """
    if isinstance(node, NullData):
        return "NULL"
    if isinstance(node, Enum):
        return f"E({node.value})"
    if isinstance(node, Boolean):
        return "B(True)" if node.value else "B()"
    if type(node) in _INTS:
        return f"{_INTS[type(node)]}()"
    if isinstance(node, OctetString):
        return f"OS({len(node.value)})"
    if isinstance(node, VisibleString):
        return f"VS({len(node.value)})"
    if isinstance(node, Utf8String):
        return f"UTF8({len(node.value)})"
    if isinstance(node, BitString):
        return f"BITS({node.bits})"
    if isinstance(node, Structure):
        return "S(" + ", ".join(_dlms_value(i) for i in node.items) + ")"
    if isinstance(node, Array):
        items = [_dlms_value(i) for i in node.items]
        if len(items) > 3 and len(set(items)) == 1:
            return f"AN({len(items)}, {items[0]})"
        return "A(" + ", ".join(items) + ")"
    raise TypeError(f"no shape for {type(node).__name__}")


def _window(node: Data, rule: str) -> str:
    if isinstance(node, DoubleLongUnsigned):
        return f'UTC("{rule}")'
    if _is_datetime(node):
        return f'DT("{rule}")'
    return _dlms_value(node)


def _range_selection(sel: Data) -> str:
    """Selective access by range: restricting object kept, from / to as slots."""
    if isinstance(sel, Structure) and len(sel.items) == 4:
        restricting, start, end, columns = sel.items
        window = f"{_window(start, 'from')}, {_window(end, 'to')}"
        return f"S({_kept(restricting)}, {window}, {_kept(columns)})"
    return _kept(sel)


def _protected_read(arg: Data) -> str:
    """Class 30 get_protected_attributes: descriptors kept, parameters a slot."""
    if not (isinstance(arg, Structure) and len(arg.items) == 2):
        return _dlms_value(arg)
    descriptors, _ = arg.items
    out = []
    assert isinstance(descriptors, Array)
    for d in descriptors.items:
        assert isinstance(d, Structure)
        items = [_kept(i) for i in d.items[:4]]
        if len(d.items) > 4:
            access = d.items[4]
            assert isinstance(access, Structure)
            selector, selection = access.items
            if isinstance(selection, Structure) and len(selection.items) >= 2:
                rest = [_kept(i) for i in selection.items[2:]]
                inner = [_window(selection.items[0], "from"), _window(selection.items[1], "to")]
                items.append(f"S({_kept(selector)}, S({', '.join(inner + rest)}))")
            else:
                items.append(_kept(access))
        out.append("S(" + ", ".join(items) + ")")
    return f"S(A({', '.join(out)}), A(PROTECTION))"


def _same_spec(a: RequestSpec, b: RequestSpec) -> bool:
    return (a.kind, a.class_id, bytes(a.instance), a.member) == (
        b.kind,
        b.class_id,
        bytes(b.instance),
        b.member,
    )


def dlms_template(base: AccessRequest, future: AccessRequest | None) -> list[str]:
    lines = []
    for i, (spec, value) in enumerate(zip(base.specs, base.data, strict=True)):
        obis = str(Obis(spec.instance))
        head = f'{spec.class_id}, "{obis}", {spec.member}'
        if spec.kind == SpecKind.GET:
            lines.append(f"get({head})")
        elif spec.kind == SpecKind.GET_WITH_SELECTION:
            assert spec.selection is not None
            lines.append(f"get_range({head}, {_range_selection(spec.selection)})")
        elif spec.kind == SpecKind.ACTION:
            if spec.class_id == 30 and spec.member == 1:
                shape = _protected_read(value)
            elif spec.class_id == 9 and spec.member == 1:
                shape = _kept(value)  # the script executed is the command itself
            else:
                shape = _dlms_value(value)
            lines.append(f"action({head}, {shape})")
        else:
            shape = _dlms_value(value)
            if _is_datetime(value):
                other = None
                fspecs = future.specs if future is not None else []
                if future is not None and i < len(fspecs) and _same_spec(fspecs[i], spec):
                    other = future.data[i]
                dt = DlmsDateTime.from_bytes(value.value)  # type: ignore[attr-defined]
                moves = other is not None and other != value
                shape = (
                    'DT("execution")'
                    if moves or dt.is_now_marker or dt.is_never_marker
                    else 'DT("now")'
                )
            lines.append(f"set_({head}, {shape})")
    return lines


# -- GBZ -------------------------------------------------------------------------------------


def _zcl_value(ftype: FieldType, value: Any, fname: str, command: str, keep: bool) -> str:
    """The neutral shape of a ZCL field.

    Kept: enumerations and bitmaps (they say what the command does), list
    lengths and indexes, the ZSE time markers (0 = now, all ones = never /
    not specified); everything in general commands (attribute ids). Times of a
    read window become from / to slots, other times now; issuer event ids the
    event_id slot. Other integers 0, strings empty, fixed octets zeros.
    """
    if value is None:
        return "None"
    if isinstance(ftype, UInt | SInt):
        if keep or ftype.name.startswith(("enum", "bitmap")):
            return repr(value)
        if fname in _ZCL_KEPT_NAMES or fname.startswith(("number_of_", "total_number_of_")):
            return repr(value)
        if fname == "issuer_event_id":
            return 'ZT("event_id")'
        if ftype.name == "utc_time":
            if value in _MARKERS:
                return repr(value)
            if command.startswith("get_"):
                if "end" in fname or "latest" in fname:
                    return 'ZT("to")'
                return 'ZT("from")'
            return 'ZT("now")'
        if isinstance(ftype, UInt) and value == (1 << (8 * ftype.size)) - 1:
            return repr(value)  # all ones: "not used"
        return "0"
    if isinstance(ftype, OctStr):
        return 'b""'
    if isinstance(ftype, Fixed):
        return f"bytes({ftype.size})"
    if isinstance(ftype, ZDate):
        return '{"year": 255, "month": 255, "day": 255, "weekday": 255}'
    if isinstance(ftype, Struct):
        return _zcl_fields(ftype, value, command, keep)
    if isinstance(ftype, ListOf | Counted):
        items = [_zcl_value(ftype.element, v, fname, command, keep) for v in value]
        return "[" + ", ".join(items) + "]"
    if isinstance(ftype, Optional):
        return _zcl_value(ftype.element, value, fname, command, keep)
    if isinstance(ftype, Switch):
        raise TypeError("switch needs its context")
    if ftype.name == "tier_thresholds":
        return f'{{"tier": {value["tier"]}, "thresholds": {[0] * len(value["thresholds"])}}}'
    raise TypeError(f"no shape for ZCL field {fname} ({ftype.name})")


def _zcl_fields(schema: Struct, fields: dict[str, Any], command: str, keep: bool) -> str:
    parts = []
    for fname, ftype in schema.fields:
        chosen: FieldType | None = ftype
        if isinstance(ftype, Switch):
            chosen = ftype.cases.get(fields[ftype.selector], ftype.default)
        assert chosen is not None
        parts.append(f'"{fname}": {_zcl_value(chosen, fields[fname], fname, command, keep)}')
    return "{" + ", ".join(parts) + "}"


def gbz_template(base: GbzPayload, future: GbzPayload | None) -> list[str]:
    lines = []
    for i, c in enumerate(base.components):
        f = c.frame
        found = schema_for(c.cluster, f.frame_control, f.command_id)
        assert found is not None and f.fields is not None
        name, schema = found
        keep = not f.frame_control & FC_CLUSTER_SPECIFIC  # general commands: attribute ids
        fields = _zcl_fields(schema, f.fields, name, keep)
        other = _matching(future, i, c)
        if other is not None and other.frame.fields is not None:
            for fname, ftype in schema.fields:
                moved = other.frame.fields.get(fname) != f.fields.get(fname)
                if moved and isinstance(ftype, UInt) and ftype.name == "utc_time":
                    fields = fields.replace(
                        f'"{fname}": {_zcl_value(ftype, f.fields[fname], fname, name, keep)}',
                        f'"{fname}": ZT("execution")',
                        1,
                    )
        fdt = ""
        if c.from_date_time is not None:
            if other is not None and other.from_date_time != c.from_date_time:
                fdt = ', ZT("execution")'
            elif name.startswith("get_") and c.from_date_time not in _MARKERS:
                fdt = ', ZT("from")'
            else:
                fdt = f", {c.from_date_time}"
        lines.append(
            f'zcl(0x{c.cluster:04X}, 0x{f.frame_control:02X}, 0x{f.command_id:02X}, "{name}", '
            f"{fields}{fdt})"
        )
    return lines


def _matching(future: GbzPayload | None, i: int, c: GbzComponent) -> GbzComponent | None:
    if future is None or i >= len(future.components):
        return None
    o = future.components[i]
    same = (o.cluster, o.frame.frame_control, o.frame.command_id) == (
        c.cluster,
        c.frame.frame_control,
        c.frame.command_id,
    )
    return o if same else None


# -- output ----------------------------------------------------------------------------------

_HEADER = '''"""{what} command shapes, by use case: GENERATED by tools/gen_request_templates.py.

From the reference test data set: request layout and value types only; values
are neutral or slots (see `hil.dcc.templates`). Reviewed; regenerate rather than
edit by hand, and review the diff.
"""

from __future__ import annotations

from hil.dcc.templates import (
{names}
)

TEMPLATES: dict[str, {kind}Template] = {{
'''


_VOCABULARY = [
    *("NULL", "PROTECTION", "A", "AN", "B", "BITS", "DT", "E", "I8", "I16", "I32", "I64"),
    *("OBIS", "OS", "S", "U8", "U16", "U32", "U64", "UTC", "UTF8", "VS", "ZT"),
    *("action", "dlms", "gbz", "get", "get_range", "set_", "zcl"),
]


def write_module(
    path: Path, what: str, kind: str, entries: dict[str, tuple[str, list[str]]]
) -> None:
    body = "".join(line for _, lines in entries.values() for line in lines)
    factory = "dlms" if kind == "Dlms" else "gbz"
    used = [n for n in _VOCABULARY if re.search(rf"\b{n}\(|\b{n}\b", body) or n == factory]
    names = "\n".join(f"    {n}," for n in sorted({*used, f"{kind}Template"}))
    out = [_HEADER.format(what=what, kind=kind, names=names)]
    for use_case in sorted(entries):
        source, lines = entries[use_case]
        factory = "dlms" if kind == "Dlms" else "gbz"
        out.append(f"    # {source}\n")
        out.append(f'    "{use_case}": {factory}(\n')
        for line in lines:
            out.append(f"        {line},\n")
        out.append("    ),\n")
    out.append("}\n")
    path.write_text("".join(out))


def generate(examples: dict[str, list[Example]]) -> tuple[dict[str, Any], dict[str, Any]]:
    dlms_entries: dict[str, tuple[str, list[str]]] = {}
    gbz_entries: dict[str, tuple[str, list[str]]] = {}
    for use_case, items in sorted(examples.items()):
        if use_case in HAND_WRITTEN:
            continue
        base, future = choose(items)
        ftree = future.tree if future is not None else None
        if isinstance(base.tree, AccessRequest):
            f = ftree if isinstance(ftree, AccessRequest) else None
            dlms_entries[use_case] = (base.name, dlms_template(base.tree, f))
        elif isinstance(base.tree, GbzPayload):
            g = ftree if isinstance(ftree, GbzPayload) else None
            gbz_entries[use_case] = (base.name, gbz_template(base.tree, g))
    return dlms_entries, gbz_entries


def _format(paths: Iterable[Path]) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists() or shutil.which("ruff"):
        files = [str(p) for p in paths]
        subprocess.run([ruff, "check", "--quiet", "--select", "I", "--fix", *files], check=False)
        subprocess.run([ruff, "format", "--quiet", *files], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rtds", type=Path, help="RTDS folder (RTDS-4.5.0 or its parent)")
    parser.add_argument("--out", type=Path, default=Path("hil/dcc/templates"))
    args = parser.parse_args(argv)
    dlms_entries, gbz_entries = generate(read_examples(args.rtds))
    args.out.mkdir(parents=True, exist_ok=True)
    dlms_path, gbz_path = args.out / "dlms.py", args.out / "gbz.py"
    write_module(dlms_path, "DLMS", "Dlms", dlms_entries)
    write_module(gbz_path, "GBZ", "Gbz", gbz_entries)
    _format([dlms_path, gbz_path])
    print(f"{len(dlms_entries)} DLMS and {len(gbz_entries)} GBZ use cases written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
