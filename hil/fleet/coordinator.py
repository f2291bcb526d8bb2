"""The fleet coordinator: publishes the run, starts workers, watches them, reports.

It never sends service requests itself: it talks to workers over the broker's
control topics (`hil.fleet.protocol`). A worker is lost when the broker
publishes its will (its connection dropped: killed, crashed, unplugged) or when
it has not beaten for `BEAT_TIMEOUT_S`; its premises are then marked lost and
the run goes on with the others. Every wait has a deadline, so nothing hangs.

A lost worker's devices cannot say goodbye, and a shared (mux) connection has
one will for all of them: so when a worker is lost the coordinator publishes
the retained ``offline`` on the status topic of every device and hub function
the worker listed in its ``ready``, and a presence view (anything subscribed to
``smets/<lab>/status/+``) sees them offline. The control connection reconnects
after a broker restart (`hil.fleet.control`); the report counts what that cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from emulator.han.mqtt import OFFLINE, status_topic
from hil.fleet.control import Control
from hil.fleet.mix import Mix
from hil.fleet.protocol import (
    BEAT_TIMEOUT_S,
    FleetError,
    Shard,
    check_run,
    decode,
    encode,
    topic,
)
from hil.fleet.traffic import premises_name

log = logging.getLogger(__name__)


#: Premises per worker from which a fleet shares one broker connection per worker by
#: default: 4 connections per premises cost the broker more than they show.
MUX_FROM: Final = 100

#: Seconds a worker whose will arrived gets to be heard from again before it is lost,
#: counted from when the coordinator's own connection is up. A broker that shuts down
#: (mosquitto on SIGTERM) publishes the wills of clients it disconnects, so a will alone
#: cannot tell a dead worker from a broker restart; a worker that reconnects beats
#: within a second or two (its reconnect backoff is at most 4 s a step).
WILL_GRACE_S: Final = 10.0


@dataclass
class FleetConfig:
    premises: int
    workers: int
    mix: Mix
    duration: float
    seed: str = "smets-hil-fleet"
    run: str = "fleet"
    state_dir: str | None = None
    #: Seconds the workers get to build and connect their premises (0: 60 s plus 0.25 s
    #: per premises of the biggest shard; a dead worker is noticed sooner by its will).
    ready_timeout: float = 0.0
    beat_timeout: float = BEAT_TIMEOUT_S
    #: A recording (`Recording.to_dict`) to replay instead of the mix's kinds.
    replay: dict[str, Any] | None = None
    #: One broker connection per worker for all its links (`hil.fleet.mux`); None: on
    #: when a worker holds `MUX_FROM` premises or more.
    mux: bool | None = None
    #: Tells this run's messages from those of an earlier one that left its config retained.
    nonce: str = field(default_factory=lambda: secrets.token_hex(6))

    def __post_init__(self) -> None:
        check_run(self.run)
        if self.premises < 1:
            raise FleetError("--premises must be at least 1")
        if not 1 <= self.workers <= self.premises:
            raise FleetError(f"--workers must be between 1 and the premises ({self.premises})")
        if self.duration <= 0:
            raise FleetError("--duration must be above 0")
        if self.ready_timeout <= 0:
            self.ready_timeout = 60.0 + 0.25 * -(-self.premises // self.workers)
        if self.mux is None:
            self.mux = -(-self.premises // self.workers) >= MUX_FROM

    def to_dict(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "premises": self.premises,
            "workers": self.workers,
            "seed": self.seed,
            "mix": self.mix.to_dict(),
            "duration": self.duration,
            "state_dir": self.state_dir,
            "replay": self.replay,
            "ready_timeout": self.ready_timeout,
            "mux": self.mux,
        }


@dataclass
class ShardState:
    shard: Shard
    phase: str = "waiting"
    built: int = 0
    sent: int = 0
    ok: int = 0
    failed: int = 0
    last_beat: float = field(default_factory=time.monotonic)
    #: Heard from at all: before that, silence is a slow start (imports under load), and
    #: the ready timeout or the process's exit decides, not the beat timeout.
    heard: bool = False
    lost: str = ""
    pid: int | None = None
    premises: list[str] = field(default_factory=list)
    done: dict[str, Any] | None = None
    #: Device EUIs (hex) per premises, from ``ready``: whose status to set offline if lost.
    devices: dict[str, list[str]] = field(default_factory=dict)
    #: Status topics set ``offline`` by the coordinator after this worker was lost.
    offline: int = 0
    #: Wills heard from this worker's shared connections (``mux/<K>/<role>`` = offline).
    mux_wills: int = 0
    #: When its control connection's will arrived and it has not been heard from since.
    will_at: float | None = None
    #: Control wills heard (a broker restart sends them too, see `WILL_GRACE_S`).
    wills: int = 0

    @property
    def finished(self) -> bool:
        return bool(self.lost) or self.done is not None


@dataclass
class FleetResult:
    config: FleetConfig
    shards: dict[int, ShardState]
    latencies_ms: list[float]
    reasons: dict[str, int]
    kinds: dict[str, int]
    started: str
    traffic_s: float
    setup_s: float
    #: The coordinator's control connection: reconnects, retried and dropped publishes.
    control: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        lost = sorted(
            name
            for s in self.shards.values()
            if s.lost
            for name in (s.premises or _owned(s.shard, self.config.premises))
        )
        per_premises: dict[str, Any] = {}
        for s in self.shards.values():
            if s.done is not None:
                per_premises.update(s.done["premises"])
        sent = sum(s.sent for s in self.shards.values())
        ok = sum(s.ok for s in self.shards.values())
        failed = sum(s.failed for s in self.shards.values())
        cpu = sum(float(s.done["cpu_s"]) for s in self.shards.values() if s.done)
        rss = [int(s.done["peak_rss_kb"]) for s in self.shards.values() if s.done]
        held = sum(len(s.premises) for s in self.shards.values() if s.done)
        config = self.config.to_dict()
        if self.config.replay is not None:  # the commands themselves are in the recording
            config["replay"] = {"commands": len(self.config.replay["lines"]) - 1}
        return {
            "run": self.config.run,
            "started": self.started,
            "config": config,
            "verdict": "passed" if not lost and failed == 0 else "failed",
            "setup_s": round(self.setup_s, 2),
            "traffic_s": round(self.traffic_s, 2),
            "requests": {"sent": sent, "ok": ok, "failed": failed},
            "throughput_per_s": round(ok / self.traffic_s, 1) if self.traffic_s > 0 else 0.0,
            "latency_ms": percentiles(self.latencies_ms),
            "failures": dict(sorted(self.reasons.items())),
            "kinds": dict(sorted(self.kinds.items())),
            "cpu_ms_per_request": round(cpu * 1000 / ok, 3) if ok else None,
            "peak_rss_kb_per_premises": round(sum(rss) / held, 1) if held else None,
            "workers": {
                str(k): {
                    "phase": s.phase,
                    "pid": s.pid,
                    "premises": len(s.premises) or len(_owned(s.shard, self.config.premises)),
                    "sent": s.sent,
                    "ok": s.ok,
                    "failed": s.failed,
                    "lost": s.lost or None,
                    "cpu_s": None if s.done is None else round(float(s.done["cpu_s"]), 3),
                    "peak_rss_kb": None if s.done is None else s.done["peak_rss_kb"],
                    "mux": None if s.done is None else s.done.get("mux"),
                    "control": None if s.done is None else s.done.get("control"),
                    "links": None if s.done is None else s.done.get("links"),
                    "devices_set_offline": s.offline,
                }
                for k, s in sorted(self.shards.items())
            },
            "lost_premises": lost,
            "broker_outages": self._outages(),
            "premises": dict(sorted(per_premises.items())),
        }

    def _outages(self) -> dict[str, Any]:
        """What broker connection losses cost: reconnects on every side, and the failures.

        Requests in flight during an outage fail (their envelopes are lost with the
        connection); this says so next to the failure counts instead of leaving a
        reader to guess why a run with no lost worker failed.
        """
        workers_control = 0.0
        mux_reconnects = 0
        link_reconnects = 0
        for s in self.shards.values():
            if s.done is None:
                continue
            workers_control += float((s.done.get("control") or {}).get("reconnects", 0))
            link_reconnects += int((s.done.get("links") or {}).get("reconnects", 0))
            for counters in (s.done.get("mux") or {}).values():
                mux_reconnects += int(counters.get("reconnects", 0))
        return {
            "coordinator": self.control,
            "worker_control_reconnects": int(workers_control),
            "mux_reconnects": mux_reconnects,
            "link_reconnects": link_reconnects,
            "wills": sum(s.wills for s in self.shards.values()),
            "mux_wills": sum(s.mux_wills for s in self.shards.values()),
            "any": bool(
                self.control.get("reconnects")
                or workers_control
                or mux_reconnects
                or link_reconnects
            ),
        }


def _owned(shard: Shard, total: int) -> list[str]:
    return [premises_name(i) for i in shard.premises(total)]


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}


Progress = Callable[["Coordinator"], None]


class Coordinator:
    def __init__(self, broker: str, config: FleetConfig) -> None:
        self.broker = broker.rstrip("/")
        self.config = config
        self.shards = {
            k: ShardState(Shard(k, config.workers)) for k in range(1, config.workers + 1)
        }
        self.latencies_ms: list[float] = []
        self.recent: list[tuple[float, int]] = []  # (monotonic, ok so far) for the live rate
        self.reasons: dict[str, int] = {}
        self.kinds: dict[str, int] = {}
        self.phase = "setup"
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self._changed = asyncio.Event()
        #: Lost workers whose devices' status is still to be set offline.
        self._to_offline: list[ShardState] = []
        self.control: Control | None = None
        #: When our own control connection last came up (a will's grace starts then).
        self._up_since = time.monotonic()

    def _t(self, *parts: str | int) -> str:
        return topic(self.config.run, *parts)

    # -- workers ---------------------------------------------------------------------------
    async def spawn(self) -> None:
        """Start one worker subprocess per shard on this machine."""
        for k in self.shards:
            self.processes[k] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hil.fleet.worker",
                "--broker",
                self.broker,
                "--shard",
                f"{k}/{self.config.workers}",
                "--run",
                self.config.run,
                stdin=asyncio.subprocess.DEVNULL,
            )

    async def reap(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                try:
                    await asyncio.wait_for(process.wait(), 10.0)
                except TimeoutError:
                    process.kill()
                    await process.wait()

    # -- the run ---------------------------------------------------------------------------
    async def run(self, *, spawn: bool = True, progress: Progress | None = None) -> FleetResult:
        began = time.monotonic()
        started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        traffic_s = 0.0
        client = Control(
            self.broker,
            "coordinator",
            [
                self._t("ready", "+"),
                self._t("beat", "+"),
                self._t("status", "+"),
                self._t("done", "+"),
                self._t("mux", "+", "+"),
            ],
            self._on_message,
            on_connect=self._reconnected,
        )
        self.control = client
        await client.open()
        try:
            await client.publish(
                self._t("config"), encode(self.config.to_dict()), qos=1, retain=True
            )
            if spawn:
                await self.spawn()
            announcer = asyncio.create_task(self._announce(client))
            try:
                await self._until(
                    lambda s: s.phase in ("ready", "running", "done") or bool(s.lost),
                    self.config.ready_timeout,
                    "ready",
                    progress,
                )
            finally:
                announcer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await announcer
            setup_s = time.monotonic() - began
            self.phase = "running"
            t0 = time.monotonic()
            self.recent = [(t0, 0)]
            await client.publish(self._t("start"), b"{}", qos=1)
            starter = asyncio.create_task(self._repeat_start(client))
            try:
                await self._until(
                    lambda s: s.finished,
                    self.config.duration + self.config.mix.timeout_s + 15.0,
                    "done",
                    progress,
                )
            finally:
                starter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starter
            traffic_s = min(time.monotonic() - t0, self.config.duration)
            self.phase = "done"
        finally:
            try:
                await self._mark_offline()
                await client.publish(self._t("stop"), b"{}", qos=1)
                await client.publish(self._t("config"), b"", qos=1, retain=True)
                for k in self.shards:  # a worker's done is retained (see the worker)
                    await client.publish(self._t("done", k), b"", qos=1, retain=True)
            except FleetError as exc:
                log.warning("end of run not announced: %s", exc)
            await self.reap()
            await client.close()
        if progress is not None:
            progress(self)
        return FleetResult(
            self.config,
            self.shards,
            self.latencies_ms,
            self.reasons,
            self.kinds,
            started,
            traffic_s or self.config.duration,
            setup_s,
            client.counters(),
        )

    async def _repeat_start(self, client: Control) -> None:
        """Say ``start`` again every second while a worker still beats ``ready``.

        A worker whose control connection was down when ``start`` went out (a broker
        restart) would otherwise wait for it until its patience ran out.
        """
        while True:
            await asyncio.sleep(1.0)
            if any(s.phase == "ready" and not s.lost for s in self.shards.values()):
                with contextlib.suppress(FleetError):
                    await client.publish(self._t("start"), b"{}", qos=1)

    async def _reconnected(self) -> None:
        self._up_since = time.monotonic()

    async def _announce(self, client: Control) -> None:
        """Repeat the config until every worker is ready.

        Retained messages are node-local on some clusters (RabbitMQ's MQTT plugin
        keeps them per node), so a worker on another node may never see the
        retained copy; it takes the first config it receives.
        """
        payload = encode(self.config.to_dict())
        while True:
            await asyncio.sleep(1.0)
            with contextlib.suppress(FleetError):  # the broker may be away: next second
                await client.publish(self._t("config"), payload, qos=1)

    async def _until(
        self,
        reached: Callable[[ShardState], bool],
        timeout: float,
        what: str,
        progress: Progress | None,
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            for state in self.shards.values():
                if state.lost or state.done is not None:
                    continue
                if (
                    state.will_at is not None
                    and now - max(state.will_at, self._up_since) > WILL_GRACE_S
                ):
                    self._lose(
                        state,
                        "connection to the broker dropped (MQTT will), "
                        f"not back within {WILL_GRACE_S:.0f} s",
                    )
                # Silence while our own connection was down is not the worker's.
                silent = now - max(state.last_beat, self._up_since)
                if state.heard and silent > self.config.beat_timeout:
                    self._lose(state, f"no heartbeat for {self.config.beat_timeout:.0f} s")
                process = self.processes.get(state.shard.index)
                if process is not None and process.returncode is not None and not state.lost:
                    self._lose(state, f"worker process exited with {process.returncode}")
            if all(reached(s) for s in self.shards.values()):
                return
            if now > deadline:
                for state in self.shards.values():
                    if not reached(state):
                        self._lose(state, f"not {what} within {timeout:.0f} s")
                return
            await self._mark_offline()
            if progress is not None:
                progress(self)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.25)

    def _lose(self, state: ShardState, why: str) -> None:
        if not state.lost:
            state.lost = why
            state.phase = "lost"
            log.warning("worker %s lost: %s", state.shard, why)
            self._to_offline.append(state)
            self._changed.set()

    async def _mark_offline(self) -> None:
        """Set the status of every device of the lost workers ``offline`` (retained)."""
        client = self.control
        while self._to_offline and client is not None:
            state = self._to_offline.pop(0)
            topics = [
                status_topic(f"{self.config.run}-{name}", bytes.fromhex(eui))
                for name, euis in sorted(state.devices.items())
                for eui in euis
            ]
            try:
                await asyncio.gather(
                    *(client.publish(t, OFFLINE, qos=1, retain=True) for t in topics)
                )
            except FleetError as exc:
                log.warning("worker %s: devices not all set offline: %s", state.shard, exc)
                continue
            state.offline = len(topics)
            if topics:
                log.warning(
                    "worker %s lost: %d device status topics set offline",
                    state.shard,
                    len(topics),
                )

    def _on_message(self, where: str, payload: bytes, retain: bool) -> None:
        parts = where.split("/")
        if len(parts) == 5 and parts[2] == "mux" and parts[3].isdigit():
            mux_state = self.shards.get(int(parts[3]))
            if mux_state is not None and payload == OFFLINE:
                mux_state.mux_wills += 1  # the worker says on ready/done whether it came back
                log.warning("worker %s: shared connection %s dropped (will)", parts[3], parts[4])
            return
        if len(parts) != 4 or not parts[3].isdigit():
            return
        kind, k = parts[2], int(parts[3])
        state = self.shards.get(k)
        if state is None:
            log.warning("message from unknown shard %s ignored", k)
            return
        if kind == "status":
            if not state.lost and state.will_at is None:
                state.will_at = time.monotonic()
                state.wills += 1
                log.warning(
                    "worker %s: its connection dropped (MQTT will); lost unless heard "
                    "from within %.0f s",
                    state.shard,
                    WILL_GRACE_S,
                )
                self._changed.set()
            return
        if not payload:
            return  # a cleared retained message
        try:
            data = decode(payload)
        except FleetError as exc:
            log.warning("shard %s: %s, ignored", k, exc)
            return
        if state.lost:
            return  # a lost worker stays lost: its premises are already reported
        if kind == "beat" and data.get("nonce") == "" and data.get("phase") == "waiting":
            # Alive, still waiting for the config (a slow start under load): not lost.
            state.last_beat = time.monotonic()
            state.heard = True
            return
        if data.get("nonce") != self.config.nonce:
            # A worker that took an earlier run's retained config: not ours.
            log.warning("shard %s answers another run (a stale config), ignored", k)
            return
        state.last_beat = time.monotonic()
        state.heard = True
        if state.will_at is not None:
            log.warning("worker %s: heard from again after its will: not lost", state.shard)
            state.will_at = None
        if kind == "beat":
            self._beat(state, data)
        elif kind == "ready":
            state.premises = list(data.get("premises", []))
            state.devices = {
                str(name): [str(e) for e in euis]
                for name, euis in dict(data.get("devices", {})).items()
            }
            if state.phase in ("waiting", "building"):
                state.phase = "ready"
        elif kind == "done":
            state.done = data
            state.phase = "done"
        self._changed.set()

    def _beat(self, state: ShardState, data: dict[str, Any]) -> None:
        phase = str(data.get("phase", state.phase))
        if not (state.phase == "ready" and phase == "building"):
            state.phase = phase
        state.built = int(data.get("built", 0))
        state.sent = int(data.get("sent", 0))
        state.ok = int(data.get("ok", 0))
        state.failed = int(data.get("failed", 0))
        state.pid = data.get("pid")
        self.latencies_ms.extend(float(x) for x in data.get("latencies_ms", []))
        for key, target in (("reasons", self.reasons), ("kinds", self.kinds)):
            for name, n in dict(data.get(key, {})).items():
                target[name] = target.get(name, 0) + int(n)
        if self.phase == "running":
            self.recent.append((time.monotonic(), self.ok))
            del self.recent[:-40]

    @property
    def ok(self) -> int:
        return sum(s.ok for s in self.shards.values())

    def rate(self) -> float:
        """Responses per second over the last few seconds."""
        if len(self.recent) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.recent[0], self.recent[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


async def run_fleet(
    broker: str, config: FleetConfig, *, spawn: bool = True, progress: Progress | None = None
) -> FleetResult:
    return await Coordinator(broker, config).run(spawn=spawn, progress=progress)
