"""The SMETS1 scenarios pass, and the service-level ones show SMETS2+ and SMETS1 side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_support import scenarios_pass

from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus
from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import Verdict

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "hil" / "fixtures" / "scenarios" / "smets1").glob("*.yaml"))
LABS = ROOT / "hil" / "fixtures" / "labs"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
async def test_smets1_scenarios_pass(path: Path) -> None:
    await scenarios_pass(path)


async def test_service_scenarios_run_unchanged_on_smets2_and_smets1() -> None:
    paths = [p for p in SCENARIOS if p.name.startswith("service-")]
    assert len(paths) == 3
    targets: dict[tuple[str, bool], set[float | None]] = {}
    labs: set[str] = set()
    for path in paths:
        record = await run_scenarios(load_scenarios(path), seed=1, interactive=False)
        assert [s.verdict for s in record.scenarios] == [Verdict.PASS, Verdict.PASS]
        for s in record.scenarios:
            labs.add(s.lab)
            smets1 = "smets1-secure" in s.lab
            assert s.response_times, s.name
            for r in s.response_times:
                assert r.smets1 is smets1
                targets.setdefault((r.variant, smets1), set()).add(r.target_s)
            vendor = [m for m in s.messages if "S1SP" in (m.source, m.target)]
            assert bool(vendor) is smets1  # the vendor protocol shows in the record, GBCS not
            assert all(m.hex is None and (m.decoded or "").startswith("{") for m in vendor)
    assert len(labs) == 2
    assert targets[("2.2", False)] == {30.0} and targets[("2.2", True)] == {16.0}
    assert targets[("4.18", False)] == {30.0} and targets[("4.18", True)] == {16.0}
    assert targets[("11.3", False)] == {30.0} and targets[("11.3", True)] == {5 * 86_400.0}


async def test_nothing_reaches_a_smets1_meter_as_gbcs() -> None:
    lab = Lab.load(LABS / "smets1-secure.yaml")
    async with lab:
        assert lab.dcc is not None and lab.smets1 is not None
        result = await lab.dcc.request(
            "2.2", as_user="supplier", target=lab.eui("ESME"), params={"amount_pence": 250}
        )
        assert result.status == RequestStatus.COMPLETED, result.detail
        assert result.command is not None and result.command.startswith(b"{")  # vendor JSON
        assert result.use_case == "SMETS1 top_up"
        assert lab.device("ESME").balance_pence == 1250.0  # type: ignore[union-attr]
        assert lab.smets1.drops == {} and lab.smets1_sites[0].hub.drops == {}
