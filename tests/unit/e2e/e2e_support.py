"""What the end-to-end tests share (a module, not a conftest, so tests import it by name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.devices.anchors import AnchorRole
from emulator.devices.esme import Esme
from emulator.devices.runner import DeviceRunner
from emulator.gbcs.dlms.apdu import AccessResponse
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.payload import DecodedPayload, decode_message_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity
from emulator.han.link import LinkFault
from emulator.han.serial import PtyPair
from emulator.hub import Hub
from emulator.pki.keystore import MemoryKeyStore
from emulator.premises import Premises
from hil.dcc.commands import Sender

#: Long enough for any answer on any link of this machine; only reached on failure.
ANSWER = 2.0
#: How long a test waits to show that an answer does not come.
SILENCE = 0.25
#: Where the GBCS message starts in an encoded envelope (after the 24-byte header).
ENVELOPE_HEADER = 24


def supplier_security(premises: Premises) -> MessageSecurity:
    """What the supplier's side holds, and nothing more: its own private keys and the
    ACB's (the DCC MACs every command it sends for the supplier), and the certificates
    of the devices. Checks made with it prove the devices used the keys they should;
    the lab keystore also holds the devices' private keys, which would hide that."""
    store = MemoryKeyStore()
    acb = premises.parties[AnchorRole.ACCESS_CONTROL_BROKER]
    for party in (premises.parties[AnchorRole.SUPPLIER], acb):
        for usage, key in party.keys.items():
            store.add_private_key(party.eui, usage, key)
        for usage, cert in party.certificates.items():
            store.add_certificate(party.eui, usage, cert)
    for device in (*premises.devices.values(), premises.chf, premises.gpf):
        for usage, cert in device.own_certificates.items():
            store.add_certificate(device.eui, usage, cert)
    return MessageSecurity(store, acb.eui)


@dataclass
class Rig:
    """A running premises with its ESME behind the link type `kind`."""

    kind: str
    premises: Premises
    hub: Hub
    security: MessageSecurity
    supplier: Sender
    esme: Esme
    runner: DeviceRunner
    pty: PtyPair | None = None

    async def send(self, variant: str, **params: Any) -> tuple[GbcsMessage, GbcsMessage]:
        """Send a fresh command from the supplier to the ESME; (command, decoded response)."""
        command = self.supplier.command(variant, self.esme.eui, **params)
        raw = await self.hub.send(command.encode(), timeout=ANSWER)
        return command, decode_message(raw)


def check_response(
    response: GbcsMessage, command: GbcsMessage, security: MessageSecurity
) -> DecodedPayload:
    """Assert `response` answers `command` and its protection verifies; its payload."""
    assert response.cra == Cra.RESPONSE
    assert response.originator == command.recipient
    assert response.recipient == command.originator
    assert response.counter == command.counter
    assert response.message_code == command.message_code
    verdict = security.verify(response)
    assert verdict.ok, verdict.errors
    assert verdict.mac is True or verdict.signature is True
    return decode_message_payload(response)


def decrypted(response: GbcsMessage, security: MessageSecurity) -> DecodedPayload:
    """The payload with its sensitive data opened with the recipient's keys."""
    payload = decode_message_payload(response)
    assert payload.encrypted_parts > 0, "expected encrypted sensitive data"
    error = try_decrypt(payload, security, response)
    assert error is None, error
    assert payload.fully_decrypted
    return payload


def action_results(payload: DecodedPayload) -> list[int]:
    tree = payload.tree
    assert isinstance(tree, AccessResponse)
    return [spec.result for spec in tree.results]


def once(fault: LinkFault) -> LinkFault:
    """A manipulator applying `fault` to the next envelope only, then passing all through."""
    used = False

    def maybe(raw: bytes) -> list[bytes]:
        nonlocal used
        if used:
            return [raw]
        used = True
        return fault(raw)

    return maybe


def flip(offset: int, mask: int = 0xFF) -> Callable[[bytes], list[bytes]]:
    """Invert bits of one byte of the raw envelope (a radio's bit error)."""

    def fault(raw: bytes) -> list[bytes]:
        data = bytearray(raw)
        data[offset] ^= mask
        return [bytes(data)]

    return fault


def garbage_to(eui: Eui64) -> Callable[[bytes], list[bytes]]:
    """Replace the envelope by noise that still carries `eui` where the destination sits,
    so transports route it to that device (an MQTT publish of junk to its topic)."""

    def fault(raw: bytes) -> list[bytes]:
        return [b"\xa5" * 14 + bytes(eui) + b"not an envelope"]

    return fault
