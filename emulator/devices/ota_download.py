"""The device side of the firmware block transfer, as a sans-IO state machine.

The hub offers an image (OTA_NOTIFY); the device pulls it block by block
(OTA_REQUEST for the next offset, OTA_BLOCK back), the way a ZigBee OTA client
queries for the next image and requests image blocks. What it has received is
kept with the device state, so a dropped link or a restarted device resumes at
the next missing offset instead of starting again. With the whole file in hand
the device checks it (it decodes as an OTA Upgrade Image, its SHA-256 is the one
offered) and holds it for CS06; either way it reports the end (OTA_END).

A sleepy device pulls at most `blocks_per_wake` blocks per wake-up (None: no
limit), then waits for the next wake-up's offer: its radio is only on while awake.

Methods take envelope payloads and return the (kind, payload) pairs to send back;
the runner does the sending (emulator/devices/runner.py).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from emulator.errors import GbcsError
from emulator.gbcs import ota
from emulator.han.envelope import EnvelopeKind
from emulator.han.ota_blocks import END_FAILED, END_OK, Block, BlockRequest, End, Notify

if TYPE_CHECKING:
    from emulator.devices.base import Device

log = logging.getLogger(__name__)

Reply = tuple[EnvelopeKind, bytes]


class OtaDownload:
    def __init__(self, blocks_per_wake: int | None = None) -> None:
        self.blocks_per_wake = blocks_per_wake
        self.file_hash: bytes | None = None
        self.size = 0
        self.received = bytearray()
        self.blocks = 0  # blocks taken in this transfer (all wake-ups)
        self._this_wake = 0
        #: Blocks that did not fit (another image, a wrong offset, garbage); logged too.
        self.refused = 0
        #: A whole image was just taken: the runner calls `Device.image_received` once
        #: it has sent OTA_END, so the hub has closed the transfer before what follows.
        self.completed = False

    @property
    def next_offset(self) -> int:
        return len(self.received)

    def wake(self) -> None:
        """A new wake-up: the per-wake budget starts again."""
        self._this_wake = 0

    def on_notify(self, payload: bytes) -> list[Reply]:
        try:
            offer = Notify.decode(payload)
        except GbcsError as exc:
            return self._refuse(f"offer: {exc}")
        if offer.file_hash != self.file_hash or offer.size != self.size:
            self.file_hash, self.size = offer.file_hash, offer.size
            self.received = bytearray()
            self.blocks = 0
        return self._next()

    def on_block(self, device: Device, payload: bytes) -> list[Reply]:
        try:
            block = Block.decode(payload)
        except GbcsError as exc:
            return self._refuse(f"block: {exc}")
        if self.file_hash is None or block.file_hash != self.file_hash:
            return self._refuse("block of an image not offered")
        if block.offset != self.next_offset or not block.data:
            return self._refuse(f"block at {block.offset}, expected {self.next_offset}")
        self.received += block.data[: self.size - self.next_offset]
        self.blocks += 1
        self._this_wake += 1
        if self.next_offset < self.size:
            return self._next()
        return [(EnvelopeKind.OTA_END, self._finish(device))]

    def _next(self) -> list[Reply]:
        if self.file_hash is None:
            return []
        if self.next_offset >= self.size:  # offered again after it was whole: say so
            return [(EnvelopeKind.OTA_END, End(self.file_hash, END_OK).encode())]
        if self.blocks_per_wake is not None and self._this_wake >= self.blocks_per_wake:
            return []
        return [(EnvelopeKind.OTA_REQUEST, BlockRequest(self.file_hash, self.next_offset).encode())]

    def _finish(self, device: Device) -> bytes:
        assert self.file_hash is not None
        data = bytes(self.received)
        status = END_FAILED
        if hashlib.sha256(data).digest() == self.file_hash:
            try:
                image = ota.decode_image(data, signed=ota.signed_for(device.device_type.value))
            except GbcsError as exc:
                log.warning("%s: received image does not decode: %s", device, exc)
            else:
                device.held_image = data
                device.pending_image_hash = image.manufacturer_image_hash
                device.pending_image_version = image.header.version_hex
                status = END_OK
                self.completed = True
        else:
            log.warning("%s: received image hash differs from the offered one", device)
        end = End(self.file_hash, status).encode()
        if status != END_OK:
            self.file_hash, self.size, self.received = None, 0, bytearray()
        return end

    def _refuse(self, reason: str) -> list[Reply]:
        self.refused += 1
        log.warning("firmware transfer: refused %s", reason)
        return []

    # -- state ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any] | None:
        if self.file_hash is None:
            return None
        return {"hash": self.file_hash.hex(), "size": self.size, "received": self.received.hex()}

    def load_state(self, state: dict[str, Any] | None) -> None:
        if not state:
            self.file_hash, self.size, self.received = None, 0, bytearray()
            return
        self.file_hash = bytes.fromhex(state["hash"])
        self.size = int(state["size"])
        self.received = bytearray.fromhex(state["received"])
