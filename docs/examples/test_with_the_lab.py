"""A user's tests on the smets-hil lab, through the pytest plugin (docs/pytest-plugin.md).

`tests/unit/plugin/test_docs_example.py` runs this file in pytest-asyncio's strict mode
(the mark below) and in auto mode, so it stays true.
"""

from __future__ import annotations

import pytest

from emulator.clock import Clock
from hil.dcc.lab import Lab
from hil.dcc.service import Dcc
from hil.pytest_plugin import Devices, Users

pytestmark = pytest.mark.asyncio  # strict mode needs it; auto mode does not mind


async def test_the_supplier_reads_the_import_register(
    dcc: Dcc, device: Devices, user: Users
) -> None:
    esme = device("ESME")
    esme.meter.import_wh = 12345.0
    result = await dcc.request("4.1.1", as_user=user("supplier"), target=esme.eui)
    assert result.ok, result.reason
    values = {v.name: v for v in result.values}
    assert values["Active import energy"].value == 12345
    assert values["Active import energy"].unit == "Wh"


async def test_a_supplier_that_does_not_supply_is_refused(dcc: Dcc, device: Devices) -> None:
    result = await dcc.request("4.1.1", as_user="rival-supplier", target=device("ESME").eui)
    assert not result.ok
    assert result.reason == "NOT_RESPONSIBLE_SUPPLIER"


async def test_virtual_time_moves_when_the_test_says(lab: Lab, clock: Clock) -> None:
    before = clock.now()
    await lab.run_for(3600)
    assert (clock.now() - before).total_seconds() == 3600
