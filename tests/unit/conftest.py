"""Shared fixtures of the unit suite.

One deterministic test PKI for the whole session (seed "unit"): a supplier, the
Access Control Broker and one device, plus the `MessageSecurity` that signs and
MACs with them, and the broker that restart drills restart. Nothing here reads
files outside the repository, and no test writes the user's state directory: the
UTRN counters a lab with a device under test keeps (hil/utrn.py) go to a folder
of the test's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import importlib.util
import io
import itertools
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
from broker_support import skip_without_mosquitto

from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.han.broker import RestartableBroker
from emulator.pki.testpki import Party, RemotePartyRole, TestPki

#: pytest-timeout (dev extra) gives every test a `timeout` in pyproject.
_HAS_TIMEOUT = importlib.util.find_spec("pytest_timeout") is not None

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
ACB = Eui64("90-B3-D5-1F-30-00-00-02")
DEVICE = Eui64("00-DB-12-34-56-78-90-A0")
_STATE = itertools.count(1)


@pytest.fixture(scope="session")
def _state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(autouse=True)
def _own_state_dir(_state_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own (not yet made) state folder: a board's kept UTRN counters
    do not leak from one test into the next, nor into ~/.local/state."""
    from hil.utrn import STATE_ENV

    monkeypatch.setenv(STATE_ENV, str(_state_root / str(next(_STATE))))


def _dump_path() -> str:
    return os.path.join(tempfile.gettempdir(), f"smets-hil-dump-{os.getpid()}.txt")


def _await_chain(coro: object) -> list[str]:
    """Where a suspended coroutine waits, outermost first: `Task.print_stack` shows
    only the task's own frame, not the awaits nested under it."""
    lines = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        frame = frame or getattr(coro, "ag_frame", None)
        if frame is None:
            lines.append(repr(coro))
            break
        code = frame.f_code
        lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    return lines


def _dump_tasks(signum: int, frame: FrameType | None) -> None:
    """SIGUSR1: write every thread's stack and every event loop's tasks to `_dump_path`.

    How to see where a stuck run waits (docs/testing.md "Known hang"):
    ``kill -USR1 <pytest pid>``. Python runs the handler in the main thread even while
    the loop sleeps in select(), so no debugger is needed; a file, because pytest
    captures stderr.
    """
    out = io.StringIO()
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    for loop in loops:
        if loop.is_closed():
            continue
        tasks = asyncio.all_tasks(loop)
        print(f"--- {loop!r}: {len(tasks)} tasks", file=out)
        for task in tasks:
            print(f"{task!r}", file=out)
            for line in _await_chain(task.get_coro()):
                print(f"    {line}", file=out)
    with open(_dump_path(), "a") as file:
        file.write(out.getvalue())
        file.write("--- threads\n")
        file.flush()
        faulthandler.dump_traceback(file, all_threads=True)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, _dump_tasks)


#: Seconds before pytest-timeout ends the run (pyproject `timeout`) that the tasks are dumped.
DUMP_BEFORE_TIMEOUT_S = 15.0


def _dump_before_timeout(item: pytest.Item) -> None:
    """pytest-timeout's thread method prints the threads' stacks, not the event loop's
    tasks, which are where a hang waits: print those first (through SIGUSR1, so the
    main thread itself walks its loop), in the log of the run that is about to end."""
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(item)  # as pytest-timeout does, from its thread
    path = _dump_path()
    with contextlib.suppress(OSError):
        os.remove(path)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(3.0)  # the handler runs as soon as the main thread runs Python code
    try:
        with open(path) as file:
            dump = file.read()
    except OSError:
        dump = "(none: the main thread ran no Python code in 3 s, blocked outside Python)\n"
    sys.stderr.write(f"\n+++ {item.nodeid}: about to time out; tasks and threads:\n{dump}")
    sys.stderr.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    limit = 0.0
    if _HAS_TIMEOUT:
        given = item.config.getoption("timeout", None)
        limit = float(item.config.getini("timeout") if given is None else given or 0)
    watchdog = None
    if limit > DUMP_BEFORE_TIMEOUT_S and hasattr(signal, "SIGUSR1"):
        watchdog = threading.Timer(limit - DUMP_BEFORE_TIMEOUT_S, _dump_before_timeout, [item])
        watchdog.daemon = True
        watchdog.name = "task-dump-watchdog"
        watchdog.start()
    try:
        yield
    finally:
        if watchdog is not None:
            watchdog.cancel()


@pytest.fixture(scope="session")
def pki() -> TestPki:
    pki = TestPki(seed="unit")
    pki.remote_party(SUPPLIER, RemotePartyRole.SUPPLIER, "unit supplier")
    pki.remote_party(ACB, RemotePartyRole.ACCESS_CONTROL_BROKER, "unit ACB")
    pki.device(DEVICE, "unit ESME")
    return pki


@pytest.fixture(scope="session")
def supplier(pki: TestPki) -> Party:
    return pki.parties[bytes(SUPPLIER)]


@pytest.fixture(scope="session")
def acb(pki: TestPki) -> Party:
    return pki.parties[bytes(ACB)]


@pytest.fixture(scope="session")
def device(pki: TestPki) -> Party:
    return pki.parties[bytes(DEVICE)]


@pytest.fixture(scope="session")
def security(pki: TestPki) -> MessageSecurity:
    return MessageSecurity(pki.keystore, acb=ACB)


class Hang(Exception):
    """Raised by `time_limit` when the guarded code runs too long."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def time_limit() -> Callable[[float], contextlib.AbstractContextManager[None]]:
    """Context manager factory: raise `Hang` if the block runs longer than N seconds.

    Guards decoder calls that are known to loop forever on some inputs, so a
    regression fails the test instead of stalling the suite.
    """
    return _time_limit


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def restartable(request: pytest.FixtureRequest) -> AsyncIterator[RestartableBroker]:
    """A broker the test can restart on the same port (the HAN links' and the fleet's
    reconnect tests): amqtt, and mosquitto where installed."""
    if request.param == "mosquitto":
        skip_without_mosquitto(request.config)
    async with RestartableBroker(request.param) as broker:
        yield broker
