"""One fleet worker: the premises of one shard, their devices and their DCC side.

``smets-hil fleet worker --broker URL --shard K/N [--run NAME]`` (or the
coordinator, which starts W of them as subprocesses) waits for the run's
retained ``config``, builds the premises it owns, connects every hub and
device to the broker (each premises on its own lab topic level
``smets/<run>-<premises>/...``), says ``ready``, and on ``start`` sends its
share of the mix's rate round-robin over its premises for the run's duration.
It beats every `BEAT_S` with counters and latencies, and ends with ``done``.
If the coordinator says ``stop`` or stays silent, it ends too: nothing hangs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from emulator.errors import LinkError
from emulator.han.mqtt import OFFLINE, MqttLink
from emulator.premises import lab_pki
from hil.fleet import mux, wire
from hil.fleet.control import Control
from hil.fleet.mix import Mix
from hil.fleet.protocol import (
    BEAT_S,
    LOST,
    FleetError,
    Shard,
    check_run,
    decode,
    encode,
    topic,
)
from hil.fleet.record import Recording, replay_one
from hil.fleet.traffic import FleetPremises, Outcome, settle_heap

log = logging.getLogger(__name__)

#: Set to a path prefix, a worker subprocess writes a cProfile dump there.
PROFILE_ENV = "SMETS_HIL_FLEET_PROFILE"

#: Premises connecting to the broker at once while a worker builds its shard.
CONNECTING = 16

#: Seconds a worker waits for the run's config, and then for ``start``.
CONFIG_TIMEOUT_S = 60.0


class Worker:
    def __init__(
        self,
        broker: str,
        shard: Shard,
        run: str = "fleet",
        device_broker: str | None = None,
        *,
        settle: bool = False,
    ) -> None:
        self.broker = broker.rstrip("/")
        #: Freeze the built premises out of the cyclic GC (`settle_heap`): only when
        #: the worker is its own process (tests run workers inside pytest's).
        self.settle = settle
        #: Where the devices connect; their hubs stay on `broker` (another cluster node).
        self.device_broker = (device_broker or broker).rstrip("/")
        self.shard = shard
        self.run = check_run(run)
        self.phase = "waiting"
        self.premises: list[FleetPremises] = []
        self.built = 0
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self._latencies: list[float] = []
        self._reasons: dict[str, int] = {}
        self._kinds: dict[str, int] = {}
        self._config: asyncio.Future[dict[str, Any]] | None = None
        self._start = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._cpu0 = 0.0
        self.recording: Recording | None = None
        self.hub_url = self.broker
        self.device_url = self.device_broker
        self._muxes: list[str] = []
        self.nonce = ""
        self.control: Control | None = None

    def _t(self, *parts: str | int) -> str:
        return topic(self.run, *parts)

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        self._config = loop.create_future()
        k = self.shard.index
        control = Control(
            self.broker,
            f"worker{k}",
            [self._t("config"), self._t("start"), self._t("stop")],
            self._on_message,
            will=wire.Will(self._t("status", k), LOST, qos=1, retain=False),
        )
        self.control = control
        await control.open()
        try:
            beater = asyncio.create_task(self._beat(control))
            try:
                await self._work(control)
            finally:
                self._stop.set()
                beater.cancel()
                await asyncio.gather(beater, return_exceptions=True)
                for p in self.premises:
                    with contextlib.suppress(Exception):
                        await p.premises.close()
                for key in self._muxes:
                    await mux.unregister(key)
        finally:
            await control.close()

    async def _work(self, client: Control) -> None:
        assert self._config is not None
        config = await _first(self._config, self._stop, CONFIG_TIMEOUT_S, "config")
        if config is None:
            return
        if int(config["workers"]) != self.shard.count:
            raise FleetError(
                f"shard {self.shard}: the run has {config['workers']} workers, not "
                f"{self.shard.count}"
            )
        self.nonce = str(config.get("nonce", ""))
        mix = Mix.from_dict(config["mix"], "config.mix")
        replay = config.get("replay")
        self.recording = None if not replay else Recording.from_dict(replay)
        total = int(config["premises"])
        seed = str(config["seed"])
        state_dir = Path(config["state_dir"]) if config.get("state_dir") else None
        self.phase = "building"
        if config.get("mux"):
            self.hub_url = await self._mux("hub", self.broker)
            self.device_url = (
                self.hub_url
                if self.device_broker == self.broker
                else await self._mux("devices", self.device_broker)
            )
        pki = lab_pki()
        # Building is CPU (keys, certificates); connecting mostly waits for the broker's
        # acknowledgements, so up to CONNECTING premises connect at once.
        connecting = asyncio.Semaphore(CONNECTING)
        pending: set[asyncio.Task[None]] = set()
        for index in self.shard.premises(total):
            if self._stop.is_set():
                break
            fleet_premises = FleetPremises.build(index, seed, mix, pki, state_dir)
            self.premises.append(fleet_premises)
            await connecting.acquire()
            task = asyncio.create_task(self._connect(fleet_premises, connecting))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)  # the first connection error ends the worker
        if self._stop.is_set():
            return
        if self.settle:
            log.debug("shard %s: %d objects frozen after setup", self.shard, settle_heap())
        self.phase = "ready"
        await client.publish(
            self._t("ready", self.shard.index),
            encode(
                {
                    "nonce": self.nonce,
                    "premises": [p.name for p in self.premises],
                    # Whose status topics the coordinator sets offline if this worker dies.
                    "devices": {p.name: _euis(p) for p in self.premises},
                }
            ),
            qos=1,
        )
        # The other workers may still be building: wait as long as the coordinator does.
        patience = float(config.get("ready_timeout", CONFIG_TIMEOUT_S)) + CONFIG_TIMEOUT_S
        started = await _first(_wait(self._start), self._stop, patience, "start")
        if started is None:
            return
        self.phase = "running"
        self._cpu0 = time.process_time()
        await self._traffic(mix, float(config["duration"]), total)
        self.phase = "done"
        for p in self.premises:
            p.snapshot()
        await self._flush(client, qos=1)
        await client.publish(
            self._t("done", self.shard.index),
            encode(
                {
                    "nonce": self.nonce,
                    "premises": {p.name: p.summary() for p in self.premises},
                    "cpu_s": time.process_time() - self._cpu0,
                    "peak_rss_kb": _peak_rss_kb(),
                    "mux": self._mux_counters(),
                    "control": client.counters(),
                    "links": self._link_counters(),
                }
            ),
            qos=1,
            # Retained: a coordinator reconnecting after a broker outage still gets it
            # (the coordinator clears it at the end of the run).
            retain=True,
        )

    async def _mux(self, role: str, broker: str) -> str:
        """One shared broker connection for all links of this role (`hil.fleet.mux`)."""
        key = f"{self.run}-{self.shard.index}-{role}"
        will = wire.Will(self._t("mux", self.shard.index, role), OFFLINE, qos=1, retain=True)
        await mux.register(key, broker, will=will)
        self._muxes.append(key)
        return f"{mux.SCHEME}://{key}"

    def _mux_counters(self) -> dict[str, dict[str, int]] | None:
        """Reconnects, publishes sent again and envelopes dropped, per shared connection."""
        if not self._muxes:
            return None
        out = {}
        for key in self._muxes:
            shared = mux.find(key)
            if shared is not None:
                out[key] = {
                    "reconnects": shared.reconnects,
                    "retried": shared.retried,
                    "dropped": shared.dropped,
                }
        return out

    def _link_counters(self) -> dict[str, float]:
        """Broker reconnects of the premises' own MQTT links (none with the mux)."""
        reconnects = retried = 0
        down = 0.0
        for p in self.premises:
            for link in p.premises.links:
                if isinstance(link, MqttLink):
                    reconnects += link.reconnects
                    retried += link.retried
                    down += link.down_s
        return {"reconnects": reconnects, "retried": retried, "down_s": round(down, 2)}

    async def _connect(self, fleet_premises: FleetPremises, slots: asyncio.Semaphore) -> None:
        try:
            lab = f"{self.run}-{fleet_premises.name}"
            await _connect(fleet_premises, f"{self.hub_url}/{lab}", f"{self.device_url}/{lab}")
            self.built += 1
        finally:
            slots.release()

    async def _traffic(self, mix: Mix, duration: float, total: int) -> None:
        """Open-loop arrivals at this shard's share of the rate, capped at `mix.inflight`."""
        if not self.premises:
            return
        loop = asyncio.get_running_loop()
        rate = mix.rate * len(self.premises) / total
        interval = 1.0 / rate
        slots = asyncio.Semaphore(mix.inflight)
        start = loop.time()
        end = start + duration
        due = start
        turn = 0
        while not self._stop.is_set():
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
            if loop.time() >= end or self._stop.is_set():
                break
            await slots.acquire()
            target = self.premises[turn % len(self.premises)]
            turn += 1
            task = asyncio.create_task(self._one(target, mix, slots))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            due += interval
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=mix.timeout_s + 5.0)

    async def _one(self, target: FleetPremises, mix: Mix, slots: asyncio.Semaphore) -> None:
        try:
            hub = target.premises.hub
            assert hub is not None
            if self.recording is not None:
                self._count(await replay_one(target, hub, self.recording, mix))
            else:
                self._count(await target.request(hub, mix))
        finally:
            slots.release()

    def _count(self, outcome: Outcome) -> None:
        self.sent += 1
        self._kinds[outcome.kind] = self._kinds.get(outcome.kind, 0) + 1
        if outcome.ok:
            self.ok += 1
            self._latencies.append(round(outcome.latency_s * 1000.0, 2))
        else:
            self.failed += 1
            reason = outcome.reason.split(":", 1)[0]
            self._reasons[reason] = self._reasons.get(reason, 0) + 1

    def _beat_message(self) -> dict[str, Any]:
        latencies, self._latencies = self._latencies, []
        reasons, self._reasons = self._reasons, {}
        kinds, self._kinds = self._kinds, {}
        return {
            "phase": self.phase,
            "built": self.built,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "latencies_ms": latencies,
            "reasons": reasons,
            "kinds": kinds,
            "pid": os.getpid(),
            "nonce": self.nonce,
        }

    async def _flush(self, client: Control, qos: int = 0) -> None:
        # Beats are QoS 0: waiting for a PUBACK on an overloaded loop would delay the
        # next beat and get a busy worker declared lost. The last one (before done) is 1.
        if qos == 0 and not client.connected:
            client.dropped += 1  # counted; the samples wait for the next beat
            return
        await client.publish(
            self._t("beat", self.shard.index), encode(self._beat_message()), qos=qos
        )

    async def _beat(self, client: Control) -> None:
        while True:
            await self._flush(client)
            await asyncio.sleep(BEAT_S)

    def _on_message(self, where: str, payload: bytes, retain: bool) -> None:
        assert self._config is not None
        name = where.rsplit("/", 1)[-1]
        try:
            data = decode(payload) if payload else {}
        except FleetError as exc:
            log.warning("shard %s: %s on %s, ignored", self.shard, exc, where)
            return
        if name == "config" and data and not self._config.done():
            self._config.set_result(data)
        elif name == "start":
            self._start.set()
        elif name == "stop":
            self._stop.set()


def _euis(fleet_premises: FleetPremises) -> list[str]:
    """The premises' hub functions and devices, as their status topics name them."""
    p = fleet_premises.premises
    return [bytes(p.chf.eui).hex(), bytes(p.gpf.eui).hex(), *(e.hex() for e in p.devices)]


async def _connect(
    fleet_premises: FleetPremises, url: str, device_url: str, attempts: int = 3
) -> None:
    """Connect a premises' hub and devices, again on failure (amqtt drops some under load)."""
    premises = fleet_premises.premises
    for attempt in range(1, attempts + 1):
        try:
            await premises.connect(url, device_url, state_dir=fleet_premises.state_dir)
            return
        except LinkError as exc:
            await premises.close()
            premises.runners.clear()
            premises.hub = None
            if attempt == attempts:
                raise
            log.warning(
                "%s: %s; connecting again (%d/%d)", fleet_premises.name, exc, attempt, attempts
            )


async def _wait(event: asyncio.Event) -> bool:
    await event.wait()
    return True


async def _first(awaitable: Any, stop: asyncio.Event, timeout: float, what: str) -> Any:
    """The awaitable's result, or None if `stop` is set first; FleetError on timeout."""
    waiting = asyncio.ensure_future(awaitable)
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        {waiting, stopping}, timeout=timeout, return_when="FIRST_COMPLETED"
    )
    stopping.cancel()
    if waiting in done:
        return waiting.result()
    waiting.cancel()
    if stopping in done:
        return None
    raise FleetError(f"no {what} from the coordinator within {timeout:.0f} s")


def _peak_rss_kb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def run_worker(
    broker: str,
    shard: Shard,
    run: str = "fleet",
    device_broker: str | None = None,
    *,
    settle: bool = False,
) -> None:
    raise_file_limit()
    await Worker(broker, shard, run, device_broker, settle=settle).main()


def raise_file_limit() -> None:
    """Each premises holds four broker connections: lift the soft open-files limit to the hard."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    """Entry point of worker subprocesses the coordinator starts (``python -m``)."""
    parser = argparse.ArgumentParser(prog="smets-hil fleet worker")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--shard", required=True)
    parser.add_argument("--run", default="fleet")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    raise_file_limit()
    profile = os.environ.get(PROFILE_ENV)
    try:
        if profile:  # where the time goes (docs/fleet.md): one cProfile dump per shard
            import cProfile

            # CPU time, not wall time: on a shared machine wall time blames whatever
            # function was running when the process was descheduled.
            profiler = cProfile.Profile(time.process_time)
            try:
                profiler.runcall(
                    asyncio.run,
                    run_worker(args.broker, Shard.parse(args.shard), args.run, settle=True),
                )
            finally:
                profiler.dump_stats(f"{profile}.{args.shard.replace('/', 'of')}")
        else:
            asyncio.run(run_worker(args.broker, Shard.parse(args.shard), args.run, settle=True))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from hil.boundary import describe, one_line

        print(
            f"smets-hil fleet worker {args.shard}: error: {one_line(describe(exc))}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
