"""Brokers for the fleet tests: amqtt always, mosquitto where installed (required with -m)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from broker_support import skip_without_mosquitto

from emulator.han.broker import EmbeddedBroker, MosquittoBroker


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def broker_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "amqtt":
        async with EmbeddedBroker() as embedded:
            yield embedded.url
        return
    skip_without_mosquitto(request.config)
    async with MosquittoBroker() as real:
        yield real.url
