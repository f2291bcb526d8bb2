"""The consumer's action steps (utrn, emergency_credit, enable_supply): what a file may say."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.scenario import ScenarioError, ScenarioFileError, check_scenario, load_scenarios

HEAD = "name: x\nsteps:\n"


def _load(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + body)
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - action: utrn\n    device: ESME\n", "needs one of utrn:"),
        (
            "  - action: utrn\n    device: ESME\n    amount_pence: 1\n    utrn_of: a\n",
            "needs one of utrn:",
        ),
        (
            "  - action: utrn\n    device: ESME\n    utrn: '1'\n    counter: 3\n",
            "need amount_pence",
        ),
        (
            "  - action: utrn\n    device: ESME\n    amount_pence: 5\n    reason: 0x8F51\n",
            "needs accepted: false",
        ),
        ("  - action: utrn\n    device: ESME\n    amount_pence: 5\n    tamper: digits\n", "tamper"),
        ("  - action: top_up\n    device: ESME\n", "action"),
    ],
)
def test_bad_consumer_steps_are_refused_at_load(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ScenarioFileError) as info:
        load_scenarios(_load(tmp_path, body))
    assert expected in str(info.value)


def test_a_replay_names_an_earlier_utrn_step(tmp_path: Path) -> None:
    lab = Lab.load(DEFAULT_LAB)
    body = (
        "  - action: utrn\n    device: PPMID\n    utrn_of: first\n    accepted: false\n"
        "  - name: first\n    action: utrn\n    device: ESME\n    amount_pence: 5\n"
    )
    [scenario] = load_scenarios(_load(tmp_path, body))
    with pytest.raises(ScenarioError, match=r":3: .*utrn_of: no earlier utrn step 'first'"):
        check_scenario(scenario, lab)
    ok = (
        "  - name: first\n    action: utrn\n    device: ESME\n    amount_pence: 5\n"
        "  - action: utrn\n    device: PPMID\n    utrn_of: first\n    accepted: false\n"
        "    issued_for: GSME\n"
    )
    with pytest.raises(ScenarioFileError, match="need amount_pence"):
        load_scenarios(_load(tmp_path, ok))
    [scenario] = load_scenarios(_load(tmp_path, ok.replace("    issued_for: GSME\n", "")))
    check_scenario(scenario, lab)
