"""DUIS over real HTTP on 127.0.0.1: the DUIS v5.4 schema, the public ZAZ1 XML-signing
credentials and the DUIS templates, against the demo lab.

Requests are signed here as a DCC Boxed user signs them (ZAZ1 role-135 key); every
answer must be schema-valid and signed by the DCC's ZAZ1 key (role 137). The fixtures
`duis`, `boxed` and `sink` are in conftest.py; the template sweep, shared with the
signing tool's run (`test_duis_sign.py`), in duis_conformance_support.py.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
from pathlib import Path

import aiohttp
from duis_conformance_support import (
    DNO,
    ESME,
    RECOVERY,
    SAMPLE,
    SUPPLIER,
    SUPPLIER2,
    SUPPLIER2_DS_ROLE,
    SUPPLIER2_TEMPLATE,
    Sink,
    as_lab_dates,
    check_sweep,
    endpoint_for,
    lab_dated,
    lab_for,
    sign_ours,
    sweep_templates,
)
from duis_conformance_support import checked_answer as _checked
from duis_conformance_support import post as _post
from duis_conformance_support import signed_as as _signed
from duis_conformance_support import template as _request
from lxml import etree

from emulator.devices.esme import Esme
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from hil.dcc.cpl import Cpl
from hil.dcc.lab import Lab
from hil.duis.server import BOXED_DCC, DuisServer
from hil.duis.signing import XmlCredentials, make_credential, sign
from hil.duis.xml import DuisRequest, parse, q, read_request

#: ZAZ1's load controller, the originator of the DCC's 7.16 templates: a DUIS lab user
#: in the lab role Load Controller, signing DUIS with its ZAZ1 GBCS digital-signing key
#: `Z1-loadController-ds` (role 8, a Load Controller's certificates).
LOAD_CONTROLLER = "90-B3-D5-1F-30-01-00-08"
LOAD_CONTROLLER_ROLE = 8
#: The 7.16 templates and what each leaves on the ESME: controller -> (kind, level),
#: kind 2 for an APC taking input from the controlled load, 1 for an APC output.
APC_TEMPLATES = {
    "templates/ECS47e_7.16_APC_INPUT_SUCCESS_REQUEST_DUIS.XML": (3, (2, 50)),
    "templates/ECS47e_7.16_APC_OUTPUT_SUCCESS_REQUEST_DUIS.XML": (5, (1, 100)),
}


def _signed_precommand(request: DuisRequest, gbcs: bytes) -> etree._Element:
    """The user's DUIS request that hands back its GBCS-signed pre-command."""
    return etree.fromstring(
        f"""<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
          schemaVersion="5.4"><sr:Header><sr:RequestID>{request.request_id}</sr:RequestID>
          <sr:CommandVariant>1</sr:CommandVariant>
          <sr:ServiceReference>{request.service_reference}</sr:ServiceReference>
          <sr:ServiceReferenceVariant>{request.variant}</sr:ServiceReferenceVariant></sr:Header>
          <sr:Body><sr:SignedPreCommand><sr:GBCSPayload>{base64.b64encode(gbcs).decode()}
          </sr:GBCSPayload></sr:SignedPreCommand></sr:Body></sr:Request>""".encode()
    )


async def test_read_goes_to_the_device_and_back_signed(
    duis: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    lab, server = duis
    ack = await _post(server, "S", _signed(_request(duis_dir, SAMPLE), creds))
    assert _checked(ack, schema, creds) == "I99"
    answer = parse(await asyncio.wait_for(sink.received.get(), 30))
    assert _checked(answer, schema, creds) == "I0"
    header = answer.find(q("Header"))
    assert header.findtext(q("RequestID")) == f"{SUPPLIER}:{ESME}:1000"
    assert header.findtext(q("ResponseID")) == f"{ESME}:{SUPPLIER}:1000"
    payload = base64.b64decode(answer.findtext(f".//{q('GBCSPayload')}") or "")
    response = decode_message(payload)
    assert bytes(response.originator) == bytes(Eui64(ESME))
    assert response.message_code == 0x0018 or response.message_code > 0  # ECS17b's response
    assert lab.dcc is not None
    (result,) = lab.dcc.results.values()
    assert result.ok and result.response == payload


async def test_critical_request_transform_sign_send(
    duis: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    lab, server = duis
    request = _request(duis_dir, "templates/ECS04a_1.5_SUCCESS_REQUEST_DUIS.XML")
    answer = await _post(server, "T", _signed(request, creds))
    assert _checked(answer, schema, creds) == "I99"
    pre = base64.b64decode(answer.findtext(f".//{q('PreCommand')}/{q('GBCSPayload')}") or "")
    assert lab.dcc is not None
    (result,) = lab.dcc.results.values()
    assert result.request.params == {"amount": 1200000}  # the body's value, not a default
    assert sink.received.empty()
    # The user's system signs the pre-command (GBCS) and sends it back in DUIS.
    assert decode_message(pre).message_code == result.precommand.message_code  # type: ignore[union-attr]
    back = _signed_precommand(read_request(request), lab.dcc.sign_as_user(result))
    ack = await _post(server, "S", _signed(back, creds))
    assert _checked(ack, schema, creds) == "I99"
    response = parse(await asyncio.wait_for(sink.received.get(), 30))
    assert _checked(response, schema, creds) == "I0"
    assert result.ok
    # a second signed pre-command for the same request is refused
    again = await _post(server, "S", _signed(back, creds))
    assert _checked(again, schema, creds) == "E12"


async def _refused(
    server: DuisServer, body: bytes, schema: etree.XMLSchema, creds: XmlCredentials
) -> str:
    return _checked(await _post(server, "S", body), schema, creds)


async def test_front_door_refusals_reach_no_device(
    duis: tuple[Lab, DuisServer], duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    lab, server = duis
    assert lab.dcc is not None
    # schema-invalid: the body element is unknown
    bad = _request(duis_dir, SAMPLE)
    bad.find(q("Body"))[0].tag = q("NoSuchService")
    assert await _refused(server, _signed(bad, creds), schema, creds) == "E100"
    # not XML at all: nothing to echo in a schema-valid response, so HTTP 400
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/api/v1/serviceS", data=b"<not-xml") as reply,
    ):
        assert reply.status == 400
        assert (await reply.text()).startswith("E100: not well-formed XML")
    # tampered after signing
    signed = _signed(_request(duis_dir, SAMPLE, f"{SUPPLIER}:{ESME}:2001"), creds)
    tampered = signed.replace(b":2001<", b":2002<")
    assert await _refused(server, tampered, schema, creds) == "E1"
    # the placeholder signature of the published sample does not verify
    raw = (duis_dir / SAMPLE).read_bytes()
    assert await _refused(server, raw, schema, creds) == "E1"
    # signed by a certificate the DCC does not hold
    stranger = make_credential(SUPPLIER)
    root = _request(duis_dir, SAMPLE, f"{SUPPLIER}:{ESME}:2003")
    assert await _refused(server, sign(root, stranger), schema, creds) == "E1"
    # a ZAZ1 user with an XML key who is not a user of this lab
    outsider = "00-DB-12-34-56-78-00-04"
    root = _request(duis_dir, SAMPLE, f"{outsider}:{ESME}:2008")
    assert await _refused(server, _signed(root, creds, outsider), schema, creds) == "E1"
    # signed by another user than the originator
    root = _request(duis_dir, SAMPLE, f"{SUPPLIER}:{ESME}:2004")
    assert await _refused(server, _signed(root, creds, DNO), schema, creds) == "E1"
    # a device not on the inventory
    root = _request(duis_dir, SAMPLE, f"{SUPPLIER}:00-DB-12-34-56-78-90-FF:2005")
    assert await _refused(server, _signed(root, creds), schema, creds) == "E19"
    assert lab.dcc.results == {} or all(r.refused for r in lab.dcc.results.values())
    # ineligible: the network operator may not clear a meter's event log (3.3)
    root = _request(duis_dir, "templates/ECS15a_3.3_SUCCESS_REQUEST_DUIS.XML", f"{DNO}:{ESME}:2006")
    assert await _refused(server, _signed(root, creds, DNO), schema, creds) == "E2"
    assert all(r.refused and r.command is None for r in lab.dcc.results.values())
    # replay: the second use of a request ID is refused, the first went through
    once = _signed(_request(duis_dir, SAMPLE, f"{SUPPLIER}:{ESME}:2007"), creds)
    assert await _refused(server, once, schema, creds) == "I99"
    sent = len(lab.dcc.results)
    assert await _refused(server, once, schema, creds) == "E100"
    assert len(lab.dcc.results) == sent
    assert server.counts["SCHEMA_INVALID"] == 2 and server.counts["REPLAYED_REQUEST_ID"] == 1


async def test_templates_answered(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """Every template gets a schema-valid, DCC-signed answer over HTTP, signed here as
    the ZAZ1 holder signs it; most are accepted (`sweep_templates` says how each is sent,
    `check_sweep` what must hold)."""
    sweep = await sweep_templates(duis_dir, creds, schema, sign_ours)
    print(f"\n{sweep}")
    check_sweep(sweep)


async def test_templates_from_the_dcc_refused_e1(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """A request whose originator is the DCC's own ID, signed with the DCC's XML key,
    verifies but names no User: E1 (invalid User), and nothing reaches a device."""
    for name in ("CS08_11.2_SUCCESS_REQUEST_DUIS.XML", "GCS59_8.12.2_SUCCESS_REQUEST_DUIS.XML"):
        root = parse((duis_dir / "templates" / name).read_bytes())
        request = read_request(root)
        assert bytes(request.originator) == bytes(BOXED_DCC)
        lab = lab_for(request.variant)
        async with lab:
            assert lab.dcc is not None and creds.dcc is not None
            async with DuisServer(lab.dcc, creds, schema) as server:
                as_lab_dates(root, lab)
                kind = endpoint_for(server, lab, request)
                answer = await _post(server, kind, sign(root, creds.dcc))
                assert _checked(answer, schema, creds) == "E1"
                assert server.counts["UNKNOWN_USER"] == 1
                assert not lab.dcc.results


async def test_supplier2_signs_with_its_zaz1_gbcs_key(
    boxed: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    """As DCC Boxed's signing tool signs it: supplier2's request signed with ZAZ1's
    `Z1-supplier2-ds` is accepted and answered; the same key is trusted for supplier2
    only, and a tool signer that is no lab user verifies but is refused E1."""
    lab, server = boxed
    assert lab.dcc is not None
    key = creds.user(Eui64(SUPPLIER2))
    assert key is not None and key.role == SUPPLIER2_DS_ROLE and key.private_key is not None
    root = lab_dated(duis_dir, SUPPLIER2_TEMPLATE, lab)
    assert read_request(root).originator == Eui64(SUPPLIER2)
    assert _checked(await _post(server, "S", sign(root, key)), schema, creds) == "I99"
    answer = parse(await asyncio.wait_for(sink.received.get(), 30))
    assert _checked(answer, schema, creds) == "I0"
    assert answer.findtext(f".//{q('GBCSPayload')}")
    sent = len(lab.dcc.results)
    # supplier2's key on a request claiming the supplier's ID: refused as any wrong signer
    claim = lab_dated(duis_dir, SUPPLIER2_TEMPLATE, lab, f"{SUPPLIER}:00-DB-12-34-56-78-90-A3:7")
    assert _checked(await _post(server, "S", sign(claim, key)), schema, creds) == "E1"
    assert server.counts["SIGNATURE_INVALID"] == 1
    # the recovery key signs for the recovery EUI-64, which is no lab user
    recovery = creds.user(Eui64(RECOVERY))
    assert recovery is not None and recovery.role == 1
    root = lab_dated(duis_dir, SAMPLE, lab, f"{RECOVERY}:{ESME}:8")
    assert _checked(await _post(server, "S", sign(root, recovery)), schema, creds) == "E1"
    assert server.counts["UNKNOWN_USER"] == 1
    assert len(lab.dcc.results) == sent


async def test_load_controller_signs_716_with_its_zaz1_key(
    boxed: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    """The DCC's 7.16 templates come from ZAZ1's load controller, which holds only GBCS
    keys: signed with its ZAZ1 digital-signing key (as Boxed's tool signs when given it)
    they are accepted, the user signs the ECS47e pre-command as the load controller, and
    the ESME takes the limit; the key is trusted for that originator only, and the load
    controller is eligible for 7.16 only."""
    lab, server = boxed
    assert lab.dcc is not None
    key = creds.user(Eui64(LOAD_CONTROLLER))
    assert key is not None and key.role == LOAD_CONTROLLER_ROLE and key.private_key is not None
    esme = lab.premises[0].devices[bytes(Eui64(ESME))]
    assert isinstance(esme, Esme) and esme.apc_limits == {}
    for name, (controller, limit) in APC_TEMPLATES.items():
        root = lab_dated(duis_dir, name, lab)
        request = read_request(root)
        assert request.originator == Eui64(LOAD_CONTROLLER) and request.variant == "7.16"
        answer = await _post(server, "T", sign(root, key))
        assert _checked(answer, schema, creds) == "I99"
        pre = base64.b64decode(answer.findtext(f".//{q('PreCommand')}/{q('GBCSPayload')}") or "")
        assert decode_message(pre).header.originator == Eui64(LOAD_CONTROLLER)
        result = list(lab.dcc.results.values())[-1]
        back = _signed_precommand(request, lab.dcc.sign_as_user(result))
        assert _checked(await _post(server, "S", sign(back, key)), schema, creds) == "I99"
        response = parse(await asyncio.wait_for(sink.received.get(), 30))
        assert _checked(response, schema, creds) == "I0"
        payload = base64.b64decode(response.findtext(f".//{q('GBCSPayload')}") or "")
        assert decode_message(payload).message_code == 0x011F  # ECS47e, from the ESME
        assert result.ok, result.detail
        assert esme.apc_limits[controller] == limit
    sent = len(lab.dcc.results)
    # eligible for 7.16 only: a read of the ESME's registers is refused E2
    read = lab_dated(duis_dir, SAMPLE, lab, f"{LOAD_CONTROLLER}:{ESME}:9101")
    assert _checked(await _post(server, "S", sign(read, key)), schema, creds) == "E2"
    # its key on a 7.16 claiming the supplier's ID: refused as any wrong signer
    name = next(iter(APC_TEMPLATES))
    claim = lab_dated(duis_dir, name, lab, f"{SUPPLIER}:{ESME}:9102")
    assert _checked(await _post(server, "T", sign(claim, key)), schema, creds) == "E1"
    assert server.counts["SIGNATURE_INVALID"] == 1
    assert all(r.command is None for r in list(lab.dcc.results.values())[sent:])


async def test_future_dated_response_and_alert_posted(
    duis: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    """A future-dated price change: its response at execution time, then the meter's
    outcome alert, both POSTed signed and schema-valid."""
    lab, server = duis
    name = "templates/ECS01b_1.2.1_FUTURE_DATED_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML"
    request = _request(duis_dir, name)
    when = lab.clock.now() + _dt.timedelta(hours=1)
    for element in request.iter(q("ExecutionDateTime")):
        element.text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = await _post(server, "T", _signed(request, creds))
    assert _checked(answer, schema, creds) == "I99"
    assert lab.dcc is not None
    (result,) = lab.dcc.results.values()
    assert result.request.execute_at == when
    pre = etree.fromstring(
        f"""<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
          schemaVersion="5.4"><sr:Header><sr:RequestID>{read_request(request).request_id}
          </sr:RequestID><sr:CommandVariant>1</sr:CommandVariant>
          <sr:ServiceReference>1.2</sr:ServiceReference>
          <sr:ServiceReferenceVariant>1.2.1</sr:ServiceReferenceVariant></sr:Header><sr:Body>
          <sr:SignedPreCommand><sr:GBCSPayload>{
            base64.b64encode(lab.dcc.sign_as_user(result)).decode()
        }</sr:GBCSPayload></sr:SignedPreCommand></sr:Body></sr:Request>""".encode()
    )
    assert _checked(await _post(server, "S", _signed(pre, creds)), schema, creds) == "I99"
    await lab.run_for(2 * 3600)
    first = parse(await asyncio.wait_for(sink.received.get(), 30))
    second = parse(await asyncio.wait_for(sink.received.get(), 30))
    kinds = set()
    for message in (first, second):
        assert _checked(message, schema, creds) == "I0"
        kinds.add(etree.QName(message.find(q("Body"))[0]).localname)
        code = message.findtext(f".//{q('AlertCode')}")
        if code is not None:
            assert code.upper().startswith("8F")  # the body's alert code, not the CRA's
    assert kinds == {"ResponseMessage", "DeviceAlertMessage"}


async def test_read_inventory_answered_synchronously(
    duis: tuple[Lab, DuisServer], duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    _lab, server = duis
    request = _request(duis_dir, "templates/8.2_READ_INVENTORY_REQUEST_DUIS.XML")
    answer = await _post(server, "D", _signed(request, creds))
    assert _checked(answer, schema, creds) == "I0"
    listed = {d.findtext(q("DeviceID")) for d in answer.iter(q("Device"))}
    assert ESME in listed and len(listed) >= 3
    assert server.counts["inventory_not_schema_valid"] == 0
    # a device service sent to the non-device endpoint is refused
    read = _request(duis_dir, SAMPLE)
    assert _checked(await _post(server, "D", _signed(read, creds)), schema, creds) == "E13"


async def test_smki_search_lists_the_test_certificates(
    duis: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    _lab, server = duis
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/smki/certificates", params={"eui": SUPPLIER}) as reply,
    ):
        found = await reply.json()
    user = creds.user(Eui64(SUPPLIER))
    assert user is not None
    assert [(c["eui"], c["serial"]) for c in found] == [(SUPPLIER, str(user.serial))]
    assert found[0]["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert found[0]["role"] == 135
    # supplier2's is the GBCS digital-signing certificate Boxed's tool signs with
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/smki/certificates", params={"eui": SUPPLIER2}) as reply,
    ):
        assert [c["role"] for c in await reply.json()] == [SUPPLIER2_DS_ROLE]


async def test_update_han_device_log_response_then_dcc_alert_n24(
    duis: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    """8.11 (CCS01): the CHF's response, then DCC alert N24 naming the request, both
    POSTed signed and schema-valid."""
    _lab, server = duis
    request = _request(duis_dir, "templates/CCS01_8.11_SUCCESS_REQUEST_DUIS.XML")
    request_id = read_request(request).request_id
    assert _checked(await _post(server, "S", _signed(request, creds)), schema, creds) == "I99"
    response = parse(await asyncio.wait_for(sink.received.get(), 30))
    alert = parse(await asyncio.wait_for(sink.received.get(), 30))
    assert _checked(response, schema, creds) == "I0"
    assert response.find(f"{q('Body')}/{q('ResponseMessage')}") is not None
    assert _checked(alert, schema, creds) == "I0"
    assert alert.findtext(f".//{q('DCCAlertCode')}") == "N24"
    assert alert.findtext(f".//{q('UpdateHANDeviceLogServiceRequestID')}") == request_id


async def test_wan_matrix_answered_with_its_body(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """12.1 answers I0 with DSPWANMatrix: the address echoed and the CSP region row,
    coverage for a lab premises' postcode, region Unknown for an address it has not."""
    name = "templates/12.1_REQUEST_WAN_MATRIX_ADDRESS_REQUEST_DUIS.XML"
    lab = lab_for("12.1")
    async with lab, DuisServer(lab.dcc, creds, schema) as server:
        rows = {}
        for counter, postcode in ((5001, None), (5002, "lb1 1aa")):
            request = _request(duis_dir, name)
            header = request.find(f"{q('Header')}/{q('RequestID')}")
            header.text = header.text.rsplit(":", 1)[0] + f":{counter}"
            if postcode is not None:
                request.find(f".//{q('PostCode')}").text = postcode
            answer = await _post(server, "D", _signed(request, creds))
            assert _checked(answer, schema, creds) == "I0"
            matrix = answer.find(f".//{q('DSPWANMatrix')}")
            assert matrix is not None
            echoed = matrix.findtext(f"{q('Request')}/{q('PartialAddress')}/{q('PostCode')}")
            assert echoed == request.findtext(f".//{q('PostCode')}")
            (row,) = matrix.findall(q("DSPWANMatrixResponse"))
            rows[postcode] = {etree.QName(e).localname: e.text for e in row}
    assert rows[None] == {"CSPRegion": "Unknown", "CSPRegionResponseCode": "I0"}
    assert rows["lb1 1aa"] == {
        "CSPRegion": "Central",
        "CSPRegionResponseCode": "I0",
        "CoverageAvailability": "true",
        "WANTechnology": "Cellular",
        "ConnectivityLikelihood": "High",
    }
    assert server.counts["dsp_body_not_schema_valid"] == 0


async def test_dcc_schedule_answered_with_its_schedule_id(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """5.1 answers I0 with the DSPScheduleID the user names the schedule by later; 5.2
    with the schedule's details as created (DSPSchedulesRead); 5.3 deletes it."""
    request = _request(duis_dir, "templates/ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML")
    lab = lab_for("5.1")
    async with lab, DuisServer(lab.dcc, creds, schema) as server:
        as_lab_dates(request, lab)
        answer = await _post(server, "D", _signed(request, creds))
        assert _checked(answer, schema, creds) == "I0"
        assert lab.dcc is not None
        (schedule_id,) = lab.dcc.schedules
        assert answer.findtext(f".//{q('DSPScheduleID')}") == schedule_id
        # 5.2 reads it back as created; 5.3 deletes it
        created = [
            (etree.QName(e).localname, e.text) for e in request.find(f".//{q('CreateSchedule')}")
        ]
        for counter, name in (
            (1001, "5.2_READ_SCHEDULE_REQUEST_DUIS.XML"),
            (1002, "5.3_DELETE_SCHEDULE_REQUEST_DUIS.XML"),
        ):
            # the templates share one RequestID: their own counters, not a replay
            request_id = f"{SUPPLIER}:90-B3-D5-1F-30-00-00-02:{counter}"
            asked = _request(duis_dir, f"templates/{name}", request_id)
            asked.find(f".//{q('DSPScheduleID')}").text = schedule_id
            answer = await _post(server, "D", _signed(asked, creds))
            assert _checked(answer, schema, creds) == "I0"
            if name.startswith("5.2"):
                (entry,) = answer.iter(q("DSPSchedules"))
                assert entry.findtext(q("DSPScheduleID")) == schedule_id
                details = entry.find(q("DSPScheduleDetails"))
                assert [(etree.QName(e).localname, e.text) for e in details] == created
        assert not lab.dcc.schedules and not server.schedule_bodies


async def test_firmware_not_on_the_cpl_answered_with_the_warning(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """11.1 for a device whose model has that image on no CPL row: nothing is sent;
    the answer is W110101 with the device in `NotApplicableFirmwareDeviceIDList`."""
    request = _request(duis_dir, "templates/11.1_UPDATE_FIRMWARE_REQUEST_DUIS.XML")
    device = request.findtext(f".//{q('DeviceIDList')}")
    lab = lab_for("11.1")
    async with lab:
        assert lab.dcc is not None
        lab.dcc.cpl = Cpl()  # a CPL that lists nothing
        async with DuisServer(lab.dcc, creds, schema) as server:
            answer = await _post(server, "D", _signed(request, creds))
            assert _checked(answer, schema, creds) == "W110101"
            warning = answer.find(f".//{q('DSPUpdateFirmwareWarning')}")
            assert warning is not None
            assert [etree.QName(e).localname for e in warning] == [
                "NotApplicableFirmwareDeviceIDList"
            ]
            assert warning.findtext(q("NotApplicableFirmwareDeviceIDList")) == device
            assert server.counts["FIRMWARE_NOT_ON_CPL"] == 1
        hub = lab.premises[0].hub
        assert hub is not None and not hub.ota.transfers
