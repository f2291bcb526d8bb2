"""`smets-hil wire check` against a good device and against deliberately faulty shims.

The device is our ESME with a `DeviceRunner` on the slave side of a pty; a
faulty shim is the same device whose serial link breaks one rule (a wrong CRC,
a bad length field, a slow reply, a wrong or unknown frame kind). The checker
runs on the master side and must name each fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from emulator.clock import RealClock
from emulator.devices.base import DeviceType
from emulator.devices.runner import DeviceRunner
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.framing import FLAG, crc16, stuff
from emulator.han.serial import SerialLink, pty_pair
from emulator.premises import Premises
from hil.dcc.lab import external_counter_offset
from hil.wire import FINDINGS, check_device, failed, read_command

HUB = "00-DB-12-34-56-78-90-A2"
ESME = "00-DB-12-34-56-78-90-A0"


class FaultyShim(SerialLink):
    """A device's serial link that breaks one rule of docs/wire-protocol.md."""

    def __init__(self, url: str, fault: str, **options: Any) -> None:
        self.fault = fault
        self.last = 0.0
        super().__init__(url, **options)

    def _frame(self, raw: bytes) -> bytes | None:
        body = bytearray(raw)
        if self.fault == "bad-length":
            body[22:24] = (len(raw) - 24 + 3).to_bytes(2, "big")
        elif self.fault == "wrong-kind" and body[1] == EnvelopeKind.GBCS:
            body[1] = EnvelopeKind.STATE
        elif self.fault == "unknown-kind":
            body[1] = 99
        elif self.fault == "wrong-address":
            body[14:22] = bytes(8)
        crc = crc16(bytes(body))
        if self.fault == "bad-crc":
            crc ^= 0x0101
        return bytes([FLAG]) + stuff(bytes(body) + crc.to_bytes(2, "big")) + bytes([FLAG])

    def _bodies(self, data: bytes) -> list[bytes]:
        bodies = super()._bodies(data)
        if self.fault != "back-to-back":
            return bodies
        # A busy shim without a receive buffer: a frame within 50 ms of the last one is lost.
        kept = []
        for body in bodies:
            now = time.monotonic()
            if now - self.last >= 0.05:
                kept.append(body)
            self.last = now
        return kept

    async def _send(self, raw: bytes) -> None:
        if self.fault == "slow-reply":
            await asyncio.sleep(0.8)
        await super()._send(raw)


@contextlib.asynccontextmanager
async def device_on_pty(
    fault: str | None,
    shim: Callable[..., SerialLink] = FaultyShim,
    install_code: bytes | None = None,
) -> AsyncIterator[str]:
    """Our ESME on a pty (behind a faulty shim if `fault`; unjoined, to join with
    `install_code`, if given); yields the checker's URL."""
    premises = Premises.build(devices=((DeviceType.ESME, 0xA0),), clock=RealClock())
    meter = premises.device(DeviceType.ESME)
    if install_code is not None:
        meter.han.forget()
        meter.han.install_code = install_code
    with pty_pair() as pty:
        url = pty.slave_url
        link = (
            SerialLink(url, local=[meter.eui])
            if fault is None
            else shim(url, fault, local=[meter.eui])
        )
        async with link:
            runner = DeviceRunner(meter, link, premises.chf.eui, gpf=premises.gpf.eui)
            serving = asyncio.create_task(runner.serve())
            try:
                yield pty.master_url
            finally:
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await serving


CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505")


class BadJoinShim(SerialLink):
    """A shim whose JOIN is wrong: cut short (`join-malformed`) or with a broken proof."""

    def __init__(self, url: str, fault: str, **options: Any) -> None:
        self.fault = fault
        super().__init__(url, **options)

    async def send(self, env: Envelope) -> None:
        if env.kind == EnvelopeKind.JOIN:
            payload = env.payload[:-1] if self.fault == "join-malformed" else env.payload
            if self.fault == "join-proof":
                payload = payload[:-1] + bytes([payload[-1] ^ 1])
            env = Envelope(env.source, env.destination, env.kind, payload, env.sequence)
        await super().send(env)


def unjoined_device_on_pty(fault: str | None) -> contextlib.AbstractAsyncContextManager[str]:
    """Our ESME powered up unjoined (it sends JOIN first), maybe behind a bad JOIN shim."""
    return device_on_pty(fault, shim=BadJoinShim, install_code=CODE)


async def test_an_unjoined_device_joins_the_checker_then_answers() -> None:
    async with unjoined_device_on_pty(None) as url:
        findings = await check_device(
            url, ESME, reply_within=0.5, timeout=2.0, install_code=CODE, join_wait=5.0
        )
    outcomes = by_name(findings)
    assert outcomes["join"] == "pass", [f.line() for f in findings]
    assert outcomes["reply"] == "pass"
    assert not failed(findings), [f.line() for f in findings]


@pytest.mark.parametrize("fault", ["join-malformed", "join-proof"])
async def test_a_wrong_join_is_reported_by_name(fault: str) -> None:
    async with unjoined_device_on_pty(fault) as url:
        findings = await check_device(
            url, ESME, reply_within=0.5, timeout=1.0, install_code=CODE, join_wait=5.0
        )
    outcomes = by_name(findings)
    assert outcomes.get(fault) == "fail", [f.line() for f in findings]
    assert outcomes.get("join") != "pass"
    assert outcomes.get("reply") != "pass"  # not joined: it sends no GBCS


def by_name(findings: list[Any]) -> dict[str, str]:
    return {f.name: f.outcome for f in findings}


async def test_a_good_device_passes() -> None:
    async with device_on_pty(None) as url:
        findings = await check_device(url, ESME, reply_within=0.5, timeout=2.0)
    outcomes = by_name(findings)
    assert not failed(findings), [f.line() for f in findings]
    assert outcomes["reply"] == "pass"
    assert outcomes["back-to-back"] == "pass"
    assert outcomes["resync"] == "pass"
    assert outcomes["version"] == "pass"
    assert outcomes["join"] == "skip"
    assert set(outcomes) <= set(FINDINGS)


@pytest.mark.parametrize(
    ("fault", "also"),
    [
        ("bad-crc", "no-reply"),
        ("bad-length", "no-reply"),
        ("slow-reply", None),
        ("wrong-kind", "no-reply"),
        ("unknown-kind", "no-reply"),
        ("wrong-address", "no-reply"),
        ("back-to-back", None),
    ],
)
async def test_each_fault_is_reported_by_name(fault: str, also: str | None) -> None:
    async with device_on_pty(fault) as url:
        findings = await check_device(url, ESME, reply_within=0.5, timeout=1.5)
    outcomes = by_name(findings)
    assert outcomes.get(fault) == "fail", [f.line() for f in findings]
    if also is not None:
        assert outcomes.get(also) == "fail"
    if fault != "back-to-back":  # that shim answers one command at a time well enough
        assert outcomes.get("reply") != "pass"


def test_read_command_numbers_each_command_afresh() -> None:
    build: Callable[[], bytes] = read_command("smets-hil-lab", Eui64(ESME))
    assert build() != build()


def test_a_check_leaves_the_device_fresh_for_the_dcc_layer_s_next_command() -> None:
    """`smets-hil send` (and a lab with a device under test) numbers its commands by
    `external_counter_offset`; the checker's counters must lie above those of a lab
    run before it and below those of a send after it, or the later command is
    refused as a replay (and the device says nothing)."""
    now = RealClock().now()
    lab_run = external_counter_offset(now, now) + int(now.timestamp() * 1000) + 5000
    build = read_command("smets-hil-lab", Eui64(ESME))
    counters = [decode_message(build()).counter for _ in range(3)]
    now = RealClock().now()
    send_next = external_counter_offset(now, now) + int(now.timestamp() * 1000)
    assert counters == sorted(set(counters))
    assert lab_run < min(counters), "a board that saw a lab run would refuse the check"
    assert max(counters) < send_next


def test_wire_check_cli_exits_1_naming_a_port_that_does_not_open() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hil.cli", "wire", "check", "--link", "/dev/nonexistent-tty"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "/dev/nonexistent-tty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
