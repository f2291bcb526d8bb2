"""Whole fleet runs: coordinator here, workers as subprocesses, traffic over a real broker."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from hil.fleet.coordinator import Coordinator, FleetConfig
from hil.fleet.mix import Mix

MIX = Mix(rate=20.0, weights={"read": 3, "critical": 1, "top_up": 1, "join": 1, "firmware": 1})


@pytest.mark.parametrize("mux", [False, True], ids=["own-connections", "mux"])
async def test_a_small_fleet_passes(broker_url: str, mux: bool) -> None:
    config = FleetConfig(4, 2, MIX, 2.0, run="t-pass", beat_timeout=20.0, mux=mux)
    report = (await Coordinator(broker_url, config).run()).to_dict()
    assert report["verdict"] == "passed", report["failures"]
    assert report["lost_premises"] == []
    assert set(report["premises"]) == {"p00001", "p00002", "p00003", "p00004"}
    assert all(p["sent"] > 0 and p["failed"] == 0 for p in report["premises"].values())
    assert report["requests"]["ok"] == report["requests"]["sent"] > 20
    assert set(report["kinds"]) <= set(MIX.weights)
    assert report["latency_ms"]["p99"] is not None
    for worker in report["workers"].values():
        if mux:  # one shared connection per worker, never dropped here
            assert [c["reconnects"] for c in worker["mux"].values()] == [0]
        else:
            assert worker["mux"] is None


async def test_two_runs_with_one_seed_send_each_premises_the_same_requests(
    broker_url: str,
) -> None:
    def first_kinds(workers: int, seed: str) -> Any:
        config = FleetConfig(4, workers, MIX, 1.5, seed=seed, run=f"t-seed{workers}{seed}")
        return Coordinator(broker_url, config).run()

    one = (await first_kinds(1, "a")).to_dict()["premises"]
    two = (await first_kinds(2, "a")).to_dict()["premises"]  # split differently
    other = (await first_kinds(1, "b")).to_dict()["premises"]
    for name in one:
        n = min(len(one[name]["first"]), len(two[name]["first"]))
        assert n >= 3
        assert one[name]["first"][:n] == two[name]["first"][:n]
    assert any(one[n]["first"][:3] != other[n]["first"][:3] for n in one)


async def _retained(broker_url: str, *filters: str) -> dict[str, bytes]:
    """The retained messages a presence view subscribing now gets."""
    import asyncio

    from emulator.han.mqtt import parse_mqtt_url
    from hil.fleet import wire

    target = parse_mqtt_url(broker_url)
    got: dict[str, bytes] = {}

    def keep(topic: str, payload: bytes, retain: bool) -> None:
        if retain:
            got[topic] = payload

    view = await wire.connect(target.host, target.port, "view", keep, lambda _: None)
    await view.subscribe([(f, 1) for f in filters])
    await asyncio.sleep(0.5)
    await view.close()
    return got


@pytest.mark.parametrize("mux", [False, True], ids=["own-connections", "mux"])
async def test_a_killed_worker_loses_its_premises_and_the_rest_complete(
    broker_url: str, mux: bool
) -> None:
    config = FleetConfig(4, 2, MIX, 4.0, run="t-kill", beat_timeout=20.0, mux=mux)
    coordinator = Coordinator(broker_url, config)
    killed: list[int] = []

    def kill_worker_2(c: Coordinator) -> None:
        state = c.shards[2]
        process = c.processes.get(2)
        if not killed and process is not None and state.phase == "running" and state.sent > 0:
            os.kill(process.pid, signal.SIGKILL)
            killed.append(process.pid)

    began = time.monotonic()
    report = (await coordinator.run(progress=kill_worker_2)).to_dict()
    assert killed, "worker 2 never ran"
    assert time.monotonic() - began < 60
    assert report["verdict"] == "failed"
    assert report["lost_premises"] == ["p00002", "p00004"]  # shard 2 of 2: odd indexes
    assert report["workers"]["2"]["lost"]
    assert report["workers"]["1"]["lost"] is None
    assert set(report["premises"]) == {"p00001", "p00003"}
    assert all(p["sent"] > 0 and p["failed"] == 0 for p in report["premises"].values())
    # The presence view: the killed worker's devices and hub functions show offline (5 per
    # premises), set so by the coordinator on top of the wills; with the mux its own will
    # is there too.
    assert report["workers"]["2"]["devices_set_offline"] == 10
    presence = await _retained(
        broker_url, "smets/t-kill-p00002/status/+", "smets/t-kill-p00004/status/+"
    )
    assert len(presence) == 10 and set(presence.values()) == {b"offline"}
    if mux:
        wills = await _retained(broker_url, "smets-fleet/t-kill/mux/+/+")
        assert wills["smets-fleet/t-kill/mux/2/hub"] == b"offline"
        assert wills["smets-fleet/t-kill/mux/1/hub"] == b"offline"  # closed at the end


async def test_a_worker_that_never_comes_is_lost_not_waited_for(broker_url: str) -> None:
    config = FleetConfig(2, 2, MIX, 1.0, run="t-absent", ready_timeout=4.0, beat_timeout=3.0)
    began = time.monotonic()
    report = (await Coordinator(broker_url, config).run(spawn=False)).to_dict()
    assert time.monotonic() - began < 15
    assert report["lost_premises"] == ["p00001", "p00002"]
    assert report["verdict"] == "failed"


async def test_a_worker_on_an_earlier_runs_retained_config_is_not_taken_for_ours(
    broker_url: str,
) -> None:
    import asyncio

    from hil.fleet.control import Control, opened
    from hil.fleet.protocol import Shard, encode, topic
    from hil.fleet.worker import run_worker

    stale = FleetConfig(1, 1, MIX, 1.0, run="t-stale", nonce="earlier")
    async with opened(Control(broker_url, "test", [], lambda *_: None)) as client:
        await client.publish(
            topic("t-stale", "config"), encode(stale.to_dict()), qos=1, retain=True
        )
    worker = asyncio.create_task(run_worker(broker_url, Shard(1, 1), "t-stale"))
    await asyncio.sleep(3.0)  # it takes the stale config, builds, says ready
    config = FleetConfig(1, 1, MIX, 1.0, run="t-stale", ready_timeout=4.0)
    report = (await Coordinator(broker_url, config).run(spawn=False)).to_dict()
    await asyncio.wait_for(worker, 30)  # the coordinator's stop ends it
    assert report["lost_premises"] == ["p00001"]
    assert report["requests"]["sent"] == 0


async def test_a_worker_still_waiting_for_its_config_is_alive_not_lost(broker_url: str) -> None:
    # Under load a worker may start slowly; its beats before the config (no nonce yet)
    # keep it alive. Here it never gets further: lost for not being ready, not for silence.
    import asyncio

    from hil.fleet.control import Control, opened
    from hil.fleet.protocol import encode, topic

    config = FleetConfig(1, 1, MIX, 1.0, run="t-slow", ready_timeout=5.0, beat_timeout=2.0)

    async def waiting_worker() -> None:
        async with opened(Control(broker_url, "slow", [], lambda *_: None)) as client:
            while True:
                beat = {"phase": "waiting", "nonce": "", "built": 0, "sent": 0}
                await client.publish(topic("t-slow", "beat", 1), encode(beat), qos=0)
                await asyncio.sleep(0.5)

    worker = asyncio.create_task(waiting_worker())
    try:
        report = (await Coordinator(broker_url, config).run(spawn=False)).to_dict()
    finally:
        worker.cancel()
    assert report["lost_premises"] == ["p00001"]
    assert "not ready" in report["workers"]["1"]["lost"]


async def test_a_worker_not_heard_from_yet_is_lost_by_the_ready_timeout_not_the_beat_one(
    broker_url: str,
) -> None:
    # A worker slow to start (imports under load) has not beaten yet: that is no reason
    # to give up on it before the ready timeout.
    config = FleetConfig(1, 1, MIX, 1.0, run="t-unheard", ready_timeout=4.0, beat_timeout=1.0)
    report = (await Coordinator(broker_url, config).run(spawn=False)).to_dict()
    assert report["lost_premises"] == ["p00001"]
    assert "not ready within 4 s" in report["workers"]["1"]["lost"]


async def test_a_worker_whose_shared_connection_drops_mid_run_completes(broker_url: str) -> None:
    import asyncio

    from hil.fleet import mux
    from hil.fleet.protocol import Shard
    from hil.fleet.worker import run_worker

    mix = Mix(rate=20.0, weights={"read": 1, "firmware": 1}, timeout_s=3.0)
    config = FleetConfig(2, 1, mix, 4.0, run="t-drop", mux=True, ready_timeout=30.0)
    worker = asyncio.create_task(run_worker(broker_url, Shard(1, 1), "t-drop"))
    dropped: list[int] = []

    def drop_the_mux(c: Coordinator) -> None:
        shared = mux.find("t-drop-1-hub")
        if dropped or shared is None or c.shards[1].phase != "running" or c.shards[1].sent < 5:
            return
        client = shared._client
        if client is not None and client.transport is not None:
            client.transport.abort()
            dropped.append(c.shards[1].sent)

    report = await Coordinator(broker_url, config).run(spawn=False, progress=drop_the_mux)
    await asyncio.wait_for(worker, 30)
    out = report.to_dict()
    assert dropped, "the connection was never dropped"
    assert out["lost_premises"] == []
    assert out["workers"]["1"]["mux"]["t-drop-1-hub"]["reconnects"] == 1
    requests = out["requests"]
    assert requests["sent"] == requests["ok"] + requests["failed"]
    # Traffic went on after the drop: far more answered than were sent before it.
    assert requests["ok"] > dropped[0] + 20
    assert set(out["failures"]) <= {"timeout"}  # what was in flight, nothing else
