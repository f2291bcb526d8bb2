"""The hub carries a CCS01-added device only while its join window is open or
after it joined: a JOIN after the window closed is dropped, counted and logged."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncIterator

import pytest

from emulator.clock import VirtualClock
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link
from emulator.han.memory import MemoryMedium
from emulator.hub import Hub
from emulator.premises import Premises

START = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)
NEW = Eui64("00-DB-12-34-56-78-90-B0")


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Premises, VirtualClock, Hub, Link]]:
    clock = VirtualClock(START)
    premises = Premises.build(clock=clock)
    medium = MemoryMedium()
    hub_link, device_link = medium.link(), medium.link()
    await hub_link.open()
    await device_link.open()
    hub = Hub(premises.chf, hub_link, clock, gpf=premises.gpf)
    await hub.start()
    try:
        yield premises, clock, hub, device_link
    finally:
        await hub.stop()
        await device_link.close()
        await hub_link.close()


async def _join(hub: Hub, premises: Premises, link: Link) -> None:
    before = sum(hub.drops.values()) + hub.counters.alerts
    await link.bind(NEW)
    await link.send(Envelope(NEW, premises.chf.eui, EnvelopeKind.JOIN, b""))
    for _ in range(200):
        if sum(hub.drops.values()) + hub.counters.alerts != before:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the hub did nothing with the envelope")


async def test_a_join_in_the_window_is_carried(
    rig: tuple[Premises, VirtualClock, Hub, Link],
) -> None:
    premises, clock, hub, link = rig
    assert premises.chf.register_device(NEW, 0, b"code")
    clock.advance(premises.chf.join_timeout - 1)
    await _join(hub, premises, link)
    assert premises.chf.device_log[bytes(NEW)].link_key_hash
    assert hub.drops == {}
    assert hub.counters.alerts == 1  # the CS14 of the join


async def test_a_join_after_the_window_is_dropped(
    rig: tuple[Premises, VirtualClock, Hub, Link],
) -> None:
    premises, clock, hub, link = rig
    assert premises.chf.register_device(NEW, 0, b"code")
    clock.advance(premises.chf.join_timeout)
    await _join(hub, premises, link)
    assert hub.drops == {"unadmitted": 1}
    assert not premises.chf.device_log[bytes(NEW)].link_key_hash
    assert [e.eui for e in premises.chf.log.expired] == [NEW]
