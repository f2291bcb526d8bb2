"""The link base class through the memory backend: routing, timeouts, close-once, faults."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from han_support import (
    GAS,
    HUB,
    METER,
    corrupt_version,
    drop_all,
    duplicate,
    every_other,
    gbcs,
    split_at,
)

from emulator.errors import EmulatorError, GbcsDecodeError, LinkClosed, LinkError, LinkTimeout
from emulator.gbcs.eui import Eui64
from emulator.han import BACKENDS, BROADCAST, Envelope, EnvelopeKind, Link, MemoryMedium, open_link
from emulator.han import link as link_module
from emulator.han.link import Inbox, backend, peek_destination, scheme_of
from emulator.han.memory import MemoryLink, parse_memory_url

# -- choosing a backend -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("memory://lab", "memory"),
        ("/dev/ttyUSB0", "serial"),
        ("COM3", "serial"),
        ("serial:///dev/ttyUSB0", "serial"),
        ("socket://localhost:4000", "socket"),
        ("RFC2217://host:2217", "rfc2217"),
        ("loop://", "loop"),
        ("fd://5", "fd"),
        ("mqtt://broker:1883/lab", "mqtt"),
    ],
)
def test_scheme_of(url: str, scheme: str) -> None:
    assert scheme_of(url) == scheme


@pytest.mark.parametrize("scheme", sorted(BACKENDS))
def test_every_backend_resolves_to_a_link(scheme: str) -> None:
    assert issubclass(backend(scheme), Link)


def test_unknown_scheme_is_a_link_error() -> None:
    with pytest.raises(LinkError, match="no HAN link backend for scheme 'zigbee'"):
        open_link("zigbee://x")


def test_unimportable_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "broken", "emulator.han.no_such_module:Nope")
    with pytest.raises(LinkError, match="cannot be imported"):
        backend("broken")
    monkeypatch.setitem(BACKENDS, "notalink", "emulator.han.memory:MemoryMedium")
    with pytest.raises(LinkError, match="not a Link subclass"):
        backend("notalink")


def test_entry_point_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    point = SimpleNamespace(name="custom", value="emulator.han.memory:MemoryLink")
    monkeypatch.setattr(link_module, "entry_points", lambda group: [point])
    assert backend("custom") is MemoryLink


def test_importing_han_does_not_import_transports() -> None:
    code = (
        "import sys, emulator.han\n"
        "from emulator.han import open_link\n"
        "link = open_link('memory://x')\n"
        "bad = {'aiomqtt', 'serial', 'paho', 'amqtt'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, timeout=30)


def test_memory_url() -> None:
    assert parse_memory_url("memory://lab") == "lab"
    with pytest.raises(LinkError, match="needs a medium name"):
        parse_memory_url("memory://")
    with pytest.raises(LinkError):
        MemoryLink()


def test_peek_destination() -> None:
    raw = gbcs(METER, HUB).encode()
    assert peek_destination(raw) == HUB
    assert peek_destination(raw[:21]) is None


# -- routing ------------------------------------------------------------------------


async def test_open_link_memory_by_name() -> None:
    async with (
        open_link("memory://lab", local=[HUB]) as hub,
        open_link("memory://lab", local=[METER]) as meter,
    ):
        assert isinstance(hub, MemoryLink) and isinstance(meter, MemoryLink)
        assert hub.medium is meter.medium is MemoryMedium.named("lab")
        await hub.send(gbcs(HUB, METER, b"hello"))
        env = await meter.recv(timeout=1)
        assert env.payload == b"hello" and env.source == HUB
        assert hub.counters.sent == 1 and meter.counters.received == 1


async def test_unicast_reaches_only_the_owner(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER]) as meter, medium.link([GAS]) as gas:
        await hub.send(gbcs(HUB, GAS))
        assert (await gas.recv(timeout=0)).destination == GAS
        with pytest.raises(LinkTimeout):
            await meter.recv(timeout=0)
        await hub.send(gbcs(HUB, Eui64(b"\x00" * 8)))
        assert medium.undeliverable == 1


async def test_broadcast_reaches_all_others(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER]) as meter, medium.link([GAS]) as gas:
        await hub.send(Envelope(HUB, BROADCAST, EnvelopeKind.STATE, b"{}"))
        for device in (meter, gas):
            env = await device.recv(timeout=0)
            assert env.destination == BROADCAST
        with pytest.raises(LinkTimeout):
            await hub.recv(timeout=0)


async def test_promiscuous_endpoint_hears_everything(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER]), medium.link() as sniffer:
        await hub.send(gbcs(HUB, METER, seq=1))
        await hub.send(gbcs(HUB, Eui64(b"\x00" * 8), seq=2))
        assert [(await sniffer.recv(timeout=0)).sequence for _ in range(2)] == [1, 2]


async def test_order_is_preserved(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER]) as meter:
        for seq in range(50):
            await hub.send(gbcs(HUB, METER, seq=seq))
        assert [(await meter.recv(timeout=0)).sequence for _ in range(50)] == list(range(50))


async def test_bind_adds_an_address(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER]) as esme:
        await hub.send(gbcs(HUB, GAS))
        assert medium.undeliverable == 1
        await esme.bind(GAS)
        await esme.bind(GAS)  # idempotent
        assert esme.local == frozenset({METER, GAS})
        assert esme.addresses == (METER, GAS)
        await hub.send(gbcs(HUB, GAS))
        assert (await esme.recv(timeout=0)).destination == GAS


async def test_base_filters_by_destination_and_own_broadcast(medium: MemoryMedium) -> None:
    async with medium.link([METER]) as meter:
        # Bypass the medium's routing: what any point-to-point transport delivers.
        meter._deliver(gbcs(HUB, GAS).encode())
        meter._deliver(Envelope(METER, BROADCAST, EnvelopeKind.WAKE).encode())
        meter._deliver(gbcs(HUB, METER, b"mine").encode())
        assert (await meter.recv(timeout=0)).payload == b"mine"
        assert meter.counters.dropped == 2


async def test_recv_waits_for_a_later_send(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER]) as meter:
        waiter = asyncio.create_task(meter.recv(timeout=1))
        await asyncio.sleep(0)
        await hub.send(gbcs(HUB, METER))
        assert (await waiter).source == HUB


async def test_full_inbox_counts_drops(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub, medium.link([METER], max_queue=2) as meter:
        for seq in range(5):
            await hub.send(gbcs(HUB, METER, seq=seq))
        assert meter.pending == 2
        assert meter.counters.dropped == 3


# -- timeouts and lifecycle -------------------------------------------------------------


async def test_timeout_is_typed(medium: MemoryMedium) -> None:
    async with medium.link([METER]) as meter:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(LinkTimeout) as err:
            await meter.recv(timeout=0.05)
        assert loop.time() - start >= 0.04
        assert isinstance(err.value, TimeoutError)
        assert isinstance(err.value, EmulatorError)


async def test_link_default_timeout(medium: MemoryMedium) -> None:
    async with medium.link([METER], timeout=0.01) as meter:
        with pytest.raises(LinkTimeout):
            await meter.recv()


async def test_timeout_keeps_filtered_traffic_from_extending_the_wait(
    medium: MemoryMedium,
) -> None:
    async with medium.link([METER]) as meter:

        async def chatter() -> None:
            for _ in range(20):
                meter._deliver(gbcs(HUB, GAS).encode())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(chatter())
        with pytest.raises(LinkTimeout):
            await meter.recv(timeout=0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_close_once_and_closed_errors(medium: MemoryMedium) -> None:
    meter = medium.link([METER])
    await meter.open()
    await meter.close()
    await meter.close()
    assert meter.closed
    assert medium.links == ()
    with pytest.raises(LinkClosed):
        await meter.recv(timeout=0)
    with pytest.raises(LinkClosed):
        await meter.send(gbcs(METER, HUB))
    with pytest.raises(LinkClosed):
        await meter.open()
    assert isinstance(LinkClosed("x"), ConnectionError)


async def test_close_wakes_a_blocked_receiver(medium: MemoryMedium) -> None:
    meter = medium.link([METER])
    waiter = asyncio.create_task(meter.recv())
    await asyncio.sleep(0)
    await meter.close()
    with pytest.raises(LinkClosed):
        await waiter


async def test_async_iteration_ends_on_close(medium: MemoryMedium) -> None:
    async with medium.link([HUB]) as hub:
        meter = medium.link([METER])
        for seq in range(3):
            await hub.send(gbcs(HUB, METER, seq=seq))

        async def collect() -> list[int]:
            return [env.sequence async for env in meter]

        task = asyncio.create_task(collect())
        await asyncio.sleep(0)
        await meter.close()
        assert await task == [0, 1, 2]


async def test_first_send_opens_the_link(medium: MemoryMedium) -> None:
    hub = medium.link([HUB])
    meter = medium.link([METER])
    try:
        await hub.send(gbcs(HUB, METER))
        assert (await meter.recv(timeout=0)).source == HUB
        assert "open" in repr(hub)
    finally:
        await hub.close()
        await meter.close()


class _Broken(Link):
    """A backend whose constructor or open fails, to check the base cleans up."""

    closes = 0

    def __init__(self, url: str, *, fail_in_init: bool = False, **options: Any) -> None:
        if fail_in_init:
            raise OSError("no such device")
        super().__init__(url, **options)

    async def _open(self) -> None:
        raise OSError("port busy")

    async def _close(self) -> None:
        type(self).closes += 1

    async def _send(self, raw: bytes) -> None:
        raise AssertionError("never opened")

    async def _recv(self) -> bytes:
        raise AssertionError("never opened")


async def test_half_built_link_closes_safely() -> None:
    with pytest.raises(OSError):
        _Broken("broken://", fail_in_init=True)
    half = _Broken.__new__(_Broken)
    assert half.closed  # class default, before __init__ ran
    await half.close()  # nothing to release, nothing raised
    assert _Broken.closes == 0


async def test_failed_open_closes_the_link() -> None:
    _Broken.closes = 0
    link = _Broken("broken://")
    with pytest.raises(LinkError, match="cannot open: port busy") as err:
        async with link:
            pass
    assert isinstance(err.value.__cause__, OSError)
    assert link.closed and _Broken.closes == 1
    await link.close()
    assert _Broken.closes == 1


async def test_concurrent_opens_open_once(medium: MemoryMedium) -> None:
    opened = 0

    class Counting(MemoryLink):
        async def _open(self) -> None:
            nonlocal opened
            await asyncio.sleep(0.01)
            opened += 1

    link = Counting(medium=medium, local=[METER])
    await asyncio.gather(link.open(), link.open(), link.open())
    assert opened == 1
    await link.close()


# -- faults, errors and tracing ------------------------------------------------------------


async def test_manipulator_drop(medium: MemoryMedium) -> None:
    async with medium.link([HUB], manipulator=drop_all) as hub, medium.link([METER]) as meter:
        await hub.send(gbcs(HUB, METER))
        assert hub.counters.sent == 1
        with pytest.raises(LinkTimeout):
            await meter.recv(timeout=0)


async def test_manipulator_duplicate(medium: MemoryMedium) -> None:
    async with medium.link([HUB], manipulator=duplicate) as hub, medium.link([METER]) as meter:
        await hub.send(gbcs(HUB, METER, seq=9))
        assert [(await meter.recv(timeout=0)).sequence for _ in range(2)] == [9, 9]


async def test_corrupted_envelopes_are_counted_and_skipped(medium: MemoryMedium) -> None:
    errors: list[tuple[Exception, bytes]] = []
    async with (
        medium.link([HUB], manipulator=every_other(corrupt_version)) as hub,
        medium.link([METER], on_error=lambda exc, raw: errors.append((exc, raw))) as meter,
    ):
        for seq in range(4):
            await hub.send(gbcs(HUB, METER, seq=seq))
        got = [(await meter.recv(timeout=0)).sequence for _ in range(2)]
        assert got == [1, 3]
        assert meter.counters.corrupted == 2
        assert meter.counters.received == 2
        assert all(isinstance(exc, GbcsDecodeError) for exc, _ in errors)
        assert errors[0][1][0] == 0x09
        with pytest.raises(LinkTimeout):
            await meter.recv(timeout=0)


async def test_split_envelope_is_noise_everyone_hears(medium: MemoryMedium) -> None:
    async with (
        medium.link([HUB], manipulator=split_at(10)) as hub,
        medium.link([METER]) as meter,
        medium.link([GAS]) as gas,
    ):
        await hub.send(gbcs(HUB, METER))
        for device in (meter, gas):
            with pytest.raises(LinkTimeout):
                await device.recv(timeout=0)
        # Neither piece is long enough to carry an address: both are noise that
        # every other endpoint hears and counts.
        assert meter.counters.corrupted == gas.counters.corrupted == 2
        assert meter.counters.received == 0


async def test_medium_manipulator_applies_to_everyone() -> None:
    medium = MemoryMedium(manipulator=drop_all)
    async with medium.link([HUB]) as hub, medium.link([METER]) as meter:
        await meter.send(gbcs(METER, HUB))
        with pytest.raises(LinkTimeout):
            await hub.recv(timeout=0)
        medium.manipulator = None
        await meter.send(gbcs(METER, HUB))
        assert (await hub.recv(timeout=0)).source == METER


async def test_trace_sees_both_directions(medium: MemoryMedium) -> None:
    seen: list[tuple[str, bytes]] = []

    def trace(direction: str, raw: bytes) -> None:
        seen.append((direction, raw))

    async with medium.link([HUB], trace=trace) as hub, medium.link([METER], trace=trace) as meter:
        env = gbcs(HUB, METER)
        await hub.send(env)
        await meter.recv(timeout=0)
        assert seen == [("send", env.encode()), ("recv", env.encode())]


async def test_send_timeout(medium: MemoryMedium) -> None:
    class Slow(MemoryLink):
        async def _send(self, raw: bytes) -> None:
            await asyncio.sleep(1)

    async with Slow(medium=medium, local=[HUB], send_timeout=0.01) as slow:
        with pytest.raises(LinkTimeout, match="send took over"):
            await slow.send(gbcs(HUB, METER))
        assert slow.counters.sent == 0


async def test_foreign_send_errors_are_wrapped(medium: MemoryMedium) -> None:
    class Failing(MemoryLink):
        async def _send(self, raw: bytes) -> None:
            raise OSError("cable cut")

    async with Failing(medium=medium, local=[HUB]) as failing:
        with pytest.raises(LinkError, match="cable cut") as err:
            await failing.send(gbcs(HUB, METER))
        assert isinstance(err.value.__cause__, OSError)


async def test_inbox_is_cancel_safe() -> None:
    inbox = Inbox()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    getter.cancel()
    await asyncio.gather(getter, return_exceptions=True)
    assert inbox.put(b"x")
    assert await asyncio.wait_for(inbox.get(), 1) == b"x"
    inbox.close(LinkClosed("gone"))
    assert not inbox.put(b"y")
    with pytest.raises(LinkClosed, match="gone"):
        await inbox.get()


async def test_repr_names_url_and_addresses() -> None:
    link = MemoryMedium("r").link([METER])
    assert repr(link) == f"<MemoryLink memory://r local={METER.compact} new>"
    await link.close()
    assert repr(link).endswith("closed>")
