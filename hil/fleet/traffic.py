"""Fleet premises and the seeded traffic a worker sends them.

Premises number ``i`` (0-based) is named ``p00001`` for i = 0 and has its own
EUI-64 range (`premises_base`), so premises never share an address and a shard
can be rebuilt anywhere from the index alone. Its request sequence comes from a
random generator seeded with ``(seed, i)`` only: two runs with the same seed
send every premises the same kinds in the same order, however the premises are
split across workers and whatever the timing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.runner import restore_state
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.hub import Hub, ResponseTimeout
from emulator.pki.testpki import Party, TestPki
from emulator.premises import DEFAULT_DEVICES, Premises
from hil.dcc.commands import Sender
from hil.fleet.mix import KINDS, Mix

#: EUI-64s of fleet premises: 00-DB-1F-xx-xx-xx-xx-yy, premises index in the x octets.
FLEET_BASE: Final = 0x00DB1F0000000000
MAX_PREMISES: Final = 1 << 32
#: The devices a fleet premises has besides its hub's CHF and GPF.
FLEET_DEVICES: Final = DEFAULT_DEVICES  # ESME, GSME, PPMID


def premises_name(index: int) -> str:
    return f"p{index + 1:05d}"


def premises_base(index: int) -> int:
    if not 0 <= index < MAX_PREMISES:
        raise ValueError(f"premises index {index} out of range")
    return FLEET_BASE | (index << 8)


def request_kinds(seed: str, index: int) -> random.Random:
    """The generator of premises `index`'s request kinds (see `next_kind`)."""
    return random.Random(f"{seed}/{index}")


def next_kind(rng: random.Random, mix: Mix) -> str:
    names = sorted(mix.weights)
    return rng.choices(names, weights=[mix.weights[n] for n in names])[0]


def kind_sequence(seed: str, index: int, mix: Mix, count: int) -> list[str]:
    """The first `count` kinds premises `index` is sent under `seed` (for checks and tests)."""
    rng = request_kinds(seed, index)
    return [next_kind(rng, mix) for _ in range(count)]


def settle_heap() -> int:
    """Collect what building left behind, then exempt the rest from the cyclic GC.

    After setup a worker's heap is mostly its premises (keys, certificates, COSEM
    models, links: about 400 KiB each), alive for the whole run. Every full
    collection walked all of it: with 1,000 premises 0.6 s each, 28 % of the
    worker's CPU while sending (`bench/fleet_cpu.py --premises 1000`). Frozen
    objects are still freed by reference counting; only reference cycles among
    them outlive the run, so only a process that holds its premises until it
    exits (a worker, a bench) calls this. Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@dataclass
class Outcome:
    kind: str
    ok: bool
    latency_s: float
    reason: str = ""


@dataclass
class FleetPremises:
    """One premises of a worker: its devices, and the DCC side (the supplier's `Sender`)."""

    index: int
    premises: Premises
    sender: Sender
    rng: random.Random
    state_dir: Path | None = None
    sent: int = 0
    ok: int = 0
    failed: int = 0
    kinds: list[str] = field(default_factory=list)
    #: Position in a replayed recording (`hil.fleet.record`).
    cursor: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def name(self) -> str:
        return premises_name(self.index)

    @property
    def esme(self) -> Eui64:
        return self.premises.device(DeviceType.ESME).eui

    @property
    def ppmid(self) -> Eui64:
        return self.premises.device(DeviceType.PPMID).eui

    @classmethod
    def build(
        cls,
        index: int,
        seed: str,
        mix: Mix,
        pki: tuple[TestPki, dict[AnchorRole, Party]],
        state_dir: Path | None = None,
    ) -> FleetPremises:
        premises = Premises.build(base=premises_base(index), devices=FLEET_DEVICES, pki=pki)
        ppmid = premises.device(DeviceType.PPMID)
        sender = Sender(
            premises.parties[AnchorRole.SUPPLIER].eui,
            premises.security_for(),
            device_types={bytes(ppmid.eui): "PPMID"},
        )
        own = None if state_dir is None else state_dir / premises_name(index)
        made = cls(index, premises, sender, request_kinds(seed, index), own)
        if own is not None:
            made.restore()
        return made

    # -- snapshot and resume ---------------------------------------------------------------
    def restore(self) -> None:
        """Load device state files and the DCC side's counters when a snapshot is there."""
        assert self.state_dir is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for device in self.premises.devices.values():
            path = self.state_dir / f"{device.eui.compact}.json"
            if path.exists():
                restore_state(device, path)
        dcc = self.state_dir / "dcc.json"
        if dcc.exists():
            data = json.loads(dcc.read_text())
            self.sender.counter = int(data["counter"])
            self.sender.utrn_counters.update(
                {bytes.fromhex(k): int(v) for k, v in data["utrn_counters"].items()}
            )
            self.rng.setstate(_rng_state(data["rng"]))

    def snapshot(self) -> None:
        """Write the DCC side's counters (devices write their own state as they change)."""
        if self.state_dir is None:
            return
        data = {
            "counter": self.sender.counter,
            "utrn_counters": {k.hex(): v for k, v in self.sender.utrn_counters.items()},
            "rng": _rng_json(self.rng.getstate()),
        }
        tmp = self.state_dir / "dcc.json.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.state_dir / "dcc.json")

    # -- traffic ---------------------------------------------------------------------------
    async def request(self, hub: Hub, mix: Mix) -> Outcome:
        """Send the premises' next request; one at a time so counters arrive in order."""
        async with self.lock:
            kind = next_kind(self.rng, mix)

            async def attempt() -> str:
                params: dict[str, Any] = {"partner": self.ppmid} if kind == "join" else {}
                command = self.sender.command(KINDS[kind].variant, self.esme, **params)
                raw = await hub.send(command.encode(), timeout=mix.timeout_s)
                code = decode_message(raw).message_code
                return "" if code == command.message_code else f"response code 0x{code:04X}"

            return await self.measured(kind, attempt)

    async def measured(self, kind: str, attempt: Callable[[], Awaitable[str]]) -> Outcome:
        """One request of `kind`, timed and counted: `attempt` returns why it failed ("" when
        it did not); a timeout or any error is a failure too, since a fleet never stops on
        one request (the caller holds `lock`)."""
        self.kinds.append(kind)
        self.sent += 1
        started = time.perf_counter()
        try:
            reason = await attempt()
        except ResponseTimeout:
            reason = "timeout"
        except Exception as exc:  # counted and reported
            reason = f"{type(exc).__name__}: {exc}"
        latency = time.perf_counter() - started
        if reason:
            self.failed += 1
        else:
            self.ok += 1
        return Outcome(kind, not reason, latency, reason)

    def summary(self) -> dict[str, Any]:
        # The first kinds sent: two runs with one seed can be compared premises by premises.
        return {"sent": self.sent, "ok": self.ok, "failed": self.failed, "first": self.kinds[:20]}


def _rng_json(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_state(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
