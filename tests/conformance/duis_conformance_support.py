"""What the DUIS conformance tests share: the ZAZ1 key store's name and the check of a
DCC answer (schema-valid, signed by the DCC)."""

from __future__ import annotations

from lxml import etree

from hil.duis.signing import XmlCredentials, verify
from hil.duis.xml import q, validate

#: DCC Boxed's published ZAZ1 key store (SmartDCCInnovation/dccboxed-keystore).
ZAZ1_STORE = "dccboxed_zaz1_keystore.json"


def checked_answer(root: etree._Element, schema: etree.XMLSchema, creds: XmlCredentials) -> str:
    """The response code of a schema-valid DUIS response signed by the DCC."""
    validate(schema, root)
    assert creds.dcc is not None
    verify(root, creds.dcc)
    return str(root.findtext(f"{q('Header')}/{q('ResponseCode')}"))
