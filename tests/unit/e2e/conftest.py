"""Fixtures of the end-to-end tests, and the leak check every one of them passes.

`rig` runs a whole premises (hub, CHF, GPF, ESME, GSME, PPMID) with the ESME on
each link type in turn: the in-process medium, a real pty pair, MQTT through the
embedded amqtt broker and MQTT through mosquitto (marked ``mosquitto``: skipped
when the binary is absent, a failure when the run selected ``-m mosquitto``).

The leak check extends the HAN one (tasks, attached memory links, serial reader
threads) with what a whole premises can leave behind: open file descriptors
(ptys, sockets), child processes and threads of our own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import AsyncIterator

import pytest
from broker_support import mosquitto_or_skip
from e2e_support import Rig, supplier_security

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.esme import Esme
from emulator.han.broker import EmbeddedBroker, MosquittoBroker
from emulator.han.memory import MemoryMedium
from emulator.han.serial import pty_pair
from emulator.premises import Premises
from hil.dcc.commands import Sender

#: aiomqtt cancels its housekeeping task via call_soon_threadsafe after a close, a
#: broker session ends a few loop turns after its client, and a killed child is
#: reaped by a watcher thread: give them this long before calling it a leak.
_SETTLE = 1.0

LINKS = [
    "memory",
    "serial",
    "mqtt-amqtt",
    pytest.param("mqtt-mosquitto", marks=pytest.mark.mosquitto),
]


def _open_fds() -> dict[int, str]:
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone already
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return fds


def _children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/children") as fh:
            pids.update(int(pid) for pid in fh.read().split())
    return pids


def _our_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("smets-")}


def _leaks(
    before_tasks: set[asyncio.Task[object]],
    before_fds: dict[int, str],
    before_children: set[int],
    before_threads: set[str],
) -> list[str]:
    me = asyncio.current_task()
    found: list[str] = []
    tasks = [t for t in asyncio.all_tasks() - before_tasks if t is not me and not t.done()]
    if tasks:
        found.append(f"tasks still running: {tasks}")
    fds = {fd: target for fd, target in _open_fds().items() if before_fds.get(fd) != target}
    if fds:
        found.append(f"file descriptors left open: {fds}")
    children = _children() - before_children
    if children:
        found.append(f"child processes still alive: {sorted(children)}")
    threads = _our_threads() - before_threads
    if threads:
        found.append(f"threads still running: {sorted(threads)}")
    return found


@pytest.fixture(autouse=True)
async def _no_leaks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks, links, descriptors, children or threads behind."""
    before = (asyncio.all_tasks(), _open_fds(), _children(), _our_threads())
    yield
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE
    while True:
        leaks = _leaks(*before)
        if not leaks or loop.time() > deadline:
            break
        await asyncio.sleep(0.01)
    attached = MemoryMedium.reset_registry()
    if attached:
        leaks.append(f"links left attached to {attached}")
    assert not leaks, "; ".join(leaks)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def broker(
    request: pytest.FixtureRequest,
) -> AsyncIterator[EmbeddedBroker | MosquittoBroker]:
    """A broker for device processes: amqtt in this process, then mosquitto where installed.

    A test may stop it early (``await broker.__aexit__(None, None, None)``) to
    take the broker away from a device; stopping twice is harmless.
    """
    started: EmbeddedBroker | MosquittoBroker = (
        EmbeddedBroker() if request.param == "amqtt" else mosquitto_or_skip(request.config)
    )
    async with started:
        yield started


@pytest.fixture(params=LINKS)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """A running premises whose ESME is reached over the link type in the parameter."""
    kind: str = request.param
    async with contextlib.AsyncExitStack() as stack:
        premises = Premises.build()
        esme = premises.device(DeviceType.ESME)
        assert isinstance(esme, Esme)
        pty = None
        per_device: dict[bytes, str] | None = None
        if kind == "memory":
            url = MemoryMedium().url
        elif kind == "serial":
            pty = stack.enter_context(pty_pair())
            url = MemoryMedium().url  # the other devices share a bus with the hub
            per_device = {bytes(esme.eui): f"{pty.master_url} {pty.slave_url}"}
        else:
            if kind == "mqtt-amqtt":
                broker: EmbeddedBroker | MosquittoBroker = EmbeddedBroker()
            else:
                broker = mosquitto_or_skip(request.config)
            await stack.enter_async_context(broker)
            url = broker.url_for(f"e2e{secrets.token_hex(4)}")
        await stack.enter_async_context(premises)
        hub = await premises.connect(url, per_device_urls=per_device)
        security = supplier_security(premises)
        supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, security)
        yield Rig(kind, premises, hub, security, supplier, esme, premises.runner_for(esme.eui), pty)


@pytest.fixture
async def premises() -> AsyncIterator[Premises]:
    """The default premises, its devices on the in-process medium."""
    async with Premises.build() as running:
        await running.connect(MemoryMedium().url)
        yield running
