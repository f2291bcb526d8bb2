"""Brokers for the fleet tests: amqtt always, mosquitto where installed (required with -m)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulator.han.broker import EmbeddedBroker, MosquittoBroker, find_mosquitto


def _mosquitto_required(config: pytest.Config) -> bool:
    expression = str(config.getoption("markexpr") or "")
    return "mosquitto" in expression and "not mosquitto" not in expression


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def broker_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "amqtt":
        async with EmbeddedBroker() as embedded:
            yield embedded.url
        return
    if find_mosquitto() is None:
        if _mosquitto_required(request.config):
            pytest.fail("mosquitto tests were selected but no mosquitto binary is installed")
        pytest.skip("mosquitto not installed (Debian: apt-get install mosquitto)")
    async with MosquittoBroker() as real:
        yield real.url
