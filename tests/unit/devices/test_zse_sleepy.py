"""ZSE frames for a sleeping gas meter on its own link: the hub holds them until the
GSME's next WAKE (bounded in number and age, what it cannot hold counted and logged),
relays them after its queued GBCS commands and relays the answer back; and a device on
a ``gfi+`` link is refused ZSE frames outright (GFI lines carry GBCS only)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from emulator.clock import VirtualClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.gsme import Gsme
from emulator.devices.han_devices import Ppmid
from emulator.devices.topup import ACCEPTED
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link
from emulator.hub import Hub
from emulator.premises import Premises, join_ppmids
from hil.utrn import issue_utrn


def _premises() -> tuple[Premises, Ppmid, Gsme]:
    premises = Premises.build()
    join_ppmids(premises.devices)
    ppmid = premises.device(DeviceType.PPMID)
    gsme = premises.device(DeviceType.GSME)
    assert isinstance(ppmid, Ppmid) and isinstance(gsme, Gsme)
    return premises, ppmid, gsme


def _utrn(premises: Premises, meter: Eui64, pence: int) -> str:
    supplier = premises.parties[AnchorRole.SUPPLIER].eui
    return issue_utrn(premises.pki.keystore, supplier, meter, pence, {})


async def _connect(premises: Premises, gsme: Gsme, port: str) -> Hub:
    eui = bytes(gsme.eui)
    return await premises.connect(
        "memory://zse-sleepy-bus", per_device_urls={eui: f"{port} {port}"}
    )


async def _until(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(what)


async def test_a_top_up_for_a_sleeping_gsme_waits_for_its_wake_and_is_answered() -> None:
    premises, ppmid, gsme = _premises()
    async with premises:
        hub = await _connect(premises, gsme, "memory://zse-sleepy-port-a1")
        assert not hub.is_awake(gsme.eui)
        code = _utrn(premises, gsme.eui, 400)
        before = gsme.meter.balance
        meter, request, use_case = ppmid.han_request("GSME", "top_up", code)
        asking = asyncio.ensure_future(
            premises.runner_for(ppmid.eui).zse_request(meter, request, 5.0)
        )
        await _until(lambda: hub.zse_waiting_for(meter) == 1, "the hub did not hold the frame")
        assert hub.counters.zse_held == 1 and hub.counters.relayed == 0
        assert not asking.done()  # asleep: nothing reached the meter
        assert gsme.meter.balance == before
        handled = await premises.runner_for(gsme.eui).wake(listen=0.2)
        answer = await asking
        assert handled >= 1
        assert answer is not None and answer.name == "consumer_top_up_response"
        outcome = ppmid.han_top_up(use_case, answer)
        assert (outcome.result, outcome.pence) == (ACCEPTED, 400)
        assert gsme.meter.balance == before + 400
        assert hub.counters.relayed == 2  # onto the GSME's port at its WAKE, the answer back
        assert hub.zse_waiting_for(meter) == 0 and not hub.drops


async def test_held_frames_are_bounded_and_expire_counted_never_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="emulator.hub")
    premises, ppmid, gsme = _premises()
    clock = premises.clock
    assert isinstance(clock, VirtualClock)
    async with premises:
        hub = await _connect(premises, gsme, "memory://zse-sleepy-port-a2")
        hub.zse_hold_limit = 2
        meter, _, _ = ppmid.han_request("GSME", "emergency_credit")
        runner = premises.runner_for(ppmid.eui)
        for _ in range(3):  # the third finds the hold full
            _, frame, _ = ppmid.han_request("GSME", "emergency_credit")
            await runner.link.send(Envelope(ppmid.eui, meter, EnvelopeKind.ZSE, frame.encode(), 1))
        await _until(lambda: hub.drops["zse_overflow"] == 1, "no overflow counted")
        assert hub.zse_waiting_for(meter) == 2 and hub.counters.zse_held == 2
        clock.advance(hub.zse_hold + 1)  # nobody waits for those answers any more
        served = premises.runner_for(gsme.eui)
        await served.wake(listen=0.1)
        assert hub.drops["zse_expired"] == 2
        assert hub.counters.relayed == 0 and hub.zse_waiting_for(meter) == 0
        assert not served.zse_refused  # nothing stale reached the meter
        lines = [r.getMessage() for r in caplog.records]
        assert sum("dropped zse_overflow" in line for line in lines) == 1
        assert sum("dropped zse_expired" in line for line in lines) == 2


async def test_a_gfi_link_refuses_zse_frames_with_one_line() -> None:
    premises, ppmid, gsme = _premises()
    async with premises:
        hub = await premises.connect("memory://zse-gfi-bus")

        class GfiPort:  # only the route's URL matters to the refusal
            url = "gfi+serial:///dev/ttyUSB7"

        hub.routes[bytes(gsme.eui)] = GfiPort()  # type: ignore[assignment]
        refusal = hub.refuse_zse(ppmid.eui, gsme.eui)
        assert refusal is not None and refusal.endswith("gfi links carry GBCS only, not ZSE")
        assert "\n" not in refusal and hub.drops["gbcs_only"] == 1
        meter, frame, _ = ppmid.han_request("GSME", "emergency_credit")
        envelope = Envelope(ppmid.eui, meter, EnvelopeKind.ZSE, frame.encode(), 1)
        await hub._on_envelope(envelope, hub.link)  # a frame for it is refused the same way
        assert hub.drops["gbcs_only"] == 2 and hub.counters.relayed == 0
        assert hub.refuse_zse(gsme.eui, ppmid.eui) is None  # the PPMID is on the bus
        assert hub.drops["gbcs_only"] == 2


@pytest.mark.parametrize("awake_for", [0.0, 5.0])
async def test_an_awake_gsme_gets_its_zse_frame_at_once(awake_for: float) -> None:
    premises, ppmid, gsme = _premises()
    async with premises:
        hub = await _connect(premises, gsme, f"memory://zse-awake-port-{int(awake_for)}")
        link: Link = premises.runner_for(gsme.eui).link
        await link.send(Envelope(gsme.eui, premises.chf.eui, EnvelopeKind.WAKE, b"", 1))
        await _until(lambda: hub.is_awake(gsme.eui), "no WAKE seen")
        premises.clock.advance(awake_for)
        meter, frame, _ = ppmid.han_request("GSME", "emergency_credit")
        await premises.runner_for(ppmid.eui).link.send(
            Envelope(ppmid.eui, meter, EnvelopeKind.ZSE, frame.encode(), 2)
        )
        got = await link.recv(timeout=1.0)
        assert got.kind == EnvelopeKind.ZSE and got.destination == meter
        assert hub.counters.zse_held == 0 and hub.counters.relayed == 1
