"""Nothing is dropped silently: the hub (HAN input, GPF mirrors) and the DCC (alerts)
count each drop by reason and log one line naming what and why."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import json
import logging
from collections.abc import AsyncIterator

import pytest

from emulator.clock import VirtualClock
from emulator.devices.base import DeviceType
from emulator.devices.gpf import MirrorError
from emulator.devices.gsme import Gsme
from emulator.gbcs import builder
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link
from emulator.han.memory import MemoryMedium
from emulator.hub import Hub
from emulator.premises import Premises

START = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)
STRANGER = Eui64("00-DB-12-34-56-78-90-EE")


class Rig:
    def __init__(self, premises: Premises, hub: Hub, device_link: Link) -> None:
        self.premises = premises
        self.hub = hub
        self.device_link = device_link

    @property
    def esme(self) -> Eui64:
        return self.premises.device(DeviceType.ESME).eui

    async def from_device(self, source: Eui64, kind: EnvelopeKind, payload: bytes = b"") -> None:
        """Send an envelope to the hub as `source` and wait until the hub has taken it."""
        before = sum(self.hub.drops.values()) + self.hub.counters.alerts + self.premises.gpf.syncs
        await self.device_link.bind(source)
        await self.device_link.send(Envelope(source, self.premises.chf.eui, kind, payload))
        for _ in range(200):
            after = (
                sum(self.hub.drops.values()) + self.hub.counters.alerts + self.premises.gpf.syncs
            )
            if after != before:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the hub did nothing with the envelope")


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    premises = Premises.build(clock=VirtualClock(START))
    medium = MemoryMedium()
    hub_link, device_link = medium.link(), medium.link()
    await hub_link.open()
    await device_link.open()
    hub = Hub(premises.chf, hub_link, premises.clock, gpf=premises.gpf)
    await hub.start()
    try:
        yield Rig(premises, hub, device_link)
    finally:
        await hub.stop()
        await device_link.close()
        await hub_link.close()


def _logged(caplog: pytest.LogCaptureFixture, *words: str) -> bool:
    return any(
        r.levelno == logging.WARNING and all(w in r.getMessage() for w in words)
        for r in caplog.records
    )


async def test_undecodable_device_message_is_counted_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.from_device(rig.esme, EnvelopeKind.GBCS, b"\xdf\x09\x03")
    assert rig.hub.drops == {"undecodable": 1}
    assert _logged(caplog, "undecodable", "from the HAN")


async def test_envelope_from_a_device_outside_the_device_log_is_counted_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.from_device(STRANGER, EnvelopeKind.GBCS, b"\x00")
    assert rig.hub.drops == {"unadmitted": 1}
    assert _logged(caplog, "unadmitted", str(STRANGER))


async def test_response_nobody_waits_for_is_counted_and_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    command = builder.command(0x0027, 77, Eui64("90-B3-D5-1F-30-01-00-00"), rig.esme, b"\x05\x00")
    late = dataclasses.replace(builder.response(command, b"\x02\x01\x00"), signature=b"")
    await rig.from_device(rig.esme, EnvelopeKind.GBCS, late.encode())
    assert rig.hub.drops == {"unmatched_response": 1}
    assert _logged(caplog, "unmatched_response", "counter 77")


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"{not json", "Expecting"),
        (b"[1, 2]", "not an object"),
        (json.dumps({"summation": "lots"}).encode(), "summation"),
        (json.dumps({"tiers": [1, "two"]}).encode(), "tiers"),
    ],
)
async def test_bad_mirror_is_counted_logged_and_the_old_mirror_kept(
    rig: Rig, caplog: pytest.LogCaptureFixture, payload: bytes, why: str
) -> None:
    gsme = rig.premises.device(DeviceType.GSME)
    gpf = rig.premises.gpf
    gpf.sync({"summation": 5})
    await rig.from_device(gsme.eui, EnvelopeKind.MIRROR, payload)
    assert rig.hub.drops == {"mirror": 1}
    assert gpf.mirror_data == {"summation": 5}
    assert _logged(caplog, "mirror", str(gsme.eui), why)


async def test_good_mirror_is_taken_with_its_octet_strings(rig: Rig) -> None:
    gsme = rig.premises.device(DeviceType.GSME)
    assert isinstance(gsme, Gsme)
    await rig.from_device(gsme.eui, EnvelopeKind.MIRROR, json.dumps(gsme.mirror()).encode())
    assert rig.hub.drops == {}
    assert rig.premises.gpf.syncs == 1
    assert rig.premises.gpf.zcl.values[(0x0702, 0x0206)] == bytes.fromhex(gsme.firmware_version)


def test_unreadable_mirror_values_are_skipped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gpf = Premises.build(clock=VirtualClock(START)).gpf
    gpf.sync({"values": {"0702:0000": 7, "nonsense": 1, "0702": 2}, "octets": {"0702:0206": "zz"}})
    assert gpf.zcl.values[(0x0702, 0x0000)] == 7
    assert gpf.mirror_values_dropped == 3
    assert _logged(caplog, "dropped mirror value", "'nonsense'")
    with pytest.raises(MirrorError):
        gpf.sync("not a mirror")
