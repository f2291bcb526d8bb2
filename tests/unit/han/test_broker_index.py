"""The embedded broker's indexes: same deliveries as amqtt, without walking everything.

amqtt 0.12 walked every topic filter per message, every retained message per
subscription and, per connect, every filter times every retained message, so a
lab of 1,000 premises (bench/join.py) could not start. These tests pin what
the indexed broker (emulator/han/_amqtt.py) still delivers and that it stops
walking what a message or a subscription cannot match.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiomqtt
import pytest

from emulator.han._amqtt import IndexedBroker, RetainedIndex
from emulator.han.broker import EmbeddedBroker


def _client(broker: EmbeddedBroker, name: str) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, identifier=name)


async def _received(client: aiomqtt.Client, within: float = 0.5) -> list[tuple[str, bytes, bool]]:
    got: list[tuple[str, bytes, bool]] = []

    async def read() -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            got.append((message.topic.value, message.payload, message.retain))

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), within)
    return got


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with EmbeddedBroker() as running:
        yield running


def _inner(broker: EmbeddedBroker) -> IndexedBroker:
    inner = broker._broker
    assert isinstance(inner, IndexedBroker)
    return inner


async def test_retained_messages_reach_exact_and_wildcard_subscribers(
    broker: EmbeddedBroker,
) -> None:
    async with _client(broker, "publisher") as publisher:
        await publisher.publish("lab/status/a", b"online", qos=1, retain=True)
        await publisher.publish("lab/status/b", b"offline", qos=1, retain=True)
        await publisher.publish("lab/state/a", b"{}", qos=1, retain=True)
    async with _client(broker, "exact") as exact, _client(broker, "wild") as wild:
        await exact.subscribe("lab/status/b", qos=1)
        await wild.subscribe("lab/status/+", qos=1)
        assert await _received(exact) == [("lab/status/b", b"offline", True)]
        assert sorted(await _received(wild)) == [
            ("lab/status/a", b"online", True),
            ("lab/status/b", b"offline", True),
        ]


async def test_a_new_client_gets_no_retained_message_it_did_not_subscribe_to(
    broker: EmbeddedBroker,
) -> None:
    """amqtt 0.12 offered a connecting client the retained messages of every filter
    any other client held."""
    async with _client(broker, "watcher") as watcher:
        await watcher.subscribe("lab/status/+", qos=1)
        await watcher.publish("lab/status/a", b"online", qos=1, retain=True)
        async with _client(broker, "newcomer") as newcomer:
            await newcomer.subscribe("lab/han/x", qos=1)
            assert await _received(newcomer) == []


async def test_routing_reaches_exact_and_wildcard_filters_once_each(
    broker: EmbeddedBroker,
) -> None:
    async with (
        _client(broker, "device") as device,
        _client(broker, "sniffer") as sniffer,
        _client(broker, "sender") as sender,
    ):
        await device.subscribe("lab/han/00", qos=1)
        await sniffer.subscribe("lab/han/+", qos=1)
        await sniffer.subscribe("lab/#", qos=1)
        await sender.publish("lab/han/00", b"x", qos=1)
        await sender.publish("lab/han/01", b"y", qos=1)
        assert await _received(device) == [("lab/han/00", b"x", False)]
        # one copy per matching filter, as amqtt (and mosquitto without overlap dedup) sends
        assert sorted(await _received(sniffer)) == [
            ("lab/han/00", b"x", False),
            ("lab/han/00", b"x", False),
            ("lab/han/01", b"y", False),
            ("lab/han/01", b"y", False),
        ]


async def test_a_clean_reconnect_drops_the_old_subscriptions(broker: EmbeddedBroker) -> None:
    """amqtt deletes a clean session's subscriptions when its client id connects
    again; the index of the client's filters goes with them."""
    inner = _inner(broker)
    async with _client(broker, "again") as first:
        await first.subscribe("lab/han/00", qos=1)
        await first.subscribe("lab/han/+", qos=1)
        assert {"lab/han/00", "lab/han/+"} <= set(inner.subscriptions)
        assert inner._filters_of["again"] == {"lab/han/00", "lab/han/+"}
    async with _client(broker, "again") as second, _client(broker, "sender") as sender:
        assert not {"lab/han/00", "lab/han/+"} & set(inner.subscriptions)
        assert "again" not in inner._filters_of
        await sender.publish("lab/han/00", b"x", qos=1)
        assert await _received(second) == []


async def test_routing_matches_only_wildcard_filters_one_by_one(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 200 exact filters and one wildcard, a message is matched against the
    wildcard only (amqtt 0.12 tried all 201)."""
    inner = _inner(broker)
    calls: list[str] = []
    original = inner._matches

    def counting(topic: str, a_filter: str) -> bool:
        calls.append(a_filter)
        return bool(original(topic, a_filter))

    async with _client(broker, "many") as many, _client(broker, "sender") as sender:
        await many.subscribe([(f"lab/han/{i:04x}", 1) for i in range(200)])
        await many.subscribe("lab/status/+", qos=1)
        monkeypatch.setattr(inner, "_matches", counting)
        await sender.publish("lab/han/0007", b"z", qos=1)
        assert await _received(many) == [("lab/han/0007", b"z", False)]
    assert calls == ["lab/status/+"]


async def test_subscribing_does_not_walk_unrelated_retained_messages(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = _inner(broker)
    async with _client(broker, "publisher") as publisher:
        for i in range(100):
            await publisher.publish(f"lab/status/{i:04x}", b"online", qos=1, retain=True)
        await publisher.publish("lab/han/one", b"stale", qos=1, retain=True)
    calls: list[str] = []
    original = inner._matches

    def counting(topic: str, a_filter: str) -> bool:
        calls.append(topic)
        return bool(original(topic, a_filter))

    monkeypatch.setattr(inner, "_matches", counting)
    async with _client(broker, "late") as late:
        await late.subscribe("lab/han/+", qos=1)
        await late.subscribe("lab/status/0003", qos=1)
        got = sorted(await _received(late))
    assert got == [("lab/han/one", b"stale", True), ("lab/status/0003", b"online", True)]
    assert sorted(calls) == ["lab/han/one", "lab/status/0003"]


def test_retained_index_follows_the_dict() -> None:
    index = RetainedIndex()
    index["a/b/c"] = 1
    index["a/b/d"] = 2
    index["a/x"] = 3
    assert sorted(index.candidates("a/b/+")) == ["a/b/c", "a/b/d"]
    assert list(index.candidates("a/b/c")) == ["a/b/c"]
    assert list(index.candidates("a/b/e")) == []
    assert sorted(index.candidates("a/#")) == ["a/b/c", "a/b/d", "a/x"]
    del index["a/b/c"]
    assert index.pop("a/b/d") == 2
    assert list(index.candidates("a/b/+")) == []
    assert "a/b" not in index.by_parent
    index.clear()
    assert not index and not index.by_parent
