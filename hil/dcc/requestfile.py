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
from typing import Any

import yaml

from hil.dcc.catalogue import Role
from hil.dcc.lab import Lab, LabError
from hil.dcc.requests import Result
from hil.dcc.service import Dcc

_OFFSET = re.compile(r"^\+\s*(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RequestFileError(ValueError):
    pass


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
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise RequestFileError(f"cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise RequestFileError(f"{path}: not YAML: {exc}") from None
        parsed = cls.parse(data, str(path))
        if parsed.lab is not None and not parsed.lab.is_absolute():
            parsed.lab = (path.parent / parsed.lab).resolve()
        return parsed

    @classmethod
    def parse(cls, data: object, where: str = "requests") -> RequestFile:
        if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
            raise RequestFileError(f"{where}: expected a mapping with a 'requests' list")
        items: list[Item] = []
        names: set[str] = set()
        for index, raw in enumerate(data["requests"], start=1):
            place = f"{where}: item {index}"
            if not isinstance(raw, dict):
                raise RequestFileError(f"{place}: expected a mapping")
            if "advance" in raw:
                items.append(AdvanceItem(parse_offset(raw["advance"])))
                continue
            for key in ("variant", "user"):
                if key not in raw:
                    raise RequestFileError(f"{place}: missing {key!r}")
            unknown = set(raw) - {
                "name",
                "variant",
                "user",
                "target",
                "role",
                "params",
                "option",
                "execute_at",
                "after",
                "expect",
            }
            if unknown:
                raise RequestFileError(f"{place}: unknown keys {sorted(unknown)}")
            name = str(raw.get("name") or f"#{index} {raw['variant']}")
            after = raw.get("after")
            if after is not None and str(after) not in names:
                raise RequestFileError(f"{place}: 'after' names no earlier request: {after!r}")
            names.add(name)
            items.append(
                RequestItem(
                    name=name,
                    variant=str(raw["variant"]),
                    user=str(raw["user"]),
                    target=None if raw.get("target") is None else str(raw["target"]),
                    role=raw.get("role"),
                    params=dict(raw.get("params") or {}),
                    option=raw.get("option"),
                    execute_at=raw.get("execute_at"),
                    after=None if after is None else str(after),
                    expect={k: str(v) for k, v in (raw.get("expect") or {}).items()},
                )
            )
        lab = data.get("lab")
        return cls(items, None if lab is None else Path(str(lab)))


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
            problems.append(f"{item.name}: unknown user {item.user!r} (known: {known})")
        if item.role is not None:
            try:
                Role.parse(str(item.role))
            except ValueError as exc:
                problems.append(f"{item.name}: {exc}")
        if item.target is not None:
            try:
                lab.eui(item.target)
            except LabError as exc:
                problems.append(f"{item.name}: {exc}")
    if problems:
        raise RequestFileError("; ".join(problems))


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
