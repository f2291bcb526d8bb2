"""Which command an alert reports on, read from the alert body as GBCS lays it out.

A few alerts answer a command the device took earlier: the outcome of a
future-dated command, "command not supported". They name that command by its
originator counter (DLMS and GBZ bodies also by its message code), so the party
that sent it can match the alert to its request. Where the name sits, by the
alert's message code (docs: gbcs_layout.md, section 4.4):

- 0x00CC future-dated outcome (DLMS) and 0x0120 ECS100 (DLMS): the third item of
  the data-notification structure is an octet string, message code(2) ‖
  counter(8) ‖ what was set;
- 0x00CD future-dated outcome (GBZ): the body after the alert header, message
  code(2) ‖ counter(8) ‖ cluster, frame control, command;
- 0x00CA future-dated firmware activation (ASN.1): SEQUENCE {alert code, time,
  INTEGER counter, the response};
- 0x00CB future-dated credentials update and 0x0124 future-dated load-controller
  credentials (ASN.1): SEQUENCE {alert code, time, SEQUENCE {INTEGER counter, ...}}.

Every other alert names no command (a GBZ ECS100 does not either).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.errors import GbcsDecodeError
from emulator.gbcs.asn1 import DerConstructed, DerInteger
from emulator.gbcs.dlms.apdu import DataNotification
from emulator.gbcs.dlms.axdr import OctetString, Structure
from emulator.gbcs.frame import Cra, GbcsMessage
from emulator.gbcs.payload import PayloadTree, decode_message_payload
from emulator.gbcs.zcl.gbz import FutureDatedGbzOutcome, GbzAlert

DLMS_NAMING = frozenset({0x00CC, 0x0120})
GBZ_NAMING = frozenset({0x00CD})
ASN1_COUNTER_ITEM = frozenset({0x00CA})
ASN1_COUNTER_IN_SEQUENCE = frozenset({0x00CB, 0x0124})


@dataclass(frozen=True, slots=True)
class NamedCommand:
    counter: int
    message_code: int | None  # None where the body does not repeat it


def named_command(msg: GbcsMessage) -> NamedCommand | None:
    """The command an alert names, or None when its kind names none.

    Decodes the whole payload, so a body that does not decode, or lacks the field
    its message code calls for, raises `GbcsDecodeError` for every alert.
    """
    if msg.cra != Cra.ALERT:
        raise GbcsDecodeError("alert", 0, f"CRA flag {int(msg.cra)} is not an alert")
    tree = decode_message_payload(msg).tree
    code = msg.message_code
    if code in DLMS_NAMING and isinstance(tree, DataNotification):
        return _from_dlms(tree)
    if code in GBZ_NAMING and isinstance(tree, GbzAlert):
        return _from_gbz(tree)
    if code in ASN1_COUNTER_ITEM | ASN1_COUNTER_IN_SEQUENCE and isinstance(tree, DerConstructed):
        return _from_asn1(tree, nested=code in ASN1_COUNTER_IN_SEQUENCE)
    if code in DLMS_NAMING | GBZ_NAMING | ASN1_COUNTER_ITEM | ASN1_COUNTER_IN_SEQUENCE:
        if code == 0x0120 and isinstance(tree, GbzAlert):
            return None  # a GBZ device's ECS100 names no command
        raise _missing(f"alert 0x{code:04X} has a {type(tree).__name__} body")
    return None


def _from_dlms(tree: DataNotification) -> NamedCommand:
    body = tree.body
    if not isinstance(body, Structure) or len(body.items) < 3:
        raise _missing("the notification is not a structure of three items or more")
    detail = body.items[2]
    if not isinstance(detail, OctetString) or len(detail.value) < 10:
        raise _missing("the third item is not an octet string of 10 bytes or more")
    return NamedCommand(
        int.from_bytes(detail.value[2:10], "big"), int.from_bytes(detail.value[:2], "big")
    )


def _from_gbz(tree: GbzAlert) -> NamedCommand:
    body = tree.body
    if not isinstance(body, FutureDatedGbzOutcome):
        raise _missing("no future-dated outcome body")
    return NamedCommand(body.originator_counter, body.message_code)


def _from_asn1(tree: PayloadTree, *, nested: bool) -> NamedCommand:
    items = tree.items if isinstance(tree, DerConstructed) else []
    if len(items) < 3:
        raise _missing("the SEQUENCE has fewer than three items")
    item = items[2]
    if nested:
        inner = item.items if isinstance(item, DerConstructed) else []
        if not inner:
            raise _missing("the third item is not a SEQUENCE")
        item = inner[0]
    if not isinstance(item, DerInteger):
        raise _missing("the counter is not an INTEGER")
    return NamedCommand(item.value, None)


def _missing(reason: str) -> GbcsDecodeError:
    return GbcsDecodeError("alert.named_command", 0, reason)
