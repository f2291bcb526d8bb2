"""Service requests through the DCC layer: throughput and measured response times.

    python bench/dcc_requests.py [--requests N] [--link URL]

Runs the demo lab (virtual clock, in-process HAN by default) and sends N of each
of: a non-critical read (4.1.1 ECS17b), a critical command (7.2 ECS43: build,
pre-command, user signature, signature check, MAC), a refused request (7.2 from
the distributor: eligibility only) and a non-device request (8.2 Read
Inventory), one at a time as a single user would. Prints one JSON line with
requests per second per kind and the per-variant response-time figures the
layer itself measured (p50/p95/max in milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from hil.dcc.lab import DEFAULT_LAB, Lab

LAB = DEFAULT_LAB

KINDS: dict[str, tuple[str, str, str]] = {
    "read_4.1.1": ("4.1.1", "supplier", "ESME"),
    "critical_7.2": ("7.2", "supplier", "ESME"),
    "refused_7.2": ("7.2", "dno", "ESME"),
    "non_device_8.2": ("8.2", "energy-app", "ESME"),
}


async def run(count: int, link: str | None) -> dict[str, Any]:
    lab = Lab.load(LAB, link=link)
    out: dict[str, Any] = {"requests_per_kind": count, "link": None}
    async with lab:
        out["link"] = lab.link_url
        dcc = lab.dcc
        assert dcc is not None
        for name, (variant, user, target) in KINDS.items():
            eui = lab.eui(target)
            started = time.perf_counter()
            for _ in range(count):
                await dcc.request(variant, as_user=user, target=eui)
            elapsed = time.perf_counter() - started
            out[f"{name}_per_s"] = round(count / elapsed, 1)
        out["failed"] = sum(1 for r in dcc.results.values() if r.status.value == "failed")
        out["variants"] = {
            s.variant: {
                "count": s.count,
                "p50_ms": round(s.p50 * 1000, 3),
                "p95_ms": round(s.p95 * 1000, 3),
                "max_ms": round(s.max * 1000, 3),
                "breaches": s.breaches,
            }
            for s in dcc.timings.per_variant()
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--link", help="HAN link URL (default: the lab file's, memory://)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.requests, args.link))))


if __name__ == "__main__":
    main()
