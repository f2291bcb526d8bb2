"""The DUIS 11.4 template (Update PPMID Firmware) over HTTP: accepted, and its image
goes to the PPMID's hub as CS05c (docs/firmware.md)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from lxml import etree

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, sign
from hil.duis.xml import load_schema, parse, q, read_request, validate

TEMPLATE = "templates/11.4_UPDATE_PPMID_FIRMWARE_REQUEST_DUIS.XML"
PPMID = "00-DB-12-34-56-78-90-A4"


async def test_the_11_4_template_sends_the_ppmid_image_to_its_hub(rtds_root: Path) -> None:
    duis_dir = rtds_root.parent / "duis"
    creds = XmlCredentials.from_zaz1(rtds_root.parent / "reference" / "dccboxed_zaz1_keystore.json")
    schema = load_schema(duis_dir / "schema")
    root = parse((duis_dir / TEMPLATE).read_bytes())
    request = read_request(root)
    cred = creds.user(request.originator)
    assert cred is not None
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        assert lab.dcc is not None
        server = DuisServer(lab.dcc, creds, schema)
        async with (
            server,
            aiohttp.ClientSession() as session,
            session.post(f"{server.url}/api/v1/serviceD", data=sign(root, cred)) as reply,
        ):
            answer: etree._Element = parse(await reply.read())
        validate(schema, answer)
        assert answer.findtext(f"{q('Header')}/{q('ResponseCode')}") == "I0"
        [result] = [r for r in lab.dcc.results.values() if r.request.variant == "11.4"]
        assert result.data["use_case"] == "CS05c"
        assert result.data["delivered_to"] == [PPMID]
        # the template's image is the 11.1 one without a trailer (docs/firmware.md)
        assert result.data["image_hash"].upper() == (
            "7542F475E3F12EAE887D81E32C46D313741D67076B13CAEC2F82E00BA5E1BB36"
        )
