"""The control endpoint of a running lab: a Unix socket speaking JSON lines.

A lab started with `smets-hil lab up` listens on `<runtime dir>/<lab>.sock`
(the runtime dir is `$SMETS_HIL_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/smets-hil`,
else `/tmp/smets-hil-<uid>`; the directory is made private to the user). A Unix
socket, not TCP, so only the user who started the lab can drive it and no port
has to be chosen or printed. Each line a client sends is one JSON object with a
`cmd`; each gets one reply line with `"ok"`; a scenario run sends `"event"`
lines before its reply. docs/live.md has the protocol.

A bad line (not JSON, unknown command, unknown variant, user or device) gets
`{"ok": false, "error": ...}` and the lab keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from emulator.clock import VirtualClock
from emulator.errors import EmulatorError
from hil.dcc.lab import Lab
from hil.errors import HilError
from hil.live.monitor import LabMonitor
from hil.scenario import load_scenarios, run_scenario

log = logging.getLogger(__name__)

RUNTIME_ENV = "SMETS_HIL_RUNTIME_DIR"
SUFFIX = ".sock"
#: Longest line the endpoint reads (a request with its parameters is far smaller).
LINE_LIMIT = 1 << 20
#: Seconds a request may take before the reply says it has no answer yet.
REQUEST_TIMEOUT = 60.0
COMMANDS = ("ping", "status", "request", "run", "advance")


class ControlError(HilError):
    """The control endpoint cannot be set up or reached; the message is one line."""


def runtime_dir() -> Path:
    explicit = os.environ.get(RUNTIME_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "smets-hil"
    return Path(tempfile.gettempdir()) / f"smets-hil-{os.getuid()}"


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "lab"


def endpoint_for(lab_name: str) -> Path:
    return runtime_dir() / f"{slug(lab_name)}{SUFFIX}"


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def find_endpoint(lab: str | None = None, control: str | Path | None = None) -> Path:
    """The socket of the running lab a client means, or a ControlError saying why none."""
    start = "start one with 'smets-hil lab up LAB'"
    if control is not None:
        path = Path(control)
        if not path.exists() or not _answers(path):
            raise ControlError(f"no lab running at {path} ({start})")
        return path
    if lab is not None:
        path = endpoint_for(_lab_name(lab))
        if not path.exists() or not _answers(path):
            raise ControlError(f"no lab {lab!r} running (no {path}; {start})")
        return path
    folder = runtime_dir()
    found = [p for p in sorted(folder.glob(f"*{SUFFIX}")) if _answers(p)] if folder.is_dir() else []
    if not found:
        raise ControlError(f"no lab running (nothing answers in {folder}; {start})")
    if len(found) > 1:
        names = ", ".join(p.stem for p in found)
        raise ControlError(f"several labs running ({names}): choose one with --lab NAME")
    return found[0]


def _lab_name(lab: str) -> str:
    """`--lab` names a lab (its `name:`) or its file; a file's socket is named by its `name:`."""
    if lab.endswith((".yaml", ".yml")) and Path(lab).is_file():
        from hil.dcc.lab import LabSpec

        return LabSpec.from_file(lab).name
    return lab


def claim_endpoint(path: Path) -> None:
    """Make the runtime dir; refuse if a lab answers there, clear a stale socket."""
    if len(str(path)) > 100:
        raise ControlError(f"control socket path too long for a Unix socket: {path}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ControlError(f"cannot make {path.parent}: {exc.strerror or exc}") from None
    if path.exists() or path.is_symlink():
        if _answers(path):
            raise ControlError(f"a lab is already running at {path}")
        path.unlink()  # a lab that ended without cleaning up


Reply = dict[str, Any]
Send = Callable[[Reply], Awaitable[None]]


class ControlServer:
    """Serves one running lab; each connection may send many lines."""

    def __init__(self, lab: Lab, monitor: LabMonitor, path: Path) -> None:
        self.lab = lab
        self.monitor = monitor
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._scenario_lock = asyncio.Lock()
        self._clients: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        claim_endpoint(self.path)
        try:
            self._server = await asyncio.start_unix_server(
                self._client, path=str(self.path), limit=LINE_LIMIT
            )
        except OSError as exc:
            raise ControlError(f"cannot listen on {self.path}: {exc.strerror or exc}") from None
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        """Close and remove the socket; a server that never listened leaves the path alone
        (it may be another lab's)."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)

        async def send(reply: Reply) -> None:
            writer.write(json.dumps(reply, default=str).encode() + b"\n")
            await writer.drain()

        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than LINE_LIMIT
                    await send(self._error(f"line longer than {LINE_LIMIT} bytes"))
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                try:
                    reply = await self.handle(line, send)
                except (ConnectionError, asyncio.CancelledError):
                    raise
                except Exception as exc:  # a bug must not end the lab: say it, keep serving
                    log.exception("control message failed: %r", line[:200])
                    reply = self._error(f"internal error: {type(exc).__name__}: {exc}")
                await send(reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; its request (if any) still ran
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _error(self, text: str) -> Reply:
        self.monitor.control_errors += 1
        self.monitor.note("control", f"refused: {text}")
        return {"ok": False, "error": text}

    async def handle(self, line: bytes, send: Send | None = None) -> Reply:
        """One control line to its reply (events of a scenario run go to `send`)."""
        try:
            message = json.loads(line)
        except (ValueError, UnicodeError) as exc:
            return self._error(f"not JSON: {exc}")
        if not isinstance(message, dict):
            return self._error("a control message is a JSON object with a 'cmd'")
        cmd = message.get("cmd")
        if cmd == "ping":
            return {"ok": True, "lab": self.lab.spec.name}
        if cmd == "status":
            return {"ok": True, **_status(self.monitor)}
        if cmd == "request":
            return await self._request(message)
        if cmd == "run":
            return await self._run(message, send)
        if cmd == "advance":
            return await self._advance(message)
        return self._error(f"unknown command {cmd!r} (known: {', '.join(COMMANDS)})")

    async def _request(self, message: dict[str, Any]) -> Reply:
        dcc = self.lab.dcc
        if dcc is None:
            return self._error("the lab has no DCC running")
        variant, user, target = message.get("variant"), message.get("user"), message.get("target")
        params = message.get("params") or {}
        timeout = message.get("timeout", REQUEST_TIMEOUT)
        if not isinstance(variant, str) or not variant.strip():
            return self._error("request: 'variant' (e.g. \"4.1.1\") is required")
        if not isinstance(user, str) or not user:
            return self._error("request: 'user' (a user of the lab file) is required")
        if target is not None and not isinstance(target, str):
            return self._error("request: 'target' must be a device name or EUI-64")
        if not isinstance(params, dict):
            return self._error("request: 'params' must be an object")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            return self._error("request: 'timeout' must be a positive number of seconds")
        if dcc.catalogue.get(variant.strip()) is None:
            return self._error(f"request: unknown service variant {variant!r}")
        try:
            eui = None if target is None else self.lab.eui(target)
            result = await dcc.request(variant, as_user=user, target=eui, params=params, wait=False)
        except (HilError, EmulatorError, ValueError, KeyError) as exc:
            return self._error(f"request: {exc}")
        name = "DCC" if eui is None else self.monitor.name_of(eui)
        answered = True
        try:
            await result.wait(float(timeout))
        except TimeoutError:
            answered = False
        data = result.as_dict()
        summary = data["outcome"] or data["detail"] or ""
        self.monitor.note(
            "request",
            f"{variant} {user} -> {name}: {result.status.value} {result.reason} {summary}".rstrip(),
        )
        reply: Reply = {"ok": result.ok, **data}
        if not answered:
            reply["error"] = f"no answer within {timeout:g} s (status {result.status.value})"
        return reply

    async def _advance(self, message: dict[str, Any]) -> Reply:
        """Move a virtual lab's time (future-dated requests and schedules fall due)."""
        seconds = message.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            return self._error("advance: 'seconds' must be a positive number")
        if not isinstance(self.lab.clock, VirtualClock):
            return self._error("advance needs a lab with a virtual clock (lab up --clock virtual)")
        await self.lab.run_for(float(seconds))
        self.monitor.note("control", f"time advanced {seconds:g} s")
        return {"ok": True, "now": self.lab.clock.now().isoformat()}

    async def _run(self, message: dict[str, Any], send: Send | None) -> Reply:
        paths = message.get("paths", message.get("path"))
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            return self._error("run: 'paths' must be a list of scenario files")
        try:
            scenarios = [s for p in paths for s in load_scenarios(p)]
        except (HilError, OSError, ValueError) as exc:
            return self._error(f"run: {exc}")
        results: list[dict[str, Any]] = []
        pending: list[Awaitable[None]] = []

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if send is not None:
                pending.append(send({"event": kind, **data}))

        async with self._scenario_lock:
            for s in scenarios:
                self.monitor.note("scenario", f"{s.name} started")
                record = await run_scenario(s, self.lab, on_event=on_event)
                for coro in pending:
                    with contextlib.suppress(ConnectionError):
                        await coro
                pending.clear()
                verdict = str(getattr(record.verdict, "value", record.verdict))
                failed = [
                    f"{st.name}: {st.message}" if getattr(st, "message", "") else st.name
                    for st in record.steps
                    if str(getattr(st.verdict, "value", st.verdict)) in ("fail", "error")
                ]
                self.monitor.note("scenario", f"{s.name} {verdict}")
                results.append(
                    {
                        "name": s.name,
                        "verdict": verdict,
                        "steps": len(record.steps),
                        "failed": failed,
                    }
                )
        ok = all(r["verdict"] in ("pass", "skip") for r in results)
        return {"ok": ok, "scenarios": results}


def _status(monitor: LabMonitor) -> dict[str, Any]:
    snap = monitor.snapshot(messages=20)
    return {
        "lab": snap.lab,
        "clock": snap.clock,
        "now": snap.now.isoformat(),
        "requests": snap.requests,
        "devices": [
            {
                "name": d.name,
                "type": d.kind,
                "eui": d.eui,
                "online": d.online,
                "status": d.status,
                "link": d.link,
                "counters": d.counters(),
            }
            for d in snap.devices
        ],
        "links": [r.as_dict() for r in snap.links],
        "latency": [s.as_dict() for s in snap.latency],
        "drops": snap.drops,
        "control_errors": snap.control_errors,
        "messages": [e.line() for e in snap.messages],
    }


# -- the client side ------------------------------------------------------------------------


async def call(
    endpoint: str | Path,
    message: dict[str, Any],
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> Reply:
    """Send one control message; events go to `on_event`, the reply is returned."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(endpoint), limit=LINE_LIMIT)
    except OSError as exc:
        raise ControlError(f"no lab running at {endpoint}: {exc.strerror or exc}") from None
    try:
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                raise ControlError(f"the lab at {endpoint} closed the connection without a reply")
            reply = json.loads(line)
            if "event" in reply and "ok" not in reply:
                if on_event is not None:
                    on_event(reply)
                continue
            return dict(reply)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value_text(value: dict[str, Any]) -> str:
    unit = f" {value['unit']}" if value.get("unit") else ""
    return f"{value.get('name')} = {_short(value.get('value'))}{unit}"


def request_text(reply: Reply) -> str:
    """One line for a request's reply, as `smets-hil lab request` prints it."""
    if "status" not in reply:
        return f"error: {reply.get('error', 'no reply')}"
    parts = [f"{reply['variant']} {reply['status']} {reply['reason']}"]
    if reply.get("detail"):
        parts.append(str(reply["detail"]))
    elif reply.get("outcome"):
        parts.append(str(reply["outcome"]))
    values = reply.get("values") or []
    if values:
        parts.append("; ".join(_value_text(v) for v in values[:8]))
    timing = reply.get("timing") or {}
    if timing.get("measured_s") is not None:
        parts.append(f"{timing['measured_s'] * 1000:.1f} ms")
    if reply.get("error"):
        parts.append(str(reply["error"]))
    return ": ".join(parts[:2]) + "".join(f" | {p}" for p in parts[2:])


def _error(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def attach_run(
    paths: Sequence[str | Path],
    endpoint: str | Path | None = None,
    *,
    echo: Callable[[str], None] = print,
) -> int:
    """Run scenario files on the running lab; 0 when every scenario passed, else 1.

    `endpoint` is the lab's control socket (None: the one lab running). This is
    what `smets-hil run --attach` and `smets-hil lab run` call.
    """
    try:
        where = find_endpoint(control=endpoint) if endpoint is not None else find_endpoint()
    except ControlError as exc:
        _error(f"smets-hil: error: {exc}")
        return 1
    files = [str(Path(p).resolve()) for p in paths]
    for given, resolved in zip(paths, files, strict=True):
        if not Path(resolved).is_file():
            _error(f"smets-hil: error: {given}: no such scenario file")
            return 1

    def on_event(event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        name = event.get("name") or event.get("step") or event.get("scenario") or ""
        verdict = event.get("verdict")
        echo(f"{kind} {name}{f' {verdict}' if verdict else ''}".rstrip())

    try:
        reply = asyncio.run(call(where, {"cmd": "run", "paths": files}, on_event))
    except ControlError as exc:
        _error(f"smets-hil: error: {exc}")
        return 1
    if "error" in reply:
        _error(f"smets-hil: error: {reply['error']}")
        return 1
    for s in reply.get("scenarios", []):
        echo(f"{s['verdict'].upper():5} {s['name']} ({s['steps']} steps)")
        for failure in s.get("failed", []):
            echo(f"      {failure}")
    return 0 if reply.get("ok") else 1
