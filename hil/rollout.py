"""A firmware rollout over many premises on one HAN transport (bench/firmware.py --rollout).

Each premises (a hub, an ESME and a PPMID, sharing the lab's test PKI) gets a new
image for both devices through its hub; a share of the premises lose their HAN
link part-way through the ESME's transfer for a while (every envelope to the
ESME vanishes), and the hub's stall timer offers the image again when it is back.
When the transfers have ended, each ESME that holds its image is sent a CS06 by
the supplier (signed and MACed, through the hub); the PPMID activates on receipt
(CS05c). Every device ends either on the new version or in `failed` with a reason.

The premises run on the real clock (the hub's stall timer is `retry` real seconds):
the figures are wall time and image bytes per second through the hubs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import RealClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, DeviceType
from emulator.gbcs import ota
from emulator.gbcs.asn1 import DerConstructed, DerInteger
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.hub import HubError
from emulator.hub_ota import Outcome
from emulator.premises import Premises, lab_pki
from hil.dcc.commands import Sender
from hil.firmware import IMAGE_TYPES, LAB_HARDWARE, LAB_MANUFACTURER, build_image, lab_supplier

NEW_VERSION = 0x01000002
DEVICES = ((DeviceType.ESME, 0xA0), (DeviceType.PPMID, 0xA4))


@dataclass
class RolloutReport:
    premises: int
    devices: int = 0
    updated: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # device EUI -> reason
    dropped_links: list[str] = field(default_factory=list)  # premises whose link dropped
    #: Of those, transfers that went on after the drop without sending the start again.
    resumed: int = 0
    image_bytes: int = 0  # bytes of images moved to devices that took them whole
    transfer_s: float = 0.0
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "premises": self.premises,
            "devices": self.devices,
            "updated": self.updated,
            "failed": len(self.failed),
            "failures": dict(sorted(self.failed.items())),
            "dropped_links": len(self.dropped_links),
            "resumed_after_drop": self.resumed,
            "image_bytes": self.image_bytes,
            "transfer_s": round(self.transfer_s, 3),
            "bytes_per_s": round(self.image_bytes / self.transfer_s) if self.transfer_s else 0,
            "wall_s": round(self.wall_s, 3),
        }


def rollout_images(size: int, seed: str = "smets-hil-lab") -> dict[DeviceType, bytes]:
    """A signed ESME image and an unsigned PPMID one (CS05c) of about `size` bytes."""
    signer, _ = lab_supplier(seed)
    images = {}
    for kind in (DeviceType.ESME, DeviceType.PPMID):
        body = bytes((i * 7 + len(kind.value)) % 251 for i in range(size))
        images[kind] = build_image(
            body,
            manufacturer=LAB_MANUFACTURER,
            image_type=IMAGE_TYPES[kind.value],
            version=NEW_VERSION,
            signer=signer if ota.signed_for(kind.value) else None,
            hardware=LAB_HARDWARE,
        )
    return images


def _drop_while(target: bytes, after: int, seconds: float) -> Callable[[bytes], list[bytes]]:
    """A link filter: once the block at `after` has gone to `target`, every envelope to
    it vanishes for `seconds` (the link is down), then all pass again."""
    down_since: list[float] = []

    def manipulate(raw: bytes) -> list[bytes]:
        env = Envelope.decode(raw)
        if bytes(env.destination) != target:
            return [raw]
        if down_since:
            return [] if time.monotonic() - down_since[0] < seconds else [raw]
        if (
            env.kind == EnvelopeKind.OTA_BLOCK
            and int.from_bytes(env.payload[32:36], "big") >= after
        ):
            down_since.append(time.monotonic())
            return []
        return [raw]

    return manipulate


async def run_rollout(
    url_for: Callable[[int], str],
    premises: int,
    *,
    drop_share: float = 0.05,
    drop_seconds: float = 2.0,
    retry: float = 5.0,
    image_size: int = 8 * 1024,
    seed: int = 1,
    timeout: float = 600.0,
) -> RolloutReport:
    """Roll the new image out to `premises` premises; `url_for(i)` is premises i's HAN URL."""
    started = time.perf_counter()
    report = RolloutReport(premises)
    pki = lab_pki()
    images = rollout_images(image_size)
    rng = random.Random(seed)
    dropped = set(rng.sample(range(premises), round(premises * drop_share)))
    clock = RealClock()
    built: list[Premises] = []
    try:
        for i in range(premises):
            one = Premises.build(
                base=0x00DB120000000000 + (i << 8), devices=DEVICES, clock=clock, pki=pki
            )
            built.append(one)
            hub = await one.connect(url_for(i))
            hub.ota.retry = retry
            esme = one.device(DeviceType.ESME)
            if i in dropped:
                after = len(images[DeviceType.ESME]) // 2
                hub.link.manipulator = _drop_while(bytes(esme.eui), after, drop_seconds)
                report.dropped_links.append(str(one.chf.eui))
        devices = [d for p in built for d in p.devices.values()]
        report.devices = len(devices)
        transfer_start = time.perf_counter()
        for one in built:
            assert one.hub is not None
            for device in one.devices.values():
                signed = ota.signed_for(device.device_type.value)
                refused = one.hub.distribute(
                    device.eui, images[device.device_type], device.hardware_version, signed
                )
                if refused is not None:
                    report.failed[str(device.eui)] = f"hub refused the image: {refused.value}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _all_ended(built):
            await asyncio.sleep(0.05)
        report.transfer_s = time.perf_counter() - transfer_start
        for i in sorted(dropped):
            one = built[i]
            esme = one.device(DeviceType.ESME)
            assert one.hub is not None
            sent = [o for t, o in one.hub.ota.sent if t == bytes(esme.eui)]
            again = len(sent) != len(set(sent))  # a block offered again after the drop
            if again and sent.count(0) == 1 and _outcome(one, esme) == Outcome.TRANSFER_SUCCEEDED:
                report.resumed += 1
        await asyncio.gather(*(_activate(one, images, report) for one in built))
        for device in devices:
            key = str(device.eui)
            if device.firmware_version == f"{NEW_VERSION:08X}":
                report.updated += 1
                report.image_bytes += len(images[device.device_type])
            elif key not in report.failed:
                report.failed[key] = "still on the old version, no outcome reported"
    finally:
        for one in built:
            await one.close()
    report.wall_s = time.perf_counter() - started
    return report


def _outcome(one: Premises, device: Device) -> Outcome | None:
    assert one.hub is not None
    ended = [o for t, o in one.hub.ota.outcomes if t == bytes(device.eui)]
    return ended[-1] if ended else None


def _all_ended(built: list[Premises]) -> bool:
    return all(_outcome(one, d) is not None for one in built for d in one.devices.values())


async def _activate(one: Premises, images: dict[DeviceType, bytes], report: RolloutReport) -> None:
    """CS06 to each ESME that took its image; record each device's failure reason."""
    assert one.hub is not None
    supplier = Sender(
        one.parties[AnchorRole.SUPPLIER].eui,
        one.security_for(AnchorRole.SUPPLIER),
        device_types={k: d.device_type.value for k, d in one.devices.items()},
    )
    for device in one.devices.values():
        key = str(device.eui)
        outcome = _outcome(one, device)
        if outcome != Outcome.TRANSFER_SUCCEEDED:
            report.failed.setdefault(key, f"transfer: {outcome.value if outcome else 'no outcome'}")
            continue
        if not ota.signed_for(device.device_type.value):
            continue  # the PPMID activated on receipt (CS05c) and raised CS09
        digest = ota.decode_image(images[device.device_type]).manufacturer_image_hash
        command = supplier.command("11.3", device.eui, image_hash=digest)
        try:
            raw = await one.hub.send(command.encode(), timeout=30.0)
        except (HubError, TimeoutError) as exc:
            report.failed[key] = f"CS06 not answered: {exc}"
            continue
        tree = decode_message_payload(decode_message(raw)).tree
        code = _response_code(tree)
        if code != 0:
            report.failed[key] = f"CS06 response code {code}"


def _response_code(tree: object) -> int | None:
    if isinstance(tree, DerConstructed) and tree.items and isinstance(tree.items[0], DerInteger):
        return tree.items[0].value
    return None


__all__ = ["RolloutReport", "rollout_images", "run_rollout"]
