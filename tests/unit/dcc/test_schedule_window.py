"""Issue 15: a 5.1 schedule's read window (DUIS `ReadLogPeriodOffset`) is carried as
times relative to each run, so every run reads its own days."""

from __future__ import annotations

import datetime as _dt

from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab
from hil.dcc.schedules import RelativeTime, parse_time_of_day
from hil.dcc.timing import Category
from hil.duis.transform import transform
from hil.duis.xml import read_request

DCC_ID = [Eui64("90-B3-D5-1F-30-00-00-02")]
MIDNIGHT = _dt.time(0, 0, tzinfo=_dt.UTC)
WINDOW = (
    "<sr:DSPRetrieveImportDailyReadLog><sr:StartDateOffset>-2</sr:StartDateOffset>"
    "<sr:StartTime>23:30:00.00Z</sr:StartTime><sr:EndDateOffset>0</sr:EndDateOffset>"
    "<sr:EndTime>00:00:00.00Z</sr:EndTime></sr:DSPRetrieveImportDailyReadLog>"
)


def _create(reference: str, window: str) -> etree._Element:
    return etree.fromstring(
        f"""<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
        schemaVersion="5.4"><sr:Header>
        <sr:RequestID>90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1</sr:RequestID>
        <sr:CommandVariant>8</sr:CommandVariant><sr:ServiceReference>5.1</sr:ServiceReference>
        <sr:ServiceReferenceVariant>5.1</sr:ServiceReferenceVariant></sr:Header><sr:Body>
        <sr:CreateSchedule><sr:ScheduleFrequency>Daily</sr:ScheduleFrequency>
        <sr:ScheduleStartDate>2026-01-06</sr:ScheduleStartDate>
        <sr:DSPScheduledServiceReference>{reference}</sr:DSPScheduledServiceReference>
        <sr:DSPScheduledServiceReferenceVariant>4.6.1</sr:DSPScheduledServiceReferenceVariant>
        <sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID>{window}</sr:CreateSchedule>
        </sr:Body></sr:Request>""".encode()
    )


def test_the_window_becomes_the_scheduled_service_parameters() -> None:
    t = transform(
        read_request(_create("4.6", WINDOW)), device_type=None, dcc_ids=DCC_ID, non_device=True
    )
    assert t.unmapped == []
    assert t.params["variant"] == "4.6.1" and t.params["service_reference"] == "4.6"
    assert t.params["params"] == {
        "from": RelativeTime(-2, _dt.time(23, 30, tzinfo=_dt.UTC)),
        "to": RelativeTime(0, MIDNIGHT),
    }


def test_half_a_window_is_listed_not_guessed() -> None:
    half = WINDOW.replace("<sr:EndDateOffset>0</sr:EndDateOffset>", "")
    t = transform(
        read_request(_create("4.6", half)), device_type=None, dcc_ids=DCC_ID, non_device=True
    )
    assert "params" not in t.params
    assert "DSPRetrieveImportDailyReadLog/StartDateOffset=-2" in t.unmapped


def test_relative_times_land_on_each_run_day() -> None:
    run = _dt.datetime(2026, 3, 1, 0, 0, tzinfo=_dt.UTC)
    late = RelativeTime(-1, parse_time_of_day("23:30:00.00Z"))
    assert late.on(run) == _dt.datetime(2026, 2, 28, 23, 30, tzinfo=_dt.UTC)
    local = RelativeTime(0, parse_time_of_day("01:30:00+01:00"))
    assert local.on(run) == _dt.datetime(2026, 3, 1, 0, 30, tzinfo=_dt.UTC)


async def test_each_run_reads_its_own_window(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    start = lab.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start += _dt.timedelta(days=1)
    window = {"from": RelativeTime(-1, MIDNIGHT), "to": RelativeTime(0, MIDNIGHT)}
    created = await dcc.request(
        "5.1",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"variant": "4.6.1", "start": start.isoformat(), "params": window},
    )
    assert created.ok, created.detail
    lab.advance(2 * 86400)
    runs = [r for r in dcc.results.values() if r.request.category == Category.SCHEDULED]
    assert [(r.request.params["from"], r.request.params["to"]) for r in runs] == [
        (start - _dt.timedelta(days=1), start),
        (start, start + _dt.timedelta(days=1)),
    ]


async def test_a_variant_of_another_service_reference_is_refused(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    start = lab.clock.now() + _dt.timedelta(hours=1)
    refused = await dcc.request(
        "5.1",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"variant": "4.6.1", "service_reference": "4.8", "start": start.isoformat()},
    )
    assert refused.refused and refused.reason == "INVALID_PARAMETERS"
    assert dcc.schedules == {}
