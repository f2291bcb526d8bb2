"""Payload dispatch: which codec a GBCS payload needs, and sensitive-data decryption.

The payload says what it is from its first bytes (GBCS section 7): ``01 09`` is GBZ
(ZigBee), ``D9``/``DA``/``0F`` are DLMS APDUs, anything else is ASN.1 DER. Alerts
with a GBZ payload carry an alert header, so the CRA flag matters too.

Sensitive data (GBCS 7.2.10 / 7.3.x) travels encrypted inside responses and
alerts: DLMS puts a protected blob next to its protection parameters, GBZ marks the
component as encrypted. `decrypt_payload` opens both when the caller can derive the
key, attaching the plaintext as typed values without touching the wire form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from emulator.errors import EmulatorError, GbcsDecodeError, GbcsEncodeError, SecurityError
from emulator.gbcs import crypto
from emulator.gbcs.asn1 import Der, decode_der
from emulator.gbcs.dlms.apdu import AccessRequest, AccessResponse, DataNotification, decode_apdu
from emulator.gbcs.dlms.axdr import Array, Data, Enum, OctetString, Structure, decode_data
from emulator.gbcs.frame import Cra, GbcsMessage
from emulator.gbcs.zcl.gbz import (
    GbzAlert,
    GbzComponent,
    GbzPayload,
    decode_gbz,
    decode_gbz_alert,
    decode_zcl_payload,
    encode_gbz,
    encode_gbz_alert,
)

SENSITIVE_AAD = b"\x31"

DlmsApdu = AccessRequest | AccessResponse | DataNotification
PayloadTree = DlmsApdu | GbzPayload | GbzAlert | Der


class PayloadKind(StrEnum):
    DLMS = "dlms"
    GBZ = "gbz"
    ASN1 = "asn1"


def payload_kind(raw: bytes) -> PayloadKind:
    if raw[:2] == b"\x01\x09":
        return PayloadKind.GBZ
    if raw[:1] in (b"\xd9", b"\xda", b"\x0f"):
        return PayloadKind.DLMS
    return PayloadKind.ASN1


@dataclass(slots=True)
class DecodedPayload:
    """A payload as a typed tree, plus any decrypted sensitive data."""

    kind: PayloadKind
    tree: PayloadTree
    decrypted_dlms: list[Data] = field(default_factory=list)
    encrypted_parts: int = 0
    decrypted_parts: int = 0

    def encode(self) -> bytes:
        return encode_payload(self.tree)

    @property
    def fully_decrypted(self) -> bool:
        return self.decrypted_parts == self.encrypted_parts


def decode_payload(raw: bytes, cra: Cra, message_code: int) -> DecodedPayload:
    if not raw:
        raise GbcsDecodeError("payload", 0, "empty payload")
    kind = payload_kind(raw)
    tree: PayloadTree
    if kind is PayloadKind.GBZ:
        tree = decode_gbz_alert(raw, message_code) if cra == Cra.ALERT else decode_gbz(raw)
        encrypted = sum(1 for c in _components(tree) if c.encrypted)
    elif kind is PayloadKind.DLMS:
        tree = decode_apdu(raw)
        encrypted = len(list(_protected_blobs(tree)))
    else:
        tree = decode_der(raw)
        encrypted = 0
    return DecodedPayload(kind, tree, encrypted_parts=encrypted)


def decode_message_payload(msg: GbcsMessage) -> DecodedPayload:
    return decode_payload(msg.payload, msg.cra, msg.message_code)


def encode_payload(tree: PayloadTree) -> bytes:
    if isinstance(tree, GbzAlert):
        return encode_gbz_alert(tree)
    if isinstance(tree, GbzPayload):
        return encode_gbz(tree)
    if isinstance(tree, AccessRequest | AccessResponse | DataNotification | Der):
        return tree.encode()
    raise GbcsEncodeError("payload", f"not a payload tree: {type(tree).__name__}")


def _components(tree: PayloadTree) -> list[GbzComponent]:
    if isinstance(tree, GbzPayload):
        return tree.components
    if isinstance(tree, GbzAlert) and isinstance(tree.body, list):
        return tree.body
    return []


def _protected_blobs(tree: PayloadTree) -> list[OctetString]:
    """DLMS sensitive data: structure {array of protection parameters, blob}."""
    found: list[OctetString] = []
    roots: list[Data] = []
    if isinstance(tree, AccessResponse | AccessRequest):
        roots = list(tree.data)
    elif isinstance(tree, DataNotification):
        roots = [tree.body]
    stack = roots
    # Every decoded DLMS payload is walked (tariff tables have hundreds of nodes): the
    # A-XDR node classes have no subclasses, so exact type tests stand for isinstance.
    while stack:
        node = stack.pop()
        if type(node) is Structure:
            items = node.items
            if len(items) == 2:
                params, blob = items
                if (
                    type(params) is Array
                    and type(blob) is OctetString
                    and blob.value[:1] == SENSITIVE_AAD
                    and _is_protection_parameters(params)
                ):
                    found.append(blob)
                    continue
            stack.extend(items)
        elif type(node) is Array:
            stack.extend(node.items)
    return found


def _is_protection_parameters(node: Array) -> bool:
    return bool(node.items) and all(
        isinstance(p, Structure) and len(p.items) == 2 and isinstance(p.items[0], Enum)
        for p in node.items
    )


# -- decryption -----------------------------------------------------------------------------


def open_blob(key: bytes, iv: bytes, blob: bytes) -> bytes:
    """Decrypt `31 <IC 4> ciphertext tag(12)`."""
    if len(blob) < 5 + crypto.TAG_LENGTH or blob[0] != 0x31:
        raise GbcsDecodeError("sensitive_data", 0, "not a protected blob (security header 31)")
    return crypto.decrypt(key, iv, SENSITIVE_AAD, blob[5:])


def seal_blob(key: bytes, iv: bytes, plaintext: bytes, invocation_counter: int = 0) -> bytes:
    return (
        b"\x31"
        + invocation_counter.to_bytes(4, "big")
        + crypto.encrypt(key, iv, SENSITIVE_AAD, plaintext)
    )


def decrypt_payload(decoded: DecodedPayload, key: bytes, device: bytes) -> None:
    """Open every encrypted part in place; raises SecurityError if a tag fails."""
    iv = crypto.iv_for(device)
    if decoded.kind is PayloadKind.GBZ:
        for i, component in enumerate(_components(decoded.tree)):
            enc = component.frame.encrypted
            if enc is None:
                continue
            plain = crypto.decrypt(
                key,
                crypto.iv_for(device, enc.invocation_counter),
                SENSITIVE_AAD,
                enc.ciphertext + enc.tag,
            )
            name, fields = decode_zcl_payload(
                component.cluster,
                component.frame.frame_control,
                component.frame.command_id,
                plain,
                path=f"component[{i}].decrypted",
            )
            component.frame.fields = fields
            component.frame.name = name
            decoded.decrypted_parts += 1
    elif decoded.kind is PayloadKind.DLMS:
        for blob in _protected_blobs(decoded.tree):
            plain = open_blob(key, iv, blob.value)
            decoded.decrypted_dlms.append(decode_data(plain))
            decoded.decrypted_parts += 1


def try_decrypt(decoded: DecodedPayload, key_source: object, msg: GbcsMessage) -> str | None:
    """Decrypt with `key_source.sensitive_data_key(msg)`; returns an error text or None."""
    if decoded.encrypted_parts == 0:
        return None
    derive = getattr(key_source, "sensitive_data_key", None)
    if derive is None:
        return "no key source for sensitive data"
    try:
        key = derive(msg)
        decrypt_payload(decoded, key, msg.header.originator)
    except (SecurityError, EmulatorError) as exc:
        return str(exc)
    return None
