"""8.5 Service Opt Out and 8.6 Service Opt In from their DUIS templates, against the
v5.4 schema and the ZAZ1 credentials: the opt-out is held to its execution time and
its response POSTed, the meter withdrawn; the opt-in answered at once with a
schema-valid `DSPOptIn` carrying the DCC's (ACB) certificates, the meter back."""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from duis_conformance_support import ESME, Sink, checked_answer, post, signed_as, template
from lxml import etree

from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials
from hil.duis.xml import parse, q

OPT_OUT = "templates/CS02bACBByACB_8.5_SUCCESS_REQUEST_DUIS.XML"
OPT_IN = "templates/8.6_SERVICE_OPTIN_REQUEST_DUIS.XML"


async def test_opt_out_then_opt_in(
    duis: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    lab, server = duis
    assert lab.dcc is not None
    esme = Eui64(ESME)
    opt_out = template(duis_dir, OPT_OUT)
    when = lab.clock.now() + _dt.timedelta(hours=1)
    for element in opt_out.iter(q("ExecutionDateTime")):
        element.text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = await post(server, "S", signed_as(opt_out, creds))
    assert checked_answer(answer, schema, creds) == "I99"
    (result,) = lab.dcc.results.values()
    assert result.request.execute_at == when and result.command is None
    await lab.run_for(2 * 3600)
    response = parse(await asyncio.wait_for(sink.received.get(), 30))
    code = checked_answer(response, schema, creds)
    assert result.use_case == "CS02bACBByACB"
    assert result.ok, result.detail
    assert code == "I0"
    assert lab.inventory[esme].status == SmiStatus.WITHDRAWN
    refused = await lab.dcc.request("4.1.1", as_user="supplier", target=esme)
    assert refused.reason == "STATUS_NOT_ELIGIBLE"
    opt_in = template(duis_dir, OPT_IN)
    answer = await post(server, "D", signed_as(opt_in, creds))
    assert checked_answer(answer, schema, creds) == "I0"
    body = answer.find(f".//{q('DSPOptIn')}")
    assert body is not None, "DSPOptIn left out"
    assert server.counts["dsp_body_not_schema_valid"] == 0
    assert body.findtext(q("DeviceID")) == ESME
    ka = base64.b64decode(body.findtext(q("DSPBrokerSecurityCredentialsKeyAgreement")) or "")
    acb = lab.dcc.keystore.certificate(lab.dcc.acb, KeyUsage.KEY_AGREEMENT)
    assert ka == acb.public_bytes(serialization.Encoding.DER)
    # the template's OptInDate (2015) has passed on the lab clock: back at once
    assert lab.inventory[esme].status == SmiStatus.COMMISSIONED
    # and its MPxNs (the template's MPxNs) are on its record with it
    record = lab.inventory[esme].record()
    assert (record["ImportMPxN"], record["ExportMPAN"]) == ("1312345678111", "1312345678333")
