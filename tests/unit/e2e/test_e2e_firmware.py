"""Firmware distribution end to end: the hub checks an OTA image and moves it to the
device in blocks over each link type; CCS08 reports each outcome; transfers resume
after a lost envelope, share the hub, and reach a sleepy GSME only while it is awake."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from pathlib import Path

import pytest
from e2e_support import ANSWER, Rig, check_response, supplier_security

from emulator.clock import VirtualClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.runner import DeviceRunner
from emulator.gbcs.asn1 import DerConstructed, DerInteger, DerOctetString
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.memory import MemoryMedium
from emulator.hub import Hub, HubError
from emulator.hub_ota import (
    ALERT_TRANSFER_FAIL,
    ALERT_TRANSFER_SUCCESS,
    BLOCK_SIZES,
    CCS08,
    RESPONSE_CODES,
    Outcome,
)
from emulator.premises import Premises
from hil.dcc.commands import Sender
from hil.firmware import build_image, lab_supplier

VERSION = 0x01000003


def image(image_type: int, *, size: int = 3000, hardware: tuple[int, int] = (1, 1)) -> bytes:
    """A signed OTA image large enough to need several blocks on every link type."""
    signer, _ = lab_supplier()
    body = bytes(i * 7 % 251 for i in range(size))
    return build_image(
        body, manufacturer=0x1234, image_type=image_type, version=VERSION,
        signer=signer, hardware=hardware,
    )  # fmt: skip


async def outcome_of(hub: Hub, target: bytes, timeout: float = 10.0) -> Outcome:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        done = [o for t, o in hub.ota.outcomes if t == target]
        if done:
            return done[-1]
        await asyncio.sleep(0.005)
    raise AssertionError(f"no outcome for the transfer to {target.hex()}")


def ccs08(raw: bytes) -> tuple[int, bytes, str]:
    """(alert code, target EUI-64, outcome) of a CCS08 alert: a signed ASN.1 alert
    (RTDS layout) whose response code names the outcome."""
    msg = decode_message(raw)
    assert msg.message_code == CCS08 and msg.signature is not None
    tree = decode_message_payload(msg).tree
    assert isinstance(tree, DerConstructed)
    code, _when, target, version, response = tree.items
    assert isinstance(code, DerInteger) and isinstance(target, DerOctetString)
    assert isinstance(version, DerOctetString) and len(version.value) == 4
    assert isinstance(response, DerInteger)
    outcome = {v: k for k, v in RESPONSE_CODES.items()}[response.value]
    return code.value, target.value, outcome.value


async def test_an_image_reaches_the_esme_in_blocks_then_activates(rig: Rig) -> None:
    data = image(1)
    assert rig.hub.distribute(rig.esme.eui, data, rig.esme.hardware_version) is None
    assert await outcome_of(rig.hub, bytes(rig.esme.eui)) == Outcome.TRANSFER_SUCCEEDED
    code, target, text = ccs08(await rig.hub.next_alert(ANSWER))
    assert (code, target, text) == (
        ALERT_TRANSFER_SUCCESS,
        bytes(rig.esme.eui),
        Outcome.TRANSFER_SUCCEEDED.value,
    )
    scheme = {"memory": "memory", "serial": "serial"}.get(rig.kind, "mqtt")
    blocks = [offset for t, offset in rig.hub.ota.sent if t == bytes(rig.esme.eui)]
    assert blocks == list(range(0, len(data), BLOCK_SIZES[scheme]))
    assert len(blocks) == math.ceil(len(data) / BLOCK_SIZES[scheme]) > 1
    assert rig.esme.held_image == data

    digest = rig.esme.pending_image_hash
    assert digest is not None
    command, response = await rig.send("11.3", image_hash=digest)
    check_response(response, command, rig.security)
    assert rig.esme.firmware_version == f"{VERSION:08X}"
    command, response = await rig.send("11.2")
    check_response(response, command, rig.security)


def _hub(premises: Premises) -> Hub:
    assert premises.hub is not None
    return premises.hub


async def test_a_hardware_mismatch_is_refused_by_the_hub(premises: Premises) -> None:
    hub = _hub(premises)
    esme = premises.device(DeviceType.ESME)
    seen: list[Envelope] = []
    runner = premises.runner_for(esme.eui)
    handle = runner.handle

    async def spy(env: Envelope) -> None:
        seen.append(env)
        await handle(env)

    runner.handle = spy  # type: ignore[method-assign]
    refused = hub.distribute(esme.eui, image(1, hardware=(9, 12)), esme.hardware_version)
    assert refused == Outcome.HARDWARE_MISMATCH
    code, target, text = ccs08(await hub.next_alert(ANSWER))
    assert (code, target, text) == (
        ALERT_TRANSFER_FAIL,
        bytes(esme.eui),
        Outcome.HARDWARE_MISMATCH.value,
    )
    await asyncio.sleep(0.05)
    assert seen == [] and esme.held_image is None and not hub.ota.transfers


async def test_garbage_is_discarded_by_the_hub(premises: Premises) -> None:
    hub = _hub(premises)
    esme = premises.device(DeviceType.ESME)
    assert hub.distribute(esme.eui, b"not an image", 1) == Outcome.DISCARDED
    code, _, text = ccs08(await hub.next_alert(ANSWER))
    assert (code, text) == (ALERT_TRANSFER_FAIL, Outcome.DISCARDED.value)


async def test_a_lost_block_is_fetched_again_from_where_it_stopped(premises: Premises) -> None:
    hub = _hub(premises)
    esme = premises.device(DeviceType.ESME)
    lost: list[int] = []

    def lose_the_third_block(raw: bytes) -> list[bytes]:
        env = Envelope.decode(raw)
        if env.kind == EnvelopeKind.OTA_BLOCK and len(lost) == 0:
            offset = int.from_bytes(env.payload[32:36], "big")
            if offset == 2 * BLOCK_SIZES["memory"]:
                lost.append(offset)
                return []
        return [raw]

    hub.link.manipulator = lose_the_third_block
    data = image(1, size=5000)
    assert hub.distribute(esme.eui, data, 1) is None
    for _ in range(200):
        if lost:
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert esme.ota_download.next_offset == 2 * BLOCK_SIZES["memory"]  # stalled
    assert not hub.ota.outcomes
    assert isinstance(premises.clock, VirtualClock)
    premises.clock.advance(hub.ota.retry)  # the hub's stall timer (virtual clock)
    assert await outcome_of(hub, bytes(esme.eui)) == Outcome.TRANSFER_SUCCEEDED
    offsets = [o for _, o in hub.ota.sent]
    size = BLOCK_SIZES["memory"]
    assert lost == [2 * size]
    # every block once, the lost one twice, and nothing before it sent again
    assert offsets == [0, size, 2 * size, 2 * size, *range(3 * size, len(data), size)]
    assert esme.held_image == data


async def test_a_device_restarted_mid_transfer_resumes_from_its_state(
    premises: Premises,
) -> None:
    """The device keeps its received blocks in its state: a restore resumes there."""
    hub = _hub(premises)
    esme = premises.device(DeviceType.ESME)
    data = image(1, size=5000)
    size = BLOCK_SIZES["memory"]
    stop_after = 2

    def stop_after_two(raw: bytes) -> list[bytes]:
        env = Envelope.decode(raw)
        if env.kind == EnvelopeKind.OTA_BLOCK:
            offset = int.from_bytes(env.payload[32:36], "big")
            if offset >= stop_after * size:
                return []
        return [raw]

    hub.ota.retry = 0  # no re-offer: the transfer waits
    hub.link.manipulator = stop_after_two
    assert hub.distribute(esme.eui, data, 1) is None
    for _ in range(200):
        if esme.ota_download.next_offset == stop_after * size:
            break
        await asyncio.sleep(0.005)
    saved = esme.to_state()
    hub_saved = hub.ota.to_state()
    esme.ota_download.load_state(None)
    esme.load_state(saved)
    assert esme.ota_download.next_offset == stop_after * size
    hub.ota.load_state(hub_saved)
    hub.link.manipulator = None
    await hub.ota.notify(bytes(esme.eui))
    assert await outcome_of(hub, bytes(esme.eui)) == Outcome.TRANSFER_SUCCEEDED
    assert esme.held_image == data
    offsets = [o for _, o in hub.ota.sent]
    assert offsets.count(0) == 1  # the first blocks were not sent again


async def test_two_devices_share_the_hub_block_by_block(premises: Premises) -> None:
    hub = _hub(premises)
    esme = premises.device(DeviceType.ESME)
    ppmid = premises.device(DeviceType.PPMID)
    assert hub.distribute(esme.eui, image(1, size=6000), 1) is None
    assert hub.distribute(ppmid.eui, image(4, size=6000), 1) is None
    assert await outcome_of(hub, bytes(esme.eui)) == Outcome.TRANSFER_SUCCEEDED
    assert await outcome_of(hub, bytes(ppmid.eui)) == Outcome.TRANSFER_SUCCEEDED
    order = [t for t, _ in hub.ota.sent]
    # interleaved: neither target's blocks all come before the other's
    first_e, last_e = order.index(bytes(esme.eui)), len(order) - order[::-1].index(bytes(esme.eui))
    first_p = order.index(bytes(ppmid.eui))
    last_p = len(order) - order[::-1].index(bytes(ppmid.eui))
    assert first_p < last_e and first_e < last_p
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches >= len(order) // 2  # round-robin: mostly alternating


async def test_the_gsme_takes_blocks_only_while_awake(premises: Premises) -> None:
    hub = _hub(premises)
    gsme = premises.device(DeviceType.GSME)
    runner: DeviceRunner = premises.runner_for(gsme.eui)
    data = image(2, size=4 * BLOCK_SIZES["memory"] * 2 + 100)  # 9 blocks: 3 wake-ups
    assert hub.distribute(gsme.eui, data, 1) is None
    await asyncio.sleep(0.1)
    assert not hub.ota.sent  # asleep: nothing sent
    per_wake: list[int] = []
    for _ in range(3):
        before = len(hub.ota.sent)
        await runner.wake(listen=0.1)
        per_wake.append(len(hub.ota.sent) - before)
        await asyncio.sleep(0.05)
        assert len(hub.ota.sent) == before + per_wake[-1]  # asleep again: no more
    assert per_wake == [4, 4, 1]
    assert await outcome_of(hub, bytes(gsme.eui)) == Outcome.TRANSFER_SUCCEEDED
    assert gsme.held_image == data


async def test_a_transfer_without_progress_fails_with_ccs08(premises: Premises) -> None:
    hub = _hub(premises)
    esme = premises.device(DeviceType.ESME)
    hub.link.manipulator = lambda raw: [] if raw[1] == EnvelopeKind.OTA_BLOCK else [raw]
    assert hub.distribute(esme.eui, image(1), 1) is None
    assert isinstance(premises.clock, VirtualClock)
    for _ in range(hub.ota.retries + 1):
        await asyncio.sleep(0.05)
        premises.clock.advance(hub.ota.retry)
    assert await outcome_of(hub, bytes(esme.eui)) == Outcome.TRANSFER_FAILED
    code, _, text = ccs08(await hub.next_alert(ANSWER))
    assert (code, text) == (ALERT_TRANSFER_FAIL, Outcome.TRANSFER_FAILED.value)
    assert esme.held_image is None


async def test_a_power_cycle_mid_transfer_resumes_from_the_state_files(tmp_path: Path) -> None:
    """Hub and device both stop mid-transfer and start again from their state files
    (hub-<chf>.json, <device>.json): the transfer goes on from the last block."""
    data = image(1, size=5000)
    size = BLOCK_SIZES["memory"]

    def stop_after_two(raw: bytes) -> list[bytes]:
        env = Envelope.decode(raw)
        offset = int.from_bytes(env.payload[32:36], "big")
        if env.kind == EnvelopeKind.OTA_BLOCK and offset >= 2 * size:
            return []
        return [raw]

    async with Premises.build() as first:
        hub = await first.connect(MemoryMedium().url, state_dir=tmp_path)
        esme = first.device(DeviceType.ESME)
        hub.ota.retry = 0  # no re-offer: the transfer waits for the power cut
        hub.link.manipulator = stop_after_two
        assert hub.distribute(esme.eui, data, 1) is None
        for _ in range(200):
            if esme.ota_download.next_offset == 2 * size:
                break
            await asyncio.sleep(0.005)
        assert esme.ota_download.next_offset == 2 * size
        eui = esme.eui
    saved = json.loads((tmp_path / f"hub-{first.chf.eui.compact}.json").read_text())
    assert bytes.fromhex(saved["ota"][eui.compact]["image"]) == data  # the pending transfer
    async with Premises.build() as second:
        hub = await second.connect(MemoryMedium().url, state_dir=tmp_path)
        esme = second.device(DeviceType.ESME)
        assert esme.ota_download.next_offset == 2 * size  # restored, not started again
        assert bytes(eui) in hub.ota.transfers
        assert await outcome_of(hub, bytes(eui)) == Outcome.TRANSFER_SUCCEEDED
        assert esme.held_image == data
        assert next(o for _, o in hub.ota.sent) == 2 * size  # resumed: no block sent again
    after = json.loads((tmp_path / f"hub-{second.chf.eui.compact}.json").read_text())
    assert after["ota"] == {}


async def test_a_damaged_hub_state_file_is_one_clear_error(tmp_path: Path) -> None:
    async with Premises.build() as premises:
        (tmp_path / f"hub-{premises.chf.eui.compact}.json").write_text("{not json")
        with pytest.raises(HubError, match="cannot be restored"):
            await premises.connect(MemoryMedium().url, state_dir=tmp_path)


async def test_a_gsme_whose_sleep_was_lost_resumes_at_its_next_wake(premises: Premises) -> None:
    """The GSME loses power at the end of a wake-up, so its SLEEP never reaches the hub.

    The hub does not keep it "awake" for good: after `awake_grace` of silence a
    command for it waits in the queue again (not forwarded into the void), and the
    next wake-up takes that command and the rest of the image from the last block.
    """
    hub = _hub(premises)
    gsme = premises.device(DeviceType.GSME)
    runner: DeviceRunner = premises.runner_for(gsme.eui)
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    size = BLOCK_SIZES["memory"]
    data = image(2, size=4 * size * 2 + 100)  # 9 blocks: 3 wake-ups
    assert hub.distribute(gsme.eui, data, 1) is None
    await runner.wake(listen=0.1)
    runner.link.manipulator = lambda raw: [] if raw[1] == EnvelopeKind.SLEEP else [raw]
    await runner.wake(listen=0.1)  # the power cut: its SLEEP is lost
    await asyncio.sleep(0.05)  # the hub has taken all it did send
    runner.link.manipulator = None
    gsme.load_state(gsme.to_state())  # restarts from what it keeps
    held = gsme.ota_download.next_offset
    assert held == 8 * size
    assert hub.is_awake(gsme.eui)  # the hub has not heard it go to sleep
    assert isinstance(premises.clock, VirtualClock)
    premises.clock.advance(hub.awake_grace)
    command = supplier.command("4.1.1-gas", gsme.eui)
    pending = asyncio.create_task(hub.send(command.encode(), timeout=ANSWER))
    await asyncio.sleep(0.05)
    assert hub.counters.queued == 1 and not pending.done()  # waits for the wake-up
    assert hub.counters.presumed_asleep == 1
    await runner.wake(listen=0.1)
    check_response(decode_message(await pending), command, supplier.security)
    assert await outcome_of(hub, bytes(gsme.eui)) == Outcome.TRANSFER_SUCCEEDED
    offsets = [o for t, o in hub.ota.sent if t == bytes(gsme.eui)]
    assert offsets == [i * size for i in range(9)]  # from the last block, never again from 0
    assert gsme.held_image == data
