"""An amqtt broker that finds subscribers and retained messages through indexes.

amqtt 0.12 walks every topic filter for each message it routes, every retained
message for each subscription, and, when a client connects, every filter of
every client times every retained message. A lab of N premises has ~6N filters
and ~6N retained status topics, so routing is O(N) per message and connecting
the lab O(N^3): 200 premises took 468 s to start, 1,000 did not finish.

`IndexedBroker` keeps amqtt's behaviour (what is delivered, retained, willed
and queued for offline sessions) and changes only how the candidates are found:

- routing: a topic name has no wildcards, so the one filter equal to it is a
  dict lookup; the filters with ``+`` or ``#`` (a recorder's ``han/+``) are
  kept apart and matched one by one;
- retained messages for a subscription: an exact filter is a dict lookup; a
  filter ending in its only wildcard ``+`` looks in the retained topics under
  its parent level; only other wildcard filters walk all retained messages;
- on connect amqtt offers the retained messages of *every* filter in the
  broker to the new client (even filters it does not subscribe to), a walk of
  all filters for each connect; here only a persistent session's own
  subscriptions are served, as MQTT says (3.1.1 section 3.8.4), and the walk is
  skipped;
- a client's disconnect removes its own filters, not a walk of all of them;
- amqtt writes ``repr()`` of all subscriptions into a debug message on each
  SUBSCRIBE (formatted even when debug logging is off): here it is one line.

Imported only when an embedded broker starts (amqtt is imported on use).
Checked against amqtt 0.12: these override private methods, so a new amqtt
version must be checked again (tests/unit/han/test_broker_index.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action


def _is_wild(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


class RetainedIndex(dict[str, Any]):
    """amqtt's retained messages by topic, also grouped by parent level ("a/b" of "a/b/c")."""

    def __init__(self) -> None:
        super().__init__()
        self.by_parent: defaultdict[str, set[str]] = defaultdict(set)

    def __setitem__(self, topic: str, message: Any) -> None:
        super().__setitem__(topic, message)
        self.by_parent[topic.rpartition("/")[0]].add(topic)

    def __delitem__(self, topic: str) -> None:
        super().__delitem__(topic)
        parent = topic.rpartition("/")[0]
        siblings = self.by_parent.get(parent)
        if siblings is not None:
            siblings.discard(topic)
            if not siblings:
                del self.by_parent[parent]

    def pop(self, topic: str, *default: Any) -> Any:
        if topic in self:
            message = self[topic]
            del self[topic]
            return message
        return super().pop(topic, *default)

    def clear(self) -> None:
        super().clear()
        self.by_parent.clear()

    def candidates(self, topic_filter: str) -> Iterable[str]:
        """Retained topics that may match `topic_filter` (a superset of the matches)."""
        if not _is_wild(topic_filter):
            return (topic_filter,) if topic_filter in self else ()
        parent, _, last = topic_filter.rpartition("/")
        if last == "+" and not _is_wild(parent):
            return list(self.by_parent.get(parent, ()))
        return list(self)


class _Filters(dict[str, list[tuple[Any, int]]]):
    """amqtt's subscriptions by topic filter.

    Its repr is short: amqtt logs ``repr(self._subscriptions)`` (every session of
    every filter) on each SUBSCRIBE, logging enabled or not. And the one walk
    over all filters that follows a connect (see `IndexedBroker`) can be skipped.

    Iteration walks a copy of the keys (or items): amqtt 0.12 loops over this
    table with awaits inside (a broadcast awaits per subscriber) while other
    clients' SUBSCRIBE packets add filters to it, and ``RuntimeError: dictionary
    changed size during iteration`` would end the session of the client being
    served (a fleet worker or a device then loses its broker).
    """

    skip_next_walk = False

    def __iter__(self) -> Iterator[str]:
        if self.skip_next_walk:
            self.skip_next_walk = False
            return iter(())
        return iter(list(super().keys()))

    def items(self) -> Any:
        return list(super().items())

    def values(self) -> Any:
        return list(super().values())

    def __repr__(self) -> str:
        return f"<{len(self)} topic filters>"


class IndexedBroker(Broker):  # type: ignore[misc]  # amqtt is untyped
    """amqtt's broker with indexed routing (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._retained_messages = RetainedIndex()
        self._subscriptions = _Filters()
        #: Filters with wildcards (a superset: one nobody holds any more is pruned when
        #: met; a new SUBSCRIBE adds it again).
        self._wild_filters: dict[str, None] = {}
        #: The filters each client subscribed to (a superset, for its disconnect).
        self._filters_of: defaultdict[str, set[str]] = defaultdict(set)

    async def add_subscription(self, subscription: tuple[str, int], session: Any) -> int:
        granted: int = await super().add_subscription(subscription, session)
        topic_filter = subscription[0]
        if topic_filter in self._subscriptions:
            self._filters_of[session.client_id].add(topic_filter)
            if _is_wild(topic_filter):
                self._wild_filters[topic_filter] = None
        return granted

    async def _del_all_subscriptions(self, session: Any) -> None:
        for topic_filter in self._filters_of.pop(session.client_id, set()):
            deleted = self._del_subscription(topic_filter, session)
            if deleted and not self._subscriptions[topic_filter]:
                del self._subscriptions[topic_filter]

    def _subscribers(self, topic: str) -> list[tuple[str, list[tuple[Any, int]]]]:
        found = []
        exact = self._subscriptions.get(topic)
        if exact:
            found.append((topic, list(exact)))
        for topic_filter in list(self._wild_filters):
            held = self._subscriptions.get(topic_filter)
            if not held:  # gone, or emptied by an UNSUBSCRIBE (amqtt keeps the key)
                del self._wild_filters[topic_filter]
            elif self._matches(topic, topic_filter):
                found.append((topic_filter, list(held)))
        return found

    async def _run_broadcast(self, running_tasks: Any) -> None:
        broadcast = await self._broadcast_queue.get()
        topic = broadcast["topic"]
        for _, subscriptions in self._subscribers(topic):
            for target_session, sub_qos in subscriptions:
                qos = broadcast.get("qos", sub_qos)
                allowed = await self._topic_filtering(
                    target_session, topic=topic, action=Action.RECEIVE
                )
                if not allowed:
                    continue
                connected = target_session.transitions.state == "connected"
                if (
                    not connected
                    and not target_session.clean_session
                    and qos in (1, 2)
                    and not target_session.is_anonymous
                ):
                    # [MQTT-3.1.2-5]: kept for a persistent session that is away
                    await self._retain_broadcast_message(broadcast, qos, target_session)
                    continue
                if not connected:
                    continue
                handler = self._get_handler(target_session)
                if handler:
                    running_tasks.append(
                        asyncio.ensure_future(
                            handler.mqtt_publish(topic, broadcast["data"], qos, retain=False)
                        )
                    )

    async def _publish_session_retained_messages(self, session: Any) -> None:
        """On connect, after the messages queued for the session: amqtt then walks
        every filter in the broker (`_Filters.skip_next_walk`, set with no await in
        between, skips that walk); here the session's own filters are served instead."""
        await super()._publish_session_retained_messages(session)
        for topic_filter in sorted(self._filters_of.get(session.client_id, ())):
            await self._publish_retained_messages_for_subscription((topic_filter, 0), session)
        self._subscriptions.skip_next_walk = True

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        topic_filter, qos = subscription
        held = self._subscriptions.get(topic_filter, ())
        if not any(s.client_id == session.client_id for s, _ in held):
            return  # not this client's filter
        handler = self._get_handler(session)
        if not handler:
            return
        retained = self._retained_messages
        tasks = [
            asyncio.ensure_future(
                handler.mqtt_publish(
                    message.topic, message.data, min(qos, message.qos or qos), retain=True
                )
            )
            for topic in retained.candidates(topic_filter)
            if (message := retained.get(topic)) is not None and self._matches(topic, topic_filter)
        ]
        if tasks:
            await asyncio.wait(tasks)
