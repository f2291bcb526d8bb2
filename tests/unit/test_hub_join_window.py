"""The hub carries a CCS01-added device only while its join window is open or
after it joined: a JOIN after the window closed is refused, counted and logged,
and the device's envelopes are then dropped as unadmitted."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncIterator

import pytest

from emulator.clock import VirtualClock
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.join import (
    JoinKey,
    JoinRefuse,
    JoinRequest,
    Refusal,
    device_proof,
    install_code_key,
)
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


async def _join(hub: Hub, premises: Premises, link: Link) -> Envelope:
    """A JOIN proving the install code b"code"; the hub's answer."""
    await link.bind(NEW)
    nonce = bytes(16)
    proof = device_proof(
        install_code_key(b"code"), NEW, premises.chf.eui, JoinKey.INSTALL_CODE, nonce
    )
    payload = JoinRequest(JoinKey.INSTALL_CODE, nonce, proof).encode()
    await link.send(Envelope(NEW, premises.chf.eui, EnvelopeKind.JOIN, payload))
    answer = await link.recv(timeout=2)
    for _ in range(200):  # and its CS14, if any, is queued
        if hub.counters.alerts or hub.joins.refused:
            break
        await asyncio.sleep(0.005)
    return answer


async def test_a_join_in_the_window_is_carried(
    rig: tuple[Premises, VirtualClock, Hub, Link],
) -> None:
    premises, clock, hub, link = rig
    assert premises.chf.register_device(NEW, 0, b"code")
    clock.advance(premises.chf.join_timeout - 1)
    assert (await _join(hub, premises, link)).kind == EnvelopeKind.JOIN_ACCEPT
    assert premises.chf.device_log[bytes(NEW)].link_key_hash
    assert hub.drops == {}
    assert hub.counters.alerts == 1  # the CS14 of the join


async def test_a_join_after_the_window_is_dropped(
    rig: tuple[Premises, VirtualClock, Hub, Link],
) -> None:
    premises, clock, hub, link = rig
    assert premises.chf.register_device(NEW, 0, b"code")
    clock.advance(premises.chf.join_timeout)
    answer = await _join(hub, premises, link)
    assert JoinRefuse.decode(answer.payload).reason == Refusal.WINDOW_CLOSED
    assert hub.joins.refusals() == {"window_closed": 1}
    await link.send(Envelope(NEW, premises.chf.eui, EnvelopeKind.WAKE))
    for _ in range(200):
        if hub.drops:
            break
        await asyncio.sleep(0.005)
    assert hub.drops == {"unadmitted": 1}
    assert not premises.chf.device_log[bytes(NEW)].link_key_hash
    assert [e.eui for e in premises.chf.log.expired] == [NEW]
