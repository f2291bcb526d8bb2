"""`smets-hil firmware`: build, inspect and regenerate signed GBCS OTA Upgrade Images.

The codec (`emulator.gbcs.ota`) lays the bytes out; this module signs them as the
supplier of the lab's test PKI (or a party from `--keys`) and says what a file
holds. Signatures use the RFC 6979 nonce, so the same inputs give the same file:
`firmware_images/` is regenerated and compared byte for byte by a test.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.devices.anchors import AnchorRole
from emulator.errors import EmulatorError, SignatureError
from emulator.gbcs import ota
from emulator.gbcs.crypto import sign, verify
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyStore, KeyUsage
from emulator.pki.open import open_keystore
from hil.errors import HilError

#: The lab's image types, one per device type (ZigBee leaves the values to the
#: manufacturer; these are the lab's own choice).
IMAGE_TYPES: dict[str, int] = {"ESME": 0x0001, "GSME": 0x0002, "CHF": 0x0003, "PPMID": 0x0004}
LAB_MANUFACTURER = 0x1234
#: The hardware version every emulated device reports (`Device.hardware_version`).
LAB_HARDWARE = (1, 1)
DEFAULT_SEED = "smets-hil-lab"


class FirmwareError(HilError):
    """Bad input to a `firmware` command."""


class BadOption(click.BadParameter):
    """A bad option value: a usage error (exit 2), like click's own."""


@dataclass(frozen=True)
class Signer:
    eui: Eui64
    key: ec.EllipticCurvePrivateKey


def lab_supplier(seed: str = DEFAULT_SEED) -> tuple[Signer, KeyStore]:
    """The supplier of the lab's test PKI, and a key store that holds its certificate."""
    from emulator.premises import lab_pki

    pki, parties = lab_pki(seed)
    party = parties[AnchorRole.SUPPLIER]
    return Signer(party.eui, party.keys[KeyUsage.DIGITAL_SIGNATURE]), pki.keystore


def build_image(
    manufacturer_image: bytes,
    *,
    manufacturer: int,
    image_type: int,
    version: int,
    signer: Signer | None,
    hardware: tuple[int, int] | None = None,
    header_string: bytes = b"",
) -> bytes:
    """A signed OTA Upgrade Image around `manufacturer_image` (`signer` None: an
    unsigned one, as a PPMID takes: GBCS CS05c)."""
    header = ota.OtaHeader(
        manufacturer_code=manufacturer,
        image_type=image_type,
        file_version=version,
        total_image_size=0,
        header_string=header_string,
        hardware_min=None if hardware is None else hardware[0],
        hardware_max=None if hardware is None else hardware[1],
    )
    if signer is None:
        return ota.encode_image(header, manufacturer_image, None)
    signature = sign(signer.key, manufacturer_image)  # GBCS 11.2.2: over the image alone
    return ota.encode_image(header, manufacturer_image, signature)


def check_signature(image: ota.OtaImage, keystore: KeyStore, eui: Eui64) -> str | None:
    """None when the signature verifies with `eui`'s certificate, else why not (one line).

    The file does not name its signer (GBCS 11.2.2), so the caller says whose
    signature it should be: the supplier of the device it is for.
    """
    if image.signature is None:
        return "no supplier signature (an unsigned, PPMID image)"
    try:
        key = keystore.public_key(eui, KeyUsage.DIGITAL_SIGNATURE)
    except (EmulatorError, KeyError, OSError, ValueError) as exc:
        return f"no certificate for signer {eui}: {exc}"
    try:
        verify(key, image.signed_bytes, image.signature)
    except SignatureError as exc:
        return f"signature by {eui} does not verify: {exc}"
    return None


def describe(
    image: ota.OtaImage, keystore: KeyStore, signer: Eui64
) -> tuple[dict[str, Any], list[str]]:
    """What `inspect` shows, and the problems that make it fail."""
    h = image.header
    problems: list[str] = []
    bad_signature = None if image.signature is None else check_signature(image, keystore, signer)
    if bad_signature:
        problems.append(bad_signature)
    if h.header_version != ota.HEADER_VERSION:
        problems.append(f"header version {h.header_version:04X}, expected 0100")
    fields: dict[str, Any] = {
        "file_identifier": f"{ota.FILE_IDENTIFIER:08X}",
        "header_version": f"{h.header_version:04X}",
        "header_length": h.header_length,
        "field_control": f"{h.field_control:04X}",
        "manufacturer_code": f"{h.manufacturer_code:04X}",
        "image_type": f"{h.image_type:04X}",
        "file_version": h.version_hex,
        "stack_version": f"{h.stack_version:04X}",
        "header_string": h.header_string.decode("latin-1"),
        "total_image_size": h.total_image_size,
        "security_credential_version": h.security_credential_version,
        "destination": None if h.destination is None else str(Eui64(h.destination)),
        "hardware_version": (
            None if h.hardware_min is None else f"{h.hardware_min}-{h.hardware_max}"
        ),
        "manufacturer_image_size": len(image.manufacturer_image),
        "manufacturer_image_hash": image.manufacturer_image_hash.hex().upper(),
        "force_replace": None if image.signature is None else image.force_replace,
        "signer": None if image.signature is None else str(signer),
        "signature": (
            "none (unsigned: a PPMID image)"
            if image.signature is None
            else "valid"
            if bad_signature is None
            else "INVALID"
        ),
    }
    return fields, problems


def write_test_images(folder: Path, seed: str = DEFAULT_SEED) -> dict[str, dict[str, Any]]:
    """Write the committed test images to `folder`; returns the manifest it also writes.

    One good image per device type, and three ESME images that a device must
    refuse: a corrupted manufacturer image, the wrong hardware, a bad signature.
    """
    from emulator.premises import LAB_PARTIES

    supplier, _ = lab_supplier(seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, Any]] = {}

    def write(name: str, data: bytes, payload: bytes, expect: str, note: str) -> None:
        (folder / name).write_bytes(data)
        header = ota.decode_header(data)
        manifest[name] = {
            "image_type": f"{header.image_type:04X}",
            "file_version": header.version_hex,
            "manufacturer_image_hash": ota.image_hash(payload).hex().upper(),
            "size": len(data),
            "expect": expect,
            "note": note,
        }

    for number, (kind, image_type) in enumerate(IMAGE_TYPES.items(), start=1):
        payload = _payload(kind, 0x01000001)
        data = build_image(
            payload,
            manufacturer=LAB_MANUFACTURER,
            image_type=image_type,
            version=0x01000001,
            signer=supplier if ota.signed_for(kind) else None,
            hardware=LAB_HARDWARE,
            header_string=f"smets-hil test {kind}".encode(),
        )
        note = f"good image no. {number}" + ("" if ota.signed_for(kind) else ", unsigned (CS05c)")
        write(f"{kind.lower()}.ota", data, payload, "activates", note)

    payload = _payload("ESME", 0x01000002)
    good = build_image(
        payload,
        manufacturer=LAB_MANUFACTURER,
        image_type=IMAGE_TYPES["ESME"],
        version=0x01000002,
        signer=supplier,
        hardware=LAB_HARDWARE,
        header_string=b"smets-hil test ESME corrupted",
    )
    at = ota.decode_header(good).header_length  # the first manufacturer image byte
    corrupted = good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1 :]
    write(
        "esme-corrupted.ota",
        corrupted,
        payload,
        "hash mismatch",
        "first manufacturer image byte flipped after signing; the hash is the original's",
    )
    payload = _payload("ESME", 0x01000003)
    wrong_hw = build_image(
        payload,
        manufacturer=LAB_MANUFACTURER,
        image_type=IMAGE_TYPES["ESME"],
        version=0x01000003,
        signer=supplier,
        hardware=(9, 12),
        header_string=b"smets-hil test ESME hw 9-12",
    )
    write("esme-wrong-hardware.ota", wrong_hw, payload, "activation failure", "hardware 9-12")
    payload = _payload("ESME", 0x01000004)
    operator_eui = Eui64(LAB_PARTIES[AnchorRole.NETWORK_OPERATOR][0])
    from emulator.pki.testpki import derive_key

    impostor = Signer(supplier.eui, derive_key(seed, operator_eui, KeyUsage.DIGITAL_SIGNATURE))
    forged = build_image(
        payload,
        manufacturer=LAB_MANUFACTURER,
        image_type=IMAGE_TYPES["ESME"],
        version=0x01000004,
        signer=impostor,
        hardware=LAB_HARDWARE,
        header_string=b"smets-hil test ESME bad sig",
    )
    write(
        "esme-bad-signature.ota",
        forged,
        payload,
        "activation failure",
        "signed with the network operator's key, not the supplier's",
    )
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (folder / "manifest.json").write_text(text, encoding="utf-8")
    return manifest


def _payload(kind: str, version: int) -> bytes:
    """A tiny manufacturer image: recognisable text, never mistaken for real firmware."""
    return f"smets-hil test firmware for {kind}, version {version:08X}\n".encode()


# -- command line -------------------------------------------------------------------------


def _int(option: str, text: str, bits: int) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise BadOption(f"{option}: {text!r} is not a number (decimal or 0x hex)") from None
    if not 0 <= value < 1 << bits:
        raise BadOption(f"{option}: {text} does not fit in {bits} bits")
    return value


def _version(text: str) -> int:
    digits = text[2:] if text.lower().startswith("0x") else text
    if len(digits) != 8:
        raise BadOption(f"--version: {text!r} must be 8 hex digits (as 11.2 reports it)")
    try:
        return int(digits, 16)
    except ValueError:
        raise BadOption(f"--version: {text!r} is not hexadecimal") from None


def _hardware(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    if not sep:
        raise BadOption(f"--hardware: {text!r} must be MIN-MAX")
    pair = (_int("--hardware", low.strip(), 16), _int("--hardware", high.strip(), 16))
    if pair[0] > pair[1]:
        raise BadOption(f"--hardware: minimum {pair[0]} above maximum {pair[1]}")
    return pair


def _image_type(text: str) -> int:
    if text.upper() in IMAGE_TYPES:
        return IMAGE_TYPES[text.upper()]
    try:
        return _int("--image-type", text, 16)
    except BadOption:
        names = "/".join(IMAGE_TYPES)
        raise BadOption(f"--image-type: {text!r} is neither {names} nor a 16-bit number") from None


def _keystore(keys: str | None, seed: str) -> KeyStore:
    if keys is None:
        return lab_supplier(seed)[1]
    try:
        return open_keystore(keys)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FirmwareError(f"--keys {keys}: not a key store: {exc}") from None


def _signer(keys: str | None, signer: str | None, seed: str) -> Signer:
    if keys is None and signer is None:
        return lab_supplier(seed)[0]
    store = _keystore(keys, seed)
    default = lab_supplier(seed)[0].eui
    try:
        eui = Eui64(signer) if signer is not None else default
    except EmulatorError:
        raise FirmwareError(f"--signer: {signer!r} is not an EUI-64") from None
    try:
        return Signer(eui, store.private_key(eui, KeyUsage.DIGITAL_SIGNATURE))
    except (EmulatorError, KeyError, OSError, ValueError) as exc:
        raise FirmwareError(f"--signer {eui}: no signing key: {exc}") from None


@click.group("firmware")
def firmware_group() -> None:
    """Build and check GBCS OTA Upgrade Images (docs/firmware.md)."""


_SEED = click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Test PKI seed.")
_UNSIGNED = click.option(
    "--unsigned", is_flag=True, help="No supplier signature: a PPMID image (GBCS CS05c)."
)
_KEYS = click.option(
    "--keys", default=None, help="Key store (folder or ZAZ1 .json) instead of the test PKI."
)


@firmware_group.command("build")
@click.option("--manufacturer", required=True, help="Manufacturer code (16 bits).")
@click.option("--image-type", required=True, help="Image type (16 bits) or ESME/GSME/CHF/PPMID.")
@click.option("--version", "version", required=True, help="File version, 8 hex digits.")
@click.option("--hardware", default=None, help="Hardware versions MIN-MAX (optional).")
@click.option("--header-string", default="", help="OTA header string (at most 32 bytes).")
@click.option("--signer", default=None, help="Signer EUI-64 (default: the lab supplier).")
@_UNSIGNED
@_KEYS
@_SEED
@click.option("-o", "--output", required=True, help="Where to write the OTA file.")
@click.argument("image")
def build_command(
    manufacturer: str,
    image_type: str,
    version: str,
    hardware: str | None,
    header_string: str,
    signer: str | None,
    unsigned: bool,
    keys: str | None,
    seed: str,
    output: str,
    image: str,
) -> None:
    """Wrap manufacturer IMAGE in a signed OTA Upgrade Image; print its image hash."""
    started = time.perf_counter()
    payload = Path(image).read_bytes()
    if not payload:
        raise BadOption(f"{image}: the manufacturer image is empty")
    text = header_string.encode("utf-8")
    if len(text) > ota.HEADER_STRING_LENGTH:
        raise BadOption(f"--header-string: {len(text)} bytes, at most 32")
    data = build_image(
        payload,
        manufacturer=_int("--manufacturer", manufacturer, 16),
        image_type=_image_type(image_type),
        version=_version(version),
        signer=None if unsigned else _signer(keys, signer, seed),
        hardware=None if hardware is None else _hardware(hardware),
        header_string=text,
    )
    Path(output).write_bytes(data)
    click.echo(ota.image_hash(payload).hex().upper())
    elapsed = (time.perf_counter() - started) * 1000
    click.echo(f"wrote {output}: {len(data)} bytes in {elapsed:.1f} ms", err=True)


@firmware_group.command("inspect")
@_KEYS
@_SEED
@click.option("--expect-hash", default=None, help="Fail unless the image hash is this (hex).")
@click.option("--hardware-version", default=None, help="Fail unless the image is for it.")
@click.option("--signer", default=None, help="Whose signature (default: the lab supplier).")
@_UNSIGNED
@click.option("--json", "as_json", is_flag=True, help="Print the fields as JSON.")
@click.argument("file")
def inspect_command(
    keys: str | None,
    seed: str,
    signer: str | None,
    unsigned: bool,
    expect_hash: str | None,
    hardware_version: str | None,
    as_json: bool,
    file: str,
) -> None:
    """Decode FILE and check its sizes, hash and supplier signature (exit 1 if any fails)."""
    data = Path(file).read_bytes()
    if not data:
        raise FirmwareError(f"{file}: the file is empty")
    try:
        image = ota.decode_image(data, signed=not unsigned)
    except EmulatorError as exc:
        raise FirmwareError(f"{file}: not a valid OTA Upgrade Image: {exc}") from None
    try:
        eui = Eui64(signer) if signer is not None else lab_supplier(seed)[0].eui
    except EmulatorError:
        raise FirmwareError(f"--signer: {signer!r} is not an EUI-64") from None
    fields, problems = describe(image, _keystore(keys, seed), eui)
    if expect_hash is not None:
        actual = image.manufacturer_image_hash.hex().upper()
        if expect_hash.strip().upper() != actual:
            problems.append(f"manufacturer image hash {actual}, expected {expect_hash}")
    if hardware_version is not None:
        version = _int("--hardware-version", hardware_version, 16)
        if not image.header.accepts_hardware(version):
            problems.append(f"not for hardware version {version} ({fields['hardware_version']})")
    if as_json:
        click.echo(json.dumps({**fields, "problems": problems}, indent=2))
    else:
        width = max(len(k) for k in fields)
        for key, value in fields.items():
            if value is not None:
                click.echo(f"{key:<{width}}  {value}")
    if problems:
        for problem in problems:
            click.echo(f"smets-hil: error: {file}: {problem}", err=True)
        sys.exit(1)


@firmware_group.command("test-images")
@_SEED
@click.argument("folder")
def test_images_command(seed: str, folder: str) -> None:
    """Regenerate the signed test images (deterministic) into FOLDER."""
    if Path(folder).exists() and not Path(folder).is_dir():
        raise click.BadParameter(f"{folder}: a file, not a folder", param_hint="FOLDER")
    manifest = write_test_images(Path(folder), seed)
    for name, entry in manifest.items():
        click.echo(f"{name}: {entry['size']} bytes, expect {entry['expect']}")


__all__ = ["build_image", "check_signature", "firmware_group", "lab_supplier", "write_test_images"]
