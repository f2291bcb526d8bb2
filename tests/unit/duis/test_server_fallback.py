"""A response body the schema will not take falls back to the bare answer, counted under
its reason: a body we built wrong never makes a served request answer invalid XML."""

from __future__ import annotations

import logging

import pytest
from duis_support import DCC, request_xml
from lxml import etree

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, make_credential
from hil.duis.xml import q, read_request

# A Response whose ResponseMessage holds the service reference and variant, nothing else.
STRICT = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
  targetNamespace="http://www.dccinterface.co.uk/ServiceUserGateway"
  elementFormDefault="qualified">
  <xs:complexType name="any"><xs:sequence>
    <xs:any processContents="skip" namespace="##any" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType>
  <xs:element name="Response"><xs:complexType><xs:sequence>
    <xs:element name="Header" type="sr:any"/>
    <xs:element name="Body"><xs:complexType><xs:sequence>
      <xs:element name="ResponseMessage"><xs:complexType><xs:sequence>
        <xs:element name="ServiceReference" type="xs:string"/>
        <xs:element name="ServiceReferenceVariant" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence><xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>
</xs:schema>"""
READ = "<sr:ReadInstantaneousImportRegisters/>"


async def test_an_invalid_body_is_left_out_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    creds = XmlCredentials()
    creds.set_dcc(make_credential(DCC))
    async with Lab.load(DEFAULT_LAB) as lab:
        assert lab.dcc is not None
        server = DuisServer(lab.dcc, creds, etree.XMLSchema(etree.fromstring(STRICT)))
        request = read_request(etree.fromstring(request_xml(READ, "4.1.1")))
        bare = server._answer(request, "I0")
        assert server.schema.validate(bare)  # the fallback itself is valid here
        assert server._validated(bare, request, "I0", "x", "dsp_body_not_schema_valid") is bare
        assert server.counts["dsp_body_not_schema_valid"] == 0

        with_body = server._answer(request, "I0", dsp_body=etree.Element(q("Inventory")))
        with caplog.at_level(logging.WARNING, logger="hil.duis.server"):
            answer = server._validated(
                with_body, request, "I0", "Inventory", "inventory_not_schema_valid"
            )
        assert answer is not with_body and server.schema.validate(answer)
        assert answer.find(f".//{q('Inventory')}") is None
        assert server.counts["inventory_not_schema_valid"] == 1
        assert f"{request.request_id}: Inventory left out" in caplog.text
