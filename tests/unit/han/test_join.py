"""Joining the HAN: key derivation vectors, payloads, and the handshake over memory.

The install code vectors are the public ZigBee ones (Silicon Labs AN1089 and
the ZigBee Base Device Behavior install code example): the 16-byte code
83FED3407A939723A5C639B26916D505 has the CRC C3B5 and hashes to the link key
66B6900981E1EE3CA4206B6B861C02BB; 00112233445566778899AABBCCDDEEFF has the CRC 528F.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.clock import VirtualClock
from emulator.devices.base import Device, DeviceType
from emulator.devices.chf import Chf
from emulator.devices.device_log import (
    KEY_HISTORIC,
    KEY_INSTALL_CODE,
    KEY_REJOINED,
    KEY_RESTORED,
    DeviceLog,
)
from emulator.devices.factory import create_device
from emulator.devices.runner import DeviceRunner
from emulator.errors import GbcsDecodeError, LinkTimeout
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.join import (
    EVENT_JOIN_REFUSED,
    EVENT_JOINED,
    JoinAccept,
    JoinCounters,
    JoinKey,
    JoinPolicy,
    JoinRefuse,
    JoinRequest,
    Refusal,
    aes_mmo,
    crc16_x25,
    device_proof,
    install_code_key,
    key_hash,
    with_crc,
)
from emulator.han.link import Link
from emulator.han.memory import MemoryMedium
from emulator.hub import Hub
from emulator.premises import Premises

START = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)
CHF_EUI = Eui64("00-DB-12-34-56-78-90-A2")
NEW = Eui64("00-DB-12-34-56-78-90-B0")
CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505")


# -- key derivation ------------------------------------------------------------------------


def test_install_code_crc_is_crc16_x25_low_byte_first() -> None:
    assert crc16_x25(b"123456789") == 0x906E  # the CRC-16/X-25 check value
    assert with_crc(CODE).hex().upper() == "83FED3407A939723A5C639B26916D505C3B5"
    assert with_crc(bytes.fromhex("00112233445566778899AABBCCDDEEFF"))[-2:] == b"\x52\x8f"


def test_install_code_key_is_the_zigbee_vector() -> None:
    expected = bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB")
    assert install_code_key(CODE) == expected  # the CRC appended here
    assert install_code_key(with_crc(CODE)) == expected  # given with its CRC
    assert install_code_key(CODE[:-1] + b"\x00") != expected


def test_aes_mmo_pads_to_whole_blocks_with_the_bit_length() -> None:
    # 14 bytes fill one block exactly with 0x80 and no length room: two blocks, not one
    assert aes_mmo(bytes(13)) != aes_mmo(bytes(14))
    assert len(aes_mmo(b"")) == 16
    with pytest.raises(ValueError, match="too long"):
        aes_mmo(bytes(8192))


# -- payloads ---------------------------------------------------------------------------------


def test_payloads_round_trip_and_reject_bad_bytes() -> None:
    request = JoinRequest(JoinKey.LINK_KEY, bytes(range(16)), bytes(16))
    assert JoinRequest.decode(request.encode()) == request
    assert len(request.encode()) == 33
    accept = JoinAccept(b"a" * 16, b"b" * 16, b"c" * 16)
    assert JoinAccept.decode(accept.encode()) == accept
    refuse = JoinRefuse(Refusal.WINDOW_CLOSED, b"n" * 16)
    assert JoinRefuse.decode(refuse.encode()) == refuse
    with pytest.raises(GbcsDecodeError, match="33 bytes"):
        JoinRequest.decode(b"")
    with pytest.raises(GbcsDecodeError, match="unknown key type 9"):
        JoinRequest.decode(b"\x09" + bytes(32))
    with pytest.raises(GbcsDecodeError, match="unknown reason 0"):
        JoinRefuse.decode(bytes(17))


def test_retry_policy_backs_off_to_a_cap_then_rests() -> None:
    policy = JoinPolicy()
    assert [policy.wait_after(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 900]


# -- the handshake over memory --------------------------------------------------------------


@dataclass
class JoinRig:
    clock: VirtualClock
    chf: Chf
    hub: Hub
    device: Device
    runner: DeviceRunner
    link: Link


def _counting_nonces(prefix: int) -> Callable[[int], bytes]:
    count = iter(range(1, 1 << 16))
    return lambda size: bytes([prefix]) * (size - 2) + next(count).to_bytes(2, "big")


@pytest.fixture
async def rig(medium: MemoryMedium) -> AsyncIterator[JoinRig]:
    clock = VirtualClock(START)
    chf = Premises.build(clock=clock, devices=()).chf  # provisioned: it can sign its CS14
    hub_link, device_link = medium.link(), medium.link()
    await hub_link.open()
    await device_link.open()
    hub = Hub(chf, hub_link, clock)
    hub.nonce = _counting_nonces(0xAA)
    device = create_device(DeviceType.PPMID, NEW, clock)
    device.han.install_code = CODE
    runner = DeviceRunner(device, device_link, chf.eui)
    runner.nonce = _counting_nonces(0xDD)
    await hub.start()
    await device_link.bind(NEW)
    try:
        yield JoinRig(clock, chf, hub, device, runner, device_link)
    finally:
        await hub.stop()
        await device_link.close()
        await hub_link.close()


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_device_joins_with_its_install_code(rig: JoinRig) -> None:
    alerts: list[object] = []
    rig.hub.add_listener(lambda kind, _: alerts.append(kind))
    assert rig.chf.register_device(NEW, 0, with_crc(CODE))  # the code as its label shows it
    assert await rig.runner.join_once()
    entry = rig.chf.device_log[bytes(NEW)]
    han = rig.device.han
    assert han.joined and han.source == "install_code" and len(han.link_key) == 16
    assert entry.link_key == han.link_key != install_code_key(CODE)  # fresh, both sides
    assert (entry.link_key_hash, entry.key_source) == (key_hash(han.link_key), KEY_INSTALL_CODE)
    assert rig.hub.joins == JoinCounters(accepted=1)
    await _until(lambda: "alert" in alerts, "the CS14 of the join")
    assert rig.device.event_log.codes()[-1] == EVENT_JOINED
    assert rig.chf.event_log.codes()[-1] == EVENT_JOINED


async def test_a_wrong_install_code_is_refused_and_logged_on_both_sides(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, b"\x01" * 16)
    assert not await rig.runner.join_once()
    assert rig.runner.last_refusal == Refusal.BAD_PROOF
    assert not rig.device.han.joined
    assert not rig.chf.device_log[bytes(NEW)].link_key_hash
    assert rig.hub.joins.refused == 1
    assert rig.hub.joins.refusals() == {"bad_proof": 1}
    assert rig.chf.security_log.codes() == [EVENT_JOIN_REFUSED]
    assert "wrong install code" in list(rig.chf.security_log)[-1].detail
    assert rig.device.security_log.codes() == [EVENT_JOIN_REFUSED]
    assert rig.device.han.last_refusal == "bad_proof"


async def test_a_device_missing_from_the_log_or_a_full_log_is_refused(rig: JoinRig) -> None:
    assert not await rig.runner.join_once()
    assert rig.runner.last_refusal == Refusal.NOT_IN_LOG
    rig.chf.add_device(Eui64("00-DB-12-34-56-78-90-C0"))
    rig.chf.device_log_capacity = len(rig.chf.device_log)
    assert not await rig.runner.join_once()
    assert rig.runner.last_refusal == Refusal.LOG_FULL
    assert rig.hub.joins.refusals() == {"not_in_log": 1, "log_full": 1}


async def test_a_join_after_the_window_is_refused_and_not_admitted(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    rig.clock.advance(rig.chf.join_timeout)
    assert not await rig.runner.join_once()
    assert rig.runner.last_refusal == Refusal.WINDOW_CLOSED
    assert not rig.chf.admits(NEW)
    assert [e.eui for e in rig.chf.log.expired] == [NEW]


async def test_a_malformed_join_is_refused_not_dropped(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    await rig.link.bind(NEW)
    await rig.link.send(Envelope(NEW, CHF_EUI, EnvelopeKind.JOIN, b""))
    answer = await rig.link.recv(timeout=2)
    assert answer.kind == EnvelopeKind.JOIN_REFUSE
    assert JoinRefuse.decode(answer.payload).reason == Refusal.MALFORMED
    assert rig.hub.joins.refusals() == {"malformed": 1}
    assert not rig.chf.device_log[bytes(NEW)].link_key_hash


async def test_a_forged_proof_does_not_join(rig: JoinRig) -> None:
    """Knowing the EUI is not enough: the proof must be keyed with the install code key."""
    rig.chf.register_device(NEW, 0, CODE)
    await rig.link.bind(NEW)
    nonce = bytes(16)
    forged = device_proof(install_code_key(b"guess"), NEW, CHF_EUI, JoinKey.INSTALL_CODE, nonce)
    payload = JoinRequest(JoinKey.INSTALL_CODE, nonce, forged).encode()
    await rig.link.send(Envelope(NEW, CHF_EUI, EnvelopeKind.JOIN, payload))
    answer = await rig.link.recv(timeout=2)
    assert JoinRefuse.decode(answer.payload).reason == Refusal.BAD_PROOF


async def test_retries_back_off_on_the_device_clock_then_rest(rig: JoinRig) -> None:
    rig.chf.join_timeout = 10_000
    rig.chf.register_device(NEW, 0, b"\x01" * 16)  # wrong: every attempt is refused
    joining = asyncio.create_task(rig.runner.join())
    try:
        expected = [0, 5, 15, 35, 75, 135, 1035, 1040]  # 5, 10, 20, 40, 60, rest 900, 5
        for n, at in enumerate(expected, 1):
            # refused and waiting (its timer set) before the test moves the clock
            await _until(lambda n=n: rig.device.han.refusals >= n, f"refusal {n}")  # type: ignore[misc]
            assert len(rig.runner.join_attempts) == n  # nothing early
            if n < len(expected):
                rig.clock.advance(expected[n] - at - 1)
                await asyncio.sleep(0.02)
                assert len(rig.runner.join_attempts) == n, f"attempt {n + 1} came early"
                rig.clock.advance(1)
        times = [(t - START).total_seconds() for t in rig.runner.join_attempts]
        assert times == expected
        assert rig.hub.joins.refusals() == {"bad_proof": len(expected)}
        assert rig.device.han.refusals == len(expected)
    finally:
        joining.cancel()
        await asyncio.gather(joining, return_exceptions=True)


async def test_a_device_that_has_not_joined_sends_no_gbcs(rig: JoinRig) -> None:
    rig.device.han.joined = False
    await rig.link.bind(NEW)
    await rig.runner.handle(Envelope(CHF_EUI, NEW, EnvelopeKind.GBCS, b"\xdd" * 40))
    assert rig.runner.unjoined_dropped == 1 and rig.runner.handled == 0


async def test_a_returning_device_rejoins_with_its_historic_key_first(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    assert await rig.runner.join_once()
    first_key = rig.device.han.link_key
    assert rig.chf.remove_device(NEW)  # CCS02: the key goes to the historic log
    assert rig.chf.historic_log[-1].link_key == first_key
    rig.device.han.joined = False
    rig.chf.register_device(NEW, 0, CODE)  # CCS01 again: first half of the window
    assert await rig.runner.join_once()
    entry = rig.chf.device_log[bytes(NEW)]
    assert (entry.key_source, entry.link_key, rig.device.han.link_key) == (
        KEY_HISTORIC,
        first_key,
        first_key,
    )
    assert rig.device.han.source == "link_key"


async def test_in_the_second_half_the_historic_key_is_refused_then_the_code_works(
    rig: JoinRig,
) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    assert await rig.runner.join_once()
    first_key = rig.device.han.link_key
    rig.chf.remove_device(NEW)
    rig.device.han.joined = False
    rig.chf.register_device(NEW, 0, CODE)
    rig.clock.advance(rig.chf.join_timeout / 2)
    assert not await rig.runner.join_once()  # tried its historic key: not any more
    assert rig.runner.last_refusal == Refusal.KEY_NOT_ALLOWED
    assert await rig.runner.join_once()  # then its install code
    entry = rig.chf.device_log[bytes(NEW)]
    assert entry.key_source == KEY_INSTALL_CODE
    assert entry.link_key == rig.device.han.link_key != first_key


async def test_a_joined_device_may_rejoin_with_its_key_without_a_log_change(
    rig: JoinRig,
) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    assert await rig.runner.join_once()
    alerts_before = rig.hub.counters.alerts
    rig.device.han.joined = False  # a restart that kept its key
    assert await rig.runner.join_once()
    assert rig.hub.joins == JoinCounters(accepted=2)
    await asyncio.sleep(0.02)
    assert rig.hub.counters.alerts == alerts_before  # no CS14: nothing changed


async def test_a_restored_hub_admits_a_device_once_it_proved_its_key_hash(rig: JoinRig) -> None:
    """CCS03 gives a replacement hub the link key hashes of the old log, not the keys:
    the device rejoins through the handshake, proving the hash (docs/wire-protocol.md
    "Joining", a restored log); before that the hub admits nothing from it."""
    rig.chf.register_device(NEW, 0, CODE)
    assert await rig.runner.join_once()
    old_key = rig.device.han.link_key
    rig.chf.log = DeviceLog()  # the hub is replaced ...
    rig.chf.log.restore([(NEW, key_hash(old_key))])  # ... and CCS03 restores the backup
    assert not rig.chf.admits(NEW)
    assert rig.chf.device_log[bytes(NEW)].key_source == KEY_RESTORED
    alerts: list[object] = []
    rig.hub.add_listener(lambda kind, _: alerts.append(kind))
    rig.device.han.joined = False  # it lost its hub
    assert await rig.runner.join_once()  # its link key refused (only the hash), then the hash
    assert rig.hub.joins.refusals() == {"key_hash_only": 1}
    assert rig.hub.joins.accepted == 2
    entry = rig.chf.device_log[bytes(NEW)]
    han = rig.device.han
    assert han.joined and han.source == "key_hash"
    assert entry.link_key == han.link_key != old_key  # a fresh key, both sides
    assert (entry.link_key_hash, entry.key_source) == (key_hash(han.link_key), KEY_REJOINED)
    assert rig.chf.admits(NEW)
    await _until(lambda: "alert" in alerts, "the CS14 of the rejoin")


async def test_a_restored_hub_refuses_a_device_with_another_key(rig: JoinRig) -> None:
    rig.chf.log.restore([(NEW, key_hash(b"\x11" * 16))])
    rig.device.han.link_key = b"\x22" * 16  # not the key whose hash the log holds
    assert not await rig.runner.join_once()
    assert rig.runner.last_refusal == Refusal.BAD_PROOF
    assert rig.hub.joins.refusals() == {"key_hash_only": 1, "bad_proof": 1}
    assert not rig.chf.admits(NEW)
    assert rig.chf.device_log[bytes(NEW)].key_source == KEY_RESTORED
    assert not rig.device.han.joined
    # nor does its install code get it in: the restored entry knows no code
    assert not await rig.runner.join_once()
    assert rig.runner.last_refusal == Refusal.KEY_NOT_ALLOWED


def test_lab_history_is_admitted_as_the_hub_held_it() -> None:
    log = DeviceLog()
    log.restore([(NEW, key_hash(b"\x11" * 16))], source="lab_history")
    assert log.admits(NEW, START)


async def test_the_membership_survives_a_state_round_trip(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    assert await rig.runner.join_once()
    copy = create_device(DeviceType.PPMID, NEW, rig.clock)
    copy.load_state(rig.device.to_state())
    assert copy.han == rig.device.han
    assert rig.device.clone().han == rig.device.han


# -- docs/wire-protocol.md, "Joining" --------------------------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "wire-protocol.md"


def _joining() -> str:
    return DOC.read_text().split("## 9. Joining", 1)[1]


def test_the_joining_example_prints_what_the_doc_says() -> None:
    code, output = re.findall(r"```python\n(.*?)```\s*```text\n(.*?)```", _joining(), re.DOTALL)[0]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == output


def test_the_annotated_envelopes_are_the_printed_ones() -> None:
    section = _joining()
    printed = dict(
        line.split(None, 1)
        for line in section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
        if line.startswith("JOIN")
    )
    for name in ("JOIN", "JOIN_ACCEPT"):
        block = section.split(f"{name} envelope (", 1)[1].split("\n\n", 1)[0].split("```", 1)[0]
        annotated: list[str] = []
        for line in block.splitlines()[1:]:
            for token in line.split():
                if not re.fullmatch(r"[0-9a-f]{2}", token):
                    break
                annotated.append(token)
        assert " ".join(annotated) == printed[name].strip()


async def test_a_cloned_chf_counts_its_own_joins(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, CODE)
    copy = rig.chf.clone()
    assert await rig.runner.join_once()
    assert copy.joins == JoinCounters()  # the clone's counters are its own
    assert rig.chf.joins == JoinCounters(accepted=1)


async def test_a_sleepy_device_tries_once_per_wake_up(rig: JoinRig) -> None:
    rig.chf.register_device(NEW, 0, b"\x01" * 16)  # wrong code
    assert await rig.runner.wake(listen=0.05) == 0  # refused: back to sleep at once
    assert rig.hub.joins.refusals() == {"bad_proof": 1}
    assert len(rig.runner.join_attempts) == 1
    rig.chf.remove_device(NEW)
    rig.chf.register_device(NEW, 0, CODE)
    await rig.runner.wake(listen=0.05)  # joins, then announces itself
    assert rig.device.han.joined and rig.hub.joins.accepted == 1


async def test_no_answer_fails_after_the_reply_timeout_and_a_forged_accept_is_refused(
    medium: MemoryMedium,
) -> None:
    clock = VirtualClock(START)
    fake_hub = Eui64("00-DB-12-34-56-78-90-F0")
    hub_end, device_end = medium.link(local=[fake_hub]), medium.link(local=[NEW])
    await hub_end.open()
    await device_end.open()
    try:
        device = create_device(DeviceType.PPMID, NEW, clock)
        device.han.install_code = CODE
        runner = DeviceRunner(device, device_end, fake_hub)
        attempt = asyncio.create_task(runner.join_once())
        join = await hub_end.recv(timeout=2)  # the JOIN arrives; nobody answers
        await asyncio.sleep(0.02)
        assert not attempt.done()
        clock.advance(runner.join_policy.reply_timeout)
        assert await asyncio.wait_for(attempt, 2) is False
        assert not device.han.joined

        attempt = asyncio.create_task(runner.join_once())
        join = await hub_end.recv(timeout=2)
        nonce = JoinRequest.decode(join.payload).nonce
        forged = JoinAccept(nonce, bytes(16), bytes(16))  # a hub without the key
        await hub_end.send(Envelope(fake_hub, NEW, EnvelopeKind.JOIN_ACCEPT, forged.encode()))
        assert await asyncio.wait_for(attempt, 2) is False
        assert not device.han.joined and not device.han.link_key
        assert "not authentic" in list(device.security_log)[-1].detail
    finally:
        await hub_end.close()
        await device_end.close()


async def test_an_answer_the_hub_cannot_send_in_time_is_counted_and_the_hub_goes_on(
    rig: JoinRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded broker may hold a JOIN answer past the link's send timeout: the hub
    counts the drop and keeps serving (it used to stop receiving)."""
    rig.chf.register_device(NEW, 0, CODE)
    real_send = rig.hub._send_envelope
    failed: list[EnvelopeKind] = []

    async def slow_once(target: bytes, kind: EnvelopeKind, payload: bytes) -> None:
        if not failed:
            failed.append(kind)
            raise LinkTimeout("send took over 10.0 s")
        await real_send(target, kind, payload)

    monkeypatch.setattr(rig.hub, "_send_envelope", slow_once)
    attempt = asyncio.create_task(rig.runner.join_once())
    await _until(lambda: bool(failed), "the unsent JOIN_ACCEPT")
    rig.clock.advance(rig.runner.join_policy.reply_timeout)
    assert await asyncio.wait_for(attempt, 5) is False  # no answer came
    assert rig.hub.drops["send_timeout"] == 1
    # the hub still listens and answers: the device, whose JOIN_ACCEPT was lost, proves
    # its install code again and is let in with a fresh link key
    assert await rig.runner.join_once()
    assert rig.runner.device.han.joined


async def test_a_join_the_link_cannot_send_in_time_is_a_failed_attempt(
    rig: JoinRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A congested link times the JOIN out: the attempt fails (counted, the device
    keeps running and retries) instead of the error escaping the device."""
    rig.chf.register_device(NEW, 0, CODE)
    real_send = rig.link.send
    calls: list[Envelope] = []

    async def congested_once(env: Envelope) -> None:
        calls.append(env)
        if len(calls) == 1:
            raise LinkTimeout("send took over 10.0 s")
        await real_send(env)

    monkeypatch.setattr(rig.link, "send", congested_once)
    assert not await rig.runner.join_once()
    assert rig.device.han.attempts == 1 and not rig.device.han.joined
    assert await rig.runner.join_once()
    assert rig.device.han.joined
