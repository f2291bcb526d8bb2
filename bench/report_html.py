"""HTML report: its size and the time to write it, for a run of three fixture scenarios.

    python bench/report_html.py [--repeat N]

Runs read-registers, disable-enable-supply and future-dated-price on the demo lab
(virtual clock), then writes the HTML report of that run N times (default 3).
Prints one JSON line: scenarios, messages, bytes, and the fastest and slowest
write in seconds. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from hil.fixtures import FIXTURES
from hil.report.html import write_html
from hil.scenario.model import load_scenarios
from hil.scenario.runner import run_scenarios

FILES = ("read-registers.yaml", "disable-enable-supply.yaml", "future-dated-price.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenarios = [s for name in FILES for s in load_scenarios(FIXTURES / "scenarios" / name)]
    record = asyncio.run(run_scenarios(scenarios, seed=1, interactive=False))
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            write_html(record, str(out))
            times.append(time.perf_counter() - t0)
        size = out.stat().st_size
    print(
        json.dumps(
            {
                "scenarios": len(record.scenarios),
                "messages": sum(len(s.messages) for s in record.scenarios),
                "bytes": size,
                "write_s_min": round(min(times), 2),
                "write_s_max": round(max(times), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
