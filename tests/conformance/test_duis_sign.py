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
from lxml import etree
from test_duis_http import SAMPLE, Sink, _checked, _post, creds, duis, duis_dir, schema, sink

from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials
from hil.duis.xml import parse, q

__all__ = ["creds", "duis", "duis_dir", "schema", "sink"]  # fixtures used here

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
