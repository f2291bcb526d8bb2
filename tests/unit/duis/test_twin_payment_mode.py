"""Issue 15: the lab file's ESME variant reaches the DCC's inventory (its element
count), so a DUIS 1.6 to a twin-element ESME carries the secondary element's
credit-charge rows and one to a single-element ESME does not."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from duis_support import LAX
from lxml import etree

from emulator.devices.esme import Esme
from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Array
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from hil.dcc.lab import DEFAULT_LAB, Lab, LabSpec
from hil.duis.receiver import ResponseReceiver
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, sign
from hil.duis.xml import parse, q

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
PAYMENT_MODE = """<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
 schemaVersion="5.4"><sr:Header><sr:RequestID>{SUPPLIER}:{ESME}:{counter}</sr:RequestID>
 <sr:CommandVariant>1</sr:CommandVariant><sr:ServiceReference>1.6</sr:ServiceReference>
 <sr:ServiceReferenceVariant>1.6</sr:ServiceReferenceVariant></sr:Header>
 <sr:Body><sr:UpdatePaymentMode><sr:Prepayment>
 <sr:SuspendDebtDisabled>false</sr:SuspendDebtDisabled>
 <sr:SuspendDebtEmergency>false</sr:SuspendDebtEmergency>
 <sr:DisablementThreshold>1000</sr:DisablementThreshold>
 </sr:Prepayment></sr:UpdatePaymentMode></sr:Body></sr:Request>"""
#: Credit-charge rows of prepayment (`credit_charge_rows`): 10 on a single-element
#: meter, and the secondary element's charge from the token and emergency credits.
SINGLE_ROWS, TWIN_ROWS = 10, 12
SECONDARY_CHARGE = bytes((0, 0, 19, 20, 5, 255))


def _lab(variant: str | None) -> Lab:
    text = DEFAULT_LAB.read_text()
    line = "      - {type: ESME, suffix: A0, status: commissioned}"
    assert line in text
    if variant is not None:
        text = text.replace(line, line[:-1] + f", variant: {variant}}}")
    return Lab.build(LabSpec.from_yaml(text, "twin lab"))


async def _rows(lab: Lab, creds: XmlCredentials) -> list[bytes]:
    """The pre-command of a DUIS 1.6 to the lab's ESME: its credit-charge rows' charges."""
    async with ResponseReceiver(path="/r") as receiver, lab:
        assert lab.dcc is not None
        schema = etree.XMLSchema(etree.fromstring(LAX))
        async with DuisServer(lab.dcc, creds, schema, response_url=receiver.url) as server:
            cred = creds.users[bytes(Eui64(SUPPLIER))]
            body = PAYMENT_MODE.format(SUPPLIER=SUPPLIER, ESME=ESME, counter=1)
            signed = sign(etree.fromstring(body.encode()), cred)
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{server.url}/api/v1/serviceT", data=signed) as reply,
            ):
                answer = parse(await reply.read())
            assert answer.findtext(f"{q('Header')}/{q('ResponseCode')}") == "I99"
            text = answer.findtext(f".//{q('PreCommand')}/{q('GBCSPayload')}") or ""
            tree = decode_message_payload(decode_message(base64.b64decode(text))).tree
            assert isinstance(tree, AccessRequest)
            rows = tree.data[2]  # ECS03: payment mode, threshold, credit-charge rows
            assert isinstance(rows, Array)
            return [bytes(row.items[1].value) for row in rows.items]  # type: ignore[attr-defined]


async def test_a_twin_esme_gets_the_secondary_element_rows(creds: XmlCredentials) -> None:
    lab = _lab("twin")
    esme = lab.device("ESME")
    assert isinstance(esme, Esme) and esme.meter.secondary is not None
    charges = await _rows(lab, creds)
    assert len(charges) == TWIN_ROWS and charges.count(SECONDARY_CHARGE) == 2


@pytest.mark.parametrize("variant", [None, "single"])
async def test_a_single_element_esme_gets_no_secondary_rows(
    creds: XmlCredentials, variant: str | None
) -> None:
    charges = await _rows(_lab(variant), creds)
    assert len(charges) == SINGLE_ROWS and SECONDARY_CHARGE not in charges


def test_the_inventory_knows_the_element_count() -> None:
    assert _lab("twin").inventory[Eui64(ESME)].elements == 2
    assert _lab(None).inventory[Eui64(ESME)].elements == 1
