"""ASN.1 (DER) use cases: security credentials, firmware activation, joins, clocks.

Each handler reads the command's DER tree and answers with the use case's DER
response, computed from device state:

- CS02a/CS02f report trust anchor cells; CS02b/CS02g replace them from the
  certificates carried (future-dated when an execution time is given); CS02c
  generates a new key pair and returns a certification request; CS02d installs
  the device certificate issued for it; CS02e returns a device certificate;
- CS03A1/A2/B/C record a HAN pairing, CS04AC/CS04B remove one, CS07 lists them;
- CS06 activates the firmware image held with the given hash; CS08 reads the
  firmware version of a PPMID or HCALCS;
- GCS28 sets the gas meter clock if its time lies in the validity window;
  GCS59 restores the GPF device log.

Result codes are the integers GBCS defines for each response; a lab can force a
use case to fail with a given code (`asn1_fault`, set by the conformance runner
for the reference error cases).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.devices.anchors import AnchorRole, TrustAnchor
from emulator.devices.base import Device, Incoming, Reply
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerOctetString,
    DerPrimitive,
    DerSequence,
    DerString,
    decode_der,
)
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage, public_key_from_certificate_der

GENERALIZED_TIME = 0x18
ROLE_NUMBERS: dict[AnchorRole, int] = {
    AnchorRole.RECOVERY: 1,
    AnchorRole.SUPPLIER: 2,
    AnchorRole.NETWORK_OPERATOR: 3,
    AnchorRole.ACCESS_CONTROL_BROKER: 4,
    AnchorRole.TRANSITIONAL_COS: 5,
    AnchorRole.WAN_PROVIDER: 6,
    AnchorRole.ROOT: 7,
    AnchorRole.LOAD_CONTROLLER: 8,
}
ROLES_BY_NUMBER = {v: k for k, v in ROLE_NUMBERS.items()}
USAGE_SIGNING = DerBitString(7, b"\x80")  # digitalSignature
USAGE_KEY_AGREEMENT = DerBitString(3, b"\x08")  # keyAgreement
STATUS_OK, STATUS_NOT_REPLACED, STATUS_NO_CELL = 0, 10, 127

Handler = Callable[[Device, Incoming, Der], Der]


def execute_asn1(device: Device, incoming: Incoming, tree: Der) -> Reply | None:
    handler = HANDLERS.get(incoming.message.message_code)
    if handler is None:
        return None
    forced = getattr(device, "asn1_fault", None)
    response = (
        handler(device, incoming, tree) if forced is None else _failure(incoming, tree, forced)
    )
    return Reply(response)


# -- helpers -----------------------------------------------------------------------------


def _items(node: Der) -> list[Der]:
    return node.items if isinstance(node, DerConstructed) else []


def _int(node: Der | None, default: int = 0) -> int:
    if isinstance(node, DerInteger):
        return node.value
    if isinstance(node, DerPrimitive) and node.value:
        return int.from_bytes(node.value, "big", signed=True)
    return default


def _time(value: _dt.datetime) -> DerString:
    return DerString(GENERALIZED_TIME, value.strftime("%Y%m%d%H%M%SZ").encode())


def _parse_time(node: Der) -> _dt.datetime | None:
    if not isinstance(node, DerString):
        return None
    try:
        return _dt.datetime.strptime(node.value.decode(), "%Y%m%d%H%M%SZ").replace(tzinfo=_dt.UTC)
    except ValueError:
        return None


def _ski(key: ec.EllipticCurvePublicKey | None) -> bytes:
    """Subject key identifier as SMKI uses it: 8 bytes of the key's SHA-1."""
    if key is None:
        return bytes(8)
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha1(point).digest()[-8:]


def _failure(incoming: Incoming, tree: Der, code: int) -> Der:
    """The use case's response shape carrying result `code` (forced lab fault)."""
    mc = incoming.message.message_code
    if mc == 0x0012:
        return DerSequence([DerInteger(code), DerOctetString(b"\x00\x00\x00\x00")])
    if mc == 0x0129:
        return DerSequence([DerOctetString(b"\x00\x00\x00\x00"), DerInteger(code)])
    if mc == 0x0013:
        return DerSequence([DerInteger(code)])
    return DerInteger(code)


# -- CS02a / CS02f: security credential details -------------------------------------------


def _cells_for(device: Device, role: AnchorRole) -> list[TrustAnchor]:
    return [c for c in device.anchors.cells() if c.role == role]


def provide_credentials(device: Device, incoming: Incoming, tree: Der) -> Der:
    requests: list[int] = []
    for part in _items(tree):
        inner = _items(part)
        if (
            inner
            and isinstance(inner[0], DerInteger)
            and len(inner) == 2
            and isinstance(inner[1], DerBitString)
        ):
            requests.append(inner[0].value)
        else:
            requests.extend(_int(i) for i in inner if isinstance(i, DerInteger))
    answers: list[Der] = []
    for number in requests:
        role = ROLES_BY_NUMBER.get(number)
        cells = _cells_for(device, role) if role is not None else []
        if not cells:
            answers.append(DerSequence([DerInteger(number), DerEnumerated(STATUS_NO_CELL)]))
            continue
        details: list[Der] = []
        for cell in cells:
            if cell.ds_key is not None:
                details.append(
                    DerSequence(
                        [
                            USAGE_SIGNING,
                            DerOctetString(bytes(cell.eui)),
                            DerOctetString(_ski(cell.ds_key)),
                        ]
                    )
                )
            if cell.ka_key is not None:
                details.append(
                    DerSequence(
                        [
                            USAGE_KEY_AGREEMENT,
                            DerOctetString(bytes(cell.eui)),
                            DerOctetString(_ski(cell.ka_key)),
                        ]
                    )
                )
        answers.append(
            DerSequence(
                [DerInteger(number), DerEnumerated(STATUS_OK), DerInteger(0), DerSequence(details)]
            )
        )
    return DerSequence(answers)


# -- CS02b / CS02g: replace trust anchors ---------------------------------------------------


def _certificates(node: Der, found: list[bytes]) -> None:
    """Every DER certificate (SEQUENCE of tbs SEQUENCE(>=7), algorithm, signature) in a tree."""
    items = _items(node)
    if (
        isinstance(node, DerConstructed)
        and node.identifier() == b"\x30"
        and len(items) == 3
        and isinstance(items[0], DerConstructed)
        and len(_items(items[0])) >= 7
        and isinstance(items[2], DerBitString)
    ):
        found.append(node.encode())
        return
    for item in items:
        _certificates(item, found)


def update_credentials(device: Device, incoming: Incoming, tree: Der) -> Der:
    parts = _items(tree)
    header = _items(parts[0]) if parts else []
    role_number = _int(header[0]) if header else 0
    counter = next(
        (_int(h) for h in header if isinstance(h, DerPrimitive) and h.identifier() == b"\x83"), 0
    )
    execution = next(
        (h for h in header if isinstance(h, DerPrimitive) and h.identifier() == b"\x84"), None
    )
    future = execution is not None and any(execution.value)
    certificates: list[bytes] = []
    for part in parts[1:2]:
        _certificates(part, certificates)
    if future:
        return DerSequence([DerNull()])
    results: list[Der] = []
    for der in certificates:
        results.append(_replace_cell(device, der))
    return DerSequence(
        [
            DerNull(),
            DerSequence(
                [
                    DerInteger(counter),
                    DerInteger(role_number),
                    DerSequence([DerSequence([DerInteger(role_number), DerInteger(0)])]),
                    DerSequence(results),
                ]
            ),
        ]
    )


def _replace_cell(device: Device, der: bytes) -> Der:
    try:
        cert: x509.Certificate | None = x509.load_der_x509_certificate(der)
        public = cert.public_key() if cert is not None else None
    except ValueError:
        cert, public = None, public_key_from_certificate_der(der)
    eui, role, signing = _certificate_identity(cert)
    cell = device.anchors.get(role) if role is not None else None
    usage = USAGE_SIGNING if signing else USAGE_KEY_AGREEMENT
    role_number = ROLE_NUMBERS.get(role, 0) if role is not None else 0
    cell_id = DerSequence([DerInteger(role_number), usage])
    if cell is None or eui is None or not isinstance(public, ec.EllipticCurvePublicKey):
        return DerSequence(
            [
                cell_id,
                DerEnumerated(STATUS_NOT_REPLACED),
                DerOctetString(bytes(8)),
                DerOctetString(bytes(8)),
                DerOctetString(bytes(8)),
                DerOctetString(bytes(8)),
            ]
        )
    old_key = cell.ds_key if signing else cell.ka_key
    old = (bytes(cell.eui), _ski(old_key))
    replaced = TrustAnchor(
        cell.role,
        eui,
        public if signing else cell.ds_key,
        cell.ka_key if signing else public,
    )
    device.anchors.put(replaced)
    return DerSequence(
        [
            cell_id,
            DerEnumerated(STATUS_OK),
            DerOctetString(old[0]),
            DerOctetString(old[1]),
            DerOctetString(bytes(eui)),
            DerOctetString(_ski(public)),
        ]
    )


def _certificate_identity(
    cert: x509.Certificate | None,
) -> tuple[Eui64 | None, AnchorRole | None, bool]:
    if cert is None:
        return None, None, True
    from emulator.pki.testpki import eui_from_certificate

    eui = eui_from_certificate(cert)
    role: AnchorRole | None = None
    ou = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
    if ou:
        try:
            role = ROLES_BY_NUMBER.get(int(str(ou[0].value)))
        except ValueError:
            role = None
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        signing = usage.digital_signature
    except x509.ExtensionNotFound:
        signing = True
    return eui, role, signing


# -- CS02c / CS02d / CS02e: device credentials ---------------------------------------------


def issue_credentials(device: Device, incoming: Incoming, tree: Der) -> Der:
    """Generate a new key pair for the requested usage; answer a certification request."""
    signing = _requested_signing(tree)
    key = ec.generate_private_key(ec.SECP256R1())
    pending: dict[KeyUsage, ec.EllipticCurvePrivateKey] = getattr(device, "pending_keys", {})
    usage = KeyUsage.DIGITAL_SIGNATURE if signing else KeyUsage.KEY_AGREEMENT
    pending[usage] = key
    device.pending_keys = pending  # type: ignore[attr-defined]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.KeyUsage(signing, False, False, False, not signing, False, False, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return decode_der(csr.public_bytes(serialization.Encoding.DER))


def _requested_signing(tree: Der) -> bool:
    for item in _items(tree):
        if isinstance(item, DerBitString):
            return bool(item.value and item.value[0] & 0x80)
    return True


def update_device_certificate(device: Device, incoming: Incoming, tree: Der) -> Der:
    """Install a certificate issued for a key from CS02c: 0 done, 3 no matching key."""
    try:
        cert = x509.load_der_x509_certificate(tree.encode())
    except ValueError:
        return DerInteger(3)
    pending: dict[KeyUsage, ec.EllipticCurvePrivateKey] = getattr(device, "pending_keys", {})
    public = cert.public_key()
    for usage, key in list(pending.items()):
        if (
            isinstance(public, ec.EllipticCurvePublicKey)
            and key.public_key().public_numbers() == public.public_numbers()
        ):
            device.own_keys[usage] = key
            device.own_certificates[usage] = cert
            del pending[usage]
            return DerInteger(0)
    return DerInteger(3)


def provide_device_certificate(device: Device, incoming: Incoming, tree: Der) -> Der:
    usage = KeyUsage.DIGITAL_SIGNATURE if _requested_signing(tree) else KeyUsage.KEY_AGREEMENT
    cert = device.own_certificates.get(usage)
    if cert is None:
        return DerInteger(3)
    return decode_der(cert.public_bytes(serialization.Encoding.DER))


# -- joins ----------------------------------------------------------------------------------


def _joined(device: Device) -> dict[bytes, int]:
    joined: dict[bytes, int] | None = getattr(device, "han_pairings", None)
    if joined is None:
        joined = {}
        device.han_pairings = joined  # type: ignore[attr-defined]
    return joined


def join(device: Device, incoming: Incoming, tree: Der) -> Der:
    items = _items(tree)
    eui = next(
        (i.value for i in items if isinstance(i, DerOctetString) and len(i.value) == 8), None
    )
    device_type = _int(items[2]) if len(items) > 2 else 0
    if eui is None:
        return DerInteger(2)
    _joined(device)[eui] = device_type
    return DerInteger(0)


def unjoin(device: Device, incoming: Incoming, tree: Der) -> Der:
    if not isinstance(tree, DerOctetString) or len(tree.value) != 8:
        return DerInteger(2)
    if _joined(device).pop(tree.value, None) is None:
        return DerInteger(1)
    return DerInteger(0)


def read_join_details(device: Device, incoming: Incoming, tree: Der) -> Der:
    rows: list[Der] = [
        DerSequence([DerOctetString(eui), DerInteger(kind)])
        for eui, kind in _joined(device).items()
    ]
    return DerSequence([DerInteger(0), DerSequence(rows)])


# -- firmware ----------------------------------------------------------------------------


def activate_firmware(device: Device, incoming: Incoming, tree: Der) -> Der:
    items = _items(tree)
    digest = items[0].value if items and isinstance(items[0], DerOctetString) else b""
    when = _parse_time(items[2]) if len(items) > 2 else None
    held: bytes | None = getattr(device, "pending_image_hash", None)
    if when is not None and when.year < 9999:
        device.activation_due = when  # type: ignore[attr-defined]
        return DerNull()
    if when is not None:  # 99991231235959Z: cancel a future activation
        device.activation_due = None  # type: ignore[attr-defined]
        return DerNull()
    if held is None or held != digest:
        return DerSequence([DerInteger(1), DerOctetString(bytes.fromhex(device.firmware_version))])
    device.firmware_version = getattr(device, "pending_image_version", device.firmware_version)
    device.pending_image_hash = None  # type: ignore[attr-defined]
    return DerSequence([DerInteger(0), DerOctetString(bytes.fromhex(device.firmware_version))])


def read_firmware_version(device: Device, incoming: Incoming, tree: Der) -> Der:
    return DerSequence([DerOctetString(bytes.fromhex(device.firmware_version)), DerInteger(0)])


# -- gas clock and GPF log ---------------------------------------------------------------


def set_gas_clock(device: Device, incoming: Incoming, tree: Der) -> Der:
    items = _items(tree)
    start = _parse_time(items[0]) if items else None
    end = _parse_time(items[1]) if len(items) > 1 else None
    now = device.clock.now()
    if start is None or end is None or not start <= now <= end:
        return DerSequence([_time(now), DerInteger(2)])
    return DerSequence([_time(now), DerInteger(0)])


def restore_gpf_log(device: Device, incoming: Incoming, tree: Der) -> Der:
    entries = _items(_items(tree)[0]) if _items(tree) else []
    results: list[Der] = []
    for entry in entries:
        pair = _items(entry)
        if len(pair) == 2 and isinstance(pair[0], DerOctetString):
            _joined(device)[pair[0].value] = _int(pair[1])
            results.append(DerSequence([entry, DerInteger(0)]))
        else:
            results.append(DerSequence([entry, DerInteger(2)]))
    return DerSequence([DerSequence(results)])


HANDLERS: dict[int, Handler] = {
    0x0008: provide_credentials,  # CS02a
    0x011B: provide_credentials,  # CS02f
    0x000A: issue_credentials,  # CS02c
    0x000B: update_device_certificate,  # CS02d
    0x000C: provide_device_certificate,  # CS02e
    0x000D: join,  # CS03A1
    0x000E: join,  # CS03B
    0x00AB: join,  # CS03A2
    0x00AF: join,  # CS03C
    0x000F: unjoin,  # CS04AC
    0x0010: unjoin,  # CS04B
    0x0013: read_join_details,  # CS07
    0x0012: activate_firmware,  # CS06
    0x0129: read_firmware_version,  # CS08
    0x007F: set_gas_clock,  # GCS28
    0x008C: restore_gpf_log,  # GCS59
    **dict.fromkeys(range(0x0100, 0x010A), update_credentials),  # CS02b variants
    0x0125: update_credentials,  # CS02g
}
