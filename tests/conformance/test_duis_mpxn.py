"""MPxNs from the DUIS templates onto the SMI, against the v5.4 schema: the 8.11 add
template's ImportMPxN / SecondaryImportMPAN go on the added meter's record, and 8.2
Read Inventory (by DeviceID as the template asks, and by MPxN) answers them in a
schema-valid DSPInventory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from duis_conformance_support import ESME, Sink, checked_answer, post, signed_as, template
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials
from hil.duis.xml import q

ADD = "templates/CCS01_8.11_SUCCESS_REQUEST_DUIS.XML"
READ = "templates/8.2_READ_INVENTORY_REQUEST_DUIS.XML"
READ_ID = "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02"
IMPORT, SECONDARY = "1312345678111", "1312345678222"


def _meter(answer: etree._Element) -> etree._Element:
    found = [d for d in answer.iter(q("Device")) if d.findtext(q("DeviceID")) == ESME]
    assert len(found) == 1, "the meter is not in the DSPInventory"
    return found[0]


async def test_added_meters_mpxns_read_back_schema_valid(
    duis: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    lab, server = duis
    answer = await post(server, "S", signed_as(template(duis_dir, ADD), creds))
    assert checked_answer(answer, schema, creds) == "I99"
    for _ in range(2):  # the CHF's response, then DCC alert N24
        await asyncio.wait_for(sink.received.get(), 30)
    record = lab.inventory[Eui64(ESME)].record()
    assert (record["ImportMPxN"], record["SecondaryImportMPAN"]) == (IMPORT, SECONDARY)
    by_device = await post(server, "D", signed_as(template(duis_dir, READ), creds))
    assert checked_answer(by_device, schema, creds) == "I0"
    meter = _meter(by_device)
    assert meter.findtext(q("ImportMPxN")) == IMPORT
    assert meter.findtext(q("SecondaryImportMPAN")) == SECONDARY
    by_mpxn = template(duis_dir, READ, f"{READ_ID}:1001")
    search = by_mpxn.find(f".//{q('ReadInventory')}")
    assert search is not None
    search[0].tag = q("MPxN")
    search[0].text = SECONDARY
    answer = await post(server, "D", signed_as(by_mpxn, creds))
    assert checked_answer(answer, schema, creds) == "I0"
    assert _meter(answer).findtext(q("ImportMPxN")) == IMPORT
    assert server.counts["inventory_not_schema_valid"] == 0
