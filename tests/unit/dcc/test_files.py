"""Lab and request files: every mistake is refused with one line naming file, line and field.

Each case writes a file, loads it, and checks the exact message; the command-line
cases check that `smets-hil requests` prints that line and exits 1 without a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from hil.cli import main
from hil.dcc.lab import DEFAULT_LAB, Lab, LabError, LabFileError, LabSpec
from hil.dcc.requestfile import RequestFile, RequestFileError, RequestFileFormatError
from hil.errors import HilError
from hil.files import FileFormatError

LAB = """\
name: small lab
clock: virtual
users:
  supplier: {roles: [Import Supplier, Gas Supplier], id: 90-B3-D5-1F-30-01-00-00}
  dno:
    roles: {Electricity Distributor: 90-B3-D5-1F-30-02-00-00}
premises:
  - name: 1 Test Road
    devices:
      - {type: CHF, suffix: A2}
      - {type: GPF, suffix: A3}
      - {type: ESME, suffix: A0, smets1: false, name: meter}
    registration:
      import_supplier: supplier
      electricity_distributor: dno
"""

EXPECTED_LAB_KEYS = (
    "name, seed, clock, start, link, wake_interval_s, response_timeout_s, history_days, "
    "users, premises"
)
EXPECTED_DEVICE_KEYS = (
    "type, suffix, status, smets1, model, name, variant, auxiliary, external, link, hooks, "
    "hardware_version"
)


def _lab_error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "lab.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(LabFileError) as caught:
        LabSpec.from_file(path)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(path), "lab.yaml")


def test_the_small_lab_is_valid(tmp_path: Path) -> None:
    (tmp_path / "lab.yaml").write_text(LAB)
    spec = LabSpec.from_file(tmp_path / "lab.yaml")
    assert [d.name for d in spec.premises[0].devices] == ["", "", "meter"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # unknown key at the top: a typo must not leave the default in place
            "clock: virtual",
            "clok: real",
            f"lab.yaml:2: clok: unknown key; expected one of: {EXPECTED_LAB_KEYS} "
            "(did you mean 'clock'?)",
        ),
        (  # unknown key inside a device
            "smets1: false,",
            "smets: true,",
            "lab.yaml:12: premises[0].devices[2].smets: unknown key; expected one of: "
            f"{EXPECTED_DEVICE_KEYS} (did you mean 'smets1'?)",
        ),
        (  # the string 'no' is not a boolean (it used to be true)
            "smets1: false,",
            "smets1: 'no',",
            "lab.yaml:12: premises[0].devices[2].smets1: must be true or false (unquoted); "
            "got the string 'no'",
        ),
        (
            "clock: virtual",
            "clock: virtaul",
            "lab.yaml:2: clock: must be one of 'virtual' or 'real'; got virtaul",
        ),
        (
            "clock: virtual",
            "wake_interval_s: '30'",
            "lab.yaml:2: wake_interval_s: must be a number; got '30'",
        ),
        (  # an unquoted decimal suffix: hex or decimal? refused
            "{type: ESME, suffix: A0,",
            "{type: ESME, suffix: 10,",
            "lab.yaml:12: premises[0].devices[2].suffix: must be a string; got 10, "
            'which YAML reads as an integer: quote it ("10")',
        ),
        (
            "{type: ESME, suffix: A0,",
            "{type: ESME,",
            "lab.yaml:12: premises[0].devices[2].suffix: missing (required)",
        ),
        (
            "{type: GPF, suffix: A3}",
            "{type: GPF, suffix: B3}",
            "lab.yaml:11: premises[0].devices[1].suffix: a GPF is always A3 of the base",
        ),
        (
            "{type: GPF, suffix: A3}",
            "{type: GPF, suffix: A3, variant: twin}",
            "lab.yaml:11: premises[0].devices[1].variant: applies to an ESME, not a GPF",
        ),
        (
            "{type: ESME, suffix: A0,",
            "{type: ESME, suffix: A0, variant: triple,",
            "lab.yaml:12: premises[0].devices[2].variant: "
            "ESME variant 'triple': expected one of any, single, twin, polyphase",
        ),
        (  # a misspelt required key: the typo is named, not the key it leaves missing
            "{type: ESME, suffix: A0,",
            "{type: ESME, sufix: A0,",
            "lab.yaml:12: premises[0].devices[2].sufix: unknown key; expected one of: type, "
            "suffix, status, smets1, model, name, variant, auxiliary, external, link, hooks, "
            "hardware_version (did you mean 'suffix'?) (+1 more)",
        ),
        (  # the same device twice used to be a traceback from the inventory
            "      - {type: GPF, suffix: A3}\n",
            "      - {type: GPF, suffix: A3}\n      - {type: ESME, suffix: A0}\n",
            "lab.yaml:13: premises[0].devices[3].suffix: device 00-DB-12-34-56-78-90-A0 "
            "is already premises[0].devices[2] (line 12)",
        ),
        (
            "{type: GPF, suffix: A3}",
            "{type: GPF, suffix: A3, name: meter}",
            "lab.yaml:12: premises[0].devices[2].name: device name 'meter' is already used "
            "(line 11)",
        ),
        (  # a user ID shared by two users used to be a traceback from the user registry
            "Electricity Distributor: 90-B3-D5-1F-30-02-00-00",
            "Electricity Distributor: 90-B3-D5-1F-30-01-00-00",
            "lab.yaml:6: users.dno.roles: user ID 90-B3-D5-1F-30-01-00-00 already belongs to "
            "supplier (Gas Supplier, Import Supplier)",
        ),
        (
            "roles: [Import Supplier, Gas Supplier]",
            "roles: [Import Supplier, Electricity Distributor]",
            "lab.yaml:4: users.supplier.id: user ID 90-B3-D5-1F-30-01-00-00 cannot be shared by "
            "Electricity Distributor, Import Supplier: only Import+Gas Supplier or "
            "Import+Export+Gas Supplier may share an ID (SEC H1.5)",
        ),
        (
            "roles: [Import Supplier, Gas Supplier]",
            "roles: [Import Supplier, Wizard]",
            "lab.yaml:4: users.supplier.roles[1]: unknown user role 'Wizard'; expected one of: "
            "Import Supplier, Export Supplier, Gas Supplier, Electricity Distributor, "
            "Gas Transporter, Registered Supplier Agent, Other User, Load Controller",
        ),
        (
            "roles: [Import Supplier, Gas Supplier]",
            "roles: Import Supplier",
            "lab.yaml:4: users.supplier.roles: give roles as {role: id}, "
            "or as a list of roles with id",
        ),
        (
            "electricity_distributor: dno",
            "electricity_distributor: supplier",
            "lab.yaml:15: premises[0].registration.electricity_distributor: user 'supplier' "
            "does not hold the role Electricity Distributor (holds: Gas Supplier, Import Supplier)",
        ),
        (
            "electricity_distributor: dno",
            "electricity_distributor: dnoo",
            "lab.yaml:15: premises[0].registration.electricity_distributor: 'dnoo' is neither "
            "a user (known: supplier, dno) nor an EUI-64",
        ),
        (
            "name: small lab\n",
            "name: small lab\nname: other lab\n",
            "lab.yaml:2: name: duplicate key 'name' (first on line 1)",
        ),
        (
            "clock: virtual",
            "clock: [virtual",
            "lab.yaml:3: not valid YAML: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence)",
        ),
    ],
)
def test_lab_file_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in LAB
    assert _lab_error(tmp_path, LAB.replace(old, new, 1)) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "lab.yaml:1: empty file: expected a mapping"),
        ("# only a comment\n", "lab.yaml:1: empty file: expected a mapping"),
        ("- a\n- b\n", "lab.yaml:1: expected a mapping at the top, got a list"),
        (b"name: x\nseed: \xff\xfe\n", "lab.yaml:2: not UTF-8 text (byte 0xFF)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "lab.yaml:3: a binary file, not YAML text (NUL byte)"),
        ("premises: []\n", "lab.yaml:1: premises: a lab needs at least one premises"),
    ],
)
def test_lab_files_that_are_not_labs(tmp_path: Path, content: str | bytes, message: str) -> None:
    assert _lab_error(tmp_path, content) == message


def test_file_errors_are_harness_errors_and_keep_their_parts(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(LAB.replace("smets1: false", "smets1: 'no'"))
    with pytest.raises(LabFileError) as caught:
        LabSpec.from_file(path)
    error = caught.value
    assert isinstance(error, FileFormatError) and isinstance(error, HilError)
    assert isinstance(error, LabError)  # callers that catch LabError still do
    assert (error.path, error.line, error.field) == (str(path), 12, "premises[0].devices[2].smets1")


def test_several_problems_are_counted(tmp_path: Path) -> None:
    text = LAB.replace("clock: virtual", "clock: 1\nseed: 2\nlink: 3")
    assert _lab_error(tmp_path, text).endswith("(+2 more)")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LabFileError, match=r"nope.yaml: cannot read: No such file"):
        Lab.load(tmp_path / "nope.yaml")


# -- request files --------------------------------------------------------------------------

REQUESTS = f"""\
lab: {DEFAULT_LAB}
requests:
  - name: read
    variant: "4.1.1"
    user: supplier
    target: ESME
  - name: top up
    variant: "2.2"
    user: supplier
    target: ESME
    params: {{amount_pence: 500}}
  - advance: 15m
  - name: enable
    variant: "7.1"
    user: supplier
    target: ESME
    after: read
    expect: {{status: completed}}
"""


def _requests_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "requests.yaml"
    path.write_text(text)
    with pytest.raises(RequestFileFormatError) as caught:
        RequestFile.load(path)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(path), "requests.yaml")


def test_the_request_file_is_valid(tmp_path: Path) -> None:
    (tmp_path / "requests.yaml").write_text(REQUESTS)
    parsed = RequestFile.load(tmp_path / "requests.yaml")
    assert len(parsed.items) == 4
    assert parsed.lab == DEFAULT_LAB


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # 7.10 unquoted is the number 7.1: it used to run Enable Supply
            'variant: "7.1"',
            "variant: 7.10",
            "requests.yaml:14: requests[3].variant: must be a string; got 7.10, which YAML "
            'reads as the number 7.1: quote it ("7.10")',
        ),
        (
            'variant: "7.1"',
            'variant: "7.99"',
            "requests.yaml:14: requests[3].variant: no service reference variant '7.99' "
            "(smets-hil catalogue lists them)",
        ),
        (
            "lab: ",
            "lob: ",
            "requests.yaml:1: lob: unknown key; expected one of: lab, requests "
            "(did you mean 'lab'?)",
        ),
        (
            "expect: {status: completed}",
            "expect: {stauts: completed}",
            "requests.yaml:18: requests[3].expect.stauts: unknown key; expected one of: "
            "status, reason (did you mean 'status'?)",
        ),
        (
            "expect: {status: completed}",
            "expect: {status: complete}",
            "requests.yaml:18: requests[3].expect.status: no request status 'complete' "
            "(one of: refused, awaiting signature, acknowledged, completed, failed, cancelled)",
        ),
        (
            "    user: supplier\n    target: ESME\n    params",
            "    target: ESME\n    params",
            "requests.yaml:7: requests[1].user: missing (required)",
        ),
        (  # a misspelt required key used to be reported as the key missing, without a hint
            "    user: supplier\n    target: ESME\n    params",
            "    usr: supplier\n    target: ESME\n    params",
            "requests.yaml:9: requests[1].usr: unknown key; expected one of: name, variant, "
            "user, target, role, params, option, execute_at, after, expect "
            "(did you mean 'user'?) (+1 more)",
        ),
        (  # a top-up without an amount used to top up a default 10.00
            "    params: {amount_pence: 500}\n",
            "",
            "requests.yaml:7: requests[1]: a top-up (2.2) needs params.amount_pence or params.utrn",
        ),
        (
            "params: {amount_pence: 500}",
            "params: {amount: 500}",
            "requests.yaml:11: requests[1].params: a top-up (2.2) needs params.amount_pence "
            "or params.utrn",
        ),
        (
            "name: top up",
            "name: read",
            "requests.yaml:7: requests[1].name: request name 'read' is already used (line 3)",
        ),
        (
            "after: read",
            "after: reed",
            "requests.yaml:17: requests[3].after: no request is named 'reed'",
        ),
        (
            "  - name: read\n",
            "  - name: read\n    after: enable\n",
            "requests.yaml:4: requests[0].after: 'enable' is a later request (requests[3]); "
            "after: must name an earlier one",
        ),
        (
            "advance: 15m",
            "advance: soon",
            "requests.yaml:12: requests[2].advance: not a duration: 'soon' "
            "(use e.g. 30s, 15m, 2h, 1d)",
        ),
        (
            "advance: 15m",
            "advance: 15m\n    user: supplier",
            "requests.yaml:13: requests[2].user: unknown key; expected one of: advance",
        ),
        (
            "target: ESME\n    after",
            "target: ESME\n    execute_at: tomorrow\n    after",
            "requests.yaml:17: requests[3].execute_at: not a time: 'tomorrow' "
            "(ISO 8601 or +offset)",
        ),
        (
            "params: {amount_pence: 500}",
            "params: {amount_pence: 500, variant: 4.10}",
            "requests.yaml:11: requests[1].params.variant: must be a string; got 4.10, which "
            'YAML reads as 4.1: quote it ("4.10")',
        ),
    ],
)
def test_request_file_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in REQUESTS
    assert _requests_error(tmp_path, REQUESTS.replace(old, new, 1)) == message


def _run(tmp_path: Path, requests: str, lab: str | None = None) -> tuple[int, str]:
    path = tmp_path / "requests.yaml"
    path.write_text(requests)
    lab_path = DEFAULT_LAB
    if lab is not None:
        lab_path = tmp_path / "lab.yaml"
        lab_path.write_text(lab)
    result = CliRunner().invoke(main, ["requests", str(path), "--lab", str(lab_path)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_cli_prints_the_line_of_a_bad_request_file(tmp_path: Path) -> None:
    code, output = _run(tmp_path, REQUESTS.replace('variant: "7.1"', "variant: 7.10"))
    assert code == 1
    assert output == (
        f"smets-hil: error: {tmp_path / 'requests.yaml'}:14: requests[3].variant: "
        'must be a string; got 7.10, which YAML reads as the number 7.1: quote it ("7.10")\n'
    )


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("name: meter}", "name: meter}, {type: ESME, suffix: A0}", ":13: premises[0].devices[3]."),
        ("Electricity Distributor: 90-B3-D5-1F-30-02-00-00", "X: 1", ":6: users.dno.roles."),
    ],
)
def test_cli_prints_the_line_of_a_bad_lab_file(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    lab = LAB.replace(old, new).replace("}, {", "}\n      - {")
    code, output = _run(tmp_path, "requests: []\n", lab)
    assert code == 1
    assert output.startswith(f"smets-hil: error: {tmp_path / 'lab.yaml'}{where}")
    assert output.count("\n") == 1


def test_cli_names_the_line_of_an_unknown_user_or_device(tmp_path: Path) -> None:
    bad = REQUESTS.replace("user: supplier\n    target: ESME\n    after", "user: ghost\n    after")
    code, output = _run(tmp_path, bad)
    assert code == 1
    where = f"{tmp_path / 'requests.yaml'}:15"
    assert f"smets-hil: error: {where}: requests[3].user: unknown user 'ghost'" in output
    bad = REQUESTS.replace("target: ESME\n  - name: top", "target: toaster\n  - name: top")
    code, output = _run(tmp_path, bad)
    assert code == 1
    assert f"{tmp_path / 'requests.yaml'}:6: requests[0].target: no device 'toaster'" in output


def test_requests_must_be_a_list(tmp_path: Path) -> None:
    message = _requests_error(tmp_path, "lab: x.yaml\nrequests: {read: 4.1.1}\n")
    assert message == "requests.yaml:2: requests: must be a list; got a mapping"


def test_request_data_in_python_is_checked_the_same_way() -> None:
    with pytest.raises(RequestFileError, match=r"^given: requests\[0\].variant: must be a string"):
        RequestFile.parse({"requests": [{"variant": 7.1, "user": "supplier"}]}, "given")


# -- nothing dropped silently ---------------------------------------------------------------


def test_lab_counts_and_logs_a_queued_command_it_cannot_decode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lab = Lab.build(LabSpec.from_yaml(LAB, "small lab"))
    with caplog.at_level(logging.WARNING, logger="hil.dcc.lab"):
        lab._on_hub_event("queued", b"\xdd\x00not gbcs")
        lab._on_hub_event("sent", b"\xdd\x00not gbcs")  # only queued commands are looked at
    assert lab.dropped == {"undecodable queued command": 1}
    assert "undecodable queued command dropped" in caplog.text


async def test_lab_counts_a_background_task_that_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lab = Lab.build(LabSpec.from_yaml(LAB, "small lab"))

    async def broken() -> None:
        raise RuntimeError("boom")

    async with lab:
        import asyncio

        task = asyncio.create_task(broken())
        lab._tasks.append(task)
        await asyncio.sleep(0)
    assert lab.dropped["background task failed"] == 1
    assert "boom" in caplog.text
