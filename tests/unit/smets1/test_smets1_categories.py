"""Future-dated and sequenced SMETS1 requests: when they run and where their clock starts."""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lab_support import dcc_of

from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus, Result
from hil.dcc.timing import StartPoint

LAB = Path(__file__).resolve().parents[3] / "hil" / "fixtures" / "labs" / "smets1-secure.yaml"


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    the_lab = Lab.load(LAB)
    async with the_lab:
        yield the_lab


async def _top_up_in_an_hour(lab: Lab) -> Result:
    """A 300p top-up (2.2) to the ESME, future-dated an hour ahead: held by the DCC."""
    at = lab.clock.now() + _dt.timedelta(hours=1)
    return await dcc_of(lab).request(
        "2.2",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"amount_pence": 300},
        execute_at=at,
    )


async def test_future_dated_runs_at_its_execution_time(lab: Lab) -> None:
    held = await _top_up_in_an_hour(lab)
    meter = lab.device("ESME")
    assert held.status == RequestStatus.ACKNOWLEDGED and meter.balance_pence == 1000.0  # type: ignore[union-attr]
    await lab.run_for(3599)
    assert not held.done
    await lab.run_for(60)
    assert held.ok, held.detail
    assert meter.balance_pence == 1300.0  # type: ignore[union-attr]
    assert held.timing is not None and held.timing.start_point == StartPoint.EXECUTION_TIME
    assert held.timing.target == 16.0 and held.timing.measured is not None
    assert held.timing.measured < 16.0  # from the execution time, not from receipt an hour ago


async def test_a_held_request_cancelled_by_suspension_never_reaches_the_meter(lab: Lab) -> None:
    held = await _top_up_in_an_hour(lab)
    lab.inventory.decommission(lab.eui("ESME"))
    await lab.run_for(7200)
    assert held.status == RequestStatus.CANCELLED
    assert lab.device("ESME").commands["top_up"] == 0  # type: ignore[union-attr]


async def test_the_orchestration_as_a_sequence(lab: Lab) -> None:
    """2.1 refused in credit mode; 1.6 then 2.1 sequenced after it succeeds."""
    dcc, esme = dcc_of(lab), lab.eui("ESME")
    first = await dcc.request(
        "2.1", as_user="supplier", target=esme, params={"ec_limit_millipence": 600_000}
    )
    assert (first.status, first.reason) == (RequestStatus.FAILED, "DEVICE_REJECTED")
    mode = dcc.submit("1.6", as_user="supplier", target=esme, option="prepayment")
    again = dcc.submit(
        "2.1",
        as_user="supplier",
        target=esme,
        params={"ec_limit_millipence": 600_000},
        depends_on=mode,
    )
    await again.wait(30)
    assert mode.ok and again.ok, (mode.detail, again.detail)
    assert again.timing is not None and again.timing.start_point == StartPoint.PREDECESSOR_RESPONSE
    assert lab.device("ESME").ec_limit_pence == 600.0  # type: ignore[union-attr]
