"""Bad input to `smets-hil device` and `smets-hil send`: one line, non-zero, file untouched.

Every case stops before the device serves anything, so the command returns and
CliRunner sees its exit status; the link used is a dead broker on the loopback
(nothing listens on port 1) or a missing tty, never a real network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from emulator.clock import RealClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.factory import create_device
from emulator.premises import lab_pki, provision
from hil.cli import main

EUI = "00-DB-12-34-56-78-90-A0"
DEAD_BROKER = "mqtt://127.0.0.1:1/lab"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_error_line(result: Result, *expected: str) -> None:
    assert result.exit_code != 0, result.output
    # Our failures end in SystemExit; anything else escaped as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("smets-hil: error: "), lines[0]
    assert "Traceback" not in result.output
    for text in expected:
        assert text in lines[0], lines[0]


# -- device: everything before the link ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--eui", "zz", "--link", DEAD_BROKER), "--eui: 'zz' is not an EUI-64"),
        (("--eui", "00-DB-12", "--link", DEAD_BROKER), "--eui"),
        (("--eui", EUI, "--hub", "nope", "--link", DEAD_BROKER), "--hub"),
        (("--eui", EUI, "--gpf", "", "--link", DEAD_BROKER), "--gpf"),
        (("--eui", EUI, "--link", "foo://x"), "no HAN link backend for scheme 'foo'"),
        (("--eui", EUI, "--link", "memory://x"), "memory:// exists only inside one process"),
        (("--eui", EUI, "--link", "/dev/ttyNOPE-smets"), "cannot open port"),
        (("--eui", EUI, "--link", "serial://"), "needs a device path"),
        (("--eui", EUI, "--link", DEAD_BROKER), "cannot connect to 127.0.0.1:1"),
        (("--eui", EUI, "--link", "mqtt://[::1/lab"), "Invalid IPv6 URL"),
        (("--eui", EUI, "--link", "mqtt://127.0.0.1:1/lab?keepalive=x"), "keepalive"),
        (("--eui", EUI, "--link", "mqtt://127.0.0.1:1/a/b"), "one MQTT topic level"),
    ],
)
def test_device_bad_input(args: tuple[str, ...], expected: str) -> None:
    assert_one_error_line(run("device", "esme", *args), expected)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("device", "toaster", "--eui", EUI, "--link", DEAD_BROKER), "'toaster' is not one of"),
        (("device", "esme", "--eui", EUI, "--link", "x", "--variant", "quad"), "--variant"),
        (("device", "esme", "--link", DEAD_BROKER), "Missing option '--eui'"),
        (("send", *("4.1.1", "--to", "ESME", "--user", "supplier")), "Missing option '--link'"),
        (("send", "4.1.1", "--link", "x", "--timeout", "0"), "--timeout"),
    ],
)
def test_option_errors_are_one_line_with_status_2(command: tuple[str, ...], expected: str) -> None:
    result = run(*command)
    assert_one_error_line(result, expected)
    assert result.exit_code == 2


def test_device_variant_on_a_gas_meter() -> None:
    result = run("device", "gsme", "--eui", EUI, "--link", DEAD_BROKER, "--variant", "twin")
    assert_one_error_line(result, "are for an ESME")


# -- device: state files ------------------------------------------------------------------


def _state_of(device_type: str, eui: str) -> bytes:
    the_pki, parties = lab_pki()
    acb = parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
    device = create_device(device_type, eui, RealClock(), acb=acb)
    provision(device, the_pki, parties)
    return json.dumps(device.to_state()).encode()


GOOD = _state_of("ESME", EUI)

STATE_FILES: dict[str, tuple[bytes, str]] = {
    "corrupt": (b'{"type": "ESME", "eui": ', "is not JSON"),
    "empty": (b"", "is empty"),
    "blank": (b" \n", "is empty"),
    "json-list": (b"[1, 2, 3]", "is not a device state"),
    "json-foreign": (b'{"name": "something else"}', "is not a device state"),
    "utf-16": (GOOD.decode().encode("utf-16"), "is not UTF-8"),
    "binary": (bytes(range(256)), "is not UTF-8"),
    "other-eui": (_state_of("ESME", "00-DB-12-34-56-78-90-A9"), "cannot be restored"),
    "other-type": (_state_of("PPMID", EUI), "cannot be restored"),
    "truncated": (GOOD[: len(GOOD) // 2], "is not JSON"),
    "wrong-shape": (
        json.dumps({**json.loads(GOOD), "replay": 5, "event_log": "x"}).encode(),
        "cannot be restored",
    ),
    "missing-field": (
        json.dumps({k: v for k, v in json.loads(GOOD).items() if k != "anchors"}).encode(),
        "missing 'anchors'",
    ),
}


@pytest.mark.parametrize("case", sorted(STATE_FILES))
def test_device_bad_state_file_is_refused_and_left_untouched(tmp_path: Path, case: str) -> None:
    content, expected = STATE_FILES[case]
    state = tmp_path / "esme.json"
    state.write_bytes(content)
    os.utime(state, ns=(1_000_000_000, 1_000_000_000))
    result = run("device", "esme", "--eui", EUI, "--link", DEAD_BROKER, "--state", str(state))
    assert_one_error_line(result, str(state), expected)
    assert state.read_bytes() == content
    assert state.stat().st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["esme.json"]


def test_device_good_state_and_dead_broker_leaves_the_file_untouched(tmp_path: Path) -> None:
    state = tmp_path / "esme.json"
    state.write_bytes(GOOD)
    os.utime(state, ns=(1_000_000_000, 1_000_000_000))
    result = run("device", "esme", "--eui", EUI, "--link", DEAD_BROKER, "--state", str(state))
    assert_one_error_line(result, "cannot connect")
    assert state.read_bytes() == GOOD
    assert state.stat().st_mtime_ns == 1_000_000_000


def test_device_new_state_file_is_not_created_when_the_link_fails(tmp_path: Path) -> None:
    state = tmp_path / "esme.json"
    result = run("device", "esme", "--eui", EUI, "--link", DEAD_BROKER, "--state", str(state))
    assert_one_error_line(result, "cannot connect")
    assert not state.exists()


def test_device_state_in_a_missing_folder(tmp_path: Path) -> None:
    state = tmp_path / "nowhere" / "esme.json"
    result = run("device", "esme", "--eui", EUI, "--link", DEAD_BROKER, "--state", str(state))
    assert_one_error_line(result, "does not exist")


# -- send -----------------------------------------------------------------------------------


REQUEST = ("4.1.1", "--to", "ESME", "--user", "supplier")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((*REQUEST, "--link", DEAD_BROKER), "cannot connect to 127.0.0.1:1"),
        ((*REQUEST, "--link", "foo://x"), "no HAN link backend for scheme 'foo'"),
        ((*REQUEST, "--link", "/dev/ttyNOPE-smets"), "cannot open port"),
        ((*REQUEST, "--link", "memory://x"), "memory:// exists only inside one process"),
        (("4.1.1", "--to", "zz", "--user", "supplier", "--link", DEAD_BROKER), "no device 'zz'"),
        (
            ("4.1.1", "--to", "00-DB-12-34-56-78-90-FF", "--user", "supplier", "--link", "x"),
            "not in the CHF Device Log",
        ),
        (("99.9", "--to", "ESME", "--user", "supplier", "--link", DEAD_BROKER), "unknown service"),
        (("4.1.1", "--to", "ESME", "--user", "nobody", "--link", DEAD_BROKER), "not a user"),
        ((*REQUEST, "--role", "Baker", "--link", DEAD_BROKER), "Baker"),
        ((*REQUEST, "--param", "novalue", "--link", DEAD_BROKER), "expected KEY=VALUE"),
        ((*REQUEST, "--lab", "/nonexistent/lab.yaml", "--link", DEAD_BROKER), "cannot read"),
        (("4.1.1", "--link", DEAD_BROKER), "needs --to DEVICE and --user NAME"),
        (("--link", DEAD_BROKER), "give a service reference variant"),
        (("4.1.1", "--raw", "0011", "--link", DEAD_BROKER), "not both"),
        (("--raw", "not hex", "--link", DEAD_BROKER), "not hexadecimal"),
        (("--raw", "DD00", "--link", DEAD_BROKER), "not a GBCS message"),
    ],
)
def test_send_bad_input(args: tuple[str, ...], expected: str) -> None:
    assert_one_error_line(run("send", *args), expected)


def test_send_with_a_damaged_utrn_counter_file(tmp_path: Path) -> None:
    from hil.utrn import utrn_counter_file

    kept = utrn_counter_file()  # this test's own state folder (conftest)
    kept.parent.mkdir(parents=True)
    kept.write_text("{not json")
    result = run("send", "2.2", "--to", "ESME", "--user", "supplier", "--link", "loop://")
    assert_one_error_line(result, f"{kept}: not a UTRN counter file", "move it away")


def test_send_bad_lab_file(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_bytes("name: x\nusers: [".encode("utf-16"))
    result = run("send", *REQUEST, "--lab", str(lab), "--link", DEAD_BROKER)
    assert_one_error_line(result, "--lab")
