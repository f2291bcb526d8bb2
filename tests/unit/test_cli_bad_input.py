"""Every `smets-hil` entry point (but `device`) against a table of bad inputs.

Each case must end with exactly one line on stderr (`smets-hil: error: ...` or
`smets-hil: failed: ...`), a non-zero exit code (2 for usage, 1 for a failed
check or a job that could not be done), no Python traceback, and the input
files exactly as they were. A few cases run as real processes, where nothing
but the program itself decides what reaches the terminal.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.gbcs import builder
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.pki.testpki import TestPki
from hil.cli import main
from hil.corpus import MAX_HEX_FILE
from hil.dcc.lab import DEFAULT_LAB

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")  # the conftest PKI's parties
DEVICE = Eui64("00-DB-12-34-56-78-90-A0")
USAGE, FAILED = 2, 1

REQUESTS = 'requests:\n  - {variant: "4.1.1", user: supplier, target: ESME}\n'


def _lab_with_link(link: str) -> str:
    lines = DEFAULT_LAB.read_text().splitlines()
    out = [f"link: {link}" if line.startswith("link:") else line for line in lines]
    assert out != lines, "the demo lab has no 'link:' line to replace"
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def inputs(
    tmp_path_factory: pytest.TempPathFactory, pki: TestPki, security: MessageSecurity
) -> Path:
    """Every bad input, written once; tests check that none of them changes."""
    d = tmp_path_factory.mktemp("bad-inputs")
    command = builder.command(0x0013, 0x0100000000000123, SUPPLIER, DEVICE, bytes.fromhex("0500"))
    good = builder.protect(command, security, critical=True).encode()
    bad_mac = bytearray(good)
    bad_mac[-1] ^= 0x01
    bad_signature = bytearray(good)
    bad_signature[-20] ^= 0x01  # inside the signature, before the MAC
    files: dict[str, bytes] = {
        "truncated.HEX": good[:-5].hex().encode(),
        "bad_mac.HEX": bytes(bad_mac).hex().encode(),
        "bad_sig_mac.HEX": bytes(bad_signature).hex().encode() + b"\n",
        "nonhex.HEX": b"ZZ00\n",
        "odd.HEX": b"DD0\n",
        "binary.HEX": bytes(range(256)),
        "utf16.HEX": "ZZ nothing hex here".encode("utf-16"),
        "empty.HEX": b"",
        "huge.HEX": b"DD" * (MAX_HEX_FILE // 2 + 1),
        "binary.yaml": bytes(range(256)),
        "utf16.yaml": ("lab: " + str(DEFAULT_LAB) + "\n" + REQUESTS).encode("utf-16"),
        "empty.yaml": b"",
        "params_list.yaml": (
            f"lab: {DEFAULT_LAB}\nrequests:\n"
            '  - {variant: "4.1.1", user: supplier, target: ESME, params: [1, 2]}\n'
        ).encode(),
        "not_yaml.yaml": b"requests: [unclosed\n",
        "no_lab.yaml": REQUESTS.encode(),
        "missing_lab.yaml": f"lab: {d / 'nowhere.yaml'}\n{REQUESTS}".encode(),
        "requests.yaml": REQUESTS.encode(),
        "lab_dead_broker.yaml": _lab_with_link("mqtt://127.0.0.1:1/lab").encode(),
        "lab_bad_scheme.yaml": _lab_with_link("bogus://nowhere").encode(),
        "lab_bad_url.yaml": _lab_with_link('"mqtt://[::1"').encode(),
        "lab_binary.yaml": bytes(range(256)),
        "lab_utf16.yaml": DEFAULT_LAB.read_text().encode("utf-16"),
        "keys_bad.json": b"not json",
        "keys_list.json": b"[1, 2]",
        "a_file.txt": b"not a folder\n",
        "scenario.yaml": b"name: s\nsteps:\n  - advance: 1m\n",
        "scenario_ghost.yaml": b"name: s\nsteps:\n  - {request: '4.1.1', user: ghost}\n",
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    pki.export(d / "keys")
    (d / "keys_empty").mkdir()
    (d / "keys_other").mkdir()
    (d / "keys_other" / "README").write_text("not keys\n")
    (d / "keys_corrupt").mkdir()
    for path in sorted((d / "keys").iterdir()):
        (d / "keys_corrupt" / path.name).write_bytes(b"garbage\n")
    (d / "empty_folder").mkdir()
    for folder, content in (("corpus_bad", b"\x00\xff\xfe"), ("corpus_nonhex", b"ZZ")):
        (d / folder / "sub").mkdir(parents=True)
        (d / folder / "sub" / "X_COMMAND_GBCS.HEX").write_bytes(content)
    (d / "conformance_binary" / "1.1_CS01").mkdir(parents=True)
    (d / "conformance_binary" / "1.1_CS01" / "CS01_1.1_SUCCESS_COMMAND_GBCS.HEX").write_bytes(
        bytes(range(256))
    )
    (d / "conformance_nonhex" / "1.1_CS01").mkdir(parents=True)
    (d / "conformance_nonhex" / "1.1_CS01" / "CS01_1.1_SUCCESS_COMMAND_GBCS.HEX").write_text(
        "DD00\n"
    )
    (d / "conformance_nonhex" / "1.1_CS01" / "CS01_1.1_SUCCESS_RESPONSE_GBCS.HEX").write_text(
        "not hex at all\n"
    )
    (d / "rtds_corrupt" / "RTDS-4.5.0" / "4.1.1_ECS17b").mkdir(parents=True)
    (d / "rtds_corrupt" / "keystore").mkdir()
    (
        d
        / "rtds_corrupt"
        / "RTDS-4.5.0"
        / "4.1.1_ECS17b"
        / "ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND_GBCS.HEX"
    ).write_bytes(bytes(range(256)))
    return d


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # a piece of the one stderr line: the error must say what is wrong
    env: tuple[tuple[str, str], ...] = ()

    def argv(self, d: Path) -> list[str]:
        return [a.replace("{d}", str(d)) for a in self.args]


def case(*args: str, code: int, says: str, env: dict[str, str] | None = None) -> Case:
    return Case(args, code, says, tuple((env or {}).items()))


CASES: dict[str, Case] = {
    # -- the root group
    "unknown command": case("frobnicate", code=USAGE, says="No such command 'frobnicate'"),
    "unknown option": case("--frobnicate", code=USAGE, says="No such option"),
    # -- wire check
    "wire check missing port": case(
        "wire", "check", "--link", "/dev/nonexistent-tty", code=FAILED, says="/dev/nonexistent-tty"
    ),
    "wire check bad EUI": case(
        "wire", "check", "--link", "loop://", "--eui", "nonsense", code=FAILED, says="not an EUI-64"
    ),
    "wire check install code not hex": case(
        "wire", "check", "--link", "loop://", "--install-code", "zz", code=FAILED, says="not hex"
    ),
    "board console not there": case(
        "board-console", "{d}/nothing.sock", "now", code=FAILED, says="nothing.sock"
    ),
    # -- gbcs decode
    "decode truncated": case("gbcs", "decode", "{d}/truncated.HEX", code=FAILED, says="parse"),
    "decode bad MAC": case(
        "gbcs", "decode", "{d}/bad_mac.HEX", "--keys", "{d}/keys", code=FAILED, says="mac"
    ),
    "decode bad signature and MAC": case(
        "gbcs",
        "decode",
        "{d}/bad_sig_mac.HEX",
        "--keys",
        "{d}/keys",
        code=FAILED,
        says="failed: mac, signature",
    ),
    "decode non-hex file": case(
        "gbcs", "decode", "{d}/nonhex.HEX", code=USAGE, says="not hexadecimal: 'Z' at digit 1"
    ),
    "decode odd hex": case("gbcs", "decode", "{d}/odd.HEX", code=USAGE, says="odd number"),
    "decode binary file": case(
        "gbcs", "decode", "{d}/binary.HEX", code=USAGE, says="not a text file of hex digits"
    ),
    "decode UTF-16 file": case(
        "gbcs", "decode", "{d}/utf16.HEX", code=USAGE, says="not hexadecimal: 'Z'"
    ),
    "decode empty file": case("gbcs", "decode", "{d}/empty.HEX", code=USAGE, says="no hex digits"),
    "decode huge file": case("gbcs", "decode", "{d}/huge.HEX", code=USAGE, says="larger than"),
    "decode non-hex argument": case(
        "gbcs", "decode", "hello world", code=USAGE, says="not a file and not hexadecimal"
    ),
    "decode empty argument": case("gbcs", "decode", "", code=USAGE, says="no hex digits"),
    "decode folder argument": case(
        "gbcs", "decode", "{d}/empty_folder", code=USAGE, says="not a file and not hexadecimal"
    ),
    "decode non-hex --command": case(
        "gbcs", "decode", "DD00", "--command", "ZZ", code=USAGE, says="--command: not a file"
    ),
    "decode binary --command file": case(
        "gbcs",
        "decode",
        "DD00",
        "--command",
        "{d}/binary.HEX",
        code=USAGE,
        says="--command: ",
    ),
    "decode bad --acb": case(
        "gbcs", "decode", "DD00", "--acb", "nonsense", code=USAGE, says="'--acb': 'nonsense'"
    ),
    "decode short --acb": case(
        "gbcs", "decode", "DD00", "--acb", "00-11", code=USAGE, says="'--acb'"
    ),
    "decode missing keys": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/nowhere", code=USAGE, says="'--keys'"
    ),
    "decode empty keys folder": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/keys_empty", code=USAGE, says="no key files"
    ),
    "decode wrong keys folder": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/keys_other", code=USAGE, says="no key files"
    ),
    "decode corrupt keys folder": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/keys_corrupt", code=USAGE, says="not a PEM file"
    ),
    "decode keys not JSON": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/keys_bad.json", code=USAGE, says="not a key store"
    ),
    "decode keys JSON list": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/keys_list.json", code=USAGE, says="not a key store"
    ),
    "decode keys not a store": case(
        "gbcs", "decode", "DD00", "--keys", "{d}/a_file.txt", code=USAGE, says="no key store"
    ),
    # -- gbcs corpus
    "corpus empty folder": case(
        "gbcs", "corpus", "{d}/empty_folder", code=FAILED, says="no *.HEX files"
    ),
    "corpus every file binary": case(
        "gbcs", "corpus", "{d}/corpus_bad", code=FAILED, says="1 failures"
    ),
    "corpus every file non-hex": case(
        "gbcs", "corpus", "{d}/corpus_nonhex", "--json", code=FAILED, says="1 failures"
    ),
    "corpus a file not a folder": case(
        "gbcs", "corpus", "{d}/a_file.txt", code=USAGE, says="is a file"
    ),
    "corpus bad --acb": case(
        "gbcs", "corpus", "{d}/corpus_bad", "--acb", "zz", code=USAGE, says="'--acb'"
    ),
    "corpus corrupt keys": case(
        "gbcs",
        "corpus",
        "{d}/corpus_bad",
        "--keys",
        "{d}/keys_corrupt",
        code=USAGE,
        says="not a PEM file",
    ),
    # -- conformance
    "conformance empty folder": case(
        "conformance", "{d}/empty_folder", "--keys", "{d}/keys", code=FAILED, says="no *_COMMAND"
    ),
    "conformance binary command": case(
        "conformance",
        "{d}/conformance_binary",
        "--keys",
        "{d}/keys",
        code=FAILED,
        says="CS01_1.1_SUCCESS_COMMAND_GBCS.HEX: not a text file",
    ),
    "conformance nothing matches": case(
        "conformance",
        "{d}/conformance_nonhex",
        "--keys",
        "{d}/keys",
        code=FAILED,
        says="0 of 1 commands matched",
    ),
    "conformance --min-matched unmet": case(
        "conformance",
        "{d}/conformance_nonhex",
        "--keys",
        "{d}/keys",
        "--min-matched",
        "1",
        code=FAILED,
        says="1 needed",
    ),
    "conformance empty keys": case(
        "conformance",
        "{d}/conformance_nonhex",
        "--keys",
        "{d}/keys_empty",
        code=USAGE,
        says="no key files",
    ),
    "conformance dump onto a file": case(
        "conformance",
        "{d}/conformance_nonhex",
        "--keys",
        "{d}/keys",
        "--dump",
        "{d}/a_file.txt",
        code=USAGE,
        says="is a file",
    ),
    # -- pki export
    "pki export bad --device": case(
        "pki", "export", "{d}/../pki-out", "--device", "zz", code=USAGE, says="'--device': 'zz'"
    ),
    "pki export under a file": case(
        "pki", "export", "{d}/a_file.txt/keys", code=FAILED, says="cannot write"
    ),
    # -- catalogue and eligibility
    "catalogue bad role": case("catalogue", "--role", "wizard", code=USAGE, says="'wizard'"),
    "eligibility bad role": case(
        "eligibility",
        "--variant",
        "4.1.1",
        "--role",
        "XX",
        "--device-type",
        "ESME",
        "--status",
        "commissioned",
        code=USAGE,
        says="unknown user role 'XX'",
    ),
    "eligibility bad device type": case(
        "eligibility",
        "--variant",
        "4.1.1",
        "--role",
        "IS",
        "--device-type",
        "toaster",
        "--status",
        "commissioned",
        code=USAGE,
        says="'toaster'",
    ),
    "eligibility unknown variant refused": case(
        "eligibility",
        "--variant",
        "99.9",
        "--role",
        "IS",
        "--device-type",
        "ESME",
        "--status",
        "commissioned",
        code=FAILED,
        says="refused (UNKNOWN_VARIANT)",
    ),
    "eligibility refused": case(
        "eligibility",
        "--variant",
        "7.2",
        "--role",
        "ED",
        "--device-type",
        "ESME",
        "--status",
        "commissioned",
        "--json",
        code=FAILED,
        says="refused",
    ),
    # -- requests
    "requests binary file": case("requests", "{d}/binary.yaml", code=FAILED, says="binary file"),
    "requests UTF-16 file": case("requests", "{d}/utf16.yaml", code=FAILED, says="UTF-16"),
    "requests empty file": case(
        "requests", "{d}/empty.yaml", code=FAILED, says="expected a mapping"
    ),
    "requests params a list": case(
        "requests", "{d}/params_list.yaml", code=FAILED, says="params_list.yaml"
    ),
    "requests not YAML": case("requests", "{d}/not_yaml.yaml", code=FAILED, says="not valid YAML"),
    "requests without a lab": case("requests", "{d}/no_lab.yaml", code=FAILED, says="no lab"),
    "requests lab missing": case(
        "requests", "{d}/missing_lab.yaml", code=FAILED, says="nowhere.yaml"
    ),
    "requests missing file": case("requests", "{d}/nowhere.yaml", code=USAGE, says="nowhere"),
    # -- run (scenarios)
    "run missing file": case("run", "{d}/nowhere.yaml", code=USAGE, says="nowhere"),
    "run binary file": case("run", "{d}/binary.yaml", code=FAILED, says="binary file"),
    "run empty file": case("run", "{d}/empty.yaml", code=FAILED, says="empty file"),
    "run not YAML": case("run", "{d}/not_yaml.yaml", code=FAILED, says="not valid YAML"),
    "run a request file": case("run", "{d}/requests.yaml", code=FAILED, says="name: missing"),
    "run unknown user": case("run", "{d}/scenario_ghost.yaml", code=FAILED, says="'ghost'"),
    "run bad lab": case(
        "run", "{d}/scenario.yaml", "--lab", "{d}/lab_binary.yaml", code=FAILED, says="binary"
    ),
    "run unknown link scheme": case(
        "run", "{d}/scenario.yaml", "--link", "bogus://x", code=USAGE, says="'bogus'"
    ),
    "run report in no folder": case(
        "run", "{d}/scenario.yaml", "--json", "{d}/nowhere/run.json", code=USAGE, says="no folder"
    ),
    "run no match": case("run", "{d}/scenario.yaml", "-k", "zzz", code=USAGE, says="no scenario"),
    "requests dead broker": case(
        "requests",
        "{d}/requests.yaml",
        "--lab",
        "{d}/lab_dead_broker.yaml",
        code=FAILED,
        says="127.0.0.1:1",
    ),
    "requests unknown link scheme": case(
        "requests",
        "{d}/requests.yaml",
        "--lab",
        "{d}/lab_bad_scheme.yaml",
        code=FAILED,
        says="'bogus'",
    ),
    "requests malformed link URL": case(
        "requests",
        "{d}/requests.yaml",
        "--lab",
        "{d}/lab_bad_url.yaml",
        code=FAILED,
        says="lab_bad_url.yaml",
    ),
    "requests binary lab": case(
        "requests",
        "{d}/requests.yaml",
        "--lab",
        "{d}/lab_binary.yaml",
        code=FAILED,
        says="lab_binary.yaml:1: a binary file",
    ),
    "requests UTF-16 lab": case(
        "requests",
        "{d}/requests.yaml",
        "--lab",
        "{d}/lab_utf16.yaml",
        code=FAILED,
        says="lab_utf16.yaml:1: UTF-16 text",
    ),
    "requests lab is the request file": case(
        "requests",
        "{d}/requests.yaml",
        "--lab",
        "{d}/requests.yaml",
        code=FAILED,
        says="requests: unknown key",
    ),
    # -- duis (hil/duis): credentials that cannot be read
    "duis serve port out of range": case(
        "duis", "serve", "--port", "99999", code=USAGE, says="'--port': 99999 is not in the range"
    ),
    "duis serve lab keys onto a file": case(
        "duis", "serve", "--lab-keys", "{d}/a_file.txt", code=USAGE, says="a file, not a folder"
    ),
    "duis serve missing key store": case(
        "duis", "serve", "--keys", "{d}/nowhere.json", code=FAILED, says="not a readable ZAZ1"
    ),
    # -- lab (hil/live): a lab that cannot start, no lab to talk to
    "lab up unknown lab file": case(
        "lab", "up", "{d}/nowhere.yaml", code=FAILED, says="nowhere.yaml: no such lab file"
    ),
    "lab up binary lab": case(
        "lab", "up", "{d}/lab_binary.yaml", code=FAILED, says="lab_binary.yaml:1: a binary file"
    ),
    "lab up dead broker": case(
        "lab", "up", "{d}/lab_dead_broker.yaml", code=FAILED, says="cannot start the lab"
    ),
    "lab request no lab running": case(
        "lab",
        "request",
        "4.1.1",
        "--to",
        "ESME",
        "--user",
        "supplier",
        code=FAILED,
        says="no lab running",
        env={"SMETS_HIL_RUNTIME_DIR": "{d}/no-labs"},
    ),
    "lab request bad param": case(
        "lab",
        "request",
        "4.1.1",
        "--user",
        "supplier",
        "--param",
        "x",
        code=USAGE,
        says="KEY=VALUE",
    ),
    "lab run no lab running": case(
        "lab",
        "run",
        "{d}/requests.yaml",
        code=FAILED,
        says="no lab running",
        env={"SMETS_HIL_RUNTIME_DIR": "{d}/no-labs"},
    ),
    "lab status no lab running": case(
        "lab",
        "status",
        code=FAILED,
        says="no lab running",
        env={"SMETS_HIL_RUNTIME_DIR": "{d}/no-labs"},
    ),
    # -- firmware
    "firmware build bad version": case(
        "firmware",
        "build",
        "--manufacturer",
        "1",
        "--image-type",
        "ESME",
        "--version",
        "1",
        "-o",
        "{d}/out.ota",
        "{d}/a_file.txt",
        code=USAGE,
        says="8 hex digits",
    ),
    "firmware build unknown image type": case(
        "firmware",
        "build",
        "--manufacturer",
        "1",
        "--image-type",
        "TOASTER",
        "--version",
        "01000000",
        "-o",
        "{d}/out.ota",
        "{d}/a_file.txt",
        code=USAGE,
        says="'TOASTER' is neither ESME/GSME/CHF/PPMID nor a 16-bit number",
    ),
    "firmware inspect binary file": case(
        "firmware", "inspect", "{d}/binary.HEX", code=FAILED, says="not a ZigBee OTA file"
    ),
    "firmware inspect empty file": case(
        "firmware", "inspect", "{d}/empty.HEX", code=FAILED, says="empty"
    ),
    "firmware test-images onto a file": case(
        "firmware", "test-images", "{d}/a_file.txt", code=USAGE, says="a file, not a folder"
    ),
    "firmware test-images into a file": case(
        "firmware", "test-images", "{d}/a_file.txt/images", code=FAILED, says="a_file.txt"
    ),
    # -- fleet (docs/fleet.md)
    "fleet without premises": case("fleet", code=USAGE, says="--premises is required"),
    "fleet mix not YAML": case(
        "fleet", "--premises", "1", "--mix", "{d}/not_yaml.yaml", code=USAGE, says="not valid YAML"
    ),
    "fleet dead broker": case(
        "fleet",
        "--premises",
        "1",
        "--broker",
        "mqtt://127.0.0.1:1",
        code=FAILED,
        says="127.0.0.1:1",
    ),
    "fleet worker bad shard": case(
        "fleet",
        "worker",
        "--broker",
        "mqtt://127.0.0.1:1",
        "--shard",
        "2/1",
        code=USAGE,
        says="2/1",
    ),
    "fleet record no requests": case(
        "fleet", "record", "{d}/rec.jsonl", "--requests", "0", code=USAGE, says="at least 1"
    ),
    # -- demo
    "demo unknown option": case("demo", "--fast", code=USAGE, says="No such option"),
    "demo corrupt reference set": case(
        "demo",
        code=FAILED,
        says="ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND_GBCS.HEX: not a text file",
        env={"SMETS_HIL_RTDS": "{d}/rtds_corrupt"},
    ),
}


def _check(code: int, stdout: str, stderr: str, expected: Case) -> None:
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert code == expected.code, (code, stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(("smets-hil: error: ", "smets-hil: failed: ")), lines[0]
    assert expected.says in lines[0], lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_line_and_an_exit_code(
    name: str, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = CASES[name]
    for key, value in expected.env:
        monkeypatch.setenv(key, value.replace("{d}", str(inputs)))
    before = _snapshot(inputs)
    result = CliRunner().invoke(main, expected.argv(inputs))
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    _check(result.exit_code, result.stdout, result.stderr, expected)
    assert _snapshot(inputs) == before, "an input file changed"


@pytest.mark.parametrize(
    "name",
    [
        "unknown option",
        "decode binary file",
        "conformance binary command",
        "requests params a list",
        "requests dead broker",
    ],
)
def test_a_real_process_prints_no_traceback(name: str, inputs: Path) -> None:
    expected = CASES[name]
    assert not expected.env
    before = _snapshot(inputs)
    run = subprocess.run(
        [sys.executable, "-m", "hil.cli", *expected.argv(inputs)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=inputs,
    )
    _check(run.returncode, run.stdout, run.stderr, expected)
    assert _snapshot(inputs) == before, "an input file changed"


def test_every_command_has_a_bad_input_case() -> None:
    """A new command (or subcommand) must join the table."""
    import click

    def leaves(group: click.Group, prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found |= leaves(command, (*prefix, name))
            else:
                found.add((*prefix, name))
        return found

    commands = leaves(main, ()) - {("device",), ("send",)}  # both: test_device_bad_input
    missing = sorted(
        " ".join(cmd)
        for cmd in commands
        if not any(c.args[: len(cmd)] == cmd for c in CASES.values())
    )
    assert not missing, f"no bad-input case for: {missing}"


def test_a_traceback_is_shown_when_asked_for(inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SMETS_HIL_TRACEBACK=1 lets a developer see where an unexpected error came from."""
    monkeypatch.setenv("SMETS_HIL_TRACEBACK", "1")
    expected = CASES["requests dead broker"]
    result = CliRunner().invoke(main, expected.argv(inputs))
    assert result.exit_code == 1
    assert not isinstance(result.exception, SystemExit)
    assert "127.0.0.1:1" in str(result.exception)
