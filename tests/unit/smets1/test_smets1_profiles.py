"""Profile files: strict schema, one-line errors, and the matrix in docs/smets1.md kept current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.devices.smets1.profile import Behaviour
from hil.dcc.smets1_profiles import (
    PROFILES,
    ProfileFileError,
    behaviour_matrix,
    load_profile,
    profile,
    profile_names,
)

ROOT = Path(__file__).resolve().parents[3]
MINIMAL = 'vendor: V\nmodel: M\nsupported: ["2.2"]\n'


def test_the_shipped_profiles_differ_in_their_quirks() -> None:
    names = profile_names()
    assert "secure-cohort" in names and len(names) >= 3
    behaviours = {name: profile(name).behaviours for name in names}
    assert len(set(behaviours.values())) == len(names)  # no two alike
    secure = behaviours["secure-cohort"]
    assert secure == frozenset(Behaviour)  # the Secure cohort shows every documented one


def test_the_docs_matrix_is_current() -> None:
    docs = (ROOT / "docs" / "smets1.md").read_text()
    assert behaviour_matrix() in docs, "run: python -m hil.dcc.smets1_profiles"


@pytest.mark.parametrize(
    ("extra", "line", "field", "problem"),
    [
        ("time_base: gmt\n", 4, "time_base", "'local' or 'utc'"),
        ("behaviours: [local-time]\n", 4, "behaviours[0]", "follows from time_base: local"),
        ("behaviours: [fast]\n", 4, "behaviours[0]", "unknown behaviour 'fast'"),
        ("delay: {min_s: 5}\n", 4, "delay", "needs both min_s and max_s"),
        ("delay: {min_s: 5, max_s: 2}\n", 4, "delay.max_s", "at least min_s"),
        ("colour: red\n", 4, "colour", "unknown"),
        ("money_resolution_mp: '1000'\n", 4, "money_resolution_mp", ""),
    ],
)
def test_bad_profiles_name_file_line_and_field(
    tmp_path: Path, extra: str, line: int, field: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL + extra)
    with pytest.raises(ProfileFileError) as caught:
        load_profile(path)
    error = caught.value
    assert (error.line, error.field) == (line, field), str(error)
    assert problem in error.problem
    assert str(error).startswith(f"{path}:{line}: {field}: ")


@pytest.mark.parametrize(
    ("variant", "problem"),
    [("4.14", "SMETS2+ only"), ("9.9", "not in the service catalogue"), ("6.13", "no translation")],
)
def test_supported_variants_are_checked(tmp_path: Path, variant: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace('"2.2"', f'"2.2", "{variant}"'))
    with pytest.raises(ProfileFileError, match=re.escape(problem)) as caught:
        load_profile(path)
    assert caught.value.field == "supported[1]"


def test_profiles_are_data() -> None:
    assert sorted(p.stem for p in PROFILES.glob("*.yaml")) == profile_names()
