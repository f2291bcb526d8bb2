"""The reference-message suite: needs the RTDS folder and fails without it.

The location comes from SMETS_HIL_RTDS (set by `make conformance`), defaulting to
../shared/rtds beside the checkout. A missing folder is an error, never a skip:
CI must not pass without having looked at the reference messages.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from duis_conformance_support import ZAZ1_STORE, Sink
from lxml import etree

from emulator.gbcs.security import MessageSecurity
from emulator.pki.folder import FolderKeyStore
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.receiver import ResponseReceiver
from hil.duis.server import DUIS_LAB, DuisServer
from hil.duis.signing import XmlCredentials
from hil.duis.xml import load_schema

ROOT = Path(__file__).resolve().parents[2]


def _rtds_root() -> Path:
    return Path(os.environ.get("SMETS_HIL_RTDS", ROOT.parent / "shared" / "rtds")).resolve()


@pytest.fixture(scope="session")
def rtds_root() -> Path:
    root = _rtds_root()
    if not (root / "RTDS-4.5.0").is_dir() or not (root / "keystore").is_dir():
        pytest.fail(f"reference test data not found at {root} (set SMETS_HIL_RTDS)", pytrace=False)
    return root


@pytest.fixture(scope="session")
def rtds_messages(rtds_root: Path) -> Path:
    return rtds_root / "RTDS-4.5.0"


@pytest.fixture(scope="session")
def rtds_keystore(rtds_root: Path) -> FolderKeyStore:
    return FolderKeyStore(rtds_root / "keystore")


@pytest.fixture(scope="session")
def rtds_security(rtds_keystore: FolderKeyStore) -> MessageSecurity:
    return MessageSecurity(rtds_keystore)


@pytest.fixture(scope="session")
def duis_dir(rtds_root: Path) -> Path:
    return rtds_root.parent / "duis"


@pytest.fixture(scope="session")
def creds(rtds_root: Path) -> XmlCredentials:
    """The public ZAZ1 XML-signing credentials (users', the DCC's) from the reference."""
    return XmlCredentials.from_zaz1(rtds_root.parent / "reference" / ZAZ1_STORE)


@pytest.fixture(scope="session")
def schema(duis_dir: Path) -> etree.XMLSchema:
    return load_schema(duis_dir / "schema")


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with ResponseReceiver() as receiver:
        yield Sink(receiver.url, receiver.received)


@pytest.fixture
async def duis(
    creds: XmlCredentials, schema: etree.XMLSchema, sink: Sink
) -> AsyncIterator[tuple[Lab, DuisServer]]:
    """The demo lab behind a DUIS server that POSTs to `sink`."""
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        assert lab.dcc is not None
        async with DuisServer(lab.dcc, creds, schema, response_url=sink.url) as server:
            yield lab, server


@pytest.fixture
async def boxed(
    creds: XmlCredentials, schema: etree.XMLSchema, sink: Sink
) -> AsyncIterator[tuple[Lab, DuisServer]]:
    """The DUIS lab (DCC Boxed's ZAZ1 users, supplier2 among them) behind a server."""
    lab = Lab.load(DUIS_LAB)
    async with lab:
        assert lab.dcc is not None
        async with DuisServer(lab.dcc, creds, schema, response_url=sink.url) as server:
            yield lab, server
