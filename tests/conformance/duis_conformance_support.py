"""What the DUIS conformance tests share: the ZAZ1 key store's name, the check of a
DCC answer (schema-valid, signed by the DCC), posting to the server, and the sweep that
sends every DUIS template, so the same sweep runs with our signer and with DCC Boxed's
signing tool (`test_duis_sign.py`)."""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import Lab, LabSpec
from hil.duis.server import BOXED_DCC, DUIS_LAB, DuisServer
from hil.duis.signing import Credential, XmlCredentials, make_credential, sign, verify
from hil.duis.xml import DuisRequest, dashed, parse, q, read_request, validate

#: DCC Boxed's published ZAZ1 key store (SmartDCCInnovation/dccboxed-keystore).
ZAZ1_STORE = "dccboxed_zaz1_keystore.json"

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
DNO = "90-B3-D5-1F-30-02-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
#: ZAZ1's "supplier2": GBCS supplier keys only; Boxed's signing tool signs its DUIS
#: requests with its digital-signing key `Z1-supplier2-ds` (role 2).
SUPPLIER2 = "90-B3-D5-1F-30-03-00-00"
SUPPLIER2_DS_ROLE = 2
#: ZAZ1's recovery key holder, also in the tool's list (`Z1-recovery-ds`), no lab user.
RECOVERY = "90-B3-D5-1F-30-00-00-01"
#: supplier2's template: its read as the GSME's outgoing gas supplier (4.14 URP).
SUPPLIER2_TEMPLATE = "templates/GCS16b_4.14_URP_SUCCESS_REQUEST_DUIS.XML"
SAMPLE = "samples/ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS-signed.XML"


def checked_answer(root: etree._Element, schema: etree.XMLSchema, creds: XmlCredentials) -> str:
    """The response code of a schema-valid DUIS response signed by the DCC."""
    validate(schema, root)
    assert creds.dcc is not None
    verify(root, creds.dcc)
    return str(root.findtext(f"{q('Header')}/{q('ResponseCode')}"))


@dataclass
class Sink:
    """The user's response address: collects what the DCC POSTs."""

    url: str
    received: asyncio.Queue[bytes]


async def post(server: DuisServer, endpoint: str, body: bytes) -> etree._Element:
    """POST to `/api/v1/service{endpoint}` (S, T or D); the answer must be HTTP 200."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/api/v1/service{endpoint}", data=body) as reply,
    ):
        assert reply.status == 200
        return parse(await reply.read())


def template(duis_dir: Path, name: str, request_id: str | None = None) -> etree._Element:
    """A template (or sample) parsed, its RequestID replaced when one is given."""
    root = parse((duis_dir / name).read_bytes())
    if request_id is not None:
        root.find(f"{q('Header')}/{q('RequestID')}").text = request_id
    return root


def as_lab_dates(root: etree._Element, lab: Lab) -> None:
    """A template's placeholder dates (2015, 2030) are outside the SEC window around
    the lab's clock: execution and schedule start move to one day after the lab's now;
    the cancellation marker (3000-12-31) is kept."""
    tomorrow = lab.clock.now() + _dt.timedelta(days=1)
    for when in root.iter(q("ExecutionDateTime")):
        if not (when.text or "").startswith("3000"):
            when.text = tomorrow.strftime("%Y-%m-%dT%H:%M:%SZ")
    for day in root.iter(q("ScheduleStartDate")):
        day.text = tomorrow.strftime("%Y-%m-%d")


def lab_dated(duis_dir: Path, name: str, lab: Lab, request_id: str | None = None) -> etree._Element:
    root = template(duis_dir, name, request_id)
    as_lab_dates(root, lab)
    return root


# --- the template sweep -------------------------------------------------------------

#: Templates accepted (I99 / I0); raise it as the transform learns more DUIS fields
#: (docs/duis.md lists what is still refused).
#: 255: the 11.1 template's image (built by another tool) decodes in the GBCS 11.2.2
#: layout (docs/firmware.md, "Images built elsewhere").
#: 260: gas conversion (6.6) and flow (6.7) decimals, and 2.1 on the GSME, now carried.
#: 270: the catalogue supplement (6.14.3, 7.13-7.15) and the body choosing the use case.
#: 280: schedules by DSP schedule ID (5.1-5.3), pre-notification then DeleteDevice
#: (12.2, 8.4), 8.13, 9.1 by the Other User and 14.1 by the Gas Transporter.
#: 286: the join partners the 8.7 templates name are on the DUIS lab's inventory.
#: 288: and the ESME the future-dated and cancelling 6.14.3 templates name (A6).
#: 289: 11.4 Update PPMID Firmware (supplement row, CS05c).
#: 293 (of 297, every template now signed): 6.24.1, 11.2 and 8.12.2, written with the
#: DCC's own ID as originator, sent by the lab's supplier (`SENT_FOR_DCC`); 4.14 URP
#: from ZAZ1's supplier2, the GSME's outgoing supplier on the lab's first day.
#: 295: 7.16 x2 from ZAZ1's load controller, a lab user (Load Controller role) signing
#: with its ZAZ1 GBCS key (`test_load_controller_signs_716_with_its_zaz1_key`).
#: 297: 8.5 and 8.6 run as the DCC's reference data runs them (the catalogue overrides).
ACCEPTED_FLOOR = 297

#: Services whose eligible role the template's originator does not hold in any lab
#: (SEC H1.5 lets no supplier or network operator ID be shared with these roles): the
#: lab's user in that role sends the template instead.
SENT_BY_ROLE = {"9.1": "boxed-other-user", "14.1": "gas-transporter"}
#: Templates written with the DCC's own ID (its Access Control Broker) as originator:
#: the DCC holds no User ID, so as written they are refused E1
#: (`test_templates_from_the_dcc_refused_e1`); the lab's supplier (eligible for all
#: three) sends them instead.
SENT_FOR_DCC = "supplier"
#: Templates refused in the lab, with the code, each for a documented reason
#: (docs/duis.md, "Sending the templates"): none since 8.5 / 8.6 run.
REFUSED: dict[str, str] = {}
#: Senders ZAZ1 holds no key for: they sign with a lab test credential, as `--lab-keys`
#: issues (the Gas Transporter for 14.1; supplier2 and the load controller sign with
#: their ZAZ1 GBCS keys).
LAB_SIGNED = {"90-B3-D5-1F-30-02-00-10"}
#: Templates that presuppose another template's outcome: it is sent first, same lab.
#: 8.4 DeleteDevice takes a pending device: the one 12.2 pre-notified.
FIRST = {
    "5.2": "ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML",
    "5.3": "ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML",
    "8.4": "12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML",
}
#: Templates that pre-notify a device the lab has: it is not on the SMI in their lab.
NOT_YET_INSTALLED = {"12.2": "ESME", "8.4": "ESME"}

#: How a sweep signs a request as the credential's holder: our signer, or Boxed's tool.
Signer = Callable[[etree._Element, Credential], Awaitable[bytes]]


async def sign_ours(root: etree._Element, cred: Credential) -> bytes:
    return sign(root, cred)


def signed_as(root: etree._Element, creds: XmlCredentials, user: str = SUPPLIER) -> bytes:
    """The request signed with the lab user's ZAZ1 XML key (the supplier's by default)."""
    cred = creds.user(Eui64(user))
    assert cred is not None, user
    return sign(root, cred)


def endpoint_for(server: DuisServer, lab: Lab, request: DuisRequest) -> str:
    """The service a user posts this request to: D (non-device), T (critical), else S."""
    assert lab.dcc is not None
    service = lab.dcc.catalogue.get(request.variant)
    device = lab.dcc.inventory.get(request.target)
    if service is not None and (service.non_device or service.role_only):
        return "D"
    return "T" if server._critical(request.variant, device) else "S"


def _as_user(root: etree._Element, user: Eui64) -> None:
    header = root.find(f"{q('Header')}/{q('RequestID')}")
    _, target, counter = header.text.split(":")
    header.text = f"{dashed(user)}:{target}:{counter}"


def lab_for(variant: str) -> Lab:
    """The DUIS lab, less the device a pre-notification template (12.2, 8.4) installs."""
    spec = LabSpec.from_file(DUIS_LAB)
    kind = NOT_YET_INSTALLED.get(variant)
    if kind is not None:
        for premises in spec.premises:
            premises.devices = [d for d in premises.devices if d.kind.value != kind]
    return Lab.build(spec)


async def send_template(
    server: DuisServer, lab: Lab, root: etree._Element, creds: XmlCredentials, signer: Signer
) -> str | None:
    """The code of a template's synchronous answer; None when nobody can sign it."""
    request = read_request(root)
    cred = creds.user(request.originator)
    if cred is None:
        return None
    as_lab_dates(root, lab)
    answer = await post(server, endpoint_for(server, lab, request), await signer(root, cred))
    return checked_answer(answer, server.schema, creds)


@dataclass
class Sweep:
    """What became of every template: accepted, refused (name -> variant, code), not
    signed, and the senders signed with a lab test credential."""

    accepted: int = 0
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    unsigned: list[str] = field(default_factory=list)
    lab_signed: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return (
            f"DUIS templates: {self.accepted} accepted, {len(self.refused)} refused,"
            f" {len(self.unsigned)} unsigned"
        )


async def sweep_templates(
    duis_dir: Path, creds: XmlCredentials, schema: etree.XMLSchema, signer: Signer
) -> Sweep:
    """Send every template over HTTP, each in a fresh DUIS lab (8.3 decommissions, 7.x
    suspends). Placeholder dates are moved to the lab's clock (`as_lab_dates`); a
    template that needs another's outcome runs after it (`FIRST`); 9.1 / 14.1 come from
    the lab's user in the role, the DCC's own templates from its supplier."""
    # a copy: the lab test credentials issued here stay out of the session's ZAZ1 store
    creds = XmlCredentials(dict(creds.users), creds.dcc)
    sweep = Sweep()
    for path in sorted((duis_dir / "templates").glob("*.XML")):
        root = parse(path.read_bytes())
        request = read_request(root)
        lab = lab_for(request.variant)
        async with lab:
            assert lab.dcc is not None
            sender = SENT_BY_ROLE.get(request.variant)
            if bytes(request.originator) == bytes(BOXED_DCC):
                sender = SENT_FOR_DCC
            if sender is not None:
                user = lab.user(sender)
                _as_user(root, next(iter(user.ids.values())))
            # no ZAZ1 key for the sender: a lab test credential, as `--lab-keys` issues
            originator = read_request(root).originator
            if creds.user(originator) is None:
                creds.add_user(make_credential(originator))
                sweep.lab_signed.add(dashed(originator))
            server = DuisServer(lab.dcc, creds, schema)
            async with server:
                first = FIRST.get(request.variant)
                if first is not None:
                    before = parse((duis_dir / "templates" / first).read_bytes())
                    # its own request ID: the templates share counters, a replay is refused
                    header = before.find(f"{q('Header')}/{q('RequestID')}")
                    header.text = header.text.rsplit(":", 1)[0] + ":900000"
                    code = await send_template(server, lab, before, creds, signer)
                    assert code in ("I0", "I99"), (first, code)
                    for schedule_id in root.iter(q("DSPScheduleID")):
                        (schedule_id.text,) = lab.dcc.schedules  # the one 5.1 created
                code = await send_template(server, lab, root, creds, signer)
        if code is None:
            sweep.unsigned.append(path.name)
        elif code in ("I0", "I99"):
            sweep.accepted += 1
        else:
            sweep.refused[path.name] = (request.variant, code)
    return sweep


def check_sweep(sweep: Sweep) -> None:
    """What every sweep must show, whoever signed: every template sent, the refusals
    exactly those documented, and at least the floor accepted."""
    assert sweep.unsigned == []
    assert sweep.lab_signed == LAB_SIGNED, sweep.lab_signed
    assert {variant: code for variant, code in sweep.refused.values()} == REFUSED, sweep.refused
    assert sweep.accepted >= ACCEPTED_FLOOR, sweep.refused
