"""Headless Chromium for the report tests: skipped when absent, a failure when selected.

`pytest -m chromium` (the CI stage) means "these must run": a missing browser
fails there instead of silently skipping, as `-m mosquitto` does for the broker.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from report_browser import CHROMIUM_FLAGS, Browser, find_chromium


def _chromium_required(config: pytest.Config) -> bool:
    expression = str(config.getoption("markexpr") or "")
    return "chromium" in expression and "not chromium" not in expression


@pytest.fixture
def chromium(request: pytest.FixtureRequest, tmp_path: Path) -> Browser:
    """Runs headless Chromium with a fresh profile: chromium(url, '--dump-dom')."""
    binary = find_chromium()
    if binary is None:
        if _chromium_required(request.config):
            pytest.fail("chromium tests were selected but no chromium is installed")
        pytest.skip("chromium not installed (Debian: apt-get install chromium)")

    def run(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory(dir=tmp_path) as profile:
            return subprocess.run(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, url],
                capture_output=True,
                text=True,
                timeout=180,
                check=True,
            )

    return run
