"""A fleet whose broker restarts mid-run: everything reconnects, the run completes and says so."""

from __future__ import annotations

import asyncio
import time

import pytest

from emulator.han.broker import RestartableBroker
from hil.fleet.coordinator import Coordinator, FleetConfig
from hil.fleet.mix import Mix

MIX = Mix(rate=20.0, weights={"read": 2, "critical": 1, "firmware": 1}, timeout_s=3.0)


@pytest.mark.parametrize("mux", [False, True], ids=["own-connections", "mux"])
async def test_a_fleet_whose_broker_restarts_mid_run_completes(
    restartable: RestartableBroker, mux: bool
) -> None:
    config = FleetConfig(2, 2, MIX, 8.0, run="t-restart", beat_timeout=20.0, mux=mux)
    coordinator = Coordinator(restartable.url, config)
    restarted: list[int] = []
    tasks: list[asyncio.Task[None]] = []

    def restart_once(c: Coordinator) -> None:
        running = all(s.phase == "running" for s in c.shards.values())
        if not restarted and running and c.ok >= 10:
            restarted.append(sum(s.sent for s in c.shards.values()))
            tasks.append(asyncio.create_task(restartable.restart(down_s=0.5)))

    began = time.monotonic()
    report = (await coordinator.run(progress=restart_once)).to_dict()
    await asyncio.gather(*tasks)
    assert restarted, "the fleet never got going"
    assert restartable.restarts == 1
    assert time.monotonic() - began < 90  # nothing hung
    # No worker lost: the outage is short of every deadline.
    assert report["lost_premises"] == []
    assert all(w["lost"] is None for w in report["workers"].values())
    outages = report["broker_outages"]
    assert outages["any"] is True
    assert outages["coordinator"]["reconnects"] == 1
    assert outages["worker_control_reconnects"] == 2  # each worker's control connection
    if mux:
        assert outages["mux_reconnects"] == 2
        assert outages["link_reconnects"] == 0
    else:  # each premises: the hub's link and its three devices' links
        assert outages["link_reconnects"] == 8
    # Every request is accounted for: answered, or failed for the outage (not hung).
    requests = report["requests"]
    assert requests["sent"] == requests["ok"] + requests["failed"]
    assert set(report["failures"]) <= {"timeout"}
    assert sum(report["failures"].values()) == requests["failed"]
    # Traffic went on after the restart.
    assert requests["ok"] > restarted[0] + 40
    if requests["failed"]:
        assert report["verdict"] == "failed"


async def test_a_control_connection_outlives_a_broker_restart(
    restartable: RestartableBroker,
) -> None:
    from hil.fleet.control import Control, opened

    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    reconnected: list[bool] = []

    async def on_connect() -> None:
        reconnected.append(True)

    listener = Control(
        restartable.url, "l", ["c/+"], lambda t, p, r: got.put_nowait((t, p)), on_connect=on_connect
    )
    async with opened(listener), opened(Control(restartable.url, "s", [], print)) as sender:
        await sender.publish("c/1", b"before")
        assert await asyncio.wait_for(got.get(), 5) == ("c/1", b"before")
        await restartable.stop()
        await asyncio.sleep(0.2)
        assert not sender.connected
        # QoS 0 while down: not sent, counted; QoS 1 waits for the connection to return.
        assert await sender.publish("c/2", b"beat", qos=0) is False
        assert sender.dropped == 1
        pending = asyncio.create_task(sender.publish("c/3", b"after"))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await restartable.start()
        await asyncio.wait_for(pending, 15)
        # Delivered once the listener is back too (it subscribed again).
        while listener.reconnects == 0:
            await asyncio.sleep(0.05)
        await sender.publish("c/4", b"later")
        seen = {await asyncio.wait_for(got.get(), 5)}
        if ("c/4", b"later") not in seen:
            seen.add(await asyncio.wait_for(got.get(), 5))
        assert ("c/4", b"later") in seen
        assert sender.reconnects == 1 and listener.reconnects == 1 and reconnected == [True]
        assert listener.counters()["down_s"] > 0.5


async def test_requests_during_a_long_outage_fail_as_timeouts_and_the_report_says_so(
    restartable: RestartableBroker,
) -> None:
    from hil.fleet.report import outage_line

    # Down 2 s (back after the 4th attempt, ~3.6 s): longer than a request's 1 s timeout.
    mix = Mix(rate=20.0, weights={"read": 1, "firmware": 1}, timeout_s=1.0)
    config = FleetConfig(2, 1, mix, 9.0, run="t-outage", beat_timeout=20.0)
    restarted: list[int] = []
    tasks: list[asyncio.Task[None]] = []

    def restart_once(c: Coordinator) -> None:
        if not restarted and c.shards[1].phase == "running" and c.ok >= 10:
            restarted.append(c.shards[1].sent)
            tasks.append(asyncio.create_task(restartable.restart(down_s=2.0)))

    began = time.monotonic()
    report = (await Coordinator(restartable.url, config).run(progress=restart_once)).to_dict()
    await asyncio.gather(*tasks)
    assert restarted and time.monotonic() - began < 90
    requests = report["requests"]
    assert report["lost_premises"] == []
    # A request whose envelope the outage swallowed fails as a timeout; one whose hub was
    # still waiting to send (the link waits for its reconnect) is answered late. Either
    # way it is accounted for: none is lost silently, none hangs.
    late = (report["latency_ms"]["max"] or 0) > 2000
    assert requests["failed"] > 0 or late
    if requests["failed"]:
        assert report["verdict"] == "failed"
        assert report["failures"] == {"timeout": requests["failed"]}
    assert requests["sent"] == requests["ok"] + requests["failed"]
    # At most what the outage can hold: ~4 s at 20 req/s, and traffic resumed after it.
    assert requests["failed"] < 120
    assert requests["ok"] > restarted[0] + 40
    assert report["broker_outages"]["any"] is True
    assert "requests in flight meanwhile fail as timeouts" in outage_line(report["broker_outages"])
