"""The DCC tests' default lab: the demo lab, started, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hil.dcc.lab import DEFAULT_LAB, Lab


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    the_lab = Lab.load(DEFAULT_LAB)
    async with the_lab:
        yield the_lab
