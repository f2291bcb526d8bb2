"""The DUIS server over real HTTP on 127.0.0.1, without the shared DUIS schema: a
permissive stand-in schema and our own test XML credentials (the schema and ZAZ1
cases are in tests/conformance/test_duis_http.py)."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from duis_support import LAX
from lxml import etree

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.receiver import ResponseReceiver
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, make_credential, sign, verify
from hil.duis.xml import parse, q

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
READ = """<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
 schemaVersion="5.4"><sr:Header><sr:RequestID>{rid}</sr:RequestID>
 <sr:CommandVariant>1</sr:CommandVariant><sr:ServiceReference>4.1</sr:ServiceReference>
 <sr:ServiceReferenceVariant>4.1.1</sr:ServiceReferenceVariant></sr:Header>
 <sr:Body><sr:ReadInstantaneousImportRegisters/></sr:Body></sr:Request>"""


@pytest.fixture
async def setup(
    creds: XmlCredentials,
) -> AsyncIterator[tuple[Lab, DuisServer, asyncio.Queue[bytes]]]:
    async with ResponseReceiver(path="/r") as receiver:
        lab = Lab.load(DEFAULT_LAB)
        async with lab:
            assert lab.dcc is not None
            schema = etree.XMLSchema(etree.fromstring(LAX))
            server = DuisServer(lab.dcc, creds, schema, response_url=receiver.url)
            async with server:
                yield lab, server, receiver.received


def _read(creds: XmlCredentials, counter: int) -> bytes:
    cred = creds.users[bytes.fromhex(SUPPLIER.replace("-", ""))]
    return sign(etree.fromstring(READ.format(rid=f"{SUPPLIER}:{ESME}:{counter}").encode()), cred)


async def _post(server: DuisServer, body: bytes) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/api/v1/serviceS", data=body) as reply,
    ):
        return reply.status, await reply.read()


def _code(body: bytes, creds: XmlCredentials) -> str:
    root = parse(body)
    assert creds.dcc is not None
    verify(root, creds.dcc)  # every answer is signed by the DCC
    return str(root.findtext(f"{q('Header')}/{q('ResponseCode')}"))


async def test_read_acknowledged_then_answered(
    setup: tuple[Lab, DuisServer, asyncio.Queue[bytes]], creds: XmlCredentials
) -> None:
    lab, server, received = setup
    status, body = await _post(server, _read(creds, 1))
    assert status == 200 and _code(body, creds) == "I99"
    response = await asyncio.wait_for(received.get(), 30)
    assert _code(response, creds) == "I0"
    assert parse(response).findtext(f".//{q('GBCSPayload')}")
    assert lab.dcc is not None and [r.ok for r in lab.dcc.results.values()] == [True]


async def test_refusals_reach_no_device(
    setup: tuple[Lab, DuisServer, asyncio.Queue[bytes]], creds: XmlCredentials
) -> None:
    lab, server, _received = setup
    assert lab.dcc is not None
    # (with the real schema this answer is HTTP 400: no service reference to echo)
    assert _code((await _post(server, b"<not-xml"))[1], creds) == "E100"
    tampered = _read(creds, 2).replace(b":2<", b":3<")
    assert _code((await _post(server, tampered))[1], creds) == "E1"
    stranger = sign(
        etree.fromstring(READ.format(rid=f"{SUPPLIER}:{ESME}:4").encode()),
        make_credential(SUPPLIER),
    )
    assert _code((await _post(server, stranger))[1], creds) == "E1"
    assert lab.dcc.results == {}
    once = _read(creds, 5)
    assert _code((await _post(server, once))[1], creds) == "I99"
    assert _code((await _post(server, once))[1], creds) == "E100"
    assert len(lab.dcc.results) == 1
    assert server.counts == {
        "SIGNATURE_INVALID": 1,
        "UNKNOWN_USER": 1,
        "REPLAYED_REQUEST_ID": 1,
        "SCHEMA_INVALID": 1,
    }


NON_DEVICE = """<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
 schemaVersion="5.4"><sr:Header><sr:RequestID>{user}:90-B3-D5-1F-30-00-00-02:{counter}
 </sr:RequestID><sr:CommandVariant>8</sr:CommandVariant>
 <sr:ServiceReference>{variant}</sr:ServiceReference>
 <sr:ServiceReferenceVariant>{variant}</sr:ServiceReferenceVariant></sr:Header>
 <sr:Body>{body}</sr:Body></sr:Request>"""


async def test_schedule_created_read_and_deleted_by_its_duis_id(
    setup: tuple[Lab, DuisServer, asyncio.Queue[bytes]], creds: XmlCredentials
) -> None:
    lab, server, _received = setup
    assert lab.dcc is not None
    cred = creds.users[bytes.fromhex(SUPPLIER.replace("-", ""))]

    async def send(counter: int, variant: str, body: str) -> str:
        xml = NON_DEVICE.format(user=SUPPLIER, counter=counter, variant=variant, body=body)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{server.url}/api/v1/serviceD", data=sign(etree.fromstring(xml.encode()), cred)
            ) as reply,
        ):
            assert reply.status == 200  # never a traceback (was HTTP 500 for 5.2)
            return _code(await reply.read(), creds)

    day = (lab.clock.now() + _dt.timedelta(days=1)).date().isoformat()
    create = (
        "<sr:CreateSchedule><sr:ScheduleFrequency>Daily</sr:ScheduleFrequency>"
        f"<sr:ScheduleStartDate>{day}</sr:ScheduleStartDate>"
        "<sr:DSPScheduledServiceReferenceVariant>4.1.1</sr:DSPScheduledServiceReferenceVariant>"
        f"<sr:DeviceID>{ESME}</sr:DeviceID></sr:CreateSchedule>"
    )
    assert await send(1, "5.1", create) == "I0"
    (schedule_id,) = lab.dcc.schedules
    read = f"<sr:ReadSchedule><sr:DSPScheduleID>{schedule_id}</sr:DSPScheduleID></sr:ReadSchedule>"
    assert await send(2, "5.2", read) == "I0"
    delete = read.replace("ReadSchedule", "DeleteSchedule")
    assert await send(3, "5.3", delete) == "I0"
    assert lab.dcc.schedules == {}
    assert await send(4, "5.2", read) != "I0"  # gone


async def test_dcc_notification_counted_not_posted(
    setup: tuple[Lab, DuisServer, asyncio.Queue[bytes]], creds: XmlCredentials
) -> None:
    """A held request cancelled by decommissioning is a DCC notification with no public
    DCCAlertCode: the server counts and logs it and POSTs nothing (no invented code)."""
    lab, server, received = setup
    dcc = lab.dcc
    assert dcc is not None
    ppmid = lab.eui("PPMID")
    later = lab.clock.now() + _dt.timedelta(hours=1)
    held = await dcc.request("11.2", as_user="supplier", target=ppmid, execute_at=later)
    decommission = await dcc.request("8.3", as_user="supplier", target=ppmid)
    assert decommission.ok, decommission.detail
    assert any(rid == held.request_id for _, rid, _ in dcc.notifications)
    for _ in range(100):
        if server.counts["dcc_alert_not_sent"]:
            break
        await asyncio.sleep(0.05)
    assert server.counts["dcc_alert_not_sent"] == len(dcc.notifications) >= 1
    assert server.deliveries == [] and received.empty()


async def test_only_runs_of_duis_made_schedules_are_posted(
    setup: tuple[Lab, DuisServer, asyncio.Queue[bytes]], creds: XmlCredentials
) -> None:
    """A schedule made through the Python API has no DUIS user to answer; one made
    over DUIS answers each run with DSPScheduledMessage (schema case: conformance)."""
    lab, server, received = setup
    dcc = lab.dcc
    assert dcc is not None
    start = lab.clock.now() + _dt.timedelta(hours=1)
    api = await dcc.request(
        "5.1",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"variant": "4.1.1", "start": start.isoformat()},
    )
    assert api.ok, api.detail
    cred = creds.users[bytes.fromhex(SUPPLIER.replace("-", ""))]
    day = (lab.clock.now() + _dt.timedelta(days=1)).date().isoformat()
    create = (
        "<sr:CreateSchedule><sr:ScheduleFrequency>Daily</sr:ScheduleFrequency>"
        f"<sr:ScheduleStartDate>{day}</sr:ScheduleStartDate>"
        "<sr:DSPScheduledServiceReferenceVariant>4.1.1</sr:DSPScheduledServiceReferenceVariant>"
        f"<sr:DeviceID>{ESME}</sr:DeviceID></sr:CreateSchedule>"
    )
    xml = NON_DEVICE.format(user=SUPPLIER, counter=7, variant="5.1", body=create)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.url}/api/v1/serviceD", data=sign(etree.fromstring(xml.encode()), cred)
        ) as reply,
    ):
        assert _code(await reply.read(), creds) == "I0"
    duis_made = next(s for s in dcc.schedules.values() if s.created_by != api.request_id)
    await lab.run_for(86400 + 3600)
    await server.settle()
    posted = [parse(received.get_nowait()) for _ in range(received.qsize())]
    ids = [m.findtext(f".//{q('DSPScheduleID')}") for m in posted]
    assert ids == [duis_made.schedule_id]  # the API schedule's run is not posted
    assert dcc.schedules[api.data["schedule_id"]].runs  # it did run


async def test_smki_query_with_a_bad_eui_is_a_400_and_counted(
    setup: tuple[Lab, DuisServer, asyncio.Queue[bytes]],
) -> None:
    _lab, server, _received = setup
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/smki/certificates?eui=zz") as reply:
            status, text = reply.status, await reply.text()
        assert status == 400 and "eui" in text and "\n" not in text.strip()
        async with session.get(f"{server.url}/smki/certificates?eui={SUPPLIER}") as reply:
            found = await reply.json()
    assert reply.status == 200 and [c["eui"] for c in found] == [SUPPLIER]
    assert server.counts["smki_bad_query"] == 1
