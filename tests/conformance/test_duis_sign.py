"""The public DCC Boxed signing tool against our DUIS server (marker `duis_sign`).

The jar inside the npm package `@smartdcc/duis-sign-wrap` signs requests with the
ZAZ1 user keys it carries and validates DCC-signed responses. Its path comes from
SMETS_HIL_DUIS_SIGN_JAR (the `.ci/run` stage installs it into a temporary folder).
Without java or the jar these tests skip, unless selected with `-m duis_sign`,
where they fail: CI must not pass without having run the tool.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from duis_conformance_support import checked_answer as _checked
from lxml import etree
from test_duis_http import (
    SAMPLE,
    SUPPLIER,
    SUPPLIER2,
    SUPPLIER2_TEMPLATE,
    Sink,
    _lab_dated,
    _post,
    boxed,
    duis,
    sink,
)

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, signer_of
from hil.duis.xml import parse, q, read_request

__all__ = ["boxed", "duis", "sink"]  # fixtures used here (creds, schema: conftest)

pytestmark = pytest.mark.duis_sign


def _required(config: pytest.Config) -> bool:
    expression = str(config.getoption("markexpr") or "")
    return "duis_sign" in expression and "not duis_sign" not in expression


@pytest.fixture
def tool(request: pytest.FixtureRequest) -> list[str]:
    """The command that runs a class of the signing tool: tool + [Sign|Validate, ...]."""
    java = shutil.which("java")
    jar = os.environ.get("SMETS_HIL_DUIS_SIGN_JAR", "")
    if java is None or not jar or not Path(jar).is_file():
        why = "java or the duis-sign-wrap jar (SMETS_HIL_DUIS_SIGN_JAR) is missing"
        if _required(request.config):
            pytest.fail(f"duis_sign tests were selected but {why}")
        pytest.skip(why)
    return [java, "-cp", jar]


def _run(tool: list[str], mode: str, data: bytes, *extra: str) -> bytes:
    done = subprocess.run(
        [*tool, f"uk.co.smartdcc.boxed.xmldsig.{mode}", "-", *extra],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


async def test_tool_signed_read_and_tool_validated_answers(
    tool: list[str],
    duis: tuple[object, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    _lab, server = duis
    signed = _run(tool, "Sign", (duis_dir / SAMPLE).read_bytes(), "--preserveCounter")
    ack_root = await _post(server, "S", signed)
    assert _checked(ack_root, schema, creds) == "I99"
    ack = etree.tostring(ack_root, xml_declaration=True, encoding="UTF-8")
    _run(tool, "Validate", ack)  # the tool accepts our acknowledgement's signature
    response = await asyncio.wait_for(sink.received.get(), 30)
    assert _checked(parse(response), schema, creds) == "I0"
    _run(tool, "Validate", response)
    assert parse(response).findtext(f".//{q('GBCSPayload')}")


async def test_tool_signed_request_tampered_is_refused(
    tool: list[str],
    duis: tuple[object, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
) -> None:
    _lab, server = duis
    signed = _run(tool, "Sign", (duis_dir / SAMPLE).read_bytes(), "--preserveCounter")
    tampered = signed.replace(b":1000<", b":1001<")
    assert tampered != signed
    assert _checked(await _post(server, "S", tampered), schema, creds) == "E1"


async def test_tool_signed_supplier2_request_accepted_and_answer_validated(
    tool: list[str],
    boxed: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    sink: Sink,
) -> None:
    """ZAZ1's supplier2 has no XML key: the tool signs its request with its GBCS
    digital-signing key (`Z1-supplier2-ds`), which the DUIS lab accepts as supplier2's;
    the tool validates our acknowledgement and the device's response."""
    lab, server = boxed
    root = _lab_dated(duis_dir, SUPPLIER2_TEMPLATE, lab)
    unsigned = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    signed = _run(tool, "Sign", unsigned, "--preserveCounter")
    held = creds.user(Eui64(SUPPLIER2))
    assert held is not None and held.role == 2  # a GBCS supplier key, not role 135
    assert signer_of(parse(signed))[1] == held.serial  # the tool chose that key
    ack_root = await _post(server, "S", signed)
    assert _checked(ack_root, schema, creds) == "I99"
    _run(tool, "Validate", etree.tostring(ack_root, xml_declaration=True, encoding="UTF-8"))
    response = await asyncio.wait_for(sink.received.get(), 30)
    assert _checked(parse(response), schema, creds) == "I0"
    assert parse(response).findtext(f".//{q('GBCSPayload')}")
    _run(tool, "Validate", response)
    assert lab.dcc is not None
    (result,) = lab.dcc.results.values()
    assert result.ok
    assert bytes(Eui64(SUPPLIER2)) in {bytes(eui) for eui in result.request.user.ids.values()}


async def test_tool_signed_supplier2_key_for_another_originator_refused(
    tool: list[str],
    boxed: tuple[Lab, DuisServer],
    duis_dir: Path,
    creds: XmlCredentials,
    schema: etree.XMLSchema,
    tmp_path: Path,
) -> None:
    """Given supplier2's certificate and key, the tool signs whatever it is handed; the
    lab trusts that key for supplier2 only, so a request claiming the supplier is E1."""
    lab, server = boxed
    held = creds.user(Eui64(SUPPLIER2))
    assert held is not None and held.private_key is not None
    cert = tmp_path / "supplier2-ds.pem"
    cert.write_bytes(held.certificate.public_bytes(serialization.Encoding.PEM))
    key = tmp_path / "supplier2-ds.key"
    key.write_bytes(
        held.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    claim = f"{SUPPLIER}:00-DB-12-34-56-78-90-A3:4100"
    root = _lab_dated(duis_dir, SUPPLIER2_TEMPLATE, lab, claim)
    unsigned = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    signed = _run(tool, "Sign", unsigned, "--preserveCounter", str(cert), str(key))
    assert read_request(parse(signed)).request_id == claim
    assert signer_of(parse(signed))[1] == held.serial
    assert _checked(await _post(server, "S", signed), schema, creds) == "E1"
    assert server.counts["SIGNATURE_INVALID"] == 1
    assert lab.dcc is not None and not lab.dcc.results
