"""Firmware distribution throughput: OTA image bytes per second through the hub.

    python bench/firmware.py [--size BYTES] [--links memory,serial,mqtt,mosquitto]
    python bench/firmware.py --rollout 200 [--drop-share 0.05] [--broker mosquitto]

Prints one JSON line per link type: {"link", "block_size", "image_bytes",
"blocks", "seconds", "bytes_per_s"}. Each run builds a premises, gives a signed
OTA image of about --size bytes to the hub for the ESME (Hub.distribute) and
times it until the hub reports the transfer's outcome (CCS08): decode at the
hub, the block exchange over the link, the device's hash check. "serial" is a
real pty pair; "mqtt" goes through the embedded amqtt broker, "mosquitto"
through a mosquitto it starts.

--rollout N rolls a new image out to N premises (ESME and PPMID each) over MQTT
(hil/rollout.py), --drop-share of them losing the ESME's link part-way, and
prints one JSON line: devices updated, failed with their reasons, wall time and
image bytes per second through the hubs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time
from typing import Any

from emulator.devices.base import DeviceType
from emulator.han.broker import EmbeddedBroker, MosquittoBroker
from emulator.han.memory import MemoryMedium
from emulator.han.serial import pty_pair
from emulator.hub_ota import Outcome, block_size_for
from emulator.premises import Premises
from hil.firmware import build_image, lab_supplier


async def one(link: str, image: bytes) -> dict[str, Any]:
    async with contextlib.AsyncExitStack() as stack:
        premises = Premises.build()
        esme = premises.device(DeviceType.ESME)
        per_device: dict[bytes, str] | None = None
        if link == "memory":
            url = MemoryMedium().url
        elif link == "serial":
            pty = stack.enter_context(pty_pair())
            url = MemoryMedium().url
            per_device = {bytes(esme.eui): f"{pty.master_url} {pty.slave_url}"}
        else:
            started = MosquittoBroker() if link == "mosquitto" else EmbeddedBroker()
            broker = await stack.enter_async_context(started)
            url = broker.url_for(f"bench{secrets.token_hex(4)}")
        await stack.enter_async_context(premises)
        hub = await premises.connect(url, per_device_urls=per_device)
        target = bytes(esme.eui)
        start = time.perf_counter()
        if hub.distribute(esme.eui, image, esme.hardware_version) is not None:
            raise SystemExit(f"{link}: the hub refused the image")
        while not hub.ota.outcomes:
            await asyncio.sleep(0.001)
        seconds = time.perf_counter() - start
        [(who, outcome)] = hub.ota.outcomes
        if who != target or outcome != Outcome.TRANSFER_SUCCEEDED:
            raise SystemExit(f"{link}: transfer ended with {outcome}")
        return {
            "link": link,
            "block_size": block_size_for(hub.routes.get(target, hub.link).url),
            "image_bytes": len(image),
            "blocks": len(hub.ota.sent),
            "seconds": round(seconds, 3),
            "bytes_per_s": round(len(image) / seconds),
        }


async def rollout(premises: int, drop_share: float, broker_kind: str, size: int) -> dict[str, Any]:
    from hil.rollout import run_rollout

    started = MosquittoBroker() if broker_kind == "mosquitto" else EmbeddedBroker()
    async with started as broker:
        report = await run_rollout(
            lambda i: broker.url_for(f"rollout{i}"),
            premises,
            drop_share=drop_share,
            image_size=size,
        )
    return {"rollout": premises, "broker": broker_kind, **report.as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--links", default="memory,serial,mqtt")
    parser.add_argument("--rollout", type=int, default=0, help="premises in a rollout")
    parser.add_argument("--drop-share", type=float, default=0.05)
    parser.add_argument("--broker", choices=("mosquitto", "amqtt"), default="mosquitto")
    args = parser.parse_args()
    if args.rollout:
        size = 8 * 1024 if args.size == 64 * 1024 else args.size
        result = asyncio.run(rollout(args.rollout, args.drop_share, args.broker, size))
        print(json.dumps(result), flush=True)
        return
    signer, _ = lab_supplier()
    body = bytes(i * 7 % 251 for i in range(args.size))
    image = build_image(body, manufacturer=0x1234, image_type=1, version=0x01000003, signer=signer)
    for link in args.links.split(","):
        print(json.dumps(asyncio.run(one(link, image))), flush=True)


if __name__ == "__main__":
    main()
