"""GBCS wire format and crypto: pure codecs, no I/O.

Typical use::

    from emulator.gbcs import decode_message, decode_message_payload, MessageSecurity
    msg = decode_message(raw)                   # frame: headers, payload bytes, signature, MAC
    tree = decode_message_payload(msg).tree     # typed DLMS / GBZ / DER tree
    MessageSecurity(keystore).verify(msg)       # signature and MAC

See docs/gbcs-codec.md for the layouts and the decisions behind them.
"""

from emulator.gbcs import builder, gbt, utrn
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, GroupingHeader, OtherInformation, decode_message
from emulator.gbcs.inspection import Inspection, inspect_message
from emulator.gbcs.payload import (
    DecodedPayload,
    PayloadKind,
    decode_message_payload,
    decode_payload,
    encode_payload,
)
from emulator.gbcs.security import DEFAULT_ACB, MessageSecurity, VerifyResult

__all__ = [
    "DEFAULT_ACB",
    "Cra",
    "DecodedPayload",
    "Eui64",
    "GbcsMessage",
    "GroupingHeader",
    "Inspection",
    "MessageSecurity",
    "OtherInformation",
    "PayloadKind",
    "VerifyResult",
    "builder",
    "decode_message",
    "decode_message_payload",
    "decode_payload",
    "encode_payload",
    "gbt",
    "inspect_message",
    "utrn",
]
