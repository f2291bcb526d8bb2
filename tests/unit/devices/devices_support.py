"""Helpers of the device unit tests: a lab premises, command builders, response readers.

Everything is sans-IO: devices come from `Premises.build` on a `VirtualClock`,
commands are made by `hil.dcc.commands.Sender` (or by hand with the GBCS
builder), and the tests call `Device.receive` directly.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator.clock import VirtualClock, to_zigbee_time
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, DeviceType, Outbound
from emulator.devices.chf import Chf
from emulator.devices.esme import Esme
from emulator.devices.gpf import Gpf
from emulator.devices.gsme import Gsme
from emulator.devices.han_devices import Ppmid
from emulator.devices.zcl_model import METERING
from emulator.gbcs import crypto
from emulator.gbcs.asn1 import Der
from emulator.gbcs.dlms.apdu import (
    AccessRequest,
    AccessResponse,
    Obis,
    RequestSpec,
    SpecKind,
    invoke_id_for,
)
from emulator.gbcs.dlms.axdr import (
    CompactArray,
    Data,
    NullData,
    OctetString,
    Structure,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.gbcs.payload import DecodedPayload, PayloadTree, decode_message_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import (
    CONTROL_FROM_DATE_TIME,
    CONTROL_LAST,
    GbzComponent,
    GbzPayload,
    ZclFrame,
)
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import device_identity_name
from emulator.premises import Premises, join_ppmids
from hil.dcc import commands
from hil.dcc.commands import Built, Sender

START = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)  # a Monday morning
HALF_HOUR = _dt.timedelta(minutes=30)


@dataclass
class Lab:
    """One premises and the remote parties that command it."""

    premises: Premises
    clock: VirtualClock
    senders: dict[AnchorRole, Sender] = field(default_factory=dict)

    @property
    def supplier(self) -> Sender:
        return self.senders[AnchorRole.SUPPLIER]

    @property
    def network_operator(self) -> Sender:
        return self.senders[AnchorRole.NETWORK_OPERATOR]

    @property
    def acb(self) -> Sender:
        return self.senders[AnchorRole.ACCESS_CONTROL_BROKER]

    @property
    def verifier(self) -> MessageSecurity:
        """What a remote party holds to check and decrypt what devices send it."""
        return self.premises.security_for()

    @property
    def esme(self) -> Esme:
        device = self.premises.device(DeviceType.ESME)
        assert isinstance(device, Esme)
        return device

    @property
    def gsme(self) -> Gsme:
        device = self.premises.device(DeviceType.GSME)
        assert isinstance(device, Gsme)
        return device

    @property
    def chf(self) -> Chf:
        return self.premises.chf

    @property
    def gpf(self) -> Gpf:
        return self.premises.gpf

    def advance(self, delta: _dt.timedelta) -> None:
        self.clock.advance(delta.total_seconds())


def build_lab(start: _dt.datetime = START, *, esme_variant: str | None = None) -> Lab:
    """The default premises; with `esme_variant` ("single", "twin"), only an ESME of that
    variant and a PPMID, for tests of an element's registers and rows."""
    clock = VirtualClock(start)
    if esme_variant is None:
        premises = Premises.build(clock=clock)
    else:
        devices = ((DeviceType.ESME, 0xA0, {"variant": esme_variant}), (DeviceType.PPMID, 0xA4))
        premises = Premises.build(clock=clock, devices=devices)
    security = premises.security_for()
    senders = {role: Sender(party.eui, security) for role, party in premises.parties.items()}
    return Lab(premises, clock, senders)


def joined_lab() -> Lab:
    """The default premises with its PPMID joined to the meters and every device caught up:
    where the consumer's requests (in-process or over the HAN) start."""
    lab = build_lab()
    join_ppmids(lab.premises.devices)
    for device in lab.premises.devices.values():
        device.catch_up()
    return lab


def ppmid_of(lab: Lab) -> Ppmid:
    device = lab.premises.device(DeviceType.PPMID)
    assert isinstance(device, Ppmid)
    return device


# -- commands ----------------------------------------------------------------------------------


def get(class_id: int, obis: str, attribute: int) -> tuple[RequestSpec, Data]:
    return RequestSpec(SpecKind.GET, class_id, Obis(obis), attribute), NullData()


def get_range(
    class_id: int, obis: str, attribute: int, selection: Data
) -> tuple[RequestSpec, Data]:
    spec = RequestSpec(SpecKind.GET_WITH_SELECTION, class_id, Obis(obis), attribute, 1, selection)
    return spec, NullData()


def set_(class_id: int, obis: str, attribute: int, value: Data) -> tuple[RequestSpec, Data]:
    return RequestSpec(SpecKind.SET, class_id, Obis(obis), attribute), value


def action(class_id: int, obis: str, method: int, argument: Data) -> tuple[RequestSpec, Data]:
    return RequestSpec(SpecKind.ACTION, class_id, Obis(obis), method), argument


def dlms_command(
    sender: Sender,
    target: Device | Eui64,
    message_code: int,
    *specs: tuple[RequestSpec, Data],
    critical: bool = False,
) -> GbcsMessage:
    """A hand-made DLMS command, numbered, signed (if critical) and MACed by `sender`."""
    counter = sender.next_counter()
    payload = AccessRequest(invoke_id_for(counter), [s for s, _ in specs], [d for _, d in specs])
    return sender.protect(Built(message_code, payload, critical), _eui(target))


def protected_read(
    sender: Sender,
    target: Device,
    message_code: int,
    objects: list[tuple[int, str, int]],
    data_protection: str = "0-0:43.2.8.255",
) -> GbcsMessage:
    """A sensitive read (data protection get_protected_attributes) of whole attributes."""
    payload = commands.protected_read(
        sender.next_counter(), sender.party, target.eui, objects, data_protection
    )
    return sender.protect(Built(message_code, payload, False), target.eui)


def zcl(
    cluster: int,
    command_id: int,
    fields: dict[str, Any],
    *,
    cluster_specific: bool = True,
    to_client: bool = False,
    from_date_time: int | None = None,
) -> GbzComponent:
    fc = (0x01 if cluster_specific else 0x00) | (0x08 if to_client else 0x00)
    control = CONTROL_FROM_DATE_TIME if from_date_time is not None else 0
    return GbzComponent(control, cluster, ZclFrame(fc, 0, command_id, fields), from_date_time)


def read_attributes(cluster: int, *attribute_ids: int) -> GbzComponent:
    return zcl(cluster, 0x00, {"attribute_ids": list(attribute_ids)}, cluster_specific=False)


def gbz_command(
    sender: Sender,
    target: Device | Eui64,
    message_code: int,
    *components: GbzComponent,
    critical: bool = False,
) -> GbcsMessage:
    """A GBZ command; the last component gets the "last" flag."""
    sender.next_counter()
    parts = list(components)
    parts[-1].control |= CONTROL_LAST
    return sender.protect(Built(message_code, GbzPayload(parts), critical), _eui(target))


def der_command(
    sender: Sender,
    target: Device | Eui64,
    message_code: int,
    payload: Der,
    *,
    critical: bool = False,
) -> GbcsMessage:
    """An ASN.1 (DER) command: credentials, joins, firmware, gas clock."""
    sender.next_counter()
    return sender.protect(Built(message_code, payload, critical), _eui(target))


def der(msg: GbcsMessage) -> Der:
    t = tree(msg)
    assert isinstance(t, Der), t
    return t


def _eui(target: Device | Eui64) -> Eui64:
    return target.eui if isinstance(target, Device) else target


def dlms_time(when: _dt.datetime) -> OctetString:
    return OctetString(DlmsDateTime.from_datetime(when).encode())


def zigbee(when: _dt.datetime) -> int:
    return to_zigbee_time(when)


def issue_certificate(
    lab: Lab,
    device: Device,
    public: ec.EllipticCurvePublicKey,
    *,
    signing: bool = True,
    both: bool = False,
) -> x509.Certificate:
    """A device certificate for `public` (as the DCC would issue after CS02c)."""
    ca_key = lab.premises.parties[AnchorRole.ROOT].keys[KeyUsage.DIGITAL_SIGNATURE]
    usage = x509.KeyUsage(
        digital_signature=signing or both,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not signing or both,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST unit CA")]))
        .public_key(public)
        .serial_number(0x1234)
        .not_valid_before(START - _dt.timedelta(days=1))
        .not_valid_after(START + _dt.timedelta(days=3650))
        .add_extension(usage, critical=True)
        .add_extension(
            x509.SubjectAlternativeName([device_identity_name(device.eui)]), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )


# -- responses ---------------------------------------------------------------------------------


def responses(out: list[Outbound]) -> list[Outbound]:
    return [o for o in out if o.kind == "response"]


def only_response(out: list[Outbound]) -> GbcsMessage:
    found = responses(out)
    assert len(found) == 1, f"expected one response, got {[o.kind for o in out]}"
    return decode_message(found[0].message)


def send(device: Device, command: GbcsMessage) -> GbcsMessage:
    """Deliver a command and return the device's (only) response, decoded."""
    return only_response(device.receive(command.encode()))


def tree(msg: GbcsMessage) -> PayloadTree:
    return decode_message_payload(msg).tree


def access_response(msg: GbcsMessage) -> AccessResponse:
    t = tree(msg)
    assert isinstance(t, AccessResponse), t
    return t


def results(msg: GbcsMessage) -> list[int]:
    return [r.result for r in access_response(msg).results]


def gbz_response(msg: GbcsMessage) -> GbzPayload:
    t = tree(msg)
    assert isinstance(t, GbzPayload), t
    return t


def decrypted(msg: GbcsMessage, security: MessageSecurity) -> DecodedPayload:
    """The payload with its sensitive parts opened by the requester's keys."""
    decoded = decode_message_payload(msg)
    assert decoded.encrypted_parts > 0, "nothing encrypted in the response"
    error = try_decrypt(decoded, security, msg)
    assert error is None, error
    assert decoded.fully_decrypted
    return decoded


def read_profile(lab: Lab, esme: Esme, code: int, obis: str) -> CompactArray:
    """The rows of profile `obis` (class 7, attribute 2) as the supplier reads them with
    use case `code`; there must be some."""
    response = send(esme, protected_read(lab.supplier, esme, code, [(7, obis, 2)]))
    (value,) = decrypted(response, lab.verifier).decrypted_dlms
    assert isinstance(value, Structure)
    buffer = value.items[0]
    assert isinstance(buffer, CompactArray) and buffer.values
    return buffer


def last_row(lab: Lab, esme: Esme, code: int, obis: str) -> Structure:
    """The newest row of profile `obis`, read as `read_profile` reads it."""
    row = read_profile(lab, esme, code, obis).values[-1]
    assert isinstance(row, Structure)
    return row


def change_gas_supply(lab: Lab, code: int, status: int) -> GbzComponent:
    """The GSME's answer to a ZCL change-supply (Metering command 11) to `status`, sent by
    the supplier with use case `code` (GCS32 or GCS39 carry the same command)."""
    change = zcl(
        METERING,
        11,
        {
            "provider_id": 0,
            "issuer_event_id": 1,
            "request_date_time": 0,
            "implementation_date_time": 0,
            "proposed_supply_status": status,
            "supply_control_bits": 1,
        },
    )
    response = send(lab.gsme, gbz_command(lab.supplier, lab.gsme, code, change, critical=True))
    (answer,) = gbz_response(response).components
    return answer


def party_sensitive_key(lab: Lab, role: AnchorRole, device: Device, counter: int) -> bytes:
    """The sensitive-data key (KDF mode 4) from one party's own private key only."""
    party = lab.premises.parties[role]
    device_ka = lab.premises.pki.parties[bytes(device.eui)].keys[KeyUsage.KEY_AGREEMENT]
    z = crypto.shared_secret(party.keys[KeyUsage.KEY_AGREEMENT], device_ka.public_key())
    return crypto.derive_key(
        z, bytes(device.eui), crypto.KdfMode.ENCRYPTION, counter, bytes(party.eui)
    )


def last_security_code(device: Device) -> int:
    entries = list(device.security_log)
    assert entries, "security log is empty"
    return entries[-1].code
