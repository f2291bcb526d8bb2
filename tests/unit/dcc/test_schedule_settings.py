"""Issue 15: 5.1's optional settings. `ScheduleEndDate` (the last day a schedule runs
on), `ScheduleExecutionStartTime` (the runs' time of day) and
`KAPublicSecurityCredential` (the URP credentials each run's command carries)."""

from __future__ import annotations

import base64
import datetime as _dt

from cryptography.hazmat.primitives import serialization
from schedule_support import create_schedule_xml, transformed

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.pki.keystore import KeyUsage
from hil.dcc.lab import Lab
from hil.dcc.requests import Result

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
RIVAL = Eui64("90-B3-D5-1F-30-01-00-10")
READ_LOG = (
    "<sr:DSPReadPrepaymentDailyReadLog><sr:StartDateOffset>-1</sr:StartDateOffset>"
    "<sr:StartTime>00:00:00Z</sr:StartTime><sr:EndDateOffset>0</sr:EndDateOffset>"
    "<sr:EndTime>00:00:00Z</sr:EndTime></sr:DSPReadPrepaymentDailyReadLog>"
)


def _tomorrow(lab: Lab) -> _dt.date:
    return (lab.clock.now() + _dt.timedelta(days=1)).date()


async def _create(lab: Lab, variant: str, scheduled: str, extra: str) -> Result:
    assert lab.dcc is not None
    xml = create_schedule_xml(
        variant, lab.eui("ESME"), _tomorrow(lab), scheduled=scheduled, extra=extra
    )
    t = transformed(xml)
    assert t.unmapped == []
    return await lab.dcc.request(
        "5.1", as_user="supplier", role="IS", target=t.target, params=t.params
    )


def _ka(lab: Lab, party: Eui64) -> str:
    assert lab.dcc is not None
    cert = lab.dcc.keystore.certificate(party, KeyUsage.KEY_AGREEMENT)
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


async def test_a_schedule_runs_on_its_end_date_then_leaves(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    end = _tomorrow(lab) + _dt.timedelta(days=1)
    created = await _create(
        lab, "4.14", READ_LOG, f"<sr:ScheduleEndDate>{end.isoformat()}</sr:ScheduleEndDate>"
    )
    assert created.ok, created.detail
    (schedule,) = dcc.schedules.values()
    assert schedule.end == end
    await lab.run_for(5 * 86400)
    runs = [dcc.results[r] for r in schedule.runs]
    assert [r.request.received_at.date() for r in runs] == [end - _dt.timedelta(days=1), end]
    assert dcc.schedules == {} and list(dcc.ended_schedules) == [schedule.schedule_id]
    # 5.2 no longer lists it: by device, nothing; by its ID, not found
    listed = await dcc.request("5.2", as_user="supplier", target=lab.eui("ESME"))
    assert listed.ok and listed.data == []
    named = await dcc.request(
        "5.2", as_user="supplier", params={"schedule_id": schedule.schedule_id}
    )
    assert named.refused and named.reason == "SCHEDULE_NOT_FOUND"


async def test_an_end_before_the_first_run_is_refused(lab: Lab) -> None:
    end = _tomorrow(lab) - _dt.timedelta(days=1)
    refused = await _create(
        lab, "4.14", READ_LOG, f"<sr:ScheduleEndDate>{end.isoformat()}</sr:ScheduleEndDate>"
    )
    assert refused.refused and refused.reason == "INVALID_PARAMETERS"


async def test_runs_start_at_the_execution_start_time(lab: Lab) -> None:
    """06:30 UTC instead of the default 00:00 UTC; an offset is converted to UTC."""
    dcc = lab.dcc
    assert dcc is not None
    at = "<sr:ScheduleExecutionStartTime>07:30:00+01:00</sr:ScheduleExecutionStartTime>"
    created = await _create(lab, "4.14", READ_LOG, at)
    assert created.ok, created.detail
    (schedule,) = dcc.schedules.values()
    day = _dt.datetime.combine(_tomorrow(lab), _dt.time(0, 0, tzinfo=_dt.UTC))
    first = day.replace(hour=6, minute=30)
    assert schedule.first == first
    await lab.run_for(2 * 86400)
    runs = [dcc.results[r] for r in schedule.runs]
    assert [r.request.received_at for r in runs] == [first, first + _dt.timedelta(days=1)]
    # the read window stays relative to the run's day, not its time of day
    assert runs[0].request.params == {"from": day - _dt.timedelta(days=1), "to": day}


async def test_each_run_carries_the_ka_certificate(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    der = base64.b64decode(_ka(lab, SUPPLIER))
    credential = (
        f"<sr:KAPublicSecurityCredential>{_ka(lab, SUPPLIER)}</sr:KAPublicSecurityCredential>"
    )
    created = await _create(lab, "4.14", READ_LOG, credential)
    assert created.ok, created.detail
    (schedule,) = dcc.schedules.values()
    await lab.run_for(2 * 86400)
    assert len(schedule.runs) == 2
    for run_id in schedule.runs:
        run = dcc.results[run_id]
        await run.wait(None)
        assert run.ok, run.detail
        assert run.command is not None and run.response is not None
        other = decode_message(run.command).header.other
        assert bytes(other.supplementary_remote_party_id or b"") == bytes(SUPPLIER)
        assert other.supplementary_ka_certificate == der


async def test_a_ka_certificate_is_refused_where_the_service_takes_none(lab: Lab) -> None:
    """4.15 has no URP credentials in DUIS; 4.6.1 has, but its ESME command (ECS21a)
    is the supplier's alone: the ACB cannot send it for the user."""
    dcc = lab.dcc
    assert dcc is not None
    credential = (
        f"<sr:KAPublicSecurityCredential>{_ka(lab, SUPPLIER)}</sr:KAPublicSecurityCredential>"
    )
    load_limit = await _create(lab, "4.15", "<sr:DSPReadLoadLimitData/>", credential)
    assert load_limit.refused and load_limit.reason == "INVALID_PARAMETERS"
    assert "KAPublicSecurityCredential" in load_limit.detail
    daily = READ_LOG.replace("DSPReadPrepaymentDailyReadLog", "DSPRetrieveImportDailyReadLog")
    read_log = await _create(lab, "4.6.1", daily, credential)
    assert read_log.refused and read_log.reason == "INVALID_PARAMETERS"
    assert dcc.schedules == {}


async def test_a_ka_certificate_of_another_party_is_refused(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    credential = f"<sr:KAPublicSecurityCredential>{_ka(lab, RIVAL)}</sr:KAPublicSecurityCredential>"
    refused = await _create(lab, "4.14", READ_LOG, credential)
    assert refused.refused and refused.reason == "INVALID_PARAMETERS"
    assert "not the requester" in refused.detail and dcc.schedules == {}
