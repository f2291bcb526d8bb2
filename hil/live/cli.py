"""`smets-hil lab`: run a lab until interrupted, and drive it from another terminal.

`lab up` starts the lab, listens on its control socket and shows the live view
(plain log lines when stdout is not a terminal). `lab request`, `lab run` and
`lab status` are clients of that socket. Exit status: 0 on success (for `up`, a
clean stop on Ctrl-C or SIGTERM), 1 when a request fails or is refused, a
scenario fails, the lab cannot start, or no lab is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hil.boundary import fail

if TYPE_CHECKING:
    from hil.dcc.lab import Lab
    from hil.live.monitor import Event, LabMonitor

#: Seconds between two redraws of the live view (and polls of the DCC's alerts).
REFRESH = 0.25

_LAB_OPTION = click.option(
    "--lab", "lab_name", metavar="NAME", help="the running lab's name or file (default: the one)"
)
_CONTROL_OPTION = click.option(
    "--control", metavar="SOCKET", help="the lab's control socket (default: found by --lab)"
)


@click.group("lab")
def lab_group() -> None:
    """Run a lab until interrupted (live view), and drive it from another terminal."""


@lab_group.command("up")
@click.argument("lab_file", required=False, metavar="[LAB]")
@click.option(
    "--clock",
    type=click.Choice(["real", "virtual"]),
    default="real",
    show_default=True,
    help="the lab's clock (virtual: time moves only when a gas meter must wake)",
)
@click.option("--link", metavar="URL", help="HAN link instead of the lab file's")
@click.option(
    "--control", metavar="SOCKET", help="control socket (default: <runtime dir>/<lab>.sock)"
)
@click.option("--plain", is_flag=True, help="plain log lines even on a terminal")
@click.option("--duis", is_flag=True, help="also serve DUIS on port 8079 (docs/duis.md)")
def up_command(
    lab_file: str | None,
    clock: str,
    link: str | None,
    control: str | None,
    plain: bool,
    duis: bool = False,
) -> None:
    """Start LAB (default: the bundled demo lab) and run it until Ctrl-C or SIGTERM.

    On a terminal a live view shows the devices, links and their counters,
    response times, drops and the recent messages; otherwise each message is a
    plain log line. Other terminals drive the lab with `smets-hil lab request`
    and `smets-hil lab run` (docs/live.md).
    """
    interactive = sys.stdout.isatty() and not plain
    code = asyncio.run(_up(lab_file, clock, link, control, interactive, duis))
    sys.exit(code)


def _load(lab_file: str | None, clock: str, link: str | None) -> Lab:
    from hil.dcc.lab import DEFAULT_LAB, Lab, LabSpec

    path = Path(lab_file) if lab_file is not None else DEFAULT_LAB
    if not path.is_file():
        raise FileNotFoundError(2, "no such lab file", str(path))
    spec = LabSpec.from_file(path)
    spec.virtual = clock == "virtual"
    if link is not None:
        spec.link = link
    return Lab.build(spec)


def _error_line(exc: BaseException) -> str:
    from hil.boundary import describe

    return describe(exc)


async def _up(
    lab_file: str | None,
    clock: str,
    link: str | None,
    control: str | None,
    interactive: bool,
    duis: bool = False,
) -> int:
    from emulator.errors import EmulatorError
    from hil.errors import HilError
    from hil.live.control import ControlServer, endpoint_for
    from hil.live.monitor import LabMonitor

    expected = (HilError, EmulatorError, OSError, ValueError)
    try:
        lab = _load(lab_file, clock, link)
    except expected as exc:
        _stderr(f"smets-hil: error: cannot start the lab: {_one_line(_error_line(exc))}")
        return 1
    path = Path(control) if control is not None else endpoint_for(lab.spec.name)

    def printed(event: Event) -> None:
        _stdout(event.line())

    monitor = LabMonitor(lab, endpoint=str(path), on_event=None if interactive else printed)
    server = ControlServer(lab, monitor, path)
    handler = _LogToMonitor(monitor)
    logging.getLogger().addHandler(handler)
    attempted = started = False
    front: Any = None  # the DUIS server with --duis (hil.duis)
    try:
        try:
            await server.start()  # first: a second `lab up` of a running lab touches nothing
            attempted = True
            await lab.start()
            started = True
            monitor.attach()
            if duis:
                from hil.duis.cli import server_for

                front = server_for(lab)
                await front.start()
        except expected as exc:
            _stderr(f"smets-hil: error: cannot start the lab: {_one_line(_error_line(exc))}")
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if interactive:
                await _live(monitor, stop)
            else:
                await _plain(monitor, stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return 0
    finally:
        await server.stop()
        if front is not None:
            await front.stop()
        if attempted:  # a half-started lab (a hub up, a broker down) closes what it opened
            with contextlib.suppress(Exception):
                await lab.stop()
        logging.getLogger().removeHandler(handler)
        if started:
            from hil.live.view import plain_summary

            final = monitor.snapshot(messages=0)
            _stdout(f"lab {lab.spec.name} stopped")
            for line in plain_summary(final)[1:]:
                if not line.startswith("  device "):
                    _stdout(line)


async def _live(monitor: LabMonitor, stop: asyncio.Event) -> None:
    from rich.console import Console
    from rich.live import Live

    from hil.live.monitor import HISTORY
    from hil.live.view import render

    console = Console()

    def picture() -> Any:
        monitor.poll()
        return render(monitor.snapshot(messages=HISTORY), console.size.height)

    with Live(picture(), console=console, auto_refresh=False, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REFRESH)
            live.update(picture(), refresh=True)


async def _plain(monitor: LabMonitor, stop: asyncio.Event) -> None:
    from hil.live.view import plain_summary

    for line in plain_summary(monitor.snapshot(messages=0)):
        _stdout(line)
    _stdout(f"control {monitor.endpoint}")
    _stdout(f"lab {monitor.lab.spec.name} up (Ctrl-C or SIGTERM stops)")
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REFRESH)
        monitor.poll()


class _LogToMonitor(logging.Handler):
    """Warnings of the lab (drops, device rejections) become events, not stray stderr."""

    def __init__(self, monitor: LabMonitor) -> None:
        super().__init__(logging.WARNING)
        self.monitor = monitor

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.monitor.note("log", _one_line(record.getMessage()))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# -- clients ----------------------------------------------------------------------------------


def _endpoint(lab_name: str | None, control: str | None) -> Path:
    from hil.live.control import ControlError, find_endpoint

    try:
        return find_endpoint(lab_name, control)
    except ControlError as exc:
        fail(str(exc))


def _call(endpoint: Path, message: dict[str, Any]) -> dict[str, Any]:
    from hil.live.control import ControlError, call

    try:
        return asyncio.run(call(endpoint, message))
    except ControlError as exc:
        fail(str(exc))


@lab_group.command("request")
@click.argument("variant")
@click.option("--to", "target", metavar="DEVICE", help="device name (ESME, GSME, ...) or EUI-64")
@click.option("--user", required=True, help="a user of the lab file (supplier, dno, ...)")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="request parameter")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="seconds to wait")
@click.option("--json", "as_json", is_flag=True, help="print the reply as JSON")
@_LAB_OPTION
@_CONTROL_OPTION
def request_command(
    variant: str,
    target: str | None,
    user: str,
    params: tuple[str, ...],
    timeout: float,
    as_json: bool,
    lab_name: str | None,
    control: str | None,
) -> None:
    """Send a service request to the running lab's DCC and print the result.

    Exit status 0 when the request completed, 1 when it was refused or failed,
    or no lab is running.
    """
    from hil.live.control import request_text
    from hil.send import SendError, parse_params

    try:
        request_params = parse_params(params)
    except SendError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    endpoint = _endpoint(lab_name, control)
    message = {
        "cmd": "request",
        "variant": variant,
        "user": user,
        "target": target,
        "params": request_params,
        "timeout": timeout,
    }
    reply = _call(endpoint, message)
    if as_json:
        click.echo(json.dumps(reply, indent=2))
    elif "status" in reply:
        click.echo(request_text(reply))
    if "status" not in reply:
        fail(str(reply.get("error", "no reply")))
    if not reply.get("ok"):
        sys.exit(1)


@lab_group.command("run")
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
@_LAB_OPTION
@_CONTROL_OPTION
def run_command(scenarios: tuple[str, ...], lab_name: str | None, control: str | None) -> None:
    """Run scenario files on the running lab (what `smets-hil run --attach` does).

    Exit status 0 when every scenario passed, 1 otherwise or when no lab is running.
    """
    from hil.live.control import attach_run

    endpoint = _endpoint(lab_name, control) if lab_name or control else None
    sys.exit(attach_run(list(scenarios), endpoint, echo=click.echo))


@lab_group.command("status")
@_LAB_OPTION
@_CONTROL_OPTION
@click.option("--text", "as_text", is_flag=True, help="print lines to read instead of JSON")
def status_command(lab_name: str | None, control: str | None, as_text: bool) -> None:
    """Print the running lab's devices, links with their counters, response times, drops
    and recent messages as JSON (with --text: one line each, as the plain log's summary)."""
    reply = _call(_endpoint(lab_name, control), {"cmd": "status"})
    if not as_text:
        click.echo(json.dumps(reply, indent=2))
        return
    from hil.live.view import status_lines

    if not reply.get("ok"):
        fail(str(reply.get("error", "no status")))
    for line in status_lines(reply):
        click.echo(line)
