"""ZSE envelopes (kind 16): ZigBee Smart Energy cluster commands between HAN devices.

In a premises the PPMID asks its meter for things over the HAN in ZSE, not GBCS:
a top-up code typed by the consumer (Prepayment cluster, Consumer Top Up), a
request for emergency credit (Prepayment, Select Available Emergency Credit) and
the supply enable (Metering, Local Change Supply). The meter answers with the
cluster's response (Consumer Top Up Response) or a ZCL Default Response. The
payload of the envelope is the cluster id and the ZCL frame, nothing else; the
frame codec is the one of GBZ (`emulator.gbcs.zcl.gbz`), here without a GBZ
component around it (docs/wire-protocol.md, "ZSE frames")::

    offset size field
    0      2    cluster id (big-endian, as the rest of the envelope)
    2      n    ZCL frame: frame control, [manufacturer code LE], sequence,
                command id, payload (little-endian fields, as ZCL has them)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.errors import GbcsDecodeError
from emulator.gbcs.reader import Reader
from emulator.gbcs.zcl.clusters import Direction, by_name, lookup
from emulator.gbcs.zcl.foundation import GENERAL_COMMANDS
from emulator.gbcs.zcl.gbz import (
    FC_CLUSTER_SPECIFIC,
    FC_DISABLE_DEFAULT_RESPONSE,
    FC_MANUFACTURER,
    FC_TO_CLIENT,
    ZclFrame,
    decode_zcl_frame,
    encode_zcl_frame,
)

#: ZCL general command id of the Default Response.
DEFAULT_RESPONSE = 0x0B
#: The smallest ZSE payload: a cluster id and a ZCL header without a manufacturer code.
MIN_PAYLOAD = 5


@dataclass(frozen=True, slots=True)
class ZseMessage:
    cluster: int
    frame: ZclFrame

    @property
    def name(self) -> str:
        return self.frame.name

    @property
    def is_answer(self) -> bool:
        """A frame sent server to client (a cluster response, a default response): what a
        requester waits for, never something a meter acts on."""
        return bool(self.frame.frame_control & FC_TO_CLIENT)

    def encode(self) -> bytes:
        return self.cluster.to_bytes(2, "big") + encode_zcl_frame(self.cluster, self.frame)

    @classmethod
    def decode(cls, raw: bytes) -> ZseMessage:
        """A `GbcsDecodeError` names what is wrong (short, no schema, bad payload)."""
        r = Reader(raw, path="zse")
        cluster = r.uint(2, "cluster")
        return cls(cluster, decode_zcl_frame(cluster, r.take(r.remaining, "zcl"), "zse.zcl"))


@dataclass(frozen=True, slots=True)
class ZseHeader:
    """What a receiver can tell of a frame it cannot decode whole: enough to answer it."""

    cluster: int
    frame_control: int
    sequence: int
    command_id: int

    @property
    def known(self) -> bool:
        """Whether the command has a schema here (else: an unsupported command)."""
        if self.frame_control & FC_CLUSTER_SPECIFIC:
            direction = (
                Direction.TO_CLIENT if self.frame_control & FC_TO_CLIENT else Direction.TO_SERVER
            )
            return lookup(self.cluster, direction, self.command_id) is not None
        return self.command_id in GENERAL_COMMANDS


def peek_header(raw: bytes) -> ZseHeader | None:
    """The cluster and ZCL header of a payload, or None when even those are cut short."""
    try:
        r = Reader(raw, path="zse")
        cluster = r.uint(2, "cluster")
        fc = r.u8("frame_control")
        if fc & FC_MANUFACTURER:
            r.take(2, "manufacturer_code")
        return ZseHeader(cluster, fc, r.u8("sequence"), r.u8("command_id"))
    except GbcsDecodeError:
        return None


def request(cluster: int, sequence: int, name: str, **fields: Any) -> ZseMessage:
    """A client-to-server cluster command, by its name in the ZCL tables."""
    definition = by_name(cluster, Direction.TO_SERVER, name)
    frame = ZclFrame(FC_CLUSTER_SPECIFIC, sequence & 0xFF, definition.command_id, fields, name=name)
    return _checked(cluster, frame)


def response(cluster: int, sequence: int, name: str, **fields: Any) -> ZseMessage:
    """A server-to-client cluster response (no default response asked for it)."""
    definition = by_name(cluster, Direction.TO_CLIENT, name)
    fc = FC_CLUSTER_SPECIFIC | FC_TO_CLIENT | FC_DISABLE_DEFAULT_RESPONSE
    return _checked(
        cluster, ZclFrame(fc, sequence & 0xFF, definition.command_id, fields, name=name)
    )


def default_response(cluster: int, sequence: int, command_id: int, status: int) -> ZseMessage:
    """ZCL Default Response, server to client: the command it answers and a ZCL status."""
    fc = FC_TO_CLIENT | FC_DISABLE_DEFAULT_RESPONSE
    fields = {"command_id": command_id, "status": status}
    return ZseMessage(
        cluster, ZclFrame(fc, sequence & 0xFF, DEFAULT_RESPONSE, fields, name="default_response")
    )


def _checked(cluster: int, frame: ZclFrame) -> ZseMessage:
    """A message whose fields are known to encode (a wrong field fails here, not on send)."""
    message = ZseMessage(cluster, frame)
    message.encode()
    return message
