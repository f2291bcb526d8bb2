"""The hub's side of firmware distribution: check an image, move it to its target in blocks.

11.1 / 11.4 give the hub an OTA Upgrade Image for a device (CS05a/b, CS05c for a
PPMID). The hub decodes the OTA header first: a file that does not decode is
discarded, one whose hardware range excludes the target is refused (hardware
mismatch); nothing reaches the device in either case. Otherwise the hub offers
the image to the target (OTA_NOTIFY) and answers its block requests (OTA_REQUEST
-> OTA_BLOCK) until the device reports the end (OTA_END); see
docs/wire-protocol.md, "Firmware blocks".

- Block size is chosen per link type (`BLOCK_SIZES`): a serial HAN link gets
  small blocks, the in-process medium large ones.
- Fairness: the device pulls, one request outstanding per target, and the hub
  answers requests in the order they arrive, so transfers to several devices
  alternate block by block (round-robin) instead of one starving the others.
- Resumption: the device asks for the offset it needs next; after a lost
  envelope the hub offers the image again (`retry` seconds of the hub clock
  without progress, at most `retries` times) and the device carries on from
  its last block. A sleepy target is offered the image at each wake-up instead.
- Each outcome raises a CCS08 alert from the CHF (`OUTCOME_CODES`).

Transfers (per target: the file, its hash, the next offset) are kept in
`to_state` / `load_state`.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from emulator.clock import Clock, Timer
from emulator.devices.chf import Chf
from emulator.errors import GbcsError
from emulator.gbcs import ota
from emulator.gbcs.asn1 import DerConstructed, DerInteger, DerOctetString, DerSequence, DerString
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import EnvelopeKind
from emulator.han.ota_blocks import END_OK, Block, BlockRequest, End, Notify

log = logging.getLogger(__name__)

CCS08 = 0x0128  # Firmware Transfer Alert
ALERT_TRANSFER_FAIL = 0x8F89  # "Firmware transfer alert FAIL"
ALERT_TRANSFER_SUCCESS = 0x8F8A  # "Firmware transfer alert SUCCESS"

#: Bytes per OTA_BLOCK by the URL scheme of the link that reaches the target.
BLOCK_SIZES: dict[str, int] = {"memory": 1024, "mqtt": 512, "mqtts": 512, "serial": 64}
DEFAULT_BLOCK_SIZE = 64


class Outcome(StrEnum):
    """The four cases GBCS names for CCS08."""

    DISCARDED = "discarded"
    HARDWARE_MISMATCH = "hardware mismatch"
    TRANSFER_FAILED = "transfer failed"
    TRANSFER_SUCCEEDED = "transfer succeeded"


#: The alert code each outcome carries: 0x8F8A (SUCCESS) or 0x8F89 (FAIL); the
#: response code in the body (`RESPONSE_CODES`) says which failure it was.
OUTCOME_CODES: dict[Outcome, int] = {
    Outcome.DISCARDED: ALERT_TRANSFER_FAIL,
    Outcome.HARDWARE_MISMATCH: ALERT_TRANSFER_FAIL,
    Outcome.TRANSFER_FAILED: ALERT_TRANSFER_FAIL,
    Outcome.TRANSFER_SUCCEEDED: ALERT_TRANSFER_SUCCESS,
}
#: CCS08 response codes: 0 success, 1 image discarded, 2 hardware version mismatch,
#: 3 file transfer failure (the values the public gbcs-parser names; the RTDS alert
#: has 0 with 0x8F8A).
RESPONSE_CODES: dict[Outcome, int] = {
    Outcome.TRANSFER_SUCCEEDED: 0,
    Outcome.DISCARDED: 1,
    Outcome.HARDWARE_MISMATCH: 2,
    Outcome.TRANSFER_FAILED: 3,
}
GENERALIZED_TIME = 0x18
NO_VERSION = bytes(4)


def ccs08_body(
    outcome: Outcome, when: _dt.datetime, target: bytes, version: bytes
) -> DerConstructed:
    """The CCS08 payload, as the RTDS alert lays it out: SEQUENCE { alert code,
    date-time, target entity id, the image's firmware version (4 bytes), response code }."""
    return DerSequence(
        [
            DerInteger(OUTCOME_CODES[outcome]),
            DerString(GENERALIZED_TIME, when.strftime("%Y%m%d%H%M%SZ").encode()),
            DerOctetString(target),
            DerOctetString(version),
            DerInteger(RESPONSE_CODES[outcome]),
        ]
    )


Send = Callable[[bytes, EnvelopeKind, bytes], Awaitable[None]]


@dataclass(slots=True)
class Transfer:
    target: bytes
    image: bytes
    file_hash: bytes  # SHA-256 of the whole OTA file: the transfer's identity
    manufacturer_hash: bytes
    version: bytes
    block_size: int
    signed: bool = True
    next_offset: int = 0
    blocks_sent: int = 0
    retries: int = 0


class OtaDistributor:
    def __init__(
        self,
        chf: Chf,
        clock: Clock,
        send: Send,
        *,
        block_size: Callable[[bytes], int] = lambda _target: DEFAULT_BLOCK_SIZE,
        is_sleepy: Callable[[bytes], bool] = lambda _target: False,
        retry: float = 5.0,
        retries: int = 5,
    ) -> None:
        self.chf = chf
        self.clock = clock
        self._send = send
        self._block_size = block_size
        self._is_sleepy = is_sleepy
        self.retry = retry
        self.retries = retries
        self.transfers: dict[bytes, Transfer] = {}
        #: (target, offset) of the blocks sent, most recent last (fairness, tests).
        self.sent: deque[tuple[bytes, int]] = deque(maxlen=4096)
        #: Every outcome reported, in order: (target, outcome).
        self.outcomes: list[tuple[bytes, Outcome]] = []
        #: Envelopes refused: not decodable, for no transfer, a wrong offset (also logged).
        self.refused = 0
        self._watchdogs: dict[bytes, Timer] = {}
        self._offers: set[asyncio.Task[None]] = set()
        #: Called whenever the set of transfers changes (a new one, an end): the hub
        #: writes its state file there. Not on each block: the device asks for the
        #: offset it needs, so a restarted hub resumes wherever the device stopped.
        self.on_change: Callable[[], None] = lambda: None

    # -- the WAN side ---------------------------------------------------------------------
    def offer(
        self,
        target: Eui64,
        image: bytes,
        hardware_version: int | None,
        *,
        signed: bool = True,
        image_type: int | None = None,
    ) -> Outcome | None:
        """Check `image` for `target`; None when accepted (a transfer is now pending).

        `signed` False: a PPMID image (CS05c), without the supplier signature trailer.
        `hardware_version` and `image_type` are the target's (None: not known, not
        checked): as a ZigBee OTA server answers a client's Query Next Image only
        with an image of its image type and hardware version, the hub moves nothing
        else. The supplier signature is not the hub's to check (docs/firmware.md).
        """
        key = bytes(target)
        try:
            decoded = ota.decode_image(image, signed=signed)
        except GbcsError as exc:
            self._report(key, _version_of(image), Outcome.DISCARDED, f"not an OTA image: {exc}")
            return Outcome.DISCARDED
        digest = decoded.manufacturer_image_hash
        version = decoded.header.file_version.to_bytes(4, "big")
        if hardware_version is not None and not decoded.header.accepts_hardware(hardware_version):
            detail = (
                f"image for hardware {decoded.header.hardware_min}-{decoded.header.hardware_max},"
                f" device is {hardware_version}"
            )
            self._report(key, version, Outcome.HARDWARE_MISMATCH, detail)
            return Outcome.HARDWARE_MISMATCH
        if image_type is not None and decoded.header.image_type != image_type:
            detail = (
                f"image type 0x{decoded.header.image_type:04X}, device takes 0x{image_type:04X}"
            )
            self._report(key, version, Outcome.DISCARDED, detail)
            return Outcome.DISCARDED
        self._cancel_watchdog(key)
        self.transfers[key] = Transfer(
            key,
            image,
            hashlib.sha256(image).digest(),
            digest,
            version,
            self._block_size(key),
            signed,
        )
        self.on_change()
        return None

    # -- the HAN side ---------------------------------------------------------------------
    async def notify(self, target: bytes) -> None:
        """Offer the pending image to `target` (again: it resumes where it stopped)."""
        transfer = self.transfers.get(target)
        if transfer is None:
            return
        offer = Notify(
            transfer.file_hash, len(transfer.image), transfer.block_size, transfer.version
        )
        await self._send(target, EnvelopeKind.OTA_NOTIFY, offer.encode())
        self._arm_watchdog(transfer)

    async def on_request(self, source: bytes, payload: bytes) -> None:
        try:
            request = BlockRequest.decode(payload)
        except GbcsError as exc:
            self._refuse(f"request from {Eui64(source)}: {exc}")
            return
        transfer = self._pending(source, request.file_hash, "request")
        if transfer is None:
            return
        if not 0 <= request.offset < len(transfer.image):
            self._refuse(f"request from {Eui64(source)} at {request.offset}, past the end")
            return
        if request.offset > transfer.next_offset:
            transfer.retries = 0  # progress: the offers so far were not in vain
        transfer.next_offset = request.offset
        data = transfer.image[request.offset : request.offset + transfer.block_size]
        transfer.blocks_sent += 1
        self.sent.append((source, request.offset))
        await self._send(
            source, EnvelopeKind.OTA_BLOCK, Block(transfer.file_hash, request.offset, data).encode()
        )
        self._arm_watchdog(transfer)

    def _pending(self, source: bytes, file_hash: bytes, what: str) -> Transfer | None:
        """The transfer to `source` of the image `file_hash` names; a device asking about
        any other image is refused (counted and logged), whatever it is confused about."""
        transfer = self.transfers.get(source)
        if transfer is None or file_hash != transfer.file_hash:
            self._refuse(f"{what} from {Eui64(source)} for no pending image")
            return None
        return transfer

    def on_end(self, source: bytes, payload: bytes) -> None:
        try:
            end = End.decode(payload)
        except GbcsError as exc:
            self._refuse(f"end from {Eui64(source)}: {exc}")
            return
        transfer = self._pending(source, end.file_hash, "end")
        if transfer is None:
            return
        del self.transfers[source]
        self._cancel_watchdog(source)
        transfer.next_offset = len(transfer.image)
        self.on_change()
        if end.status == END_OK:
            self._report(source, transfer.version, Outcome.TRANSFER_SUCCEEDED, "")
        else:
            detail = f"device refused the assembled image (status {end.status})"
            self._report(source, transfer.version, Outcome.TRANSFER_FAILED, detail)

    def stop(self) -> None:
        for target in list(self._watchdogs):
            self._cancel_watchdog(target)
        for task in self._offers:
            task.cancel()

    # -- internals ------------------------------------------------------------------------
    def _arm_watchdog(self, transfer: Transfer) -> None:
        """No progress for `retry` seconds: offer again (sleepy targets: at the next wake)."""
        self._cancel_watchdog(transfer.target)
        if self._is_sleepy(transfer.target) or self.retry <= 0:
            return
        when = self.clock.now() + _dt.timedelta(seconds=self.retry)
        self._watchdogs[transfer.target] = self.clock.call_at(when, lambda: self._stalled(transfer))

    def _stalled(self, transfer: Transfer) -> None:
        self._watchdogs.pop(transfer.target, None)
        if self.transfers.get(transfer.target) is not transfer:
            return
        if transfer.retries >= self.retries:
            del self.transfers[transfer.target]
            self.on_change()
            detail = f"no progress after {transfer.retries} offers, at {transfer.next_offset}"
            self._report(transfer.target, transfer.version, Outcome.TRANSFER_FAILED, detail)
            return
        transfer.retries += 1
        log.info(
            "firmware transfer to %s stalled at %d: offering again",
            Eui64(transfer.target),
            transfer.next_offset,
        )
        task = asyncio.get_running_loop().create_task(self.notify(transfer.target))
        self._offers.add(task)
        task.add_done_callback(self._offers.discard)

    def _cancel_watchdog(self, target: bytes) -> None:
        timer = self._watchdogs.pop(target, None)
        if timer is not None:
            timer.cancel()

    def _refuse(self, detail: str) -> None:
        self.refused += 1
        log.warning("hub %s firmware transfer: refused %s", self.chf.eui, detail)

    def _report(self, target: bytes, version: bytes, outcome: Outcome, detail: str) -> None:
        """CCS08 from the CHF to the ACB, signed (as the RTDS alert): the outcome for
        the target and the firmware version of the image."""
        self.outcomes.append((target, outcome))
        log.info("firmware transfer to %s: %s %s", Eui64(target), outcome.value, detail)
        payload = ccs08_body(outcome, self.clock.now(), target, version)
        self.chf.emit_alert(CCS08, self.chf.security.acb, payload, critical=True)

    # -- state ----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            Eui64(t.target).compact: {
                "image": t.image.hex(),
                "next_offset": t.next_offset,
                "signed": t.signed,
            }
            for t in self.transfers.values()
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.transfers.clear()
        for target, item in state.items():
            key = bytes(Eui64(target))
            image = bytes.fromhex(item["image"])
            signed = bool(item.get("signed", True))
            if self.offer(Eui64(target), image, None, signed=signed) is None:
                self.transfers[key].next_offset = int(item["next_offset"])


def _version_of(image: bytes) -> bytes:
    """The header's file version of a file that does not decode whole, if it has one."""
    try:
        return ota.decode_header(image).file_version.to_bytes(4, "big")
    except GbcsError:
        return NO_VERSION


def block_size_for(url: str) -> int:
    """The block size for a link opened on `url` (its scheme; a bare path is serial)."""
    scheme, sep, _ = url.partition("://")
    return BLOCK_SIZES.get(scheme.lower() if sep else "serial", DEFAULT_BLOCK_SIZE)


__all__ = [
    "BLOCK_SIZES",
    "CCS08",
    "OUTCOME_CODES",
    "RESPONSE_CODES",
    "OtaDistributor",
    "Outcome",
    "Transfer",
    "ccs08_body",
]
