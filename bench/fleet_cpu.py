"""CPU per fleet request in one process through mosquitto: the figure load does not blur.

    python bench/fleet_cpu.py [--premises P] [--requests R] [--inflight K] [--no-mux]
                              [--no-settle] [--profile OUT.prof]

`bench/fleet.py` measures a worker subprocess on a machine shared with other
work, where requests per second mostly say how much CPU the worker was given.
This builds P premises in this process as a worker does (one `Mux` connection,
or 4 connections per premises with ``--no-mux``), sends each one warm-up
request (ECDH caches), then R requests of the default mix round-robin with K
outstanding, and prints JSON: CPU ms per request (process time), wall time,
req/s and latency percentiles. ``--profile`` writes a cProfile dump (CPU time)
of the measured part only. Like a worker, it freezes the built premises out of
the cyclic garbage collector before measuring (`settle_heap`; ``--no-settle``
measures without).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import time
from typing import Any

from emulator.han.broker import MosquittoBroker
from emulator.premises import lab_pki
from hil.fleet import mux
from hil.fleet.coordinator import percentiles
from hil.fleet.mix import DEFAULT_MIX
from hil.fleet.traffic import FleetPremises, settle_heap
from hil.fleet.worker import _connect


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    mix = DEFAULT_MIX
    async with MosquittoBroker() as broker:
        pki = lab_pki()
        fleet = [FleetPremises.build(i, "bench-cpu", mix, pki) for i in range(args.premises)]
        url = broker.url
        if args.mux:
            await mux.register("bench-cpu", broker.url)
            url = f"{mux.SCHEME}://bench-cpu"
        try:
            for p in fleet:
                lab = f"bench-cpu-{p.name}"
                await _connect(p, f"{url}/{lab}", f"{url}/{lab}")
            hubs = [p.premises.hub for p in fleet if p.premises.hub is not None]
            await asyncio.gather(*(p.request(h, mix) for p, h in zip(fleet, hubs, strict=True)))
            if args.settle:
                settle_heap()  # as a worker does before it says ready
            slots = asyncio.Semaphore(args.inflight)
            latencies: list[float] = []
            failed = 0

            async def one(i: int) -> None:
                nonlocal failed
                p = fleet[i % len(fleet)]
                async with slots:
                    outcome = await p.request(hubs[i % len(fleet)], mix)
                latencies.append(outcome.latency_s * 1000.0)
                failed += not outcome.ok

            profiler = cProfile.Profile(time.process_time) if args.profile else None
            if profiler is not None:
                profiler.enable()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(args.requests)))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
        finally:
            for p in fleet:
                await p.premises.close()
            if args.mux:
                await mux.unregister("bench-cpu")
    return {
        "premises": args.premises,
        "requests": args.requests,
        "failed": failed,
        "mux": args.mux,
        "settle": args.settle,
        "inflight": args.inflight,
        "cpu_ms_per_request": round(cpu / args.requests * 1000.0, 3),
        "wall_s": round(wall, 2),
        "req_per_s": round(args.requests / wall, 1),
        "latency_ms": percentiles(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--premises", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--mux", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--profile", help="write a cProfile dump of the measured part here")
    parser.add_argument(
        "--settle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="freeze the built premises out of the cyclic GC first, as a worker does",
    )
    print(json.dumps(asyncio.run(measure(parser.parse_args()))))


if __name__ == "__main__":
    main()
