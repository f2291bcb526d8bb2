"""Recording a premises from its link: the sniffer pairs what it sees and replays it."""

from __future__ import annotations

from emulator.devices.base import DeviceType
from emulator.errors import LinkTimeout
from emulator.han.link import open_link
from emulator.han.memory import MemoryMedium
from emulator.premises import lab_pki
from hil.fleet.mix import Mix
from hil.fleet.record import Sniffer, replay_one
from hil.fleet.traffic import FleetPremises

MIX = Mix(rate=10.0, weights={"read": 2, "critical": 1, "join": 1})


async def test_the_sniffer_records_commands_and_responses_from_the_link() -> None:
    medium = MemoryMedium()
    watched = FleetPremises.build(2, "s", MIX, lab_pki())
    devices = {"ESME": bytes(watched.esme), "PPMID": bytes(watched.ppmid)}
    sniffer = Sniffer(devices)
    async with watched.premises:
        hub = await watched.premises.connect(medium.url)
        # A promiscuous link on the same medium sees every envelope, as a broker
        # subscription to smets/<lab>/han/+ does.
        async with open_link(medium.url) as tap:
            for _ in range(6):
                assert (await watched.request(hub, MIX)).ok
            while True:
                try:
                    env = await tap.recv(timeout=0.2)
                except LinkTimeout:
                    break
                sniffer.feed(env.encode())
    recording = sniffer.recording()
    assert len(recording.commands) == 6
    assert all(c.response is not None for c in recording.commands)
    other = FleetPremises.build(9, "x", MIX, lab_pki())
    async with other.premises:
        hub = await other.premises.connect(MemoryMedium().url)
        outcomes = [await replay_one(other, hub, recording, MIX) for _ in range(6)]
    assert [o.reason for o in outcomes] == [""] * 6
    assert other.premises.device(DeviceType.ESME).eui != watched.esme
