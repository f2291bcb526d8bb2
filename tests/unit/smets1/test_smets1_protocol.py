"""The vendor protocol: round trips and a named field for every malformed message."""

from __future__ import annotations

import json

import pytest

from emulator.devices.smets1.protocol import (
    VendorCommand,
    VendorProtocolError,
    VendorReply,
    decode_command,
    decode_reply,
)

DEVICE = "00db1234567890a0"


def test_command_and_reply_round_trip() -> None:
    command = VendorCommand(7, DEVICE, "top_up", {"units": 500})
    assert decode_command(command.encode()) == command
    reply = VendorReply(
        7, DEVICE, "rejected", "LIMIT", "too much", {}, "2026-03-29T02:30:00", True, 4.2
    )
    assert decode_reply(reply.encode()) == reply


def _raw(**fields: object) -> bytes:
    base: dict[str, object] = {"v": 1, "id": 1, "device": DEVICE, "cmd": "read_balance", "args": {}}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"\xff", "body"),
        (b"[]", "body"),
        (_raw(v=2), "v"),
        (_raw(cmd="explode"), "cmd"),
        (_raw(cmd="top_up"), "args"),  # top_up needs units
        (_raw(id=True), "id"),  # a boolean is not an id
        (_raw(device="00-DB-12"), "device"),
        (_raw(args=[]), "args"),
    ],
)
def test_malformed_commands_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(VendorProtocolError) as caught:
        decode_command(raw)
    assert caught.value.field == field


def test_a_reply_with_an_unknown_status_is_refused() -> None:
    raw = VendorReply(1, DEVICE, "ok").encode().replace(b'"ok"', b'"maybe"')
    with pytest.raises(VendorProtocolError, match="status"):
        decode_reply(raw)
