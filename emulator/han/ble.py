"""HAN envelopes over Bluetooth LE: a GATT serial-style service, the Nordic UART layout.

A board with a BLE radio and no spare UART exposes a serial-style GATT service;
the bytes on it are exactly the serial frames of `emulator.han.framing` (flag,
stuffed envelope and CRC-16, flag), so a shim that already speaks the serial
wire protocol only changes its transport. The service and characteristics are
those of the Nordic UART Service, which most BLE stacks ship as an example:

    service  6E400001-B5A3-F393-E0A9-E50E24DCCA9E
    RX       6E400002-B5A3-F393-E0A9-E50E24DCCA9E   we write (write without response)
    TX       6E400003-B5A3-F393-E0A9-E50E24DCCA9E   the device notifies

A frame longer than one write (ATT MTU - 3 bytes, 20 with the default MTU) is
sent in consecutive writes; the device's notifications may split frames any
way, the deframer joins them. URL: ``ble://AA:BB:CC:DD:EE:FF`` (an address, or
on macOS the CoreBluetooth UUID bleak reports).

The radio is behind `Gatt`, a small protocol; `BleakGatt` implements it with
bleak (``pip install 'smets-hil[ble]'``), tests give a fake. Without bleak a
``ble://`` link fails to open with one line saying what to install.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from emulator.errors import LinkClosed, LinkError
from emulator.han.framing import MAX_BODY, Deframer, encode_frame
from emulator.han.link import EuiLike, Inbox, Link

log = logging.getLogger(__name__)

NUS_SERVICE: Final = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX: Final = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # central writes
NUS_TX: Final = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # peripheral notifies

#: Bytes per write with the default ATT MTU of 23.
DEFAULT_CHUNK: Final = 20


class Gatt(Protocol):
    """The GATT operations a BLE link needs; everything above it is transport-neutral."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None: ...

    async def write(self, uuid: str, data: bytes) -> None: ...

    @property
    def chunk(self) -> int:
        """Largest write (ATT MTU - 3)."""
        ...


class BleakGatt:
    """`Gatt` on bleak's `BleakClient`; ``on_lost`` is told when the device disconnects."""

    def __init__(self, address: str, on_lost: Callable[[], None], timeout: float = 10.0) -> None:
        try:
            from bleak import BleakClient
        except ImportError:
            raise LinkError(
                f"ble://{address}: BLE needs the optional extra: pip install 'smets-hil[ble]'"
            ) from None
        self._client: Any = BleakClient(
            address, disconnected_callback=lambda _client: on_lost(), timeout=timeout
        )

    async def connect(self) -> None:
        await self._client.connect()

    async def disconnect(self) -> None:
        await self._client.disconnect()

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        await self._client.start_notify(uuid, lambda _char, data: callback(bytes(data)))

    async def write(self, uuid: str, data: bytes) -> None:
        await self._client.write_gatt_char(uuid, data, response=False)

    @property
    def chunk(self) -> int:
        return max(DEFAULT_CHUNK, int(getattr(self._client, "mtu_size", 23)) - 3)


class BleLink(Link):
    """A point-to-point link to one BLE device over the Nordic UART Service.

    ``gatt`` builds the GATT client from the address and a loss callback (tests
    give a fake); the default is `BleakGatt`.
    """

    def __init__(
        self,
        url: str,
        *,
        local: Iterable[EuiLike] = (),
        gatt: Callable[[str, Callable[[], None]], Gatt] | None = None,
        max_body: int = MAX_BODY,
        **options: Any,
    ) -> None:
        address = url[len("ble://") :] if url.lower().startswith("ble://") else url
        if not address:
            raise LinkError(f"{url}: ble:// needs a device address")
        self.address = address
        self._gatt_factory = gatt or (lambda addr, lost: BleakGatt(addr, lost))
        self._gatt: Gatt | None = None
        self.deframer = Deframer(max_body, on_error=self._frame_error)
        self._inbox = Inbox()
        self._write_lock = asyncio.Lock()
        super().__init__(url, local=local, **options)

    async def _open(self) -> None:
        gatt = self._gatt_factory(self.address, self._on_disconnect)
        try:
            await gatt.connect()
            await gatt.start_notify(NUS_TX, self._on_notify)
        except LinkError:
            raise
        except Exception as exc:  # bleak raises its own errors and OSError alike
            raise LinkError(f"{self.url}: cannot connect: {exc}") from exc
        self._gatt = gatt

    async def _close(self) -> None:
        self._inbox.close(LinkClosed(f"{self.url}: link is closed"))
        gatt, self._gatt = self._gatt, None
        if gatt is not None:
            try:
                await gatt.disconnect()
            except Exception as exc:  # already gone: nothing more to release
                log.info("%s: disconnect failed: %s", self.url, exc)

    def _on_notify(self, data: bytes) -> None:
        for body in self.deframer.feed(data):
            if not self._inbox.put(body):
                self.counters.dropped += 1

    def _on_disconnect(self) -> None:
        if self._closed or self._lost is not None:
            return
        self._lost = ConnectionError("BLE device disconnected")
        error = LinkClosed(f"{self.url}: BLE device disconnected")
        self._inbox.close(error)

    def _frame_error(self, reason: str, raw: bytes) -> None:
        self._report_corrupt(LinkError(f"{self.url}: frame dropped ({reason})"), raw)

    async def _recv(self) -> bytes:
        return await self._inbox.get()

    async def _send(self, raw: bytes) -> None:
        gatt = self._gatt
        if gatt is None or self._lost is not None:
            raise LinkClosed(f"{self.url}: not connected")
        frame = encode_frame(raw)
        step = gatt.chunk
        async with self._write_lock:  # one frame's writes must not interleave with another's
            for start in range(0, len(frame), step):
                await gatt.write(NUS_RX, frame[start : start + step])
