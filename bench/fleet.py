"""Fleet throughput through mosquitto, for one worker process and for two.

    python bench/fleet.py [--premises-per-worker P] [--rate R] [--seconds S] [--mix MIX.yaml]

Prints one JSON object: for ``one_worker`` and ``two_workers``, premises held,
service requests answered per second (target R per worker), p50/p95/p99
latency in ms, peak RSS per premises (the worker's peak resident memory over the
premises it holds, KiB) and CPU per request (worker CPU time over answered
requests, ms). A request is the whole DCC-side path: build, sign (critical),
MAC, publish to the hub's topic, the hub forwards to the ESME's topic, the ESME
answers (with encryption for sensitive reads), back through the broker to the
hub, matched and decoded. Workers are subprocesses; mosquitto is started here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from typing import Any

from emulator.han.broker import MosquittoBroker
from hil.fleet.coordinator import Coordinator, FleetConfig
from hil.fleet.mix import DEFAULT_MIX, Mix


async def one(
    broker: str,
    workers: int,
    per_worker: int,
    rate: float,
    seconds: float,
    mix: Mix,
    mux: bool | None,
) -> dict[str, Any]:
    mix = Mix(rate * workers, mix.weights, mix.timeout_s, mix.inflight)
    config = FleetConfig(
        per_worker * workers,
        workers,
        mix,
        seconds,
        run=f"bench{workers}",
        ready_timeout=900.0,
        mux=mux,
    )
    report = (await Coordinator(broker, config).run()).to_dict()
    return {
        "workers": workers,
        "premises_held": sum(w["premises"] for w in report["workers"].values() if not w["lost"]),
        "target_req_per_s": rate * workers,
        "req_per_s": report["throughput_per_s"],
        "sent": report["requests"]["sent"],
        "failed": report["requests"]["failed"],
        "latency_ms": {k: report["latency_ms"][k] for k in ("p50", "p95", "p99")},
        "peak_rss_kb_per_premises": report["peak_rss_kb_per_premises"],
        "cpu_ms_per_request": report["cpu_ms_per_request"],
        "setup_s": report["setup_s"],
        "lost_premises": len(report["lost_premises"]),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    mix = DEFAULT_MIX if args.mix is None else Mix.from_file(args.mix)
    out: dict[str, Any] = {}
    async with MosquittoBroker() as broker:
        names = {1: "one_worker", 2: "two_workers"}
        for workers in (int(w) for w in args.workers.split(",")):
            key = names.get(workers, f"{workers}_workers")
            out[key] = await one(
                broker.url,
                workers,
                args.premises_per_worker,
                args.rate,
                args.seconds,
                mix,
                args.mux,
            )
    out.update(
        {
            "broker": "mosquitto",
            "mux": args.mux,
            "mix": mix.weights,
            "seconds": args.seconds,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--premises-per-worker", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="target req/s per worker")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--mux",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one broker connection per worker (default: from 100 premises per worker)",
    )
    parser.add_argument(
        "--workers",
        default="1,2",
        help="worker counts to run, comma-separated (default 1,2)",
    )
    parser.add_argument("--mix", help="a MIX.yaml (weights; its rate is replaced by --rate)")
    print(json.dumps(asyncio.run(bench(parser.parse_args()))))


if __name__ == "__main__":
    main()
