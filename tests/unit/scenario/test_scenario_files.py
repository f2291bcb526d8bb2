"""Bad scenario files: one line each, naming file, line, field (or step) and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.scenario import ScenarioError, ScenarioFileError, check_scenario, load_scenarios


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioFileError) as info:
        load_scenarios(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    return message


GOOD_HEAD = "name: x\nsteps:\n"


@pytest.mark.parametrize(
    ("body", "line", "expected"),
    [
        # unknown step
        ("  - advance: 1h\n  - jump: 5m\n", 4, "steps[1]: unknown step (keys: jump)"),
        # a misspelt step kind: named with a hint, its path without pydantic's union tag
        (
            '  - reqest: "4.1.1"\n    user: supplier\n',
            3,
            "steps[0]: unknown step (keys: reqest, user)",
        ),
        ('  - reqest: "4.1.1"\n', 3, "(did you mean 'request'?)"),
        # wrong type: a number where a string is wanted
        ("  - request: 4.1\n    user: supplier\n", 3, "must be a string; got 4.1"),
        # missing field
        ('  - request: "4.1.1"\n    target: ESME\n', 3, "user: missing (required)"),
        # unknown variant
        ('  - request: "4.99"\n    user: supplier\n', 3, "no service reference variant '4.99'"),
        # unknown key inside a step, with a hint
        (
            '  - request: "4.1.1"\n    user: supplier\n    tagret: ESME\n',
            5,
            "did you mean 'target'",
        ),
        # a bad duration
        ("  - advance: soon\n", 3, "must be a duration"),
        # a bad check
        ("  - assert: ESME.meter.balance\n    in_range: [5, 1]\n", 3, "low 5.0 is above high 1.0"),
        # a reference to no request
        ("  - expect_response: nothing\n", 3, "no earlier request step is named 'nothing'"),
        # a fault without a kind
        ("  - fault: {rate: 0.1}\n", 3, "kind"),
        # a bad alert code
        ("  - expect_alert: 0x1FFFF\n", 3, "16-bit code"),
    ],
)
def test_bad_steps_name_file_line_and_problem(
    tmp_path: Path, body: str, line: int, expected: str
) -> None:
    message = load_error(tmp_path, GOOD_HEAD + body)
    assert message.startswith(f"{tmp_path / 's.yaml'}:{line}: "), message
    assert expected in message


def test_missing_steps_and_unknown_top_level_key(tmp_path: Path) -> None:
    assert "steps: missing (required)" in load_error(tmp_path, "name: x\n")
    message = load_error(tmp_path, "name: x\nstep: []\nsteps: []\n")
    assert ":2: step: unknown key" in message and "did you mean 'steps'" in message


def test_an_empty_matrix_axis_is_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, "name: x\nparameters: {a: []}\nsteps: []\n")
    assert ":2: parameters.a: needs at least one value" in message


def lab_error(tmp_path: Path, body: str) -> str:
    [scenario] = load_scenarios(write(tmp_path, GOOD_HEAD + body))
    with pytest.raises(ScenarioError) as info:
        check_scenario(scenario, Lab.load(DEFAULT_LAB))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_user_names_the_line(tmp_path: Path) -> None:
    message = lab_error(tmp_path, '  - name: read\n    request: "4.1.1"\n    user: nobody\n')
    assert message.startswith(f"{tmp_path / 's.yaml'}:3: step 'read': user: unknown user 'nobody'")


def test_unknown_device_and_device_path_name_the_line(tmp_path: Path) -> None:
    message = lab_error(tmp_path, '  - request: "4.1.1"\n    user: supplier\n    target: WSME\n')
    assert ":3: " in message and "target: no device 'WSME'" in message
    message = lab_error(tmp_path, "  - advance: 1h\n  - assert: ESME.meter.balanse\n    min: 0\n")
    assert ":4: step 'assert ESME.meter.balanse': unknown device path" in message
    assert "balance" in message  # what the meter does have
    message = lab_error(tmp_path, "  - assert: XSME.meter\n")
    assert ":3: " in message and "no device 'XSME'" in message


def test_matrix_expands_with_typed_values(tmp_path: Path) -> None:
    text = (
        "name: m\nparameters: {n: [1, 2], who: [supplier]}\nsteps:\n"
        "  - repeat: ${n}\n    steps:\n      - advance: 1m\n"
    )
    scenarios = load_scenarios(write(tmp_path, text))
    assert [s.name for s in scenarios] == ["m[n=1,who=supplier]", "m[n=2,who=supplier]"]
    assert [s.parameters for s in scenarios] == [
        {"n": 1, "who": "supplier"},
        {"n": 2, "who": "supplier"},
    ]
    assert scenarios[1].steps[0].model.repeat == 2  # type: ignore[attr-defined]


def test_python_file_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("x = 1\nraise ValueError('broken')\n")
    with pytest.raises(ScenarioFileError, match=r"bad\.py:2: ValueError: broken"):
        load_scenarios(path)
    path.write_text("x = 1\n")
    with pytest.raises(ScenarioFileError, match="no @scenario function"):
        load_scenarios(path)
    path.write_text("x = 1\n\ndef broken(:\n    pass\n")  # no frame of the file: its line
    with pytest.raises(ScenarioFileError, match=r"bad\.py:3: SyntaxError: invalid syntax$"):
        load_scenarios(path)
