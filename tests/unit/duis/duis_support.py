"""Helpers of the DUIS unit tests (imported by module name): a request as a user sends it."""

from __future__ import annotations

from hil.duis.server import BOXED_DCC

#: A permissive stand-in for the DUIS schema (no `../shared` in `make test`): any Request
#: or Response element validates.
LAX = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
  targetNamespace="http://www.dccinterface.co.uk/ServiceUserGateway"
  elementFormDefault="qualified">
  <xs:complexType name="any"><xs:sequence>
    <xs:any processContents="skip" namespace="##any" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence><xs:anyAttribute processContents="skip"/></xs:complexType>
  <xs:element name="Request" type="sr:any" xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"/>
  <xs:element name="Response" type="sr:any" xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"/>
</xs:schema>"""
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
METER = "00-DB-12-34-56-78-90-A0"
#: The lab DCC's signing EUI, as the server knows it (ZAZ1's DCC access control broker).
DCC = str(BOXED_DCC)
REQUEST = """<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
 schemaVersion="5.4"><sr:Header><sr:RequestID>{rid}</sr:RequestID>
 <sr:CommandVariant>{command_variant}</sr:CommandVariant><sr:ServiceReference>{ref}</sr:ServiceReference>
 <sr:ServiceReferenceVariant>{variant}</sr:ServiceReferenceVariant></sr:Header>
 <sr:Body>{body}</sr:Body></sr:Request>"""


def request_xml(
    body: str,
    variant: str = "1.5",
    target: str = METER,
    *,
    counter: int = 7,
    command_variant: int = 1,
) -> bytes:
    """An unsigned request of service `variant` from the supplier to `target`; `body` is
    the XML inside sr:Body."""
    ref = ".".join(variant.split(".")[:2])
    rid = f"{SUPPLIER}:{target}:{counter}"
    return REQUEST.format(
        rid=rid, command_variant=command_variant, ref=ref, variant=variant, body=body
    ).encode()
