"""Fixtures of the HAN link tests, and the leak check every one of them passes.

A link test that leaves a task running, a link attached to a medium or a serial
reader thread alive fails here, by name, instead of making a later test flaky
(pymodbus's ``system_health_check``, python-can's channel leak fixture).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from broker_support import mosquitto_or_skip

from emulator.han.broker import (
    EmbeddedBroker,
    MosquittoBroker,
)
from emulator.han.memory import MemoryMedium

#: aiomqtt cancels its housekeeping task via call_soon_threadsafe after a close,
#: and a broker session ends a few loop turns after its client; give them this long.
_SETTLE = 0.5


@pytest.fixture(autouse=True)
def _no_leaked_links() -> Iterator[None]:
    yield
    leaked = MemoryMedium.reset_registry()
    assert not leaked, f"links left attached to {leaked}: close them"
    readers = [t.name for t in threading.enumerate() if t.name.startswith("smets-serial-reader")]
    assert not readers, f"serial reader threads still running: {readers}"


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE
    while True:
        leaked = [t for t in asyncio.all_tasks() - before if t is not me and not t.done()]
        if not leaked or loop.time() > deadline:
            break
        await asyncio.sleep(0.005)
    assert not leaked, f"tasks still running after the test: {leaked}"


@pytest.fixture
def medium() -> Iterator[MemoryMedium]:
    """A medium of the test's own (not in the registry), checked for leaked links."""
    own = MemoryMedium("test")
    yield own
    assert not own.links, f"links left attached to {own}: close them"


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedBroker | MosquittoBroker]:
    """Each MQTT test runs on the embedded amqtt broker and, where installed, on mosquitto."""
    if request.param == "amqtt":
        async with EmbeddedBroker() as embedded:
            yield embedded
        return
    async with mosquitto_or_skip(request.config) as real:
        yield real


@pytest.fixture
async def mosquitto(request: pytest.FixtureRequest) -> AsyncIterator[MosquittoBroker]:
    async with mosquitto_or_skip(request.config) as real:
        yield real
