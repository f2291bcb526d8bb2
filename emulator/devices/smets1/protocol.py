"""The vendor protocol the emulated SMETS1 hubs speak (docs/smets1.md, "Vendor protocol").

Not GBCS: one UTF-8 JSON object per `VENDOR` HAN envelope, a command from the
SMETS1 service provider to the hub, a reply back. Every field is checked here,
so the hub and the service provider see typed objects or a `VendorProtocolError`
naming the field::

    command  {"v": 1, "id": 7, "device": "00db1234567890b0", "cmd": "top_up",
              "args": {"units": 500}}
    reply    {"v": 1, "id": 7, "device": "00db1234567890b0", "status": "ok",
              "code": "OK", "text": "", "data": {"balance_units": 1500},
              "local_time": "2026-03-29T02:30:00", "dst": true, "delay_s": 4.2}

`status` is `ok`, `rejected` (the device refused: state, mode, limit) or
`failed` (it tried and could not). Times on the wire are in the device's own
time base, naive ISO 8601 with a `dst` flag, as a meter shows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import EmulatorError

VERSION = 1

#: Commands a SMETS1 device of this emulator understands (args by name).
COMMANDS: dict[str, tuple[str, ...]] = {
    "read_balance": (),
    "read_registers": (),
    "read_time": (),
    "read_config": (),
    "read_payment_mode": (),
    "read_firmware": (),
    "read_supply": (),
    "top_up": ("units",),
    "set_payment_mode": ("mode",),
    "set_prepay_config": ("config",),
    "set_debt": ("units", "recovery_units_per_day"),
    "activate_ec": (),
    "set_supply": ("enabled",),
    "load_firmware": ("image_hash", "version"),
    "hub_load_firmware": ("image_hash", "version", "for_device"),
    "activate_firmware": ("image_hash",),
}

STATUSES = ("ok", "rejected", "failed")


class VendorProtocolError(EmulatorError, ValueError):
    """Bytes that are not a vendor protocol message; names the field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"vendor message {field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True, slots=True)
class VendorCommand:
    id: int
    device: str  # EUI-64, 16 lower-case hex digits
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        body = {"v": VERSION, "id": self.id, "device": self.device, "cmd": self.cmd}
        return json.dumps({**body, "args": self.args}, sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class VendorReply:
    id: int
    device: str
    status: str
    code: str = "OK"
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    local_time: str = ""
    dst: bool = False
    delay_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": VERSION,
                "id": self.id,
                "device": self.device,
                "status": self.status,
                "code": self.code,
                "text": self.text,
                "data": self.data,
                "local_time": self.local_time,
                "dst": self.dst,
                "delay_s": round(self.delay_s, 3),
            },
            sort_keys=True,
        ).encode()


def _object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VendorProtocolError("body", f"not UTF-8 JSON ({exc})") from None
    if not isinstance(value, dict):
        raise VendorProtocolError("body", "must be a JSON object")
    if value.get("v") != VERSION:
        raise VendorProtocolError("v", f"unsupported version {value.get('v')!r}")
    return value


def _get(obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise VendorProtocolError(name, f"must be {want}, got {value!r}")
    return value


def _device(obj: dict[str, Any]) -> str:
    device = _get(obj, "device", str)
    if len(device) != 16 or any(c not in "0123456789abcdef" for c in device):
        raise VendorProtocolError("device", f"must be 16 lower-case hex digits, got {device!r}")
    return str(device)


def decode_command(raw: bytes) -> VendorCommand:
    obj = _object(raw)
    cmd = _get(obj, "cmd", str)
    if cmd not in COMMANDS:
        raise VendorProtocolError("cmd", f"unknown command {cmd!r}")
    args = _get(obj, "args", dict)
    missing = [a for a in COMMANDS[cmd] if a not in args]
    if missing:
        raise VendorProtocolError("args", f"{cmd} needs {', '.join(missing)}")
    return VendorCommand(_get(obj, "id", int), _device(obj), cmd, args)


def decode_reply(raw: bytes) -> VendorReply:
    obj = _object(raw)
    status = _get(obj, "status", str)
    if status not in STATUSES:
        raise VendorProtocolError("status", f"must be one of {', '.join(STATUSES)}")
    return VendorReply(
        _get(obj, "id", int),
        _device(obj),
        status,
        _get(obj, "code", str),
        _get(obj, "text", str),
        _get(obj, "data", dict),
        _get(obj, "local_time", str),
        _get(obj, "dst", bool),
        float(_get(obj, "delay_s", (int, float))),
    )
