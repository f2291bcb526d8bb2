"""The BLE link against a fake at the GATT boundary; everything above it is real.

The fake is a Nordic UART peripheral whose other side is a pty: what the link
writes to RX goes to the pty in writes of at most `chunk` bytes, and what the
device on the pty writes comes back as TX notifications, split small. Our ESME
with its `DeviceRunner` sits on the pty, so `wire check` over BLE exercises the
framing, the chunking and the envelope for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import pytest

from emulator.clock import RealClock
from emulator.devices.base import DeviceType
from emulator.devices.runner import DeviceRunner
from emulator.errors import LinkClosed, LinkError
from emulator.gbcs.eui import Eui64
from emulator.han.ble import NUS_RX, NUS_TX, BleLink
from emulator.han.link import open_link
from emulator.han.serial import SerialLink, pty_pair
from emulator.premises import Premises
from hil.wire import WireChecker, failed, read_command

HUB = Eui64("00-DB-12-34-56-78-90-A2")


class FakeNus:
    """A Nordic UART peripheral at the GATT boundary, its far side a pty master."""

    def __init__(self, fd: int, on_lost: Callable[[], None], chunk: int = 20) -> None:
        self.fd = fd
        self.on_lost = on_lost
        self._chunk = chunk
        self.writes: list[bytes] = []
        self.connected = False

    @property
    def chunk(self) -> int:
        return self._chunk

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        if self.connected:
            asyncio.get_running_loop().remove_reader(self.fd)
        self.connected = False

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        assert uuid == NUS_TX

        def readable() -> None:
            data = os.read(self.fd, 4096)
            for start in range(0, len(data), 7):  # notifications split frames anywhere
                callback(data[start : start + 7])

        asyncio.get_running_loop().add_reader(self.fd, readable)

    async def write(self, uuid: str, data: bytes) -> None:
        assert uuid == NUS_RX and len(data) <= self._chunk
        self.writes.append(data)
        os.write(self.fd, data)


async def test_wire_check_passes_over_ble_to_our_esme() -> None:
    premises = Premises.build(devices=((DeviceType.ESME, 0xA0),), clock=RealClock())
    meter = premises.device(DeviceType.ESME)
    fakes: list[FakeNus] = []

    def gatt(address: str, lost: Callable[[], None]) -> FakeNus:
        assert address == "AA:BB:CC:DD:EE:FF"
        fakes.append(FakeNus(pty.master_fd, lost))
        return fakes[-1]

    with pty_pair() as pty:
        os.set_blocking(pty.master_fd, False)
        device_link = SerialLink(pty.slave_url, local=[meter.eui])
        link = BleLink("ble://AA:BB:CC:DD:EE:FF", gatt=gatt)
        async with device_link, link:
            runner = DeviceRunner(meter, device_link, HUB, gpf=premises.gpf.eui)
            serving = asyncio.create_task(runner.serve())
            try:
                checker = WireChecker(
                    link, meter.eui, HUB, read_command("smets-hil-lab", meter.eui), timeout=3.0
                )
                findings = await checker.run()
            finally:
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
    outcomes = {f.name: f.outcome for f in findings}
    assert not failed(findings), [f.line() for f in findings]
    assert outcomes["reply"] == "pass"
    assert outcomes["resync"] == "skip"  # no raw bytes outside frames on GATT
    assert max(len(w) for w in fakes[0].writes) == 20 and len(fakes[0].writes) > 10


class _Quiet(FakeNus):
    """A peripheral that connects and never notifies."""

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        return None


async def test_a_disconnect_closes_the_link_with_a_clear_error() -> None:
    made: list[_Quiet] = []

    def gatt(address: str, lost: Callable[[], None]) -> _Quiet:
        made.append(_Quiet(-1, lost))
        return made[-1]

    async with BleLink("ble://AA:BB:CC:DD:EE:FF", gatt=gatt) as link:
        assert link.lost is None
        made[0].on_lost()  # the radio says the device went away
        with pytest.raises(LinkClosed, match="BLE device disconnected"):
            await link.recv(timeout=1)
        assert link.lost is not None


async def test_without_bleak_a_ble_link_says_what_to_install() -> None:
    import importlib.util

    if importlib.util.find_spec("bleak") is not None:
        pytest.skip("bleak is installed here")
    link = open_link("ble://AA:BB:CC:DD:EE:FF")
    with pytest.raises(LinkError, match=r"pip install 'smets-hil\[ble\]'"):
        await link.open()
