"""docs/firmware.md: its console examples run and print what the page shows."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "firmware.md"
_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)


def _steps() -> list[tuple[str, str]]:
    """(command, expected standard output) for every `$` line of the console blocks."""
    steps: list[tuple[str, str]] = []
    for block in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        for chunk in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            steps.append((command, output))
    return steps


def test_doc_has_examples() -> None:
    assert len(_steps()) >= 8


def test_doc_examples_print_what_the_doc_says(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "firmware_images", tmp_path / "firmware_images")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command, expected in _steps():
        if "zigpy" in command and importlib.util.find_spec("zigpy") is None:
            continue  # the dev extra is not installed here
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stdout == expected, command
    # the regeneration example rewrote the copied images: still the committed bytes
    for committed in (ROOT / "firmware_images").iterdir():
        assert (tmp_path / "firmware_images" / committed.name).read_bytes() == (
            committed.read_bytes()
        )


@pytest.mark.parametrize("name", ["firmware.md"])
def test_doc_is_linked(name: str) -> None:
    assert name in (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
