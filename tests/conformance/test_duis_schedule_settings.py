"""Issue 15: 5.1's optional settings over DUIS against the DUIS 5.4 schema: an end
date, a time of day and the URP credentials, echoed by 5.2 and honoured by the runs;
a scheduled body of another variant than the one named is refused."""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from duis_conformance_support import Sink, post
from duis_conformance_support import checked_answer as _checked
from lxml import etree

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.pki.keystore import KeyUsage
from hil.dcc.lab import Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, sign
from hil.duis.xml import parse, q

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
CREATE = "templates/ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML"
READ = "templates/5.2_READ_SCHEDULE_REQUEST_DUIS.XML"


def _counter(root: etree._Element, counter: int) -> None:
    rid = root.find(f"{q('Header')}/{q('RequestID')}")
    assert rid is not None and rid.text is not None
    rid.text = rid.text.rsplit(":", 1)[0] + f":{counter}"


def _prepayment_log(create: etree._Element) -> None:
    """The template's 4.6.1 read log as 4.14's (same `ReadLogPeriodOffset` window)."""
    body = create.find(f".//{q('DSPRetrieveImportDailyReadLog')}")
    assert body is not None
    body.tag = q("DSPReadPrepaymentDailyReadLog")
    create.find(f".//{q('DSPScheduledServiceReference')}").text = "4.14"  # type: ignore[union-attr]
    create.find(f".//{q('DSPScheduledServiceReferenceVariant')}").text = "4.14"  # type: ignore[union-attr]


def _settings(create: etree._Element, end: _dt.date, at: str, ka: str) -> None:
    """ScheduleEndDate, ScheduleExecutionStartTime, KAPublicSecurityCredential after
    ScheduleStartDate, in the schema's order."""
    start = create.find(f".//{q('ScheduleStartDate')}")
    assert start is not None
    for name, text in reversed(
        [
            ("ScheduleEndDate", end.isoformat()),
            ("ScheduleExecutionStartTime", at),
            ("KAPublicSecurityCredential", ka),
        ]
    ):
        element = etree.Element(q(name))
        element.text = text
        start.addnext(element)


async def test_end_date_time_and_credentials_echoed_and_honoured(
    boxed: tuple[Lab, DuisServer],
    sink: Sink,
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
) -> None:
    lab, server = boxed
    dcc = lab.dcc
    assert dcc is not None
    user = creds.user(Eui64(SUPPLIER))
    assert user is not None
    first = (lab.clock.now() + _dt.timedelta(days=1)).date()
    end = first + _dt.timedelta(days=1)
    der = dcc.keystore.certificate(Eui64(SUPPLIER), KeyUsage.KEY_AGREEMENT).public_bytes(
        serialization.Encoding.DER
    )
    ka = base64.b64encode(der).decode()
    create = parse((duis_dir / CREATE).read_bytes())
    create.find(f".//{q('ScheduleStartDate')}").text = first.isoformat()  # type: ignore[union-attr]
    _prepayment_log(create)
    _settings(create, end, "06:30:00Z", ka)
    _counter(create, 2001)
    assert schema.validate(create), schema.error_log.last_error  # the settings' order
    assert _checked(await post(server, "D", sign(create, user)), schema, creds) == "I0"
    (schedule,) = dcc.schedules.values()

    read = parse((duis_dir / READ).read_bytes())
    read.find(f".//{q('DSPScheduleID')}").text = schedule.schedule_id  # type: ignore[union-attr]
    _counter(read, 2002)
    answer = await post(server, "D", sign(read, user))
    assert _checked(answer, schema, creds) == "I0"
    details = answer.find(f".//{q('DSPScheduleDetails')}")
    assert details is not None
    assert details.findtext(q("ScheduleEndDate")) == end.isoformat()
    assert details.findtext(q("ScheduleExecutionStartTime")) == "06:30:00Z"
    assert details.findtext(q("KAPublicSecurityCredential")) == ka

    await lab.run_for(4 * 86400)
    runs = [dcc.results[r] for r in schedule.runs]
    at = _dt.time(6, 30, tzinfo=_dt.UTC)
    assert [r.request.received_at for r in runs] == [
        _dt.datetime.combine(first, at),
        _dt.datetime.combine(end, at),
    ]
    for run in runs:
        await run.wait(30)
        assert run.ok, run.detail
        assert run.command is not None
        assert decode_message(run.command).header.other.supplementary_ka_certificate == der
        posted = parse(await asyncio.wait_for(sink.received.get(), 30))
        assert _checked(posted, schema, creds) == "I0"
        assert posted.findtext(f".//{q('ServiceReferenceVariant')}") == "4.14"
        assert posted.findtext(f".//{q('DSPScheduleID')}") == schedule.schedule_id
    assert dcc.schedules == {} and schedule.schedule_id not in server.schedule_bodies
    _counter(read, 2003)
    gone = await post(server, "D", sign(read, user))
    assert _checked(gone, schema, creds) == "E100"  # SCHEDULE_NOT_FOUND


async def test_a_scheduled_body_of_another_variant_is_e100(
    boxed: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
) -> None:
    lab, server = boxed
    assert lab.dcc is not None
    user = creds.user(Eui64(SUPPLIER))
    assert user is not None
    create = parse((duis_dir / CREATE).read_bytes())
    first = (lab.clock.now() + _dt.timedelta(days=1)).date()
    create.find(f".//{q('ScheduleStartDate')}").text = first.isoformat()  # type: ignore[union-attr]
    body = create.find(f".//{q('DSPRetrieveImportDailyReadLog')}")
    assert body is not None
    body.tag = q("DSPRetrieveExportDailyReadLog")  # schema-valid, but 4.6.2's body
    _counter(create, 2101)
    assert _checked(await post(server, "D", sign(create, user)), schema, creds) == "E100"
    assert lab.dcc.schedules == {}
    assert server.counts["INVALID_PARAMETERS"] == 1
