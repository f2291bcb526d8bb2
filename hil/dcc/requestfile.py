"""Service requests as data: a YAML file of requests and clock steps, run against a lab.

```yaml
lab: ../labs/demo.yaml          # optional; `--lab` on the command line wins
requests:
  - name: read the meter          # optional label; `after:` refers to it
    variant: "4.1.1"
    user: supplier
    target: ESME                  # alias from the lab, or an EUI-64
    role: Import Supplier         # optional when the user has one fitting role
    params: {}                    # builder parameters (docs/commands.md)
    option: add                   # optional: one of several GBCS routes
    execute_at: +10m              # future-dated: ISO time or +offset (s, m, h, d)
    after: read the meter         # sequenced: runs once that request succeeded
    expect: {status: completed}   # optional: status and/or reason to check
  - advance: 15m                  # move the lab's virtual clock
```

Every field, its type and default: docs/files.md. The file is checked when it
is read (unknown keys, types, duplicate names, `after:` naming an earlier
request, a top-up's amount), each error naming file, line and field.

Items run in order; each request is submitted (a critical one is signed as its
user), and the runner waits for on-demand and sequenced ones before the next
item. `run_file` returns the results, the response-time report and whether the
expectations held.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Discriminator

from hil.dcc.catalogue import Role, load_catalogue
from hil.dcc.lab import Lab, LabError
from hil.dcc.requests import RequestStatus, Result
from hil.dcc.service import Dcc
from hil.errors import HilError
from hil.files import FileFormatError, FileModel, YamlDocument, python_document, read_yaml, tag

_OFFSET = re.compile(r"^\+\s*(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RequestFileError(HilError, ValueError):
    """A request file that cannot be run; the message names the place."""


class RequestFileFormatError(FileFormatError, RequestFileError):
    """A request file that does not match the format: `path:line: field: problem`."""


def parse_offset(text: object) -> float:
    """'15m', '+2h', 30 -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    value = str(text).strip()
    m = _OFFSET.match(value if value.startswith("+") else "+" + value)
    if m is None:
        raise RequestFileError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 1d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_when(value: object, now: _dt.datetime) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
    text = str(value).strip()
    if text.startswith("+"):
        return now + _dt.timedelta(seconds=parse_offset(text))
    try:
        when = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RequestFileError(f"not a time: {value!r} (ISO 8601 or +offset)") from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)


@dataclass
class RequestItem:
    name: str
    variant: str
    user: str
    target: str | None = None
    role: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    option: str | None = None
    execute_at: object = None
    after: str | None = None
    expect: dict[str, str] = field(default_factory=dict)
    #: `path:line: field` of the fields checked against the lab later (user, target, role).
    where: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class AdvanceItem:
    seconds: float


Item = RequestItem | AdvanceItem


@dataclass
class RequestFile:
    items: list[Item]
    lab: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> RequestFile:
        path = Path(path)
        parsed = cls.from_document(read_yaml(path, RequestFileFormatError))
        if parsed.lab is not None and not parsed.lab.is_absolute():
            parsed.lab = (path.parent / parsed.lab).resolve()
        return parsed

    @classmethod
    def parse(cls, data: object, where: str = "requests") -> RequestFile:
        """Request file data already in Python (no line numbers in errors)."""
        return cls.from_document(python_document(data, where, RequestFileFormatError))

    @classmethod
    def from_document(cls, doc: YamlDocument) -> RequestFile:
        data = doc.validate(RequestFileModel)
        names = [
            None if isinstance(e, ClockStep) else (e.name or f"#{index} {e.variant}")
            for index, e in enumerate(data.requests, start=1)
        ]
        items: list[Item] = []
        earlier: dict[str, int] = {}
        for index, (entry, name) in enumerate(zip(data.requests, names, strict=True)):
            here: tuple[str | int, ...] = ("requests", index)
            if isinstance(entry, ClockStep):
                items.append(AdvanceItem(entry.advance))
                continue
            assert name is not None
            _check_request(doc, here, entry, name, earlier, names)
            earlier[name] = index
            items.append(
                RequestItem(
                    name=name,
                    variant=entry.variant,
                    user=entry.user,
                    target=entry.target,
                    role=entry.role,
                    params=dict(entry.params),
                    option=entry.option,
                    execute_at=entry.execute_at,
                    after=entry.after,
                    expect=entry.expect.model_dump(exclude_none=True),
                    where={k: doc.place((*here, k)) for k in ("user", "target", "role")},
                )
            )
        return cls(items, None if data.lab is None else Path(data.lab))


# -- the request file format (docs/files.md) ------------------------------------------------


def _catalogue_variant(text: str) -> str:
    if text not in load_catalogue():
        raise ValueError(f"no service reference variant {text!r} (smets-hil catalogue lists them)")
    return text


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a duration such as 30s, 15m, 2h or 1d, got {value!r}")
    return parse_offset(value)


def _execute_at(value: object) -> object:
    if value is None or isinstance(value, _dt.datetime):
        return value
    if isinstance(value, str):
        parse_when(value, _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC))
        return value
    raise ValueError(f"must be an ISO 8601 time or an offset such as +10m, got {value!r}")


def check_status(text: str) -> str:
    """A request status by its value (scenario files check theirs with this too)."""
    if text not in {s.value for s in RequestStatus}:
        known = ", ".join(s.value for s in RequestStatus)
        raise ValueError(f"no request status {text!r} (one of: {known})")
    return text


def check_role(text: str) -> str:
    """A role name `Role.parse` knows (scenario files check theirs with this too)."""
    Role.parse(text)
    return text


class ExpectEntry(FileModel):
    status: Annotated[str, AfterValidator(check_status)] | None = None
    reason: str | None = None


class RequestEntry(FileModel):
    name: str | None = None
    variant: Annotated[str, AfterValidator(_catalogue_variant)]
    user: str
    target: str | None = None
    role: Annotated[str, AfterValidator(check_role)] | None = None
    params: dict[str, Any] = {}
    option: str | None = None
    execute_at: Annotated[Any, BeforeValidator(_execute_at)] = None
    after: str | None = None
    expect: ExpectEntry = ExpectEntry()


class ClockStep(FileModel):
    advance: Annotated[float, BeforeValidator(_duration)]


def _item_kind(value: object) -> str:
    return "clock step" if isinstance(value, dict) and "advance" in value else "request"


class RequestFileModel(FileModel):
    """A request file; docs/files.md describes every field."""

    lab: str | None = None
    requests: list[
        Annotated[
            Annotated[ClockStep, tag("clock step")] | Annotated[RequestEntry, tag("request")],
            Discriminator(_item_kind),
        ]
    ]


#: Service reference variants that move money, and the parameters that say how much.
TOP_UP_AMOUNT = {"2.2": ("amount_pence", "utrn")}


def _check_request(
    doc: YamlDocument,
    here: tuple[str | int, ...],
    entry: RequestEntry,
    name: str,
    earlier: dict[str, int],
    names: list[str | None],
) -> None:
    """Checks across requests: unique names, `after:` naming an earlier one, a top-up's amount."""
    if name in earlier:
        first = doc.locate(("requests", earlier[name]))[0]
        where = "" if first is None else f" (line {first})"
        raise doc.error((*here, "name"), f"request name {name!r} is already used{where}")
    if entry.after is not None and entry.after not in earlier:
        if entry.after in names:
            later = names.index(entry.after)
            raise doc.error(
                (*here, "after"),
                f"{entry.after!r} is a later request (requests[{later}]); "
                "after: must name an earlier one",
            )
        raise doc.error((*here, "after"), f"no request is named {entry.after!r}")
    amount = TOP_UP_AMOUNT.get(entry.variant)
    if amount is not None and all(entry.params.get(k) is None for k in amount):
        loc = (*here, "params") if "params" in entry.model_fields_set else here
        raise doc.error(
            loc, f"a top-up ({entry.variant}) needs params.{amount[0]} or params.{amount[1]}"
        )
    inner = entry.params.get("variant")
    if inner is not None and not isinstance(inner, str):
        written = doc.source((*here, "params", "variant")) or repr(inner)
        raise doc.error(
            (*here, "params", "variant"),
            f"must be a string; got {written}, which YAML reads as {inner!r}: "
            f'quote it ("{written}")',
        )


@dataclass
class RunReport:
    lab_file: str
    results: list[Result]
    dcc: Dcc
    failed_expectations: list[str]
    lab: Lab | None = None  # the lab the requests ran on (stopped by now)

    @property
    def ok(self) -> bool:
        return not self.failed_expectations

    @property
    def scheduled_runs(self) -> list[Result]:
        """Requests the DCC made itself: the runs of 5.1 schedules."""
        mine = {id(r) for r in self.results}
        return [r for r in self.dcc.results.values() if id(r) not in mine]

    @property
    def all_results(self) -> list[Result]:
        return [*self.results, *self.scheduled_runs]

    def as_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab_file,
            "requests": [r.as_dict() for r in self.results],
            "scheduled_runs": [r.as_dict() for r in self.scheduled_runs],
            "response_times": self.dcc.timings.as_dict(),
            "alerts": [a.as_dict() for a in self.dcc.alerts],
            "notifications": [
                {"user": u, "request_id": rid, "text": text}
                for u, rid, text in self.dcc.notifications
            ],
            "expectations": {"failed": self.failed_expectations, "ok": self.ok},
        }


def check_against_lab(items: list[Item], lab: Lab) -> None:
    """Names that must exist before anything is sent: users, roles, device aliases."""
    problems = []
    for item in items:
        if not isinstance(item, RequestItem):
            continue
        user = lab.users.get(item.user)
        if user is None:
            known = ", ".join(u.name for u in lab.users)
            where = item.where.get("user", item.name)
            problems.append(f"{where}: unknown user {item.user!r} (known: {known})")
        if item.role is not None:
            try:
                Role.parse(str(item.role))
            except ValueError as exc:
                problems.append(f"{item.where.get('role', item.name)}: {exc}")
        if item.target is not None:
            try:
                lab.eui(item.target)
            except LabError as exc:
                problems.append(f"{item.where.get('target', item.name)}: {exc}")
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RequestFileError(problems[0] + more)


async def run_items(lab: Lab, items: list[Item], *, timeout: float = 60.0) -> list[Result]:
    dcc = lab.dcc
    if dcc is None:
        raise LabError("start the lab first (async with lab: ...)")
    check_against_lab(items, lab)
    by_name: dict[str, Result] = {}
    results: list[Result] = []
    for item in items:
        if isinstance(item, AdvanceItem):
            await lab.run_for(item.seconds)
            continue
        target = None if item.target is None else lab.eui(item.target)
        execute_at = (
            None if item.execute_at is None else parse_when(item.execute_at, lab.clock.now())
        )
        result = await dcc.request(
            item.variant,
            as_user=item.user,
            target=target,
            role=item.role,
            params=item.params,
            execute_at=execute_at,
            depends_on=None if item.after is None else by_name[item.after],
            option=item.option,
            label=item.name,
            timeout=timeout,
            wait=item.after is None,
        )
        by_name[item.name] = result
        results.append(result)
    await dcc.settle(timeout)
    await dcc.drain(timeout)
    return results


def check_expectations(items: list[Item], results: list[Result]) -> list[str]:
    failed = []
    requests = [i for i in items if isinstance(i, RequestItem)]
    for item, result in zip(requests, results, strict=True):
        for key, want in item.expect.items():
            got = {"status": result.status.value, "reason": result.reason}.get(key)
            if got is None:
                failed.append(f"{item.name}: unknown expectation {key!r}")
            elif got != want:
                failed.append(f"{item.name}: expected {key} {want!r}, got {got!r}")
    return failed


async def run_file(
    path: str | Path, lab_path: str | Path | None = None, *, link: str | None = None
) -> RunReport:
    """Run a request file on its lab (`lab_path` wins; `link` overrides the lab's HAN)."""
    request_file = RequestFile.load(path)
    lab_file = lab_path or request_file.lab
    if lab_file is None:
        raise RequestFileError(f"{path}: no lab given (use --lab or a 'lab:' key)")
    lab = Lab.load(lab_file, link=link)
    async with lab:
        results = await run_items(lab, request_file.items)
        assert lab.dcc is not None
        failed = check_expectations(request_file.items, results)
        report = RunReport(str(lab_file), results, lab.dcc, failed, lab)
    return report
