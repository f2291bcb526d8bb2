"""The MQTT link through a real broker: amqtt embedded, and mosquitto when installed."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest
from han_support import GAS, HUB, METER, gbcs

from emulator.errors import LinkClosed, LinkError, LinkTimeout
from emulator.han import BROADCAST, Envelope, EnvelopeKind, open_link
from emulator.han.broker import EmbeddedBroker, MosquittoBroker, RestartableBroker, free_port
from emulator.han.mqtt import (
    MqttLink,
    MqttTarget,
    han_topic,
    parse_mqtt_url,
    state_topic,
    status_topic,
)

Broker = EmbeddedBroker | MosquittoBroker | RestartableBroker


def observer(broker: Broker) -> aiomqtt.Client:
    """A plain MQTT client watching the lab from outside, as a dashboard would."""
    return aiomqtt.Client(broker.host, broker.port, identifier=f"observer-{id(broker)}")


async def next_message(client: aiomqtt.Client, timeout: float = 1.0) -> aiomqtt.Message:
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            return message
    raise AssertionError("unreachable")


# -- URLs and topics ----------------------------------------------------------------


def test_parse_mqtt_url() -> None:
    assert parse_mqtt_url("mqtt://broker") == MqttTarget("broker", 1883, "lab")
    assert parse_mqtt_url("mqtt://u:p%40ss@10.0.0.1:1884/rig-7?protocol=5") == MqttTarget(
        "10.0.0.1", 1884, "rig-7", "u", "p@ss", 5
    )
    assert parse_mqtt_url("mqtt://h/lab?client_id=me").client_id == "me"
    assert parse_mqtt_url("mqtt://h/lab?keepalive=5").keepalive == 5
    assert parse_mqtt_url("mqtt://h/lab").keepalive is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mqtt://h/a/b", "one MQTT topic level"),
        ("mqtt://h/l+", "one MQTT topic level"),
        ("mqtt://h/lab?qos=2", "unknown parameter"),
        ("mqtt://h/lab?protocol=4.0", "protocol must be"),
        ("mqtt:///lab", "no broker host"),
        ("mqtt://h:port/lab", "bad port"),
        ("http://h/lab", "not an mqtt:// URL"),
        ("mqtt://[::1/lab", "Invalid IPv6 URL"),
        ("mqtt://h/lab?keepalive=0", "keepalive must be"),
        ("mqtt://h/lab?keepalive=soon", "keepalive must be"),
    ],
)
def test_bad_mqtt_urls(url: str, message: str) -> None:
    with pytest.raises(LinkError, match=message):
        parse_mqtt_url(url)


async def test_a_password_never_shows_in_errors() -> None:
    with pytest.raises(LinkError, match="bad port") as bad:
        parse_mqtt_url("mqtt://me:s3cret@h:99999/lab")
    assert "s3cret" not in str(bad.value)
    assert "mqtt://me:***@h:99999/lab" in str(bad.value)
    link = MqttLink("mqtt://me:s3cret@127.0.0.1:1/lab")
    assert "s3cret" not in repr(link) and "s3cret" not in link.url
    assert link.target.password == "s3cret"
    await link.close()


def test_topics() -> None:
    assert han_topic("lab", METER) == "smets/lab/han/00db1234567890a0"
    assert han_topic("lab", BROADCAST) == "smets/lab/han/ffffffffffffffff"
    assert status_topic("x", HUB) == "smets/x/status/00db1234567890b1"
    assert state_topic("x", HUB) == "smets/x/state/00db1234567890b1"


async def test_unreachable_broker_is_a_link_error() -> None:
    link = open_link(f"mqtt://127.0.0.1:{free_port()}/lab", local=[HUB], connect_timeout=2)
    with pytest.raises(LinkError, match="cannot connect"):
        await link.open()
    assert link.closed


# -- through a broker ---------------------------------------------------------------------


async def test_send_and_recv_between_two_endpoints(broker: Broker) -> None:
    url = broker.url_for("t1")
    async with open_link(url, local=[HUB]) as hub, open_link(url, local=[METER]) as meter:
        assert isinstance(hub, MqttLink)
        await hub.send(gbcs(HUB, METER, b"command", seq=7))
        env = await meter.recv(timeout=2)
        assert (env.source, env.payload, env.sequence) == (HUB, b"command", 7)
        await meter.send(gbcs(METER, HUB, b"response", seq=7))
        assert (await hub.recv(timeout=2)).payload == b"response"


async def test_labs_are_isolated(broker: Broker) -> None:
    async with (
        open_link(broker.url_for("a"), local=[HUB]) as hub,
        open_link(broker.url_for("b"), local=[METER]) as other_lab,
    ):
        await hub.send(gbcs(HUB, METER))
        with pytest.raises(LinkTimeout):
            await other_lab.recv(timeout=0.2)


async def test_broadcast_reaches_others_not_the_sender(broker: Broker) -> None:
    url = broker.url_for("t2")
    async with (
        open_link(url, local=[HUB]) as hub,
        open_link(url, local=[METER]) as meter,
        open_link(url, local=[GAS]) as gas,
    ):
        await hub.send(Envelope(HUB, BROADCAST, EnvelopeKind.STATE, b"{}"))
        for device in (meter, gas):
            assert (await device.recv(timeout=2)).destination == BROADCAST
        with pytest.raises(LinkTimeout):
            await hub.recv(timeout=0.2)
        assert hub.counters.dropped == 1  # its own broadcast, echoed by the broker


async def test_sniffer_hears_all_han_traffic(broker: Broker) -> None:
    url = broker.url_for("t3")
    async with (
        open_link(url) as sniffer,
        open_link(url, local=[HUB]) as hub,
        open_link(url, local=[METER]),
    ):
        await hub.send(gbcs(HUB, METER, seq=1))
        await hub.send(gbcs(HUB, GAS, seq=2))
        got = {(await sniffer.recv(timeout=2)).sequence for _ in range(2)}
        assert got == {1, 2}


async def test_bind_after_open_subscribes(broker: Broker) -> None:
    url = broker.url_for("t4")
    async with open_link(url, local=[HUB]) as hub, open_link(url, local=[METER]) as esme:
        await esme.bind(GAS)
        await hub.send(gbcs(HUB, GAS))
        assert (await esme.recv(timeout=2)).destination == GAS


async def test_corrupt_publish_is_counted_and_skipped(broker: Broker) -> None:
    url = broker.url_for("t5")
    errors: list[Exception] = []
    async with (
        open_link(url, local=[METER], on_error=lambda exc, raw: errors.append(exc)) as meter,
        open_link(url, local=[HUB]) as hub,
        observer(broker) as raw_client,
    ):
        await raw_client.publish(han_topic("t5", METER), b"\x01garbage", qos=1)
        await hub.send(gbcs(HUB, METER, b"fine"))
        assert (await meter.recv(timeout=2)).payload == b"fine"
        assert meter.counters.corrupted == 1 and len(errors) == 1


async def test_status_online_retained_then_offline_on_close(broker: Broker) -> None:
    url = broker.url_for("t6")
    meter = open_link(url, local=[METER])
    await meter.open()
    async with observer(broker) as watch:
        await watch.subscribe(status_topic("t6", METER), qos=1)
        first = await next_message(watch)
        assert (first.payload, first.retain) == (b"online", True)
        await meter.close()
        assert (await next_message(watch)).payload == b"offline"


async def test_last_will_announces_a_dead_device(broker: Broker) -> None:
    url = broker.url_for("t7")
    meter = open_link(url, local=[METER])
    assert isinstance(meter, MqttLink)
    await meter.open()
    async with observer(broker) as watch:
        await watch.subscribe(status_topic("t7", METER), qos=1)
        assert (await next_message(watch)).payload == b"online"
        await meter.abort()  # no DISCONNECT: only the broker can say it is gone
        assert meter.closed
        assert (await next_message(watch)).payload == b"offline"
    async with observer(broker) as late:  # and it stays said (retained)
        await late.subscribe(status_topic("t7", METER), qos=1)
        message = await next_message(late)
        assert (message.payload, message.retain) == (b"offline", True)


async def test_last_will_is_on_the_first_address_given(broker: Broker) -> None:
    esme = open_link(broker.url_for("t10"), local=[GAS, METER])
    assert isinstance(esme, MqttLink)
    await esme.open()
    async with observer(broker) as watch:
        await watch.subscribe(status_topic("t10", GAS), qos=1)
        assert (await next_message(watch)).payload == b"online"
        await esme.abort()
        assert (await next_message(watch)).payload == b"offline"


async def test_publish_state_is_retained_json(broker: Broker) -> None:
    url = broker.url_for("t8")
    state = {"credit": 12.5, "supply": "armed", "registers": [1, 2]}
    async with open_link(url, local=[METER]) as meter:
        assert isinstance(meter, MqttLink)
        await meter.publish_state(METER, state)
        with pytest.raises(TypeError):
            await meter.publish_state(METER, {"bad": object()})
    async with observer(broker) as watch:
        await watch.subscribe(state_topic("t8", METER), qos=1)
        message = await next_message(watch)
        assert message.retain
        assert isinstance(message.payload, bytes)
        assert json.loads(message.payload) == state
        assert message.payload == b'{"credit":12.5,"registers":[1,2],"supply":"armed"}'


async def test_broker_going_away_closes_the_link() -> None:
    async with EmbeddedBroker() as broker:
        meter = open_link(broker.url_for("t9"), local=[METER], reconnect_delays=())
        await meter.open()
        waiter = asyncio.create_task(meter.recv(timeout=3))
        await asyncio.sleep(0.01)
    with pytest.raises(LinkClosed, match="broker connection lost"):
        await waiter
    with pytest.raises(LinkClosed):
        await meter.send(gbcs(METER, HUB))
    await meter.close()


@pytest.mark.mosquitto
async def test_mqtt5_client(mosquitto: MosquittoBroker) -> None:
    url = mosquitto.url_for("v5") + "?protocol=5"
    async with open_link(url, local=[HUB]) as hub, open_link(url, local=[METER]) as meter:
        assert isinstance(hub, MqttLink) and hub.protocol == 5
        assert isinstance(meter, MqttLink)
        await hub.send(gbcs(HUB, METER, b"v5"))
        assert (await meter.recv(timeout=2)).payload == b"v5"
        await meter.abort()
    async with observer(mosquitto) as late:
        await late.subscribe(status_topic("v5", METER), qos=1)
        assert (await next_message(late)).payload == b"offline"


async def test_devices_of_a_premises_carry_their_last_will(broker: Broker) -> None:
    """An in-process premises' device links are bound from the start: a device whose
    connection dies is announced offline, as a standalone device is."""
    from emulator.premises import Premises

    premises = Premises.build()
    url = broker.url_for("t-premises")
    await premises.connect(url)
    try:
        runner = premises.runners[0]
        link = runner.link
        assert isinstance(link, MqttLink)
        assert link.addresses == (runner.device.eui,)
        async with observer(broker) as watch:
            await watch.subscribe(status_topic("t-premises", runner.device.eui), qos=1)
            assert (await next_message(watch)).payload == b"online"
            await link.abort()
            assert (await next_message(watch)).payload == b"offline"
    finally:
        await premises.close()


async def test_links_reconnect_after_a_broker_restart(restartable: RestartableBroker) -> None:
    url = restartable.url_for("t-restart")
    async with open_link(url, local=[HUB]) as hub, open_link(url, local=[METER]) as meter:
        assert isinstance(hub, MqttLink) and isinstance(meter, MqttLink)
        waiting = asyncio.create_task(meter.recv(timeout=20))
        await restartable.restart(down_s=0.3)
        deadline = asyncio.get_running_loop().time() + 15
        while hub.reconnects + meter.reconnects < 2:
            assert asyncio.get_running_loop().time() < deadline, "links did not reconnect"
            await asyncio.sleep(0.05)
        # The receiver waiting across the outage was not woken with LinkClosed.
        assert not waiting.done()
        assert hub.lost is None and meter.lost is None and not meter.closed
        await hub.send(gbcs(HUB, METER, b"after", seq=3))
        assert (await waiting).payload == b"after"
        await meter.send(gbcs(METER, HUB, b"back", seq=3))
        assert (await hub.recv(timeout=5)).payload == b"back"
        assert hub.down_s > 0.2
    # The restarted broker learnt the devices' presence again (it started empty).
    async with observer(restartable) as watch:
        await watch.subscribe(status_topic("t-restart", METER), qos=1)
        assert (await next_message(watch, 3)).payload == b"offline"  # closed since


async def test_a_link_whose_broker_stays_away_is_lost_after_its_attempts(
    restartable: RestartableBroker,
) -> None:
    url = restartable.url_for("t-away")
    meter = open_link(url, local=[METER], reconnect_delays=(0.05, 0.1))
    await meter.open()
    assert isinstance(meter, MqttLink)
    waiter = asyncio.create_task(meter.recv(timeout=10))
    await restartable.stop()
    with pytest.raises(LinkClosed, match="broker connection lost"):
        await waiter
    assert meter.lost is not None and meter.reconnects == 0
    with pytest.raises(LinkClosed):
        await meter.send(gbcs(METER, HUB))
    await meter.close()
