"""`smets-hil fleet` refuses bad input with one line and exit status 2, before any broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hil.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fleet"], "--premises is required"),
        (["fleet", "--premises", "0"], "--premises must be at least 1"),
        (["fleet", "--premises", "2", "--workers", "3"], "--workers must be between 1 and"),
        (["fleet", "--premises", "2", "--run", "a.b"], "run name must be"),
        (["fleet", "worker", "--broker", "mqtt://h", "--shard", "3/2"], "shard 3/2"),
    ],
)
def test_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_mix_file_is_one_line_naming_file_line_and_field(tmp_path: Path) -> None:
    mix = tmp_path / "mix.yaml"
    mix.write_text("rate: 10\nweights:\n  read: -1\n")
    result = CliRunner().invoke(main, ["fleet", "--premises", "1", "--mix", str(mix)])
    assert result.exit_code == 2
    assert f"{mix}:3: weights.read: " in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_bad_recording_is_refused(tmp_path: Path) -> None:
    rec = tmp_path / "r.jsonl"
    rec.write_text("not json\n")
    result = CliRunner().invoke(main, ["fleet", "--premises", "1", "--replay", str(rec)])
    assert result.exit_code == 2
    assert f"{rec}:1: not JSON" in result.output


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not UTF-8 text (byte 0x89)"),
        (b"\x00\x01\x02\x03", 1, "a binary file, not a recording (NUL byte)"),
        (b'{"format": "x"}\n{"t": 0}\n{"t": "\xe9"}\n', 3, "not UTF-8 text (byte 0xE9)"),
        (b'{"format": "x"}\n\n{"t": 0,\x00}\n', 3, "a binary file"),
    ],
)
def test_a_binary_recording_names_file_and_line(
    tmp_path: Path, content: bytes, line: int, problem: str
) -> None:
    rec = tmp_path / "r.jsonl"
    rec.write_bytes(content)
    result = CliRunner().invoke(main, ["fleet", "--premises", "1", "--replay", str(rec)])
    assert result.exit_code == 2, result.output
    assert f"{rec}:{line}: {problem}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_record_writes_a_replayable_file(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(main, ["fleet", "record", str(out), "--requests", "5"])
    assert result.exit_code == 0, result.output
    assert "recorded 5 commands (5 answered)" in result.output
    assert len(out.read_text().splitlines()) == 6


@pytest.mark.parametrize("worker", [False, True])
def test_an_unreachable_broker_is_one_line_and_exit_1(worker: bool) -> None:
    from emulator.han.broker import free_port

    url = f"mqtt://127.0.0.1:{free_port()}"
    args = ["fleet", "worker", "--shard", "1/1"] if worker else ["fleet", "--premises", "1"]
    result = CliRunner().invoke(main, [*args, "--broker", url])
    assert result.exit_code == 1, result.output
    assert f"{url}: cannot connect to the broker" in result.output
    assert len(result.output.strip().splitlines()) == 1
