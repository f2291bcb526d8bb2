"""Issue 15: a DCC schedule made over DUIS (5.1) runs with its body's read window,
and each run's device response reaches the user as a `DSPScheduledMessage`."""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import struct
from pathlib import Path

import aiohttp
from duis_conformance_support import checked_answer as _checked
from lxml import etree

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, decode_message
from emulator.gbcs.payload import decode_payload
from hil.dcc.lab import Lab
from hil.dcc.schedules import RelativeTime
from hil.duis.receiver import ResponseReceiver
from hil.duis.server import DUIS_LAB, DuisServer
from hil.duis.signing import XmlCredentials, sign
from hil.duis.xml import dashed, parse, q

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
TEMPLATE = "templates/ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML"
MIDNIGHT = _dt.time(0, 0, tzinfo=_dt.UTC)


def _octets(when: _dt.datetime) -> bytes:
    """A UTC date-time as the DLMS command carries it (an A-XDR octet-string of 12)."""
    fields = (when.year, when.month, when.day, when.isoweekday(), when.hour, when.minute)
    return b"\x09\x0c" + struct.pack(">HBBBBB", *fields) + bytes(5)


async def test_schedule_runs_with_its_window_and_posts_each_answer(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """ECS21a's 5.1 (daily 4.6.1, window from the day before 00:00 to the run's day
    00:00): each run's command reads that run's window; each run's response is POSTed
    signed and schema-valid as DSPScheduledMessage with the schedule's ID."""
    request = parse((duis_dir / TEMPLATE).read_bytes())
    lab = Lab.load(DUIS_LAB)
    async with ResponseReceiver() as sink, lab:
        assert lab.dcc is not None
        first = (lab.clock.now() + _dt.timedelta(days=1)).date()
        request.find(f".//{q('ScheduleStartDate')}").text = first.isoformat()
        user = creds.user(Eui64(SUPPLIER))
        assert user is not None
        async with DuisServer(lab.dcc, creds, schema, response_url=sink.url) as server:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{server.url}/api/v1/serviceD", data=sign(request, user)) as reply,
            ):
                assert _checked(parse(await reply.read()), schema, creds) == "I0"
            (schedule,) = lab.dcc.schedules.values()
            assert schedule.params == {
                "from": RelativeTime(-1, MIDNIGHT),
                "to": RelativeTime(0, MIDNIGHT),
            }
            await lab.run_for(2 * 86400)
            runs = [lab.dcc.results[r] for r in schedule.runs]
            assert len(runs) == 2
            for day, run in enumerate(runs):
                await run.wait(30)
                assert run.ok, run.detail
                ran = _dt.datetime.combine(first, MIDNIGHT) + _dt.timedelta(days=day)
                assert run.request.params == {"from": ran - _dt.timedelta(days=1), "to": ran}
                assert run.command is not None
                sent = decode_message(run.command)
                decode_payload(sent.payload, Cra.COMMAND, sent.message_code)  # well formed
                window = _octets(ran - _dt.timedelta(days=1)) + _octets(ran)
                assert window in sent.payload  # the command reads this run's window
            for run in runs:
                answer = parse(await asyncio.wait_for(sink.received.get(), 30))
                assert _checked(answer, schema, creds) == "I0"
                assert answer.find(f"{q('Header')}/{q('RequestID')}") is None
                message = answer.find(f".//{q('DSPScheduledMessage')}")
                assert message is not None
                assert message.findtext(q("DSPScheduleID")) == schedule.schedule_id
                payload = base64.b64decode(message.findtext(q("GBCSPayload")) or "")
                assert payload == run.response
                assert answer.findtext(f".//{q('ServiceReferenceVariant')}") == "4.6.1"
                assert dashed(lab.dcc.schedules[schedule.schedule_id].target) in str(
                    answer.findtext(f"{q('Header')}/{q('ResponseID')}")
                )
