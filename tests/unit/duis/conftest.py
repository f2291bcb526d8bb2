"""Fixtures of the DUIS unit tests: the supplier's and the DCC's signing credentials,
and the default lab served over DUIS with a permissive schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from duis_support import DCC, LAX, SUPPLIER
from lxml import etree

from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, make_credential


@pytest.fixture
def creds() -> XmlCredentials:
    store = XmlCredentials()
    store.add_user(make_credential(SUPPLIER))
    store.set_dcc(make_credential(DCC))
    return store


@pytest.fixture
async def lab_server(creds: XmlCredentials) -> AsyncIterator[tuple[Lab, DuisServer]]:
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        assert lab.dcc is not None
        schema = etree.XMLSchema(etree.fromstring(LAX))
        async with DuisServer(lab.dcc, creds, schema) as server:
            yield lab, server
