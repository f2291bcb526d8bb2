"""`smets-hil lab up` and its clients: the view, the control socket, bad input, a real process."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.live.control import ControlServer, attach_run, call, find_endpoint
from hil.live.monitor import LabMonitor
from hil.live.view import render, status_lines


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "rt"
    monkeypatch.setenv("SMETS_HIL_RUNTIME_DIR", str(folder))
    return folder


@pytest.fixture
async def served(runtime: Path) -> AsyncIterator[tuple[Lab, LabMonitor, ControlServer]]:
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        path = runtime / "demo-lab.sock"
        monitor = LabMonitor(lab, endpoint=str(path))
        monitor.attach()
        server = ControlServer(lab, monitor, path)
        await server.start()
        try:
            yield lab, monitor, server
        finally:
            await server.stop()


async def _raw(path: Path, *lines: bytes) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"".join(lines))
    await writer.drain()
    replies = [json.loads(await reader.readline()) for _ in lines]
    writer.close()
    return replies


# -- the rich view ---------------------------------------------------------------------------


async def test_the_view_shows_devices_statuses_latency_and_messages(
    served: tuple[Lab, LabMonitor, ControlServer],
) -> None:
    _lab, monitor, server = served
    reply = await call(server.path, _request("4.1.1", "ESME"))
    assert reply["ok"], reply
    console = Console(record=True, width=120)
    console.print(render(monitor.snapshot()))
    text = console.export_text()
    for expected in (
        "lab demo lab",
        "00-DB-12-34-56-78-90-A0",  # the ESME's EUI-64
        "installed-not-commissioned",  # the IHD's SMI status
        "pending",  # the CAD's
        "sleepy",  # the gas meter
        "memory://demo-lab",
        "response times",
        "ECS17b supplier -> ESME",  # the command on the HAN
        "4.1.1 supplier -> ESME: completed I0",  # the request as the control endpoint saw it
    ):
        assert expected in text, f"{expected!r} not in\n{text}"
    latency = next(line for line in text.splitlines() if line.startswith("4.1.1 "))
    assert latency.split()[1] == "1"  # one measured request of 4.1.1, p50/p95 follow
    assert "none" in text  # no drops


async def test_the_view_fits_100_columns_and_a_short_terminal(
    served: tuple[Lab, LabMonitor, ControlServer],
) -> None:
    _lab, monitor, server = served
    for _ in range(12):
        await call(server.path, _request("4.1.1", "ESME"))
    console = Console(record=True, width=100)
    console.print(render(monitor.snapshot(messages=100), height=40))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 100
    assert len(lines) <= 40
    assert "installed-not-commissioned" in "\n".join(lines)  # not cut at 100 columns
    short = Console(record=True, width=100)
    short.print(render(monitor.snapshot(messages=100), height=24))
    text = short.export_text()
    assert len(text.splitlines()) <= 24  # a default terminal: the links table goes first
    assert "links" not in text.splitlines() and "ECS17b supplier -> ESME" in text


# -- the control endpoint ----------------------------------------------------------------------


def _request(
    variant: str, target: str | None, user: str = "supplier", **extra: Any
) -> dict[str, Any]:
    return {"cmd": "request", "variant": variant, "user": user, "target": target, **extra}


async def test_a_request_returns_status_reason_outcome_and_values(
    served: tuple[Lab, LabMonitor, ControlServer],
) -> None:
    lab, _monitor, server = served
    reply = await call(server.path, _request("4.1.1", "ESME"))
    assert (reply["ok"], reply["status"], reply["reason"]) == (True, "completed", "I0")
    assert "ECS17b" in reply["outcome"]
    assert {v["name"] for v in reply["values"]} >= {"Active import energy"}
    assert reply["timing"]["measured_s"] is not None
    refused = await call(server.path, _request("4.1.1", "ESME", user="energy-app"))
    assert (refused["ok"], refused["status"]) == (False, "refused")
    assert refused["reason"] != "I0"
    assert lab.dcc is not None and len(lab.dcc.results) == 2


async def test_status_carries_each_links_counters_as_json_and_as_lines(
    served: tuple[Lab, LabMonitor, ControlServer],
) -> None:
    lab, _monitor, server = served
    hub = lab.premises[0].hub
    assert hub is not None
    await hub.link.send_raw(b"\x7e\x01\x02")  # line noise: too short to carry an address
    reply = await call(server.path, _request("4.1.1", "ESME"))  # read after the noise
    assert reply["ok"], reply
    status = await call(server.path, {"cmd": "status"})
    esme = next(d for d in status["devices"] if d["name"] == "ESME")
    assert esme["link"] == "memory://demo-lab"
    assert esme["counters"]["corrupted"] == 1  # the noise, counted and skipped
    assert esme["counters"]["received"] >= 1 and esme["counters"]["sent"] >= 1
    assert next(d for d in status["devices"] if d["online"] == "not emulated")["counters"] is None
    (link,) = status["links"]
    assert link["url"] == "memory://demo-lab"
    assert link["commands"] >= 1 and link["responses"] >= 1
    assert link["sent"] >= link["commands"] and link["received"] >= link["responses"]
    lines = status_lines(status)
    c = esme["counters"]
    assert (
        f"; link memory://demo-lab: tx {c['sent']} rx {c['received']} dropped {c['dropped']}"
        f" corrupted 1" in next(line for line in lines if line.startswith("  device ESME "))
    )
    assert any(
        line.startswith(f"  link memory://demo-lab: tx {link['sent']} rx {link['received']}")
        and f"hub commands {link['commands']}" in line
        for line in lines
    ), lines


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"this is not json\n", "not JSON"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"cmd": "launch"}\n', "unknown command 'launch'"),
        (b'{"variant": "4.1.1"}\n', "unknown command None"),
        (b'{"cmd": "request", "variant": "99.9", "user": "supplier"}\n', "unknown service variant"),
        (b'{"cmd": "request", "variant": "4.1.1", "user": "nobody", "target": "ESME"}\n', "nobody"),
        (b'{"cmd": "request", "variant": "4.1.1", "user": "supplier", "target": "XX"}\n', "'XX'"),
        (b'{"cmd": "request", "variant": "4.1.1"}\n', "'user'"),
        (b'{"cmd": "request", "variant": "4.1.1", "user": "supplier", "params": [1]}\n', "params"),
        (b'{"cmd": "run", "paths": []}\n', "scenario files"),
    ],
)
async def test_a_bad_control_line_gets_an_error_and_the_lab_keeps_running(
    served: tuple[Lab, LabMonitor, ControlServer], line: bytes, says: str
) -> None:
    _lab, monitor, server = served
    bad, good = await _raw(
        server.path, line, json.dumps(_request("4.1.1", "ESME")).encode() + b"\n"
    )
    assert bad["ok"] is False and says in bad["error"], bad
    assert good["ok"] is True and good["status"] == "completed"  # same connection, still served
    assert monitor.control_errors == 1
    assert any(e.kind == "control" and says in e.summary for e in monitor.events)


async def test_a_scenario_runs_on_the_running_lab_and_attach_run_reports_it(
    served: tuple[Lab, LabMonitor, ControlServer], tmp_path: Path
) -> None:
    lab, monitor, server = served
    assert lab.dcc is not None
    read = '  - name: read\n    request: "4.1.1"\n    user: supplier\n    target: ESME\n'
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("name: good\nparameters: {n: [1, 2]}\nsteps:\n" + read)
    bad.write_text("name: bad\nsteps:\n" + read + "    expect: {status: refused}\n")
    before = len(lab.dcc.results)
    lines: list[str] = []
    code = await asyncio.to_thread(attach_run, [good], server.path, echo=lines.append)
    assert code == 0, lines
    assert len(lab.dcc.results) == before + 2  # the running lab, not a fresh one
    assert "step_started read" in lines
    assert "PASS  good[n=2] (1 steps)" in lines, lines
    lines.clear()
    code = await asyncio.to_thread(attach_run, [bad], server.path, echo=lines.append)
    assert code == 1
    assert "FAIL  bad (1 steps)" in lines, lines
    assert any("expected status refused, got completed" in line for line in lines), lines
    assert any(e.kind == "scenario" and e.summary == "bad fail" for e in monitor.events)


async def test_the_endpoint_is_found_refused_twice_and_removed(
    served: tuple[Lab, LabMonitor, ControlServer], runtime: Path
) -> None:
    lab, monitor, server = served
    assert find_endpoint() == server.path
    assert find_endpoint("demo lab") == server.path
    assert find_endpoint(str(DEFAULT_LAB)) == server.path  # the file, by its name:
    second = ControlServer(lab, monitor, server.path)
    with pytest.raises(Exception, match="already running"):
        await second.start()
    await server.stop()
    assert not server.path.exists()
    with pytest.raises(Exception, match="no lab running"):
        find_endpoint()


def test_a_stale_socket_is_not_a_running_lab(runtime: Path) -> None:
    import socket

    runtime.mkdir()
    stale = runtime / "gone.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()  # bound, never listening: what a killed lab leaves
    with pytest.raises(Exception, match="no lab running"):
        find_endpoint()


# -- a real `lab up` process -------------------------------------------------------------------


class _Lines:
    """A process's stdout, read line by line in a thread, so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not in the output:\n" + "\n".join(self.lines))


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hil.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.fixture
def lab_process(runtime: Path) -> Iterator[tuple[subprocess.Popen[str], _Lines, dict[str, str]]]:
    env = {**os.environ, "SMETS_HIL_RUNTIME_DIR": str(runtime)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hil.cli", "lab", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield process, _Lines(process), env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_lab_up_in_a_process_serves_requests_and_logs_plain_lines(
    lab_process: tuple[subprocess.Popen[str], _Lines, dict[str, str]],
) -> None:
    process, out, env = lab_process
    out.wait_for("(Ctrl-C or SIGTERM stops)")
    assert out.wait_for("device ESME ESME 00-DB-12-34-56-78-90-A0 online commissioned")
    done = _cli("lab", "request", "4.1.1", "--to", "ESME", "--user", "supplier", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("4.1.1 completed I0: ECS17b")
    assert "Active import energy" in done.stdout
    out.wait_for("command  0x0027 ECS17b supplier -> ESME")
    out.wait_for("request  4.1.1 supplier -> ESME: completed I0")
    refused = _cli("lab", "request", "4.1.1", "--to", "ESME", "--user", "energy-app", env=env)
    assert refused.returncode == 1 and "refused" in refused.stdout
    bad = _cli("lab", "request", "99.9", "--to", "ESME", "--user", "supplier", env=env)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "smets-hil: error: request: unknown service variant '99.9'"
    ]
    twice = _cli("lab", "up", env=env)
    assert twice.returncode == 1 and "already running" in twice.stderr
    status = _cli("lab", "status", env=env)
    assert status.returncode == 0
    assert json.loads(status.stdout)["requests"] == 2
    text = _cli("lab", "status", "--text", env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("lab demo lab: ")
    assert "  link memory://demo-lab: tx " in text.stdout
    assert "  device ESME ESME 00-DB-12-34-56-78-90-A0 online commissioned; link " in text.stdout
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    out.wait_for("lab demo lab stopped")
    out.wait_for("response time 4.1.1: n 1")
    assert process.stderr is not None and process.stderr.read() == ""
    gone = _cli("lab", "request", "4.1.1", "--to", "ESME", "--user", "supplier", env=env)
    assert gone.returncode == 1
    assert gone.stderr.count("\n") == 1 and "no lab running" in gone.stderr


def test_ctrl_c_stops_the_lab_with_exit_0(
    lab_process: tuple[subprocess.Popen[str], _Lines, dict[str, str]],
) -> None:
    process, out, _env = lab_process
    out.wait_for("(Ctrl-C or SIGTERM stops)")
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    out.wait_for("lab demo lab stopped")


DOC = Path(__file__).resolve().parents[3] / "docs" / "live.md"


def test_the_doc_example_runs_against_a_running_lab(
    lab_process: tuple[subprocess.Popen[str], _Lines, dict[str, str]],
) -> None:
    """docs/live.md's Python client prints what the page shows."""
    import re

    blocks = re.findall(r"```(\w*)\n(.*?)```", DOC.read_text(), re.DOTALL)
    index = next(i for i, (lang, _) in enumerate(blocks) if lang == "python")
    code, (lang, shown) = blocks[index][1], blocks[index + 1]
    assert lang == "text"
    _process, out, env = lab_process
    out.wait_for("(Ctrl-C or SIGTERM stops)")
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown


async def test_alerts_delivered_by_the_dcc_show_in_the_view(
    served: tuple[Lab, LabMonitor, ControlServer],
) -> None:
    import datetime as _dt

    from hil.dcc.service import DeviceAlert

    lab, monitor, _server = served
    assert lab.dcc is not None
    lab.dcc.alerts.append(
        DeviceAlert(
            lab.eui("ESME"), 0x8F66, _dt.datetime(2026, 1, 5, 9, 0, 1), 0.0042, ["supplier"]
        )
    )
    monitor.poll()
    monitor.poll()  # an alert is noted once
    noted = [e for e in monitor.events if e.kind == "alert"]
    assert len(noted) == 1
    assert "0x8F66" in noted[0].summary
    assert "from ESME delivered to supplier in 4.2 ms" in noted[0].summary
    console = Console(record=True, width=100)
    console.print(render(monitor.snapshot()))
    assert "from ESME delivered to supplier" in console.export_text()


async def test_advance_moves_a_virtual_lab_and_is_refused_on_a_real_one(
    served: tuple[Lab, LabMonitor, ControlServer], runtime: Path
) -> None:
    lab, _monitor, server = served
    before = lab.clock.now()
    reply = await call(server.path, {"cmd": "advance", "seconds": 3600})
    assert reply["ok"] and reply["now"] == (before + _hour()).isoformat()
    bad = await call(server.path, {"cmd": "advance", "seconds": -1})
    assert bad["ok"] is False and "positive" in bad["error"]
    from emulator.clock import RealClock

    real = Lab.load(DEFAULT_LAB, clock=RealClock())
    async with real:
        other = ControlServer(real, LabMonitor(real), runtime / "real.sock")
        refused = await other.handle(b'{"cmd": "advance", "seconds": 1}')
    assert refused["ok"] is False and "virtual clock" in refused["error"]


def _hour() -> Any:
    import datetime as _dt

    return _dt.timedelta(hours=1)


async def test_a_failure_inside_a_command_is_an_error_reply_not_the_end_of_the_lab(
    served: tuple[Lab, LabMonitor, ControlServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, monitor, server = served
    assert lab.dcc is not None
    real = lab.dcc.request

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(lab.dcc, "request", broken)
    line = json.dumps(_request("4.1.1", "ESME")).encode() + b"\n"
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(line)
    failed = json.loads(await reader.readline())
    assert failed == {"ok": False, "error": "internal error: RuntimeError: boom"}
    monkeypatch.setattr(lab.dcc, "request", real)
    writer.write(line)
    assert json.loads(await reader.readline())["status"] == "completed"
    writer.close()
    assert monitor.control_errors == 1
