"""The device side of the firmware block transfer, without a link: offers, blocks, state."""

from __future__ import annotations

import hashlib

import pytest

from emulator.devices.base import DeviceType
from emulator.devices.ota_download import OtaDownload
from emulator.errors import GbcsDecodeError
from emulator.han.envelope import EnvelopeKind
from emulator.han.ota_blocks import END_FAILED, END_OK, Block, BlockRequest, End, Notify
from emulator.premises import Premises
from hil.firmware import build_image, lab_supplier


def _image() -> bytes:
    signer, _ = lab_supplier()
    return build_image(b"x" * 300, manufacturer=1, image_type=1, version=0x01000009, signer=signer)


def _offer(data: bytes, block: int = 100) -> bytes:
    return Notify(hashlib.sha256(data).digest(), len(data), block, b"\x01\x00\x00\x09").encode()


def _feed(
    download: OtaDownload, device: object, data: bytes, upto: int, block: int = 100
) -> list[tuple[EnvelopeKind, bytes]]:
    digest = hashlib.sha256(data).digest()
    replies: list[tuple[EnvelopeKind, bytes]] = []
    while download.next_offset < upto:
        offset = download.next_offset
        chunk = data[offset : offset + block]
        replies = download.on_block(device, Block(digest, offset, chunk).encode())  # type: ignore[arg-type]
    return replies


def test_payloads_round_trip_and_refuse_short_input() -> None:
    digest = bytes(range(32))
    assert Notify.decode(Notify(digest, 9, 4, b"\0\0\0\1").encode()).size == 9
    assert BlockRequest.decode(BlockRequest(digest, 77).encode()).offset == 77
    assert Block.decode(Block(digest, 5, b"abc").encode()).data == b"abc"
    assert End.decode(End(digest, END_FAILED).encode()).status == END_FAILED
    with pytest.raises(GbcsDecodeError):
        BlockRequest.decode(digest)
    with pytest.raises(GbcsDecodeError):
        Notify.decode(Notify(digest, 9, 0, b"\0\0\0\1").encode())  # block size 0


def test_a_whole_image_is_held_and_a_resumed_offer_continues() -> None:
    device = Premises.build().device(DeviceType.ESME)
    data = _image()
    download = device.ota_download
    [(kind, payload)] = download.on_notify(_offer(data))
    assert kind == EnvelopeKind.OTA_REQUEST and BlockRequest.decode(payload).offset == 0
    _feed(download, device, data, 200)
    # the link dropped; the state survives a save and restore, and a new offer resumes
    state = device.to_state()
    device.ota_download.load_state(None)
    device.load_state(state)
    [(kind, payload)] = device.ota_download.on_notify(_offer(data))
    assert BlockRequest.decode(payload).offset == 200
    [(kind, payload)] = _feed(device.ota_download, device, data, len(data))
    assert kind == EnvelopeKind.OTA_END and End.decode(payload).status == END_OK
    assert device.held_image == data
    assert device.pending_image_version == "01000009"


def test_a_block_out_of_order_is_refused_and_not_written() -> None:
    device = Premises.build().device(DeviceType.ESME)
    data = _image()
    digest = hashlib.sha256(data).digest()
    download = device.ota_download
    download.on_notify(_offer(data))
    assert download.on_block(device, Block(digest, 100, data[100:200]).encode()) == []
    assert download.on_block(device, Block(b"\1" * 32, 0, data[:100]).encode()) == []
    assert download.refused == 2 and download.next_offset == 0


def test_a_file_with_another_hash_is_refused_at_the_end() -> None:
    device = Premises.build().device(DeviceType.ESME)
    data = _image()
    offered = bytearray(data)
    offered[-1] ^= 1
    download = device.ota_download
    download.on_notify(_offer(bytes(offered)))  # offer names the hash of other bytes
    digest = hashlib.sha256(bytes(offered)).digest()
    replies = []
    while download.file_hash is not None and download.next_offset < len(data):
        o = download.next_offset
        replies = download.on_block(device, Block(digest, o, data[o : o + 100]).encode())
    [(kind, payload)] = replies
    assert kind == EnvelopeKind.OTA_END and End.decode(payload).status == END_FAILED
    assert device.held_image is None
