"""The example of docs/pytest-plugin.md is a file that passes, in both pytest-asyncio modes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "test_with_the_lab.py"
DOC = ROOT / "docs" / "pytest-plugin.md"


def test_the_doc_shows_the_example_file() -> None:
    section = DOC.read_text().split("### Example", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    assert block.group(1) == EXAMPLE.read_text()


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_example_passes(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makeini(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_with_the_lab=EXAMPLE.read_text())
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)
