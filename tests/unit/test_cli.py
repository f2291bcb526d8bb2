"""`smets-hil gbcs decode` and `smets-hil gbcs corpus` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.gbcs import builder
from emulator.gbcs.dlms.apdu import AccessRequest, Obis, RequestSpec, SpecKind
from emulator.gbcs.dlms.axdr import NullData
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.pki.testpki import RemotePartyRole, TestPki
from hil.cli import main

S = Eui64("90-B3-D5-1F-30-01-00-00")
D = Eui64("00-DB-12-34-56-78-90-A0")
ACB = Eui64("90-B3-D5-1F-30-00-00-02")
COUNTER = 0x0100000000000123

GET_CLOCK = AccessRequest(
    0x20000123, [RequestSpec(SpecKind.GET, 8, Obis("0-0:1.0.0.255"), 2)], [NullData()]
)


@pytest.fixture(scope="module")
def keys(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    pki.export(folder)
    return folder


@pytest.fixture(scope="module")
def messages(security: MessageSecurity) -> dict[str, bytes]:
    cmd = builder.command(0x0013, COUNTER, S, D, GET_CLOCK)
    rsp = builder.response(cmd, bytes.fromhex("DA20000123000001090201020101 00".replace(" ", "")))
    alert = builder.alert(0x1000, 0x44, D, S, bytes.fromhex("0500"))
    noncrit = builder.protect(cmd, security, critical=False).encode()
    bad_mac = bytearray(noncrit)
    bad_mac[-1] ^= 0x01
    stranger_pki = TestPki(seed="stranger")
    stranger = Eui64("00-DB-12-34-56-78-90-FF")
    stranger_pki.device(stranger)
    stranger_pki.remote_party(S, RemotePartyRole.SUPPLIER, "s")
    theirs = MessageSecurity(stranger_pki.keystore, acb=ACB)
    short = builder.command(0x0013, COUNTER, S, D, bytes.fromhex("0500"))
    return {
        # 126 bytes: its hex (252 characters) still fits in a file name
        "critical_command": builder.protect(short, security, critical=True).encode(),
        "critical_command_dlms": builder.protect(cmd, security, critical=True).encode(),
        "noncritical_response": builder.protect(rsp, security, critical=False).encode(),
        "critical_alert": builder.protect(alert, security, critical=True).encode(),
        "bad_mac": bytes(bad_mac),
        "stranger_alert": builder.protect(
            builder.alert(0x1000, 1, stranger, S, bytes.fromhex("0500")), theirs, critical=True
        ).encode(),
    }


def run(*args: str) -> tuple[int, str]:
    """Exit code and standard output (the one-line verdict or error goes to stderr)."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout


def run_err(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr


# -- gbcs decode ------------------------------------------------------------------------------


def test_decode_text_with_keys(messages: dict[str, bytes], keys: Path) -> None:
    code, out = run("gbcs", "decode", messages["critical_command"].hex(), "--keys", str(keys))
    assert code == 0, out
    assert "signature: valid   mac: valid" in out
    assert "cra=command" in out
    assert "message_code=0x0013" in out
    assert "originator=90-B3-D5-1F-30-01-00-00" in out


def test_decode_json_with_keys(messages: dict[str, bytes], keys: Path) -> None:
    assert len(messages["critical_command"]) == 126
    code, out = run(
        "gbcs", "decode", messages["critical_command"].hex().upper(), "--keys", str(keys), "--json"
    )
    assert code == 0, out
    data = json.loads(out)
    frame = data["frame"]
    assert frame["cra"] == "command"
    assert frame["message_code"] == "0x0013"
    assert frame["originator_counter"] == COUNTER
    assert frame["originator"] == "90-B3-D5-1F-30-01-00-00"
    assert frame["recipient"] == "00-DB-12-34-56-78-90-A0"
    assert frame["mac_header"] is True and frame["signature"] == "signed"
    assert data["security"] == {"signature_valid": True, "mac_valid": True, "notes": []}
    assert data["reencoded_identical"] is True
    assert data["failures"] == []
    assert data["payload"]["kind"] == "asn1"
    assert data["payload"]["tree"]["@"] == "DerNull"
    assert data["length"] == len(messages["critical_command"])


def test_decode_long_message_from_a_file(
    messages: dict[str, bytes], keys: Path, tmp_path: Path
) -> None:
    path = tmp_path / "command.HEX"
    path.write_text(messages["critical_command_dlms"].hex().upper())
    code, out = run("gbcs", "decode", str(path), "--keys", str(keys), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["security"] == {"signature_valid": True, "mac_valid": True, "notes": []}
    assert data["payload"]["kind"] == "dlms"
    assert data["payload"]["tree"]["@"] == "AccessRequest"
    assert data["reencoded_identical"] is True


def test_decode_long_hex_argument(messages: dict[str, bytes], keys: Path) -> None:
    raw = messages["critical_command_dlms"]
    assert len(raw.hex()) > 255
    code, out = run("gbcs", "decode", raw.hex(), "--keys", str(keys))
    assert code == 0, out
    assert "signature: valid   mac: valid" in out


def test_decode_without_keys(messages: dict[str, bytes]) -> None:
    code, out = run("gbcs", "decode", messages["noncritical_response"].hex())
    assert code == 0, out
    assert "signature/mac: not checked (give --keys)" in out
    code, out = run("gbcs", "decode", messages["noncritical_response"].hex(), "--json")
    data = json.loads(out)
    assert "security" not in data
    assert data["frame"]["cra"] == "response" and data["frame"]["signature"] == "empty"


def test_decode_reads_a_file_with_whitespace(
    messages: dict[str, bytes], keys: Path, tmp_path: Path
) -> None:
    text = messages["critical_alert"].hex().upper()
    path = tmp_path / "alert.HEX"
    path.write_text("\n".join(text[i : i + 32] for i in range(0, len(text), 32)) + "\n")
    code, out = run("gbcs", "decode", str(path), "--keys", str(keys), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["frame"]["cra"] == "alert"
    assert data["security"]["signature_valid"] is True
    assert data["security"]["mac_valid"] is None


def test_decode_reports_a_bad_mac_and_exits_1(messages: dict[str, bytes], keys: Path) -> None:
    code, out = run("gbcs", "decode", messages["bad_mac"].hex(), "--keys", str(keys))
    assert code == 1
    assert "mac: INVALID" in out
    assert run_err("gbcs", "decode", messages["bad_mac"].hex(), "--keys", str(keys)) == (
        1,
        "smets-hil: failed: mac\n",
    )
    code, out = run("gbcs", "decode", messages["bad_mac"].hex(), "--keys", str(keys), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["security"]["mac_valid"] is False
    assert [f["stage"] for f in data["failures"]] == ["mac"]


def test_decode_malformed_message_exits_1(messages: dict[str, bytes]) -> None:
    truncated = messages["critical_command"][:-5].hex()
    code, out = run("gbcs", "decode", truncated, "--json")
    assert code == 1
    data = json.loads(out)
    assert "frame" not in data
    assert [f["stage"] for f in data["failures"]] == ["parse"]
    assert "mac_header.length" in data["failures"][0]["error"]


def test_decode_rejects_non_hex() -> None:
    code, err = run_err("gbcs", "decode", "not-hex-at-all")
    assert code == 2
    assert "not a file and not hexadecimal: 'n' at digit 1" in err


def test_decode_rejects_missing_keys_folder(messages: dict[str, bytes], tmp_path: Path) -> None:
    code, _ = run(
        "gbcs", "decode", messages["critical_command"].hex(), "--keys", str(tmp_path / "x")
    )
    assert code == 2


def test_decode_with_another_acb_fails_command_mac(messages: dict[str, bytes], keys: Path) -> None:
    code, out = run(
        "gbcs",
        "decode",
        messages["critical_command"].hex(),
        "--keys",
        str(keys),
        "--acb",
        "90-B3-D5-1F-30-01-00-00",
        "--json",
    )
    assert code == 1, out
    data = json.loads(out)
    assert data["security"]["signature_valid"] is True
    assert data["security"]["mac_valid"] is False


# -- gbcs corpus ------------------------------------------------------------------------------


@pytest.fixture
def corpus(messages: dict[str, bytes], tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "commands").mkdir(parents=True)
    (root / "commands" / "critical_command.HEX").write_text(
        messages["critical_command_dlms"].hex().upper()
    )
    (root / "noncritical_response.HEX").write_text(
        " ".join(f"{b:02X}" for b in messages["noncritical_response"]) + "\n"
    )
    (root / "critical_alert.hex").write_text(messages["critical_alert"].hex())
    (root / "bad_mac.HEX").write_text(messages["bad_mac"].hex())
    (root / "stranger_alert.HEX").write_text(messages["stranger_alert"].hex())
    (root / "truncated.HEX").write_text(messages["critical_command_dlms"][:40].hex())
    (root / "not_hex.HEX").write_text("ZZ")
    (root / "notes.txt").write_text("not a message")
    return root


def test_corpus_json(corpus: Path, keys: Path) -> None:
    code, out = run("gbcs", "corpus", str(corpus), "--keys", str(keys), "--json")
    assert code == 1, out  # three files fail
    report = json.loads(out)
    assert set(report) == {
        "total",
        "parsed",
        "reencoded_identical",
        "signatures_checked",
        "signatures_valid",
        "macs_checked",
        "macs_valid",
        "payloads_decoded",
        "failures",
        "not_checked",
    }
    assert report["total"] == 7
    assert report["parsed"] == 5
    assert report["reencoded_identical"] == 5
    assert report["signatures_checked"] == 2  # command + our alert; the stranger's is not
    assert report["signatures_valid"] == 2
    assert report["macs_checked"] == 3  # command, response, bad MAC
    assert report["macs_valid"] == 2
    assert report["payloads_decoded"] == 5
    failures = {(f["file"], f["stage"]) for f in report["failures"]}
    assert failures == {("truncated.HEX", "parse"), ("bad_mac.HEX", "mac"), ("not_hex.HEX", "read")}
    assert all(f["error"] for f in report["failures"])
    assert [n["file"] for n in report["not_checked"]] == ["stranger_alert.HEX"]
    assert "00-DB-12-34-56-78-90-FF" in report["not_checked"][0]["reason"]


def test_corpus_text(corpus: Path, keys: Path) -> None:
    code, out = run("gbcs", "corpus", str(corpus), "--keys", str(keys))
    assert code == 1, out
    lines = out.splitlines()
    assert any(line.split() == ["total:", "7"] for line in lines)
    assert any(line.split() == ["macs_valid:", "2"] for line in lines)
    assert "  FAILED parse: truncated.HEX:" in out
    assert "  FAILED mac: bad_mac.HEX:" in out
    assert "  not checked: stranger_alert.HEX:" in out


def test_corpus_without_keys(corpus: Path) -> None:
    code, out = run("gbcs", "corpus", str(corpus), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["parsed"] == 5
    assert report["signatures_checked"] == report["macs_checked"] == 0
    assert {f["stage"] for f in report["failures"]} == {"parse", "read"}


def test_corpus_of_an_empty_folder_fails(tmp_path: Path) -> None:
    code, out = run("gbcs", "corpus", str(tmp_path), "--json")
    assert code == 1
    assert json.loads(out)["total"] == 0
    _, err = run_err("gbcs", "corpus", str(tmp_path))
    assert err == f"smets-hil: failed: no *.HEX files under {tmp_path}\n"


def test_corpus_passes_when_every_file_holds(
    messages: dict[str, bytes], keys: Path, tmp_path: Path
) -> None:
    (tmp_path / "alert.HEX").write_text(messages["critical_alert"].hex())
    (tmp_path / "command.HEX").write_text(messages["critical_command_dlms"].hex())
    code, out = run("gbcs", "corpus", str(tmp_path), "--keys", str(keys), "--json")
    assert code == 0, out
    assert json.loads(out)["failures"] == []
