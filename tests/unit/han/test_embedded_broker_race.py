"""The embedded amqtt broker keeps serving clients that connect while others subscribe."""

from __future__ import annotations

import asyncio

import aiomqtt

from emulator.han._amqtt import _Filters
from emulator.han.broker import EmbeddedBroker

RETAINED = 40
CLIENTS = 8


async def test_clients_connecting_during_subscription_churn_all_get_their_messages() -> None:
    # amqtt 0.12 walks its subscription table with awaits inside when a client connects
    # (sending it retained messages); a SUBSCRIBE from another client in between used to
    # end the connecting client's session with "dictionary changed size during iteration".
    async with (
        EmbeddedBroker() as broker,
        aiomqtt.Client(broker.host, broker.port, identifier="holder") as holder,
    ):
        for i in range(RETAINED):
            await holder.publish(f"r/{i}", b"kept", qos=1, retain=True)
        await holder.subscribe([(f"r/{i}", 1) for i in range(RETAINED)])
        stop = asyncio.Event()

        async def churn() -> int:
            n = 0
            while not stop.is_set():
                n += 1
                await holder.subscribe(f"new/{n}", qos=1)
            return n

        churner = asyncio.create_task(churn())
        served = 0
        try:
            for k in range(CLIENTS):
                await asyncio.sleep(0.05)  # let the churn run between connects too
                async with aiomqtt.Client(
                    broker.host, broker.port, identifier=f"late{k}", timeout=5
                ) as late:
                    await late.subscribe(f"echo/{k}", qos=1)
                    await late.publish(f"echo/{k}", b"hi", qos=1)
                    async with asyncio.timeout(5):
                        async for message in late.messages:
                            if message.topic.value == f"echo/{k}":
                                served += 1
                                break
        finally:
            stop.set()
            subscribed = await churner
    assert subscribed > CLIENTS  # the churn really overlapped the connects
    assert served == CLIENTS


def test_the_subscription_table_can_grow_while_it_is_walked() -> None:
    # what amqtt's loops do when a SUBSCRIBE lands between two awaits of a walk
    table = _Filters({"a": [], "b": []})
    for topic_filter in table:
        table[topic_filter + "/new"] = []
    for topic_filter, _ in table.items():
        table[topic_filter + "/more"] = []
    assert len(table) == 8
