"""`smets-hil firmware build / inspect / test-images` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.devices.anchors import AnchorRole
from emulator.gbcs import ota
from emulator.pki.folder import export_folder
from emulator.pki.keystore import KeyUsage
from emulator.premises import lab_pki
from hil.cli import main
from hil.firmware import write_test_images

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "firmware_images"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _build(tmp_path: Path, *extra: str) -> tuple[Path, str]:
    image = tmp_path / "image.bin"
    image.write_bytes(b"manufacturer image bytes")
    out = tmp_path / "image.ota"
    code, stdout, stderr = run(
        "firmware", "build", "--manufacturer", "0x1234", "--image-type", "GSME",
        "--version", "01020304", "--hardware", "1-2", *extra, "-o", str(out), str(image),
    )  # fmt: skip
    assert code == 0, stderr
    return out, stdout.strip()


def test_committed_test_images_are_regenerated_byte_for_byte(tmp_path: Path) -> None:
    write_test_images(tmp_path)
    committed = sorted(p.name for p in IMAGES.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (IMAGES / name).read_bytes(), name


def test_build_prints_the_hash_and_inspect_accepts_it(tmp_path: Path) -> None:
    out, printed = _build(tmp_path)
    image = ota.decode_image(out.read_bytes())
    assert printed == ota.image_hash(b"manufacturer image bytes").hex().upper()
    assert image.header.image_type == 2 and image.header.version_hex == "01020304"
    assert (image.header.hardware_min, image.header.hardware_max) == (1, 2)
    code, stdout, _ = run("firmware", "inspect", str(out), "--expect-hash", printed)
    assert code == 0
    assert "signature                    valid" in stdout
    assert f"total_image_size             {out.stat().st_size}" in stdout


def test_build_is_deterministic(tmp_path: Path) -> None:
    first, _ = _build(tmp_path)
    data = first.read_bytes()
    second, _ = _build(tmp_path)
    assert second.read_bytes() == data


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("esme-bad-signature.ota", [], "does not verify"),
        ("esme-corrupted.ota", [], "does not verify"),
        ("esme-wrong-hardware.ota", ["--hardware-version", "1"], "not for hardware version 1"),
        ("esme.ota", ["--expect-hash", "00" * 32], "expected"),
    ],
)
def test_inspect_fails_a_bad_image(name: str, args: list[str], message: str) -> None:
    code, _, stderr = run("firmware", "inspect", *args, str(IMAGES / name))
    assert code == 1
    assert message in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"hello, not firmware\n", "not a ZigBee OTA file"),
        (bytes(range(256)) * 3, "not a ZigBee OTA file"),
        ((IMAGES / "esme.ota").read_bytes()[:120], "needs 177 byte(s)"),
        ((IMAGES / "esme.ota").read_bytes()[:30], "needs 56 byte(s)"),
    ],
    ids=["empty", "text", "garbage", "truncated", "truncated-header"],
)
def test_inspect_bad_input_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.ota"
    path.write_bytes(content)
    code, stdout, stderr = run("firmware", "inspect", str(path))
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("smets-hil: error: ")
    assert message in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "0102"], "8 hex digits"),
        (["--version", "nothex!!"], "not hexadecimal"),
        (["--hardware", "3-1"], "above maximum"),
        (["--hardware", "7"], "MIN-MAX"),
        (["--manufacturer", "0x12345"], "16 bits"),
        (["--image-type", "toaster"], "neither ESME/GSME/CHF/PPMID nor a 16-bit number"),
        (["--header-string", "x" * 33], "at most 32"),
    ],
)
def test_build_bad_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    image = tmp_path / "image.bin"
    image.write_bytes(b"x")
    base = {"--manufacturer": "1", "--image-type": "1", "--version": "01000000"}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = value
    flat = [item for pair in base.items() for item in pair]
    code, _, stderr = run("firmware", "build", *flat, "-o", str(tmp_path / "o"), str(image))
    assert code == 2, stderr  # usage
    assert stderr.count("\n") == 1 and message in stderr


def test_build_of_an_empty_image_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    code, _, stderr = run(
        "firmware", "build", "--manufacturer", "1", "--image-type", "1", "--version", "01000000",
        "-o", str(tmp_path / "o"), str(empty),
    )  # fmt: skip
    assert code == 2 and "empty" in stderr


def test_keys_folder_signs_and_verifies(tmp_path: Path) -> None:
    _, parties = lab_pki("other-lab")
    supplier = parties[AnchorRole.SUPPLIER]
    keys = tmp_path / "keys"
    ds = KeyUsage.DIGITAL_SIGNATURE
    export_folder(keys, [(supplier.eui, ds, supplier.certificates[ds], supplier.keys[ds])])
    out, _ = _build(tmp_path, "--keys", str(keys), "--signer", str(supplier.eui))
    assert run("firmware", "inspect", "--keys", str(keys), str(out))[0] == 0
    # the default test PKI (another seed) holds another key for that EUI
    code, _, stderr = run("firmware", "inspect", str(out))
    assert code == 1 and "does not verify" in stderr
    assert run("firmware", "inspect", "--seed", "other-lab", str(out))[0] == 0
