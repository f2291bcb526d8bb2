"""The example in docs/reports.md runs and writes what it says."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from hil.scenario.record import RunRecord

DOC = Path(__file__).parents[3] / "docs" / "reports.md"


def test_the_documented_example_writes_all_outputs(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "check: balance 2.00 GBP, expected >= 5 (scenarios/balance.yaml:7)" in result.stdout
    assert result.stdout.rstrip().endswith("FAILED: 1 scenario (1 fail)")
    assert not RunRecord.load(tmp_path / "run.json").passed
    assert ET.parse(tmp_path / "junit.xml").getroot().find("testsuite/testcase/failure") is not None
    page = (tmp_path / "report.html").read_text()
    assert 'class="seq timeline"' in page and 'class="plot series"' in page
