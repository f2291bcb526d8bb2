"""The one rule for mosquitto in tests (a module, not a conftest, so any test file can
import it): missing mosquitto skips, unless the run selected mosquitto tests (CI), where
a missing binary must fail rather than pass by skipping."""

from __future__ import annotations

import pytest

from emulator.han.broker import MosquittoBroker, find_mosquitto


def mosquitto_required(config: pytest.Config) -> bool:
    """True when the run selected mosquitto tests explicitly (`-m mosquitto`)."""
    expression = str(config.getoption("markexpr") or "")
    return "mosquitto" in expression and "not mosquitto" not in expression


def skip_without_mosquitto(config: pytest.Config) -> None:
    if find_mosquitto() is None:
        if mosquitto_required(config):
            pytest.fail("mosquitto tests were selected but no mosquitto binary is installed")
        pytest.skip("mosquitto not installed (Debian: apt-get install mosquitto)")


def mosquitto_or_skip(config: pytest.Config) -> MosquittoBroker:
    skip_without_mosquitto(config)
    return MosquittoBroker()
