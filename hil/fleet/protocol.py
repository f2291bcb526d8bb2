"""The control protocol between a fleet's coordinator and its workers, over the broker.

Every control message is compact JSON on a topic under ``smets-fleet/<run>/``:

==================  ===========  =====================================================
topic               from         what
==================  ===========  =====================================================
``config``          coordinator  the run (premises, workers, seed, mix, duration);
                                 retained so a worker started later still gets it
``ready/<K>``       worker K     its premises are built and connected, and the
                                 EUIs of their devices
``start``           coordinator  send traffic now
``beat/<K>``        worker K     every `BEAT_S`: phase and counters since the last
                                 beat (latencies in ms, failures by reason)
``status/<K>``      broker       the worker's MQTT will, ``lost``: published by the
                                 broker when the worker's connection drops
``mux/<K>/<role>``  broker/K    ``online`` on every connect of a worker's shared
                                 connection, ``offline`` (its will) when it drops
``done/<K>``        worker K     final per-premises counts
``stop``            coordinator  abort (Ctrl-C, or the run is over)
==================  ===========  =====================================================

QoS 1 except beats (QoS 0: a late PUBACK must not delay the next). Retained:
``config`` and ``done/<K>`` (a coordinator reconnecting after a broker outage
still gets a ``done`` sent meanwhile), both cleared at the end of the run, and
``mux/<K>/<role>``. The clients are `hil.fleet.control.Control`: they connect
again after a broker restart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from hil.errors import HilError

ROOT: Final = "smets-fleet"
#: Seconds between two heartbeats of a worker.
BEAT_S: Final = 0.5
#: A worker silent this long (no beat) is lost. Long, because a worker on a
#: saturated machine beats late; a dead one is noticed sooner through its will.
BEAT_TIMEOUT_S: Final = 30.0
LOST: Final = b"lost"
#: MQTT keepalive of control clients (the broker drops a silent one after 1.5x).
KEEPALIVE_S: Final = 30


class FleetError(HilError):
    """A fleet that cannot run as asked: a bad shard, an unreachable broker, a lost worker."""


def topic(run: str, *parts: str | int) -> str:
    return "/".join((ROOT, run, *(str(p) for p in parts)))


def check_run(run: str) -> str:
    # No '.': RabbitMQ's MQTT plugin maps '.' in topics to '/' and back, which breaks
    # topic levels holding one (see docs/fleet.md).
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run):
        raise FleetError(f"run name must be 1-64 letters, digits, '_' or '-': {run!r}")
    return run


@dataclass(frozen=True)
class Shard:
    """Worker K of N (1-based), owning premises index i when i % N == K - 1."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise FleetError(f"shard must be K/N (e.g. 1/2), got {text!r}")
        k, n = int(match[1]), int(match[2])
        if not 1 <= k <= n:
            raise FleetError(f"shard {k}/{n}: K must be between 1 and N")
        return cls(k, n)

    def owns(self, premises: int) -> bool:
        return premises % self.count == self.index - 1

    def premises(self, total: int) -> list[int]:
        return [i for i in range(total) if self.owns(i)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def decode(payload: object) -> dict[str, Any]:
    if not isinstance(payload, bytes | bytearray):
        raise FleetError(f"control message is not bytes: {type(payload).__name__}")
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise FleetError(f"control message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FleetError("control message is not a JSON object")
    return data
