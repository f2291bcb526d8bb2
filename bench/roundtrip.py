"""Command round trips through a whole premises, per link type, and idle device memory.

    python bench/roundtrip.py [--seconds S] [--devices N] [--inflight K] [--broker B]

Prints one JSON line::

    {"memory_rtt_per_s", "pty_rtt_per_s", "mqtt_rtt_per_s", "mqtt_broker", "idle_device_kb", ...}

A round trip is the real thing with crypto on: the supplier's `Sender` builds a
4.1.1 read (a sensitive read: the answer is encrypted), the DCC MACs it, the hub
routes it over the link, the ESME decodes it, checks authorisation, the replay
counter and the MAC, executes it, encrypts the registers and MACs its response,
which travels back over the link to the hub and is matched to the waiting
`Hub.send`. The bench side does not verify responses (a DCC adapter would; that
costs one more MAC check per answer, see bench/codec.py for its rate). K
commands are in flight at once (K tasks calling `hub.send`, each command with
its own counter), which is how a head-end drives a hub.

Links: memory (in-process medium), pty (the ESME on the slave side of a real
pseudo-terminal, the hub on its master), mqtt (mosquitto if `find_mosquitto()`
finds one, else the embedded amqtt broker; ``mqtt_broker`` says which;
``--broker`` chooses).

``idle_device_kb``: resident memory one idle emulated ESME costs: growth of RSS
(/proc/self/statm) over N ESMEs built and provisioned as `Premises.build` does
(own keys and certificates from the lab PKI, the lab's trust anchors, an entry
in the CHF Device Log), divided by N. Measured first, in a fresh heap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
from typing import Any

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, DeviceType
from emulator.devices.factory import create_device
from emulator.gbcs.eui import Eui64
from emulator.han.broker import EmbeddedBroker, MosquittoBroker, find_mosquitto
from emulator.han.memory import MemoryMedium
from emulator.han.serial import pty_pair
from emulator.hub import Hub
from emulator.premises import Premises, device_eui, provision
from hil.dcc.commands import Sender

ESME_ONLY = ((DeviceType.ESME, 0xA0),)
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def idle_device_kb(n: int) -> float:
    """RSS growth per ESME over `n` devices provisioned like Premises.build does it."""
    premises = Premises.build(devices=ESME_ONLY)  # the lab PKI and one device: warm caches
    pki, parties = premises.pki, premises.parties
    chf, clock = premises.chf, premises.clock
    acb = parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
    base = 0x00DB120000000000
    gc.collect()
    before = rss()
    fleet: list[Device] = []
    for i in range(n):
        device = create_device(DeviceType.ESME, device_eui(base, 0x1000 + i), clock, acb=acb)
        provision(device, pki, parties)
        chf.add_device(device.eui, 0, b"install-code-%06d" % i)
        fleet.append(device)
    gc.collect()
    grown = rss() - before
    del fleet
    return grown / n / 1024


async def drive(hub: Hub, sender: Sender, target: Eui64, seconds: float, inflight: int) -> float:
    """Round trips per second with `inflight` concurrent senders, after a short warm-up."""
    done = 0
    stop_at = 0.0
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        nonlocal done
        while loop.time() < stop_at:
            await hub.send(sender.command("4.1.1", target).encode(), timeout=10.0)
            done += 1

    stop_at = loop.time() + min(0.3, seconds / 5)  # warm-up: caches, broker sessions
    await asyncio.gather(*(worker() for _ in range(inflight)))
    done = 0
    start = loop.time()
    stop_at = start + seconds
    await asyncio.gather(*(worker() for _ in range(inflight)))
    return done / (loop.time() - start)


async def over(url: str, seconds: float, inflight: int, pty: bool = False) -> float:
    premises = Premises.build(devices=ESME_ONLY)
    esme = premises.device(DeviceType.ESME)
    sender = Sender(premises.parties[AnchorRole.SUPPLIER].eui, premises.security_for())
    async with contextlib.AsyncExitStack() as stack:
        per_device = None
        if pty:
            pair = stack.enter_context(pty_pair())
            per_device = {bytes(esme.eui): f"{pair.master_url} {pair.slave_url}"}
        await stack.enter_async_context(premises)
        hub = await premises.connect(url, per_device_urls=per_device)
        return await drive(hub, sender, esme.eui, seconds, inflight)


async def links(seconds: float, inflight: int, which: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["memory_rtt_per_s"] = round(await over(MemoryMedium().url, seconds, inflight))
    out["pty_rtt_per_s"] = round(await over(MemoryMedium().url, seconds, inflight, pty=True))
    broker: EmbeddedBroker | MosquittoBroker
    if which == "mosquitto" or (which == "auto" and find_mosquitto() is not None):
        broker, out["mqtt_broker"] = MosquittoBroker(), "mosquitto"
    else:
        broker, out["mqtt_broker"] = EmbeddedBroker(), "amqtt"
    async with broker:
        out["mqtt_rtt_per_s"] = round(await over(broker.url_for("bench"), seconds, inflight))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per link")
    parser.add_argument("--devices", type=int, default=2000, help="idle ESMEs for idle_device_kb")
    parser.add_argument("--inflight", type=int, default=4, help="commands in flight at once")
    parser.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "amqtt"),
        default="auto",
        help="MQTT broker: mosquitto when installed (auto), or the embedded amqtt",
    )
    args = parser.parse_args()
    result: dict[str, Any] = {"idle_device_kb": round(idle_device_kb(args.devices), 1)}
    result.update(asyncio.run(links(args.seconds, args.inflight, args.broker)))
    ordered = {
        key: result[key]
        for key in ("memory_rtt_per_s", "pty_rtt_per_s", "mqtt_rtt_per_s", "mqtt_broker")
    }
    ordered["idle_device_kb"] = result["idle_device_kb"]
    ordered.update(
        {
            "inflight": args.inflight,
            "seconds": args.seconds,
            "devices": args.devices,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }
    )
    print(json.dumps(ordered))


if __name__ == "__main__":
    main()
