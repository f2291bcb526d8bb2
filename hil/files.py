"""Input files (YAML) checked against a schema, with errors that name file, line and field.

Every file format the harness reads (labs, request files, and whatever comes
next: scenarios, vendor profiles) goes through here so a mistake reads the same
everywhere, on one line:

    fixtures/requests/x.yaml:12: requests[3].variant: must be a string; got 7.10,
    which YAML reads as the number 7.1: quote it ("7.10")

The YAML is composed into nodes first (they carry line numbers), then built into
Python data, then validated by a pydantic model that is strict (no coercion: a
number is not a string, the string 'no' is not a boolean) and forbids unknown
keys (a typo must not silently leave the default in place). Checks across fields
(duplicate names, references to other entries) are made by the caller with
`YamlDocument.error(loc, problem)`, which finds the line the same way.

A field path is dotted, list items 0-based in brackets: `premises[0].devices[2].smets1`.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Tag, ValidationError
from pydantic_core import ErrorDetails

from hil.errors import HilError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class FileFormatError(HilError):
    """An input file that does not match its format: `path:line: field: problem`."""

    def __init__(
        self, path: str, line: int | None, field: str, problem: str, more: int = 0
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem
        self.more = more
        place = path if line is None else f"{path}:{line}"
        text = f"{place}: {field}: {problem}" if field else f"{place}: {problem}"
        super().__init__(text + (f" (+{more} more)" if more else ""))


ErrorFactory = Callable[[str, int | None, str, str, int], FileFormatError]


class FileModel(BaseModel):
    """Base of every file schema: strict types, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


def field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class YamlDocument:
    """A file's data with the node tree it came from (None when given as Python data)."""

    path: str
    data: Any
    root: yaml.Node | None
    make_error: ErrorFactory = FileFormatError
    from_text: bool = True  # False: Python data, no lines to name

    # -- places ---------------------------------------------------------------------------
    def locate(self, loc: Sequence[str | int]) -> tuple[int | None, str, yaml.Node | None]:
        """The line, the field path and the node a pydantic `loc` points at.

        Elements that are not keys or indexes in the file are union tags pydantic
        inserts (`clock step`, `str`) and are skipped; a last element that is not a
        key is a missing field, reported at its parent's line.
        """
        node = self.root
        line = None if node is None else node.start_mark.line + 1
        shown: list[str | int] = []
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            if part == "[key]":  # a bad mapping key: the line is already the key's
                break
            if isinstance(node, yaml.MappingNode):
                pair = next((p for p in node.value if _key_text(p[0]) == str(part)), None)
                if pair is not None:
                    shown.append(part)
                    line = pair[0].start_mark.line + 1
                    node = pair[1]
                    continue
                if last and not (isinstance(part, str) and _tag(part)):
                    shown.append(part)
                    node = None
                continue
            if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if 0 <= part < len(node.value):
                    shown.append(part)
                    node = node.value[part]
                    line = node.start_mark.line + 1
                continue
            if self.root is None and not (isinstance(part, str) and _tag(part)):
                shown.append(part)  # data given as Python objects: no lines, same path
        return line, field_path(shown), node

    def error(self, loc: Sequence[str | int], problem: str, more: int = 0) -> FileFormatError:
        line, where, _ = self.locate(loc)
        return self.make_error(self.path, line, where, problem, more)

    def place(self, loc: Sequence[str | int]) -> str:
        """`path:line: field` for messages made after loading (checks against a lab)."""
        line, where, _ = self.locate(loc)
        head = self.path if line is None else f"{self.path}:{line}"
        return f"{head}: {where}" if where else head

    def source(self, loc: Sequence[str | int]) -> str | None:
        """How the value at `loc` is written in the file (None without a node tree)."""
        _, _, node = self.locate(loc)
        return None if node is None else _shown(node)

    # -- validation -----------------------------------------------------------------------
    def validate(self, model: type[M]) -> M:
        if self.root is None and self.data is None:
            line = 1 if self.from_text else None
            raise self.make_error(self.path, line, "", "empty file: expected a mapping", 0)
        if not isinstance(self.data, dict):
            found = "a list" if isinstance(self.data, list) else f"{self.data!r}"
            raise self.make_error(
                self.path, self.locate(())[0], "", f"expected a mapping at the top, got {found}", 0
            )
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise self._from_validation(model, exc) from None

    def _from_validation(self, model: type[BaseModel], exc: ValidationError) -> FileFormatError:
        errors = exc.errors(include_url=False)
        # A misspelt key (`usr:`) is also a missing one (`user`): the unknown key, with
        # its "did you mean", is the error to show, though the mapping's line comes first.
        missing: dict[Loc, list[str]] = {}
        for err in errors:
            if err["type"] == "missing":
                missing.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))
        unknown_at: dict[Loc, int] = {}
        for err in errors:
            parent = tuple(err["loc"][:-1])
            if err["type"] == "extra_forbidden" and difflib.get_close_matches(
                str(err["loc"][-1]), missing.get(parent, []), 1
            ):
                line, _, _ = self.locate(err["loc"])
                unknown_at[parent] = min(unknown_at.get(parent, line or 0), line or 0)
        found: dict[tuple[int, str], tuple[tuple[int, int], str]] = {}
        for err in errors:
            line, where, node = self.locate(err["loc"])
            key = (line or 0, where)
            if key not in found:  # a union reports one problem once per member
                rank = (line or 0, 0)
                parent = tuple(err["loc"][:-1])
                if err["type"] == "missing" and parent in unknown_at:
                    rank = (unknown_at[parent], 1)
                found[key] = (rank, _problem(err, node, model))
        (line, where), (_, problem) = min(found.items(), key=lambda item: item[1][0])
        return self.make_error(self.path, line or None, where, problem, len(found) - 1)


# -- reading ------------------------------------------------------------------------------


def read_yaml(path: str | Path, make_error: ErrorFactory = FileFormatError) -> YamlDocument:
    """Read and parse a YAML file; any problem is a one-line `make_error`."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise make_error(where, None, "", f"cannot read: {exc.strerror or exc}", 0) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise make_error(where, 1, "", "UTF-16 text; save the file as UTF-8", 0)
    zero = raw.find(b"\x00")
    if zero >= 0:
        line = raw.count(b"\n", 0, zero) + 1
        raise make_error(where, line, "", "a binary file, not YAML text (NUL byte)", 0)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problem = f"not UTF-8 text (byte 0x{raw[exc.start]:02X})"
        raise make_error(where, line, "", problem, 0) from None
    return parse_yaml(text.removeprefix("\ufeff"), where, make_error)


def parse_yaml(text: str, where: str, make_error: ErrorFactory = FileFormatError) -> YamlDocument:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _refuse_duplicate_keys(root, (), where, make_error)
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        problem = exc.problem or exc.context or "bad YAML"
        if exc.problem and exc.context:
            problem += f" ({exc.context})"
        raise make_error(where, line, "", f"not valid YAML: {problem}", 0) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise make_error(where, line, "", f"not valid YAML: {exc.reason}", 0) from None
    except yaml.YAMLError as exc:
        raise make_error(where, None, "", f"not valid YAML: {exc}", 0) from None
    finally:
        loader.dispose()
    return YamlDocument(where, data, root, make_error)


def python_document(
    data: object, where: str, make_error: ErrorFactory = FileFormatError
) -> YamlDocument:
    """Data already in Python (tests, callers building files): checked, without lines."""
    return YamlDocument(where, data, None, make_error, from_text=False)


def _refuse_duplicate_keys(node: yaml.Node, loc: Loc, where: str, make_error: ErrorFactory) -> None:
    """PyYAML keeps the last of two equal keys; a file that says a thing twice is refused."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            text = _key_text(key)
            line = key.start_mark.line + 1
            if text is not None and text != "<<":
                if text in seen:
                    problem = f"duplicate key {text!r} (first on line {seen[text]})"
                    raise make_error(where, line, field_path((*loc, text)), problem, 0)
                seen[text] = line
            _refuse_duplicate_keys(value, (*loc, text or "?"), where, make_error)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, (*loc, index), where, make_error)


# -- messages -----------------------------------------------------------------------------

_TYPE_NAMES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "datetime_type": "a date and time",
    "date_type": "a date",
}


def _problem(err: ErrorDetails, node: yaml.Node | None, model: type[BaseModel]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return _unknown_key(model, err["loc"])
    if kind in ("value_error", "assertion_error"):
        ctx = err.get("ctx") or {}
        return str(ctx.get("error", err["msg"]))
    if kind in _TYPE_NAMES:
        problem = f"must be {_TYPE_NAMES[kind]}"
        got = _shown(node) if node is not None else repr(value)
        if kind == "string_type" and isinstance(node, yaml.ScalarNode) and node.style is None:
            if isinstance(value, bool):
                return f"{problem}; got {got}, which YAML reads as {value}: quote it ({got!r})"
            if isinstance(value, int | float):
                reads = "an integer" if isinstance(value, int) else f"the number {value!r}"
                return f'{problem}; got {got}, which YAML reads as {reads}: quote it ("{got}")'
        if kind == "bool_type" and isinstance(value, str):
            return f"{problem} (unquoted); got the string {got}"
        return f"{problem}; got {got}"
    if kind == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        got = _shown(node) if node is not None else repr(value)
        return f"must be one of {expected}; got {got}"
    message = err["msg"]
    return message[:1].lower() + message[1:]


def _unknown_key(model: type[BaseModel], loc: Sequence[str | int]) -> str:
    key = str(loc[-1]) if loc else "?"
    owner = _model_at(model, loc[:-1])
    if owner is None:
        return "unknown key"
    names = list(owner.model_fields)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key; expected one of: {', '.join(names)}{hint}"


def _model_at(model: Any, loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model a pydantic `loc` lands in, following fields, lists, dicts and tags."""
    current: Any = model
    for part in loc:
        current = _strip(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        elif origin in (list, tuple):
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        elif origin in (typing.Union, types.UnionType):
            picked = [m for m in typing.get_args(current) if _tag_of(m) == part]
            if not picked:
                return None
            current = picked[0]
        else:
            return None
    current = _strip(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip(annotation: Any) -> Any:
    while True:
        if typing.get_origin(annotation) is Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1 and all(_tag_of(a) is None for a in members):
                annotation = members[0]
                continue
        return annotation


def _tag_of(annotation: Any) -> str | None:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Tag):
            return meta.tag
    return None


_TAGS: set[str] = set()


def tag(name: str) -> Tag:
    """A union member's tag; the names are remembered so paths can leave them out."""
    _TAGS.add(name)
    return Tag(name)


def _tag(part: str) -> bool:
    return part in _TAGS


def _key_text(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    text = str(node.value)
    if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"'):
        return f"{node.style}{text}{node.style}"
    return text if text else "nothing"
