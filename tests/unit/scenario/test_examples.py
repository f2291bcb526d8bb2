"""Every scenario in hil/fixtures/scenarios and every example in docs/scenarios.md passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lab_support import scenarios_pass

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = sorted((ROOT / "hil" / "fixtures" / "scenarios").glob("*.*"))
DOC = (ROOT / "docs" / "scenarios.md").read_text()
BLOCKS = re.findall(r"```(yaml|python)\n(.*?)```", DOC, re.S)
EXAMPLES = [
    (kind, text) for kind, text in BLOCKS if text.startswith("name:") or "@scenario" in text
]


def test_there_are_examples() -> None:
    assert len(FIXTURES) >= 5
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
async def test_fixture_scenarios_pass(path: Path) -> None:
    await scenarios_pass(path)


@pytest.mark.parametrize(("kind", "text"), EXAMPLES)
async def test_doc_examples_pass(tmp_path: Path, kind: str, text: str) -> None:
    path = tmp_path / ("example.yaml" if kind == "yaml" else "example.py")
    path.write_text(text)
    await scenarios_pass(path)
