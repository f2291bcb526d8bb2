"""ASN.1 (DER) use cases: security credentials, firmware activation, joins, clocks.

Each handler reads the command's DER tree and answers with the use case's DER
response, computed from device state:

- CS02a/CS02f report trust anchor cells; CS02b/CS02g replace them from the
  certificates carried (future-dated when an execution time is given); CS02c
  generates a new key pair and returns a certification request; CS02d installs
  the device certificate issued for it; CS02e returns a device certificate;
- CS03A1/A2/B/C record a HAN pairing (refused when the device log is full),
  CS04AC/CS04B remove one, CS07 lists them;
- CS06 activates the firmware image held with the given hash; CS08 reads the
  firmware version of a PPMID or HCALCS;
- GCS28 sets the gas meter clock if its time lies in the validity window;
  GCS59 restores the GPF device log.

Result codes are the integers GBCS defines for each response, worked out from
the command and the device's state; a lab can make the device's store fail
(`storage_fault`), and the use cases that read or write it report that failure.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.devices.anchors import AnchorRole, TrustAnchor
from emulator.devices.base import Device, FirmwareActivation, Incoming, Reply
from emulator.errors import GbcsError, SignatureError
from emulator.gbcs import ota
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
from emulator.gbcs.crypto import verify
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage, public_key_from_certificate_der

GENERALIZED_TIME = 0x18
FIRMWARE_ACTIVATION_ALERT = 0x00CA  # message code of the future-dated CS06 outcome alert
CS09 = 0x012B  # PPMID Firmware Activation Alert (message code)
PPMID_ACTIVATION_ALERT_CODE = 0x8F8B  # its alert code in the RTDS alert
ALERT_FUTURE_SUCCESS, ALERT_FUTURE_FAILURE = 0x8F66, 0x8F67
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
STATUS_OK, STATUS_NOT_REPLACED, STATUS_NOT_APPLICABLE, STATUS_NO_CELL = 0, 10, 25, 127
JOIN_INVALID_METHOD, JOIN_DEVICE_LOG_FULL = 2, 4  # CS03 response codes
# CS06 response codes: 0 success, 1 no image held, 2 hash mismatch, 3 activation failure
ACTIVATE_NO_IMAGE, ACTIVATE_HASH_MISMATCH, ACTIVATE_FAILURE = 1, 2, 3
# event log codes of an activation (GBCS alert/event codes)
FIRMWARE_VERIFICATION_FAILED = 0x8F1C
FIRMWARE_VERSION_CHANGED = 0x8F43
FIRMWARE_VERIFICATION_SUCCESSFUL = 0x8F72
#: Roles a device type has no trust anchor cell for (only hubs trust the WAN provider).
NOT_APPLICABLE: dict[str, frozenset[AnchorRole]] = {
    "ESME": frozenset({AnchorRole.WAN_PROVIDER}),
    "GSME": frozenset({AnchorRole.WAN_PROVIDER, AnchorRole.LOAD_CONTROLLER}),
    "PPMID": frozenset({AnchorRole.WAN_PROVIDER, AnchorRole.LOAD_CONTROLLER}),
    "HCALCS": frozenset({AnchorRole.WAN_PROVIDER}),
}
#: Roles whose cells are never reported by CS02a/CS02f (held only during a change of supplier).
NOT_REPORTED = frozenset({AnchorRole.TRANSITIONAL_COS})

Handler = Callable[[Device, Incoming, Der], Der]


def execute_asn1(device: Device, incoming: Incoming, tree: Der) -> Reply | None:
    handler = HANDLERS.get(incoming.message.message_code)
    if handler is None:
        return None
    return Reply(handler(device, incoming, tree))


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


# -- CS02a / CS02f: security credential details -------------------------------------------


def _cells_for(device: Device, role: AnchorRole) -> list[TrustAnchor]:
    return [c for c in device.anchors.cells() if c.role == role]


def provide_credentials(device: Device, incoming: Incoming, tree: Der) -> Der:
    """Report the anchor cells of the roles asked about (the last SEQUENCE of the command).

    Status per role: 0 with the cells' key identifiers; 25 for a role this device
    type has no cell for; 127 for a role whose cell is empty or not reported.
    """
    parts = _items(tree)
    requests = [_int(i) for i in _items(parts[-1]) if isinstance(i, DerInteger)] if parts else []
    absent = NOT_APPLICABLE.get(device.device_type.value, frozenset())
    answers: list[Der] = []
    for number in requests:
        role = ROLES_BY_NUMBER.get(number)
        if role is None or role in absent:
            answers.append(DerSequence([DerInteger(number), DerEnumerated(STATUS_NOT_APPLICABLE)]))
            continue
        cells = [] if role in NOT_REPORTED else _cells_for(device, role)
        if not cells:
            answers.append(DerSequence([DerInteger(number), DerEnumerated(STATUS_NO_CELL)]))
            continue
        details: list[Der] = []
        for cell in cells:
            eui = DerOctetString(bytes(cell.eui))
            if cell.ds_key is not None:
                details.append(DerSequence([USAGE_SIGNING, eui, DerOctetString(_ski(cell.ds_key))]))
            if cell.ka_key is not None:
                details.append(
                    DerSequence([USAGE_KEY_AGREEMENT, eui, DerOctetString(_ski(cell.ka_key))])
                )
            if cell.pp_key is not None:
                details.append(
                    DerSequence(
                        [USAGE_KEY_AGREEMENT, DerInteger(1), eui, DerOctetString(_ski(cell.pp_key))]
                    )
                )
        answers.append(
            DerSequence(
                [DerInteger(number), DerEnumerated(STATUS_OK), DerInteger(0), DerSequence(details)]
            )
        )
    return DerSequence(answers)


def _certificates(node: Der, found: list[tuple[bytes, Der | None]]) -> None:
    """Every DER certificate in a tree, with the cell id that follows it, if any."""
    items = _items(node)
    for index, item in enumerate(items):
        if _is_certificate(item):
            following = items[index + 1] if index + 1 < len(items) else None
            cell_id = (
                following if following is not None and not _is_certificate(following) else None
            )
            found.append((item.encode(), cell_id))
        else:
            _certificates(item, found)


def _is_certificate(node: Der) -> bool:
    items = _items(node)
    return (
        isinstance(node, DerConstructed)
        and node.identifier() == b"\x30"
        and len(items) == 3
        and isinstance(items[0], DerConstructed)
        and len(_items(items[0])) >= 7
        and isinstance(items[2], DerBitString)
    )


def update_credentials(device: Device, incoming: Incoming, tree: Der) -> Der:
    parts = _items(tree)
    header = _items(parts[0]) if parts else []
    role_number = _int(header[0]) if header else 0
    counter = next(
        (_int(h) for h in header if isinstance(h, DerPrimitive) and h.identifier() == b"\x83"), 0
    )
    echo = next(
        (h for h in header if isinstance(h, DerConstructed) and h.identifier() == b"\xa5"), None
    )
    certificates: list[tuple[bytes, Der | None]] = []
    for part in parts[1:2]:
        _certificates(part, certificates)
    execution = _parse_time(parts[-1]) if len(parts) > 3 else None
    if execution is not None:
        # future-dated (or, with 9999-12-31, a cancellation): accepted now, run later
        device.pending_credentials = (execution, [] if execution.year >= 9999 else certificates)  # type: ignore[attr-defined]
        return DerSequence([DerNull()])
    supplier = _supplier(device)
    results = [_replace_cell(device, der, cell_id) for der, cell_id in certificates]
    replaced = any(
        isinstance(r, DerConstructed)
        and isinstance(status := r.items[1], DerEnumerated)
        and status.value == STATUS_OK
        for r in results
    )
    by_cos = incoming.message.message_code == CS02B_SUPPLIER_BY_TRANS_COS
    if replaced and (by_cos or _supplier(device) != supplier):
        device.change_of_supplier()
    outcome: list[Der] = [DerInteger(role_number), DerInteger(0)]
    if echo is not None:
        outcome.append(DerSequence(list(echo.items)))
    return DerSequence(
        [
            DerNull(),
            DerSequence(
                [
                    DerInteger(counter),
                    DerInteger(role_number),
                    DerSequence([DerSequence(outcome)]),
                    DerSequence(results),
                ]
            ),
        ]
    )


#: CS02b by the transitional change of supplier party: the incoming supplier's cells.
CS02B_SUPPLIER_BY_TRANS_COS = 0x0107


def _supplier(device: Device) -> Eui64 | None:
    """Who holds the supplier's cells: a CS02b that changes it is a change of supplier,
    and so is every one by the change of supplier party (SupplierByTransCoS)."""
    cell = device.anchors.get(AnchorRole.SUPPLIER)
    return None if cell is None else cell.eui


def _replace_cell(device: Device, der: bytes, cell_id: Der | None) -> Der:
    """Put one new certificate's key into the cell the command names.

    The cell id is (role, key usage[, index]); index 1 of the supplier's key
    agreement cells is the prepayment (top-up) key.
    """
    try:
        cert: x509.Certificate | None = x509.load_der_x509_certificate(der)
        public = cert.public_key() if cert is not None else None
    except ValueError:
        cert, public = None, public_key_from_certificate_der(der)
    eui, cert_role, cert_signing = _certificate_identity(cert)
    parts = _items(cell_id) if cell_id is not None else []
    role = ROLES_BY_NUMBER.get(_int(parts[0])) if parts else cert_role
    signing = _requested_signing(cell_id) if cell_id is not None else cert_signing
    prepayment = len(parts) > 2 and _int(parts[2]) == 1
    if cell_id is None:
        usage = USAGE_SIGNING if signing else USAGE_KEY_AGREEMENT
        cell_id = DerSequence([DerInteger(ROLE_NUMBERS.get(role, 0) if role else 0), usage])
    cell = device.anchors.get(role) if role is not None else None
    if cell is None or eui is None or not isinstance(public, ec.EllipticCurvePublicKey):
        blank = DerOctetString(bytes(8))
        return DerSequence(
            [cell_id, DerEnumerated(STATUS_NOT_REPLACED), blank, blank, blank, blank]
        )
    old_key = cell.pp_key if prepayment else cell.ds_key if signing else cell.ka_key
    old = (bytes(cell.eui), _ski(old_key))
    device.anchors.put(
        TrustAnchor(
            cell.role,
            eui,
            public if signing else cell.ds_key,
            public if not signing and not prepayment else cell.ka_key,
            public if prepayment else cell.pp_key,
        )
    )
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
    """Generate a new key pair for the requested usage; answer a certification request
    (3, CR production failed, when the key store fails)."""
    if device.storage_fault:
        return DerInteger(3)
    signing = _requested_signing(tree)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = KeyUsage.DIGITAL_SIGNATURE if signing else KeyUsage.KEY_AGREEMENT
    device.pending_keys[usage] = key
    from emulator.pki.testpki import device_identity_name

    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(
            x509.KeyUsage(signing, False, False, False, not signing, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName([device_identity_name(device.eui)]), critical=True
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
    """Install a certificate for a key from CS02c (or re-issued for the key in use).

    0: installed; 3: no key of this device matches, or the key usage is wrong.
    """
    try:
        cert = x509.load_der_x509_certificate(tree.encode())
    except ValueError:
        return DerInteger(3)
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or not _usage_matches(cert):
        return DerInteger(3)
    for usage, key in list(device.pending_keys.items()):
        if key.public_key().public_numbers() == public.public_numbers():
            device.install_key(usage, key, cert)
            del device.pending_keys[usage]
            return DerInteger(0)
    for usage, current in list(device.own_certificates.items()):
        current_key = current.public_key()
        if (
            isinstance(current_key, ec.EllipticCurvePublicKey)
            and current_key.public_numbers() == public.public_numbers()
        ):
            if usage in device.own_keys:
                device.install_key(usage, device.own_keys[usage], cert)
            else:
                device.own_certificates[usage] = cert
            return DerInteger(0)
    return DerInteger(3)


def _usage_matches(cert: x509.Certificate) -> bool:
    """A device certificate carries exactly one of digitalSignature / keyAgreement."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    others = usage.content_commitment or usage.key_encipherment or usage.data_encipherment
    return usage.digital_signature != usage.key_agreement and not others


def provide_device_certificate(device: Device, incoming: Incoming, tree: Der) -> Der:
    usage = KeyUsage.DIGITAL_SIGNATURE if _requested_signing(tree) else KeyUsage.KEY_AGREEMENT
    if device.storage_fault:
        return DerInteger(3)  # certificate retrieval failure
    cert = device.own_certificates.get(usage)
    if cert is None:
        return DerInteger(2)  # no certificate held
    return decode_der(cert.public_bytes(serialization.Encoding.DER))


# -- joins ----------------------------------------------------------------------------------


def _joined(device: Device) -> dict[bytes, int]:
    return device.han_pairings


#: Join method and role (GBCS CS03): method A initiator / responder, B, C.
JOIN_METHOD_B, JOIN_METHOD_C = 2, 3
#: GBCS device type of a Type 2 device (IHD, consumer access device) in a join.
TYPE2_DEVICE = 6
#: GBCS device types a method B join may name, by the device joining: the gas
#: meter and its GPF pair with each other, and a meter with a Type 2 device
#: (a consumer access device an Other User joins: DOMAIN.md, catalogue 8.7.2).
METHOD_B_PARTNERS: dict[str, frozenset[int]] = {
    "ESME": frozenset({TYPE2_DEVICE}),
    "GSME": frozenset({3, TYPE2_DEVICE}),  # its GPF, a Type 2 device
    "GPF": frozenset({0}),  # its GSME
}
JOIN_OK, JOIN_INCOMPATIBLE, JOIN_WRITE_FAILURE = 0, 3, 5
JOIN_MISSING_CERTIFICATE = 11


def join(device: Device, incoming: Incoming, tree: Der) -> Der:
    """Record a HAN pairing in the device log.

    2: a method B join of a device type this device does not pair with by method B
    (or a malformed command); 11: a method C join without the partner's certificate;
    3: the log holds the device under another type; 4: the device log is full
    (`Device.device_log_capacity` entries, none of them the partner); 5: the log
    cannot be written.
    """
    items = _items(tree)
    eui = next(
        (i.value for i in items if isinstance(i, DerOctetString) and len(i.value) == 8), None
    )
    if eui is None or len(items) < 3:
        return DerInteger(JOIN_INVALID_METHOD)
    method, device_type = _int(items[0]), _int(items[2])
    if method == JOIN_METHOD_B and device_type not in METHOD_B_PARTNERS.get(
        device.device_type.value, frozenset()
    ):
        return DerInteger(JOIN_INVALID_METHOD)
    if method == JOIN_METHOD_C and not any(_is_certificate(i) for i in items[3:]):
        return DerInteger(JOIN_MISSING_CERTIFICATE)
    log = _joined(device)
    known = log.get(eui)
    if known is not None and known != device_type:
        return DerInteger(JOIN_INCOMPATIBLE)
    if device.storage_fault:
        return DerInteger(JOIN_WRITE_FAILURE)
    if eui not in log and len(log) >= device.device_log_capacity:
        return DerInteger(JOIN_DEVICE_LOG_FULL)
    log[eui] = device_type
    return DerInteger(JOIN_OK)


def unjoin(device: Device, incoming: Incoming, tree: Der) -> Der:
    if not isinstance(tree, DerOctetString) or len(tree.value) != 8:
        return DerInteger(2)
    if _joined(device).pop(tree.value, None) is None:
        return DerInteger(1)
    return DerInteger(0)


def read_join_details(device: Device, incoming: Incoming, tree: Der) -> Der:
    if device.storage_fault:
        return DerSequence([DerInteger(1)])  # read failure
    rows: list[Der] = [
        DerSequence([DerOctetString(eui), DerInteger(kind)])
        for eui, kind in _joined(device).items()
    ]
    return DerSequence([DerInteger(0), DerSequence(rows)])


# -- firmware ----------------------------------------------------------------------------


def activate_firmware(device: Device, incoming: Incoming, tree: Der) -> Der:
    """CS06: activate the held image now, or at the execution date-time if one is given.

    A future-dated activation is acknowledged with NULL and carried out when the
    clock reaches it (`complete_firmware_activation`); 99991231235959Z cancels it.
    It names the image by its hash and nothing is checked at receipt: the image
    may still be on its way through the hub, and is looked for at the execution time.
    """
    items = _items(tree)
    digest = items[0].value if items and isinstance(items[0], DerOctetString) else b""
    when = _parse_time(items[2]) if len(items) > 2 else None
    if when is not None and when.year < 9999:
        msg = incoming.message
        counter = _int(items[1], msg.counter) if len(items) > 1 else msg.counter
        device.schedule_firmware_activation(
            FirmwareActivation(when, digest, counter, msg.originator)
        )
        return DerNull()
    if when is not None:  # 99991231235959Z: cancel a future activation
        device.schedule_firmware_activation(None)
        return DerNull()
    return _activate_image(device, digest)


def _activate_image(device: Device, digest: bytes) -> Der:
    """The CS06 response: 0 and the new version, or the reason and the running version:
    1 no image held, 2 the image held has another hash, 3 the image held fails the
    device's own checks (supplier signature, hardware range, a file it cannot read).

    When the device holds the OTA file itself it recomputes the manufacturer image
    hash over the bytes it holds (a corrupted image no longer matches the hash the
    command names) and verifies the supplier's signature before it switches. A
    refusal is written to the event log and the old firmware keeps running; the
    held image stays, so a later CS06 can name it again.
    """
    held = device.pending_image_hash
    if held is None and device.held_image is None:
        # a future-dated CS06 looks for its image only now: a transfer that has not
        # ended by the execution time fails it here (and in its 0x00CA alert)
        device.event_log.record(
            device.clock.now(), FIRMWARE_VERIFICATION_FAILED, f"no image held for {digest.hex()}"
        )
        return _activation_outcome(device, ACTIVATE_NO_IMAGE)
    version = device.pending_image_version
    if device.held_image is not None:
        problem, code, version = _check_held_image(device, digest)
        if problem:
            device.event_log.record(device.clock.now(), FIRMWARE_VERIFICATION_FAILED, problem)
            return _activation_outcome(device, code)
        device.event_log.record(
            device.clock.now(), FIRMWARE_VERIFICATION_SUCCESSFUL, f"image {digest.hex()}"
        )
        device.running_image = device.held_image
        device.held_image = None
    elif held != digest:
        device.event_log.record(
            device.clock.now(), FIRMWARE_VERIFICATION_FAILED, f"held hash is not {digest.hex()}"
        )
        return _activation_outcome(device, ACTIVATE_HASH_MISMATCH)
    old = device.firmware_version
    device.firmware_version = version or device.firmware_version
    device.pending_image_hash = None
    device.pending_image_version = None
    if device.firmware_version != old:
        device.event_log.record(
            device.clock.now(), FIRMWARE_VERSION_CHANGED, f"{old} -> {device.firmware_version}"
        )
    return _activation_outcome(device, 0)


def _activation_outcome(device: Device, code: int) -> Der:
    return DerSequence([DerInteger(code), DerOctetString(bytes.fromhex(device.firmware_version))])


def _check_held_image(device: Device, digest: bytes) -> tuple[str, int, str | None]:
    """Why the held OTA file must not be activated ("" when it may), the CS06 code to
    give, and the version it carries."""
    assert device.held_image is not None
    try:
        image = ota.decode_image(device.held_image, signed=ota.signed_for(device.device_type.value))
    except GbcsError as exc:
        return f"held image unreadable: {exc}", ACTIVATE_FAILURE, None
    if image.manufacturer_image_hash != digest:
        return (
            f"manufacturer image hash {image.manufacturer_image_hash.hex()} is not {digest.hex()}",
            ACTIVATE_HASH_MISMATCH,
            None,
        )
    if not image.header.accepts_hardware(device.hardware_version):
        return (
            f"image for hardware {image.header.hardware_min}-{image.header.hardware_max},"
            f" device is {device.hardware_version}",
            ACTIVATE_FAILURE,
            None,
        )
    if image.signature is None:  # a PPMID image (CS05c): the hash is the whole check
        return "", 0, image.header.version_hex
    supplier = device.anchors.get(AnchorRole.SUPPLIER)
    if supplier is None or supplier.ds_key is None:
        return "no supplier trust anchor to check the image signature", ACTIVATE_FAILURE, None
    try:
        verify(supplier.ds_key, image.signed_bytes, image.signature)
    except SignatureError as exc:
        return f"supplier signature: {exc}", ACTIVATE_FAILURE, None
    return "", 0, image.header.version_hex


def complete_firmware_activation(device: Device, activation: FirmwareActivation) -> None:
    """Run a future-dated CS06 that fell due and tell its originator (alert 0x00CA).

    The alert body, as in the RTDS: alert code (8F66 done, 8F67 not done), the
    execution date-time, the command's originator counter, then the response an
    immediate CS06 would have given. It is signed like every future-dated outcome.
    """
    outcome = _activate_image(device, activation.image_hash)
    done = _int(_items(outcome)[0], 1) == 0
    body = DerSequence(
        [
            DerInteger(ALERT_FUTURE_SUCCESS if done else ALERT_FUTURE_FAILURE),
            _time(activation.at),
            DerInteger(activation.counter),
            outcome,
        ]
    )
    device.emit_alert(FIRMWARE_ACTIVATION_ALERT, activation.originator, body, critical=True)


def activate_on_receipt(device: Device) -> None:
    """Activate the image just received (the PPMID, CS05c) with the checks a CS06
    would make, and raise CS09 to the ACB: SEQUENCE { alert code 0x8F8B, date-time,
    the firmware version now running, 0 activated / 1 not } (the RTDS layout)."""
    digest = device.pending_image_hash
    if digest is None:
        return
    outcome = _activate_image(device, digest)
    done = _int(_items(outcome)[0], 1) == 0
    body = DerSequence(
        [
            DerInteger(PPMID_ACTIVATION_ALERT_CODE),
            _time(device.clock.now()),
            DerOctetString(bytes.fromhex(device.firmware_version)),
            DerInteger(0 if done else 1),
        ]
    )
    device.emit_alert(CS09, device.security.acb, body, critical=True)


def read_firmware_version(device: Device, incoming: Incoming, tree: Der) -> Der:
    if device.storage_fault:
        return DerSequence([DerOctetString(bytes(4)), DerInteger(1)])  # read failure
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
    """GCS59: the GPF Device Log becomes the entries given (a replaced hub's log);
    an entry it cannot read is refused (2) and left out."""
    entries = _items(_items(tree)[0]) if _items(tree) else []
    results: list[Der] = []
    restored: dict[bytes, int] = {}
    for entry in entries:
        pair = _items(entry)
        if len(pair) == 2 and isinstance(pair[0], DerOctetString) and len(pair[0].value) == 8:
            restored[pair[0].value] = _int(pair[1])
            results.append(DerSequence([entry, DerInteger(0)]))
        else:
            results.append(DerSequence([entry, DerInteger(2)]))
    device.han_pairings = restored
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
    0x0125: update_credentials,  # CS02g by the load controller
    0x0126: update_credentials,  # CS02g by the supplier
}
