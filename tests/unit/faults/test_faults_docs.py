"""The Python example in docs/faults.md runs as written, and every kind is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hil.faults import KINDS

DOC = Path(__file__).resolve().parents[3] / "docs" / "faults.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_example_in_the_docs_runs() -> None:
    example = next(block for block in _python_blocks() if "asyncio.run" in block)
    done = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "failed NO_RESPONSE"
    assert lines[1] in ("completed I0", "failed NO_RESPONSE")  # drop 10% may still strike
    assert any(line.startswith("link down 30s ESME") for line in lines)


def test_every_kind_has_a_row_in_the_docs() -> None:
    text = DOC.read_text()
    for kind in KINDS:
        assert f"| `{kind}` |" in text, kind
