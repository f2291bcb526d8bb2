"""Every python example of docs/wire-protocol.md prints the text block after it, so
the worked hex examples for shim writers (ACK, NACK, the CRC check value) stay true.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "wire-protocol.md"
ROOT = DOC.parents[1]
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    blocks = _BLOCK.findall(DOC.read_text())
    return [
        (code, output)
        for (lang, code), (next_lang, output) in itertools.pairwise(blocks)
        if lang == "python" and next_lang == "text"
    ]


def test_the_doc_has_the_shim_examples() -> None:
    text = DOC.read_text()
    assert len(_examples()) >= 4
    for name in ("## 6. Flow control", "## 7. BLE", "## 8. Checking a shim"):
        assert name in text


@pytest.mark.parametrize("index", range(len(_examples())))
def test_each_example_prints_what_the_doc_shows(index: int) -> None:
    code, expected = _examples()[index]
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_every_wire_check_finding_is_documented() -> None:
    from hil.wire import FINDINGS

    text = DOC.read_text()
    missing = [name for name in FINDINGS if f"`{name}`" not in text]
    assert not missing
