"""`smets-hil duis serve --response-url`: a default address and per-user ones."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hil.cli import main
from hil.duis.cli import response_addresses


def test_default_and_per_user_addresses() -> None:
    default, per_user = response_addresses(
        ("http://127.0.0.1:9000/all", "90-b3-d5-1f-30-01-00-00=http://127.0.0.1:9001/sup")
    )
    assert default == "http://127.0.0.1:9000/all"
    assert per_user == {"90-B3-D5-1F-30-01-00-00": "http://127.0.0.1:9001/sup"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [("ftp://x", "not an http(s) URL"), ("nobody=http://x", "'nobody' is not an EUI-64")],
)
def test_bad_addresses_are_one_line_usage_errors(value: str, problem: str) -> None:
    result = CliRunner().invoke(main, ["duis", "serve", "--response-url", value])
    assert result.exit_code == 2
    assert problem in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
