"""Service requests and their results: what a user sent and what came back.

A `Result` follows one request through the DCC: refused (with the reason code
that decided it), or acknowledged and then completed, failed or cancelled; a
critical request waits for the user's signed pre-command in between. Its
`timeline` lists each step with the lab time, so a report can show where the
time went; `timing` holds the response-time figure.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.values import NamedValue
from hil.dcc.catalogue import Role
from hil.dcc.outcome import Outcome
from hil.dcc.timing import Category, ResponseTiming
from hil.dcc.users import User

#: DUIS response codes the layer uses besides its own reason codes.
SUCCESS = "I0"
ACKNOWLEDGED = "I99"


class Refusal(Exception):
    """Why the DCC will not (or could not) go on with a request: a code and a sentence."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = str(code)
        self.detail = detail


class RequestStatus(StrEnum):
    REFUSED = "refused"
    AWAITING_SIGNATURE = "awaiting signature"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (
            RequestStatus.REFUSED,
            RequestStatus.COMPLETED,
            RequestStatus.FAILED,
            RequestStatus.CANCELLED,
        )


@dataclass
class ServiceRequest:
    request_id: str
    variant: str
    user: User
    role: Role
    target: Eui64 | None
    params: dict[str, Any]
    category: Category
    received_at: _dt.datetime
    execute_at: _dt.datetime | None = None
    depends_on: str | None = None
    option: str | None = None
    label: str = ""  # a name from a request file, for reports


@dataclass
class Result:
    request: ServiceRequest
    status: RequestStatus = RequestStatus.ACKNOWLEDGED
    reason: str = ACKNOWLEDGED
    detail: str = ""
    precommand: GbcsMessage | None = None
    command: bytes | None = None
    response: bytes | None = None
    outcome: Outcome | None = None
    data: Any = None
    values: list[NamedValue] = field(default_factory=list)  # the device response's values
    alerts: list[bytes] = field(default_factory=list)
    timing: ResponseTiming | None = None
    timeline: list[tuple[_dt.datetime, str]] = field(default_factory=list)
    use_case: str | None = None
    completed_at: float | None = None  # stopwatch reading when the response was delivered
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def variant(self) -> str:
        return self.request.variant

    @property
    def ok(self) -> bool:
        return self.status == RequestStatus.COMPLETED

    @property
    def refused(self) -> bool:
        return self.status == RequestStatus.REFUSED

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def finish(self, status: RequestStatus, reason: str, detail: str = "") -> None:
        if self._done.is_set():
            return
        self.status = status
        self.reason = reason
        if detail:
            self.detail = detail
        self._done.set()

    async def wait(self, timeout: float | None = None) -> Result:
        async with asyncio.timeout(timeout):  # not wait_for: see emulator/tasks.py
            await self._done.wait()
        return self

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "request_id": r.request_id,
            "label": r.label,
            "variant": r.variant,
            "user": r.user.name,
            "role": r.role.value,
            "target": None if r.target is None else str(r.target),
            "category": r.category.value,
            "status": self.status.value,
            "reason": self.reason,
            "detail": self.detail,
            "use_case": self.use_case,
            "outcome": None if self.outcome is None else self.outcome.summary,
            "device_code": None if self.outcome is None else self.outcome.device_code,
            "data": self.data,
            "values": [v.as_dict() for v in self.values],
            "alerts": len(self.alerts),
            "timing": None if self.timing is None else self.timing.as_dict(),
            "timeline": [(t.isoformat(), step) for t, step in self.timeline],
        }
