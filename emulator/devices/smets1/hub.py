"""A SMETS1 communications hub on a link: vendor commands in, replies out.

The hub answers `VENDOR` envelopes addressed to it for itself and the devices
it hosts. Each command waits the model's delay on the injected clock before the
device executes it (on a virtual clock the wait moves time, as a gas meter's
wake-up does), so the reply says when it ran and after how long. The hub's
firmware regime carries PPMID images (`hub_load_firmware`). What it cannot use
(another envelope kind, a body that does not decode, an unknown device) is
counted in `drops`, logged, and answered with a NACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from emulator.clock import Clock
from emulator.devices.smets1.meters import Smets1Device, Smets1Ppmid
from emulator.devices.smets1.protocol import (
    VendorCommand,
    VendorProtocolError,
    VendorReply,
    decode_command,
)
from emulator.errors import LinkClosed
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link

log = logging.getLogger(__name__)


class Smets1Hub:
    def __init__(
        self, hub: Smets1Device, devices: list[Smets1Device], clock: Clock, *, seed: str
    ) -> None:
        self.device = hub
        self.clock = clock
        self.devices: dict[str, Smets1Device] = {hub.eui.compact: hub}
        for d in devices:
            self.devices[d.eui.compact] = d
        self.rng = hub.profile.delay.generator(f"{seed}:{hub.eui.compact}")
        self.drops: Counter[str] = Counter()
        self.link: Link | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._sequence = 0

    async def start(self, link: Link) -> None:
        self.link = link
        self._task = asyncio.create_task(self._serve(), name=f"smets1-hub[{self.device.eui}]")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _drop(self, reason: str, detail: str) -> None:
        self.drops[reason] += 1
        log.warning("SMETS1 hub %s: dropped (%s): %s", self.device.eui, reason, detail)

    async def _serve(self) -> None:
        assert self.link is not None
        while True:
            try:
                env = await self.link.recv()
            except LinkClosed:
                return
            if env.kind != EnvelopeKind.VENDOR:
                self._drop("not a vendor message", f"{env.kind.name} from {env.source}")
                continue
            try:
                command = decode_command(env.payload)
            except VendorProtocolError as exc:
                self._drop("undecodable", str(exc))
                await self._send(env, EnvelopeKind.NACK, str(exc).encode(), env.sequence)
                continue
            if command.device not in self.devices:
                self._drop("unknown device", command.device)
                await self._send(env, EnvelopeKind.NACK, b"unknown device", env.sequence)
                continue
            task = asyncio.create_task(self._execute(env, command))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _execute(self, env: Envelope, command: VendorCommand) -> None:
        delay = self.device.profile.delay.draw(self.rng)
        if delay > 0:
            await self.clock.sleep(delay)
        if command.cmd == "hub_load_firmware":
            reply = self._hub_firmware(command, delay)
        else:
            reply = self.devices[command.device].execute(command, delay)
        await self._send(env, EnvelopeKind.VENDOR, reply.encode())

    def _hub_firmware(self, command: VendorCommand, delay: float) -> VendorReply:
        """The hub's firmware regime: it takes the image and moves it to the PPMID."""
        args: dict[str, Any] = command.args
        target = self.devices.get(str(args["for_device"]))
        hub = self.device
        if not isinstance(target, Smets1Ppmid):
            return VendorReply(
                command.id, command.device, "rejected", "NOT_A_PPMID",
                "the hub regime carries PPMID images only", {}, hub.local_time, hub.dst, delay,
            )  # fmt: skip
        target.receive_from_hub(str(args["image_hash"]), str(args["version"]))
        hub.commands["hub_load_firmware"] += 1
        return VendorReply(
            command.id, command.device, "ok", "OK", "", {"held_by": target.eui.compact},
            hub.local_time, hub.dst, delay,
        )  # fmt: skip

    async def _send(
        self, to: Envelope, kind: EnvelopeKind, payload: bytes, sequence: int | None = None
    ) -> None:
        assert self.link is not None
        if sequence is None:
            self._sequence += 1
            sequence = self._sequence
        reply = Envelope(self.device.eui, to.source, kind, payload, sequence)
        try:
            await self.link.send(reply)
        except LinkClosed as exc:
            self._drop("link closed", str(exc))
