"""Recording one premises and replaying it to premises with other identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.han.memory import MemoryMedium
from emulator.hub import NotAdmitted
from emulator.premises import lab_pki
from hil.fleet.mix import Mix
from hil.fleet.record import Recording, RecordingError, record_premises, replay_one
from hil.fleet.traffic import FleetPremises

MIX = Mix(rate=10.0, weights={"read": 2, "critical": 1, "top_up": 1, "join": 1, "firmware": 1})


@pytest.fixture
async def recording() -> Recording:
    return await record_premises(MIX, "rec", 12)


async def test_a_recording_round_trips_through_its_file(
    recording: Recording, tmp_path: Path
) -> None:
    assert len(recording.commands) == 12
    assert all(c.response is not None for c in recording.commands)
    recording.write(tmp_path / "r.jsonl")
    assert Recording.read(tmp_path / "r.jsonl") == recording


async def test_replayed_to_other_premises_every_command_is_answered(recording: Recording) -> None:
    other = FleetPremises.build(41, "x", MIX, lab_pki())
    async with other.premises:
        hub = await other.premises.connect(MemoryMedium().url)
        outcomes = [await replay_one(other, hub, recording, MIX) for _ in range(15)]
        # Sent as recorded (old recipient, old counter), the other hub refuses it.
        with pytest.raises(NotAdmitted):
            await hub.send(recording.commands[0].command, timeout=2.0)
    assert [o.reason for o in outcomes] == [""] * 15
    assert other.cursor == 15  # cycled past the end of the recording
    assert {o.kind for o in outcomes} >= {"replay 0x0027", "replay 0x0019", "replay 0x000D"}


def test_bad_recordings_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"format": "other"}\n')
    with pytest.raises(RecordingError, match=r"r.jsonl:1: not a recording"):
        Recording.read(path)
    path.write_text(
        '{"format": "smets-hil-recording/1", "devices": {}}\n{"t": 0, "command": "zz"}\n'
    )
    with pytest.raises(RecordingError, match=r"r.jsonl:2: not a recorded command"):
        Recording.read(path)


async def test_replayed_top_ups_carry_utrns_the_fresh_meter_accepts() -> None:
    from emulator.devices.base import DeviceType
    from emulator.gbcs.frame import decode_message

    mix = Mix(rate=10.0, weights={"read": 1, "top_up": 2})
    recording = await record_premises(mix, "utrn", 8)
    top_ups = [c for c in recording.commands if _has_utrn(decode_message(c.command).payload)]
    assert top_ups, "the recording has no top-up"
    other = FleetPremises.build(42, "y", MIX, lab_pki())
    esme = other.premises.device(DeviceType.ESME)
    async with other.premises:
        hub = await other.premises.connect(MemoryMedium().url)
        sent: list[bytes] = []
        hub.add_listener(lambda kind, raw: sent.append(raw) if kind == "command" else None)
        outcomes = [
            await replay_one(other, hub, recording, MIX) for _ in range(len(recording.commands))
        ]
    assert [o.reason for o in outcomes] == [""] * len(outcomes)
    replayed = [raw for raw in sent if _has_utrn(decode_message(raw).payload)]
    assert len(replayed) == len(top_ups)
    # Each one credited the fresh meter once, with counters one step apart.
    accepted = esme.utrn_counters  # type: ignore[attr-defined]
    assert accepted == [step << 32 for step in range(1, len(top_ups) + 1)]
    assert other.sender.utrn_counters[bytes(esme.eui)] == len(top_ups)


def _has_utrn(payload: bytes) -> bool:
    import re

    from emulator.errors import UtrnError
    from emulator.gbcs.utrn import parse_utrn

    for match in re.finditer(rb"(?<![0-9])[0-9]{20}(?![0-9])", payload):
        try:
            parse_utrn(match.group().decode())
        except UtrnError:
            continue
        return True
    return False
