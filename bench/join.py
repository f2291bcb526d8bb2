"""Premises installed and joined from scratch per second, through one embedded broker.

    python bench/join.py [--max 1000] [--concurrency 50]

For 1, 10, 100, ... up to `--max` premises (each a CHF, GPF, ESME, GSME and
PPMID, all pending on the SMI), one process runs one lab on the embedded amqtt
broker (`link: mqtt-embedded`; each premises its own topic prefix) and installs
every premises as `hil/fixtures/scenarios/join/install-premises.yaml` does: CH
installed (8.14.1); ESME, GSME and PPMID added to the CHF Device Log (8.11, CCS01)
and joining the HAN with their install codes (a JOIN envelope over MQTT, a CS14
each); ESME and PPMID paired both ways (8.7.1, CS03A1 and CS03A2) and
commissioned (8.1.1); then, for all premises, GSME and GPF paired (8.7.2, CS03B)
and commissioned. Premises run concurrently (`--concurrency` at a time) on one
virtual clock, so the gas side (the sleepy GSME answers when it wakes, moving
the clock) comes after every join window is used; a gas command still
unanswered after 0.5 s wakes its meter again (`gas_rewakes`: the lab's wake-up
listens 50 ms of real time, which a loaded broker can miss). Each premises must
end with every device commissioned and joined, or the run fails.

Prints one JSON line per size: premises per second over the installation (the
lab's start, i.e. building the devices and connecting them, is timed apart),
requests per second, and the peak memory per premises: the growth of the
process's peak RSS while the size ran, divided by the premises (the first size
pays for the interpreter and imports, so later sizes are the fairer figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from typing import Any

from emulator.premises import Premises
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab, LabSpec
from hil.dcc.service import Dcc

USERS = """
users:
  supplier:
    roles: [Import Supplier, Export Supplier, Gas Supplier]
    id: 90-B3-D5-1F-30-01-00-00
"""
DEVICES = ("ESME", "GSME", "PPMID")
#: The DCC's wait for a response (real seconds); a missed gas wake-up costs this much.
RESPONSE_TIMEOUT_S = 15


def lab_text(count: int) -> str:
    lines = [
        "name: join bench",
        "seed: smets-hil-lab",
        "clock: virtual",
        'start: "2026-01-05T09:00:00Z"',
        "link: mqtt-embedded",
        f"response_timeout_s: {RESPONSE_TIMEOUT_S}",
        USERS,
        "premises:",
    ]
    for index in range(count):
        base = 0x00DB100000000000 + (index << 12)
        lines += [
            f"  - name: premises {index}",
            f'    base: "0x{base:016X}"',
            "    devices:",
            "      - {type: CHF, suffix: A2, status: pending}",
            "      - {type: GPF, suffix: A3, status: pending}",
            "      - {type: ESME, suffix: A0, status: pending}",
            "      - {type: GSME, suffix: A1, status: pending}",
            "      - {type: PPMID, suffix: A4, status: pending}",
            "    registration: {import_supplier: supplier, gas_supplier: supplier}",
        ]
    return "\n".join(lines) + "\n"


class Failed(Exception):
    pass


#: Requests sent again after NO_RESPONSE, by variant: a virtual gas meter's wake-up
#: listens 50 ms of real time for its queued commands, which a loaded broker can miss.
RETRIED: Counter[str] = Counter()
RETRIES = 3


async def _request(dcc: Dcc, variant: str, target: Any, **kwargs: Any) -> None:
    for _ in range(RETRIES + 1):
        result = await dcc.request(variant, as_user="supplier", target=target, **kwargs)
        if result.ok:
            return
        if result.reason != "NO_RESPONSE":
            break
        RETRIED[variant] += 1
    raise Failed(f"{variant} to {target}: {result.reason} {result.detail}")


#: JOINs sent again after one failed (unsent, unanswered or refused), by device type:
#: a real device retries; a loaded broker can hold an envelope past the link's timeout.
JOIN_RETRIED: Counter[str] = Counter()
JOIN_ATTEMPTS = 4


async def _han_join(premises: Premises, name: str) -> None:
    """The device's JOIN handshake over its link (as the scenario's `han_join` step),
    retried as a device would when an attempt fails."""
    device = next(d for d in premises.devices.values() if d.device_type.value == name)
    for attempt in range(JOIN_ATTEMPTS):
        if attempt:
            JOIN_RETRIED[name] += 1
        if await premises.han_join(device.eui):
            break
    else:
        raise Failed(f"{name} of {premises.chf.eui} did not join: {device.han.last_refusal}")
    entry = premises.chf.device_log.get(bytes(device.eui))
    if entry is None or not entry.link_key_hash:
        raise Failed(f"{name} of {premises.chf.eui} joined but is not in the CHF Device Log")


async def install(dcc: Dcc, premises: Premises) -> int:
    """The CH, the HAN joins, the electricity side; the service requests it took."""
    euis = {d.device_type.value: d.eui for d in premises.devices.values()}
    chf = premises.chf.eui
    await _request(dcc, "8.14.1", chf)
    for name in DEVICES:
        await _request(dcc, "8.11", chf, option="add", params={"device": str(euis[name])})
        await _han_join(premises, name)
    await _request(dcc, "8.7.1", euis["ESME"], params={"partner": str(euis["PPMID"])})
    await _request(dcc, "8.7.1", euis["PPMID"], params={"partner": str(euis["ESME"])})
    for eui in (euis["ESME"], euis["PPMID"]):
        await _request(dcc, "8.1.1", eui)
    return 1 + 3 + 2 + 2


#: Extra wake-ups of a gas meter whose command was still unanswered after REWAKE_S.
REWAKES: Counter[str] = Counter()
REWAKE_S = 0.5


async def _gas_request(
    dcc: Dcc, premises: Premises, gsme: Any, variant: str, target: Any, **kwargs: Any
) -> None:
    """A request the sleepy GSME answers when it wakes. The lab wakes it at once and
    listens 50 ms of real time; a command a loaded broker delivers later waits on
    the meter's link, so the meter wakes again (as on its schedule) until it answers."""
    result = await dcc.request(variant, as_user="supplier", target=target, wait=False, **kwargs)
    runner = premises.runner_for(gsme)
    while not result.done:
        try:
            await result.wait(REWAKE_S)
        except TimeoutError:
            REWAKES[variant] += 1
            await runner.wake(listen=0.05)
    if not result.ok:
        raise Failed(f"{variant} to {target}: {result.reason} {result.detail}")


async def install_gas(dcc: Dcc, premises: Premises) -> int:
    """The gas side: the sleepy GSME answers when it wakes, so this moves the lab's
    virtual clock (by a wake interval); it runs after every join window is used."""
    gsme = next(d.eui for d in premises.devices.values() if d.device_type.value == "GSME")
    gpf = premises.gpf.eui
    await _gas_request(dcc, premises, gsme, "8.7.2", gsme, params={"partner": str(gpf)})
    await _gas_request(dcc, premises, gsme, "8.1.1", gsme)
    await _request(dcc, "8.1.1", gpf)  # on the SMI only: no command
    return 3


def _peak_rss_kb() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS reports bytes


async def run(count: int, concurrency: int, gas_concurrency: int) -> dict[str, Any]:
    RETRIED.clear()
    REWAKES.clear()
    JOIN_RETRIED.clear()
    rss_before = _peak_rss_kb()
    t0 = time.perf_counter()
    lab = Lab.build(LabSpec.from_yaml(lab_text(count), "join bench"))
    built = time.perf_counter()
    async with lab:
        started = time.perf_counter()
        dcc = lab.dcc
        assert dcc is not None
        gate = asyncio.Semaphore(concurrency)

        async def one(premises: Premises) -> int:
            async with gate:
                return await install(dcc, premises)

        gas_gate = asyncio.Semaphore(gas_concurrency)

        async def gas(premises: Premises) -> int:
            async with gas_gate:
                return await install_gas(dcc, premises)

        requests = sum(await asyncio.gather(*(one(p) for p in lab.premises)))
        joined_at = time.perf_counter()
        requests += sum(await asyncio.gather(*(gas(p) for p in lab.premises)))
        elapsed = time.perf_counter() - started
        not_done = [d for d in lab.inventory if d.status != SmiStatus.COMMISSIONED]
        if not_done:
            raise Failed(f"{len(not_done)} devices not commissioned, e.g. {not_done[0].eui}")
        for premises in lab.premises:
            joined = [e for e in premises.chf.device_log.values() if e.link_key_hash]
            if len(joined) != len(DEVICES):
                raise Failed(f"{premises.chf.eui}: {len(joined)} devices joined")
        drops = sum(sum(p.hub.drops.values()) for p in lab.premises if p.hub is not None)
    rss_after = _peak_rss_kb()
    return {
        "premises": count,
        "devices": count * 5,
        "link": "mqtt-embedded (amqtt)",
        "concurrency": min(concurrency, count),
        "gas_concurrency": min(gas_concurrency, count),
        "premises_per_s": round(count / elapsed, 2),
        "requests_per_s": round(requests / elapsed, 1),
        "install_s": round(elapsed, 3),
        "join_phase_s": round(joined_at - started, 3),
        "gas_phase_s": round(elapsed - (joined_at - started), 3),
        "lab_build_s": round(built - t0, 3),
        "lab_start_s": round(started - built, 3),
        "hub_drops": drops,
        "retried_after_no_response": dict(RETRIED),
        "join_retries": dict(JOIN_RETRIED),
        "gas_rewakes": dict(REWAKES),
        "peak_rss_mb": round(rss_after / 1024, 1),
        "peak_rss_growth_kb_per_premises": round(max(rss_after - rss_before, 0) / count, 1),
    }


def sizes(largest: int) -> list[int]:
    out = [n for n in (1, 10, 100, 1000) if n < largest]
    return [*out, largest]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max", type=int, default=1000, help="largest number of premises")
    parser.add_argument("--concurrency", type=int, default=20, help="premises installed at once")
    parser.add_argument(
        "--gas-concurrency",
        type=int,
        default=1,
        help="gas sides at once (above 1, wake-ups on the one virtual clock overtake each other)",
    )
    args = parser.parse_args()
    if min(args.max, args.concurrency, args.gas_concurrency) < 1:
        parser.error("--max, --concurrency and --gas-concurrency must be at least 1")
    for count in sizes(args.max):
        try:
            print(
                json.dumps(asyncio.run(run(count, args.concurrency, args.gas_concurrency))),
                flush=True,
            )
        except Failed as exc:
            print(json.dumps({"premises": count, "failed": str(exc)}), flush=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
