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
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from duis_conformance_support import (
    LAB_SIGNED,
    SAMPLE,
    SUPPLIER,
    SUPPLIER2,
    SUPPLIER2_TEMPLATE,
    Sink,
    check_sweep,
    lab_dated,
    post,
    sweep_templates,
)
from duis_conformance_support import checked_answer as _checked
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab
from hil.duis.server import DuisServer
from hil.duis.signing import Credential, XmlCredentials, signer_of
from hil.duis.xml import dashed, parse, q, read_request

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
    ack_root = await post(server, "S", signed)
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
    assert _checked(await post(server, "S", tampered), schema, creds) == "E1"


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
    root = lab_dated(duis_dir, SUPPLIER2_TEMPLATE, lab)
    unsigned = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    signed = _run(tool, "Sign", unsigned, "--preserveCounter")
    held = creds.user(Eui64(SUPPLIER2))
    assert held is not None and held.role == 2  # a GBCS supplier key, not role 135
    assert signer_of(parse(signed))[1] == held.serial  # the tool chose that key
    ack_root = await post(server, "S", signed)
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
    root = lab_dated(duis_dir, SUPPLIER2_TEMPLATE, lab, claim)
    unsigned = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    signed = _run(tool, "Sign", unsigned, "--preserveCounter", str(cert), str(key))
    assert read_request(parse(signed)).request_id == claim
    assert signer_of(parse(signed))[1] == held.serial
    assert _checked(await post(server, "S", signed), schema, creds) == "E1"
    assert server.counts["SIGNATURE_INVALID"] == 1
    assert lab.dcc is not None and not lab.dcc.results


#: ZAZ1's load controller, the 7.16 templates' originator: Boxed's tool carries no key
#: for it, so its requests are signed with the key given on the tool's command line.
LOAD_CONTROLLER = "90-B3-D5-1F-30-01-00-08"


class ToolSigner:
    """Signs as a Boxed user does with the tool: the tool finds the key itself from the
    request's originator where it carries one; where it does not, the user hands it the
    holder's certificate and key (`given`). Either way the signature must be the
    holder's own key, the one the sweep with our signer uses."""

    def __init__(self, tool: list[str], folder: Path) -> None:
        self.tool = tool
        self.folder = folder
        self.given: set[str] = set()
        self.looked_up: set[str] = set()

    async def _sign(self, data: bytes, *extra: str) -> tuple[int, bytes, bytes]:
        process = await asyncio.create_subprocess_exec(
            *self.tool,
            "uk.co.smartdcc.boxed.xmldsig.Sign",
            "-",
            "--preserveCounter",
            *extra,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(data), 120)
        assert process.returncode is not None
        return process.returncode, out, err

    def _files(self, cred: Credential) -> tuple[str, str]:
        assert cred.private_key is not None
        name = dashed(cred.eui)
        cert = self.folder / f"{name}-{cred.serial}.pem"
        key = self.folder / f"{name}-{cred.serial}.key"
        cert.write_bytes(cred.certificate.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(
            cred.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return str(cert), str(key)

    async def __call__(self, root: etree._Element, cred: Credential) -> bytes:
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        code, out, err = await self._sign(data)
        if code == 0:
            self.looked_up.add(dashed(cred.eui))
        else:
            assert b"could not locate certificate" in err, err.decode(errors="replace")
            code, out, err = await self._sign(data, *self._files(cred))
            assert code == 0, err.decode(errors="replace")
            self.given.add(dashed(cred.eui))
        assert signer_of(parse(out))[1] == cred.serial, dashed(cred.eui)
        return out


async def test_every_template_signed_by_the_tool(
    tool: list[str], duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema
) -> None:
    """The acceptance run: every template in the DUIS templates folder, signed by DCC
    Boxed's own signing tool, gets the same answer as when we sign it: the refusals
    exactly those documented (`REFUSED`), every other one accepted. ZAZ1's users and
    the tool's GBCS signers (supplier2) are found by the tool itself."""
    with tempfile.TemporaryDirectory() as folder:
        signer = ToolSigner(tool, Path(folder))
        sweep = await sweep_templates(duis_dir, creds, schema, signer)
    print(f"\n{sweep} (signed by the tool; keys handed to it for {sorted(signer.given)})")
    check_sweep(sweep)
    assert signer.given == LAB_SIGNED | {LOAD_CONTROLLER}
    assert {SUPPLIER, SUPPLIER2} <= signer.looked_up
