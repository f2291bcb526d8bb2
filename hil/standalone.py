"""Running one emulated device as its own process (`smets-hil device`).

The device gets its keys from the lab PKI seed and trusts the lab parties, like
the devices of `emulator.premises`; with a state file it resumes where it was
(registers, logs, replay counters) and saves after every message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from emulator.clock import RealClock
from emulator.devices.factory import create_device
from emulator.devices.runner import DeviceRunner, load_state
from emulator.gbcs.eui import Eui64
from emulator.han.link import open_link
from emulator.premises import lab_pki, provision


async def run_device(
    device_type: str,
    eui: str,
    link_url: str,
    hub_eui: str,
    gpf_eui: str,
    state_file: str | None,
    seed: str,
    echo: Callable[[str], None] = print,
    options: Mapping[str, Any] | None = None,
) -> None:
    """`options` go to the device type's constructor (an ESME's variant, auxiliary)."""
    the_pki, parties = lab_pki(seed)
    from emulator.devices.anchors import AnchorRole

    acb = parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
    device = create_device(device_type, Eui64(eui), RealClock(), acb=acb, **(options or {}))
    provision(device, the_pki, parties)
    path = Path(state_file) if state_file else None
    if path is not None and path.exists():
        device.load_state(load_state(path))
        echo(f"{device} resumed from {path}")
    link = open_link(link_url)
    async with link:
        runner = DeviceRunner(device, link, Eui64(hub_eui), state_file=path, gpf=Eui64(gpf_eui))
        runner.save()
        echo(f"{device} listening on {link_url}")
        if hasattr(device, "next_wake"):
            await runner.run_sleepy()
        else:
            await runner.serve()
    await asyncio.sleep(0)
