"""Building commands, responses and alerts, protected the way GBCS requires.

=============================  ===========  =====  =========================
message                        signature    MAC    signature field
=============================  ===========  =====  =========================
critical command               originator   yes    40 + r||s
non-critical command           -            yes    00
response to a critical cmd     device       no     40 + r||s
response to non-critical cmd   -            yes    00
critical alert                 device       no     40 + r||s
non-critical alert             -            yes    00
pre-command (DUIS)             -            no     (absent)
=============================  ===========  =====  =========================

A response repeats the command's counter and message code with the IDs swapped.
"""

from __future__ import annotations

from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, GroupingHeader, OtherInformation
from emulator.gbcs.payload import PayloadTree, encode_payload
from emulator.gbcs.security import MessageSecurity


def _payload_bytes(payload: bytes | PayloadTree) -> bytes:
    return payload if isinstance(payload, bytes | bytearray) else encode_payload(payload)


def command(
    message_code: int,
    counter: int,
    originator: Eui64 | str,
    recipient: Eui64 | str,
    payload: bytes | PayloadTree,
    *,
    other: OtherInformation | None = None,
) -> GbcsMessage:
    """An unprotected command (a pre-command until `protect` is applied)."""
    header = GroupingHeader(
        Cra.COMMAND,
        counter,
        Eui64(originator),
        Eui64(recipient),
        other or OtherInformation(message_code),
    )
    return GbcsMessage(header, _payload_bytes(payload), None, None)


def response(
    to: GbcsMessage,
    payload: bytes | PayloadTree,
    *,
    date_time: DlmsDateTime | None = None,
    other: OtherInformation | None = None,
) -> GbcsMessage:
    h = to.header
    header = GroupingHeader(
        Cra.RESPONSE,
        h.originator_counter,
        h.recipient,
        h.originator,
        other or OtherInformation(h.other.message_code),
        date_time,
    )
    return GbcsMessage(header, _payload_bytes(payload), None, None)


def alert(
    message_code: int,
    counter: int,
    device: Eui64 | str,
    recipient: Eui64 | str,
    payload: bytes | PayloadTree,
    *,
    other: OtherInformation | None = None,
) -> GbcsMessage:
    header = GroupingHeader(
        Cra.ALERT, counter, Eui64(device), Eui64(recipient), other or OtherInformation(message_code)
    )
    return GbcsMessage(header, _payload_bytes(payload), None, None)


def protect(msg: GbcsMessage, security: MessageSecurity, *, critical: bool) -> GbcsMessage:
    """Apply the GBCS rule for this kind of message (table above)."""
    if msg.cra == Cra.COMMAND:
        return security.protect(msg, sign=critical, mac=True)
    return security.protect(msg, sign=critical, mac=not critical)


def precommand(msg: GbcsMessage) -> GbcsMessage:
    """The DUIS pre-command: no signature field and no MAC."""
    return msg.without_protection()


def sign_precommand(precommand_msg: GbcsMessage, security: MessageSecurity) -> GbcsMessage:
    """What a user does with a critical pre-command: sign it, then the DCC MACs it."""
    signed = security.protect(precommand_msg, sign=True, mac=False)
    return security.protect(signed, sign=False, mac=True)
