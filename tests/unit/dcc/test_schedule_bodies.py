"""Issue 15: every scheduled body of DUIS 5.1 (the `DSPSchedule` choice) becomes its
service request variant, and each run sends that request to the device."""

from __future__ import annotations

import datetime as _dt

import pytest
from schedule_support import create_schedule_xml, transformed

from hil.dcc.lab import Lab
from hil.dcc.schedules import RelativeTime
from hil.duis.transform import SCHEDULED_BODIES

MIDNIGHT = _dt.time(0, 0, tzinfo=_dt.UTC)
OFFSETS = (
    "<sr:StartDateOffset>-1</sr:StartDateOffset><sr:StartTime>00:00:00Z</sr:StartTime>"
    "<sr:EndDateOffset>0</sr:EndDateOffset><sr:EndTime>00:00:00Z</sr:EndTime>"
)
WINDOW = {"from": RelativeTime(-1, MIDNIGHT), "to": RelativeTime(0, MIDNIGHT)}

#: (scheduled body, variant, lab user, role, device, whether the body is a read window)
CHOICES = [
    ("DSPReadInstantaneousExportRegisters", "4.2", "dno", "ED", "ESME", False),
    ("DSPRetrieveImportDailyReadLog", "4.6.1", "supplier", "IS", "ESME", True),
    ("DSPRetrieveExportDailyReadLog", "4.6.2", "supplier", "ES", "ESME", True),
    ("DSPReadActiveImportProfileData", "4.8.1", "supplier", "IS", "ESME", True),
    ("DSPReadReactiveImportProfileData", "4.8.2", "supplier", "IS", "ESME", True),
    ("DSPReadExportProfileData", "4.8.3", "dno", "ED", "ESME", True),
    ("DSPReadNetworkData", "4.10", "supplier", "IS", "ESME", True),
    ("DSPReadMaximumDemandImportRegisters", "4.12.1", "supplier", "IS", "ESME", False),
    ("DSPReadMaximumDemandExportRegisters", "4.12.2", "dno", "ED", "ESME", False),
    ("DSPReadPrepaymentDailyReadLog", "4.14", "supplier", "IS", "ESME", True),
    ("DSPReadLoadLimitData", "4.15", "supplier", "IS", "ESME", False),
    ("DSPReadActivePowerImport", "4.16", "supplier", "IS", "ESME", False),
    ("DSPRetrieveDailyConsumptionLog", "4.17", "supplier", "IS", "ESME", True),
    ("DSPRecordNetworkDataGAS", "14.1", "gas-transporter", "GT", "GSME", False),
]


def test_every_choice_of_the_schema_is_mapped() -> None:
    assert sorted(SCHEDULED_BODIES) == sorted(c[0] for c in CHOICES)


@pytest.mark.parametrize(
    ("body", "variant", "user", "role", "kind", "window"), CHOICES, ids=[c[1] for c in CHOICES]
)
async def test_each_scheduled_body_runs_its_service(
    lab: Lab, body: str, variant: str, user: str, role: str, kind: str, window: bool
) -> None:
    dcc = lab.dcc
    assert dcc is not None
    device = lab.eui(kind)
    day = (lab.clock.now() + _dt.timedelta(days=1)).date()
    xml = create_schedule_xml(
        variant, device, day, scheduled=f"<sr:{body}>{OFFSETS if window else ''}</sr:{body}>"
    )
    t = transformed(xml)
    assert t.unmapped == [] and t.params["body_variant"] == variant
    assert t.params.get("params", {}) == (WINDOW if window else {})
    created = await dcc.request("5.1", as_user=user, role=role, target=device, params=t.params)
    assert created.ok, created.detail
    (schedule,) = dcc.schedules.values()
    await lab.run_for(86400)
    (run_id,) = schedule.runs
    run = dcc.results[run_id]
    await run.wait(None)
    assert run.request.variant == variant
    ran = _dt.datetime.combine(day, MIDNIGHT)
    expected = {"from": ran - _dt.timedelta(days=1), "to": ran} if window else {}
    assert run.request.params == expected  # an empty body: no params
    assert run.ok, run.detail
    assert run.response is not None  # the device answered


async def test_a_body_of_another_variant_is_refused(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    day = (lab.clock.now() + _dt.timedelta(days=1)).date()
    xml = create_schedule_xml("4.6.1", lab.eui("ESME"), day, scheduled="<sr:DSPReadLoadLimitData/>")
    refused = await dcc.request(
        "5.1", as_user="supplier", target=lab.eui("ESME"), params=transformed(xml).params
    )
    assert refused.refused and refused.reason == "INVALID_PARAMETERS"
    assert "4.15" in refused.detail and dcc.schedules == {}
