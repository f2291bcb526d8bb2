"""DUIS XML: the schema, parsing requests, building responses and alerts.

Pure functions over lxml trees, no I/O besides loading the schema. Parsing never
resolves entities or fetches anything (`PARSER`). The DUIS v5.4 schema imports
the XMLDSig schema by a relative name that is not shipped with it; `load_schema`
points that import at the copy bundled with the `xmlschema` package.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.errors import HilError

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"
RA = "http://www.dccinterface.co.uk/ResponseAndAlert"
DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"sr": SR, "ra": RA, "ds": DS}
SCHEMA_VERSION = "5.4"
DUIS_XSD = "DUIS Schema V5.4.xsd"
MMC_XSD = "MMC Schema V5.4.xsd"

#: Whitespace is kept: it is part of what the signature covers.
PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False
)
_REQUEST_ID = re.compile(r"^([0-9A-Fa-f-]{23}):([0-9A-Fa-f-]{23}):(\d{1,20})$")


class DuisError(HilError):
    """A DUIS message that does not parse or does not follow the schema."""


def q(name: str) -> str:
    return f"{{{SR}}}{name}"


@cache
def load_schema(folder: str | Path) -> etree.XMLSchema:
    """The DUIS v5.4 schema (with its MMC and XMLDSig imports) from `folder`."""
    folder = Path(folder).resolve()
    main, mmc = folder / DUIS_XSD, folder / MMC_XSD
    if not main.is_file() or not mmc.is_file():
        raise DuisError(f"no DUIS schema at {folder} (expected {DUIS_XSD!r} and {MMC_XSD!r})")
    dsig = Path(xmlschema.__file__).parent / "schemas" / "DSIG" / "xmldsig-core-schema.xsd"
    text = main.read_bytes()
    for local, target in ((MMC_XSD, mmc), ("xmldsig-core-schema.xsd", dsig)):
        text = text.replace(
            f'schemaLocation="{local}"'.encode(), f'schemaLocation="{target.as_uri()}"'.encode()
        )
    try:
        return etree.XMLSchema(etree.fromstring(text, base_url=main.as_uri()))
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise DuisError(f"DUIS schema at {folder} does not load: {exc}") from exc


def parse(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as exc:
        raise DuisError(f"not well-formed XML: {exc}") from exc


def validate(schema: etree.XMLSchema, root: etree._Element) -> None:
    if not schema.validate(root):
        error = schema.error_log.last_error
        raise DuisError(f"schema: line {error.line}: {error.message}")


@dataclass
class DuisRequest:
    """What a DUIS request says, read from its (schema-valid) XML."""

    request_id: str
    originator: Eui64
    target: Eui64
    counter: int
    service_reference: str
    variant: str
    command_variant: int
    body: etree._Element  # the one element inside sr:Body
    root: etree._Element = field(repr=False)

    @property
    def kind(self) -> str:
        return str(etree.QName(self.body).localname)

    @property
    def signed_precommand(self) -> bytes | None:
        if self.kind != "SignedPreCommand":
            return None
        return base64.b64decode(self.body.findtext(q("GBCSPayload")) or "")

    @property
    def execute_at(self) -> _dt.datetime | None:
        text = self.body.findtext(q("ExecutionDateTime"))
        return None if text is None else parse_datetime(text)


def parse_datetime(text: str) -> _dt.datetime:
    text = text.strip().replace("Z", "+00:00")
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise DuisError(f"not an xs:dateTime: {text!r}") from exc


def split_request_id(text: str) -> tuple[Eui64, Eui64, int]:
    m = _REQUEST_ID.match(text.strip())
    if m is None:
        raise DuisError(f"RequestID {text!r} is not originator:target:counter")
    return Eui64(m.group(1)), Eui64(m.group(2)), int(m.group(3))


def read_request(root: etree._Element) -> DuisRequest:
    if root.tag != q("Request"):
        raise DuisError(f"expected sr:Request, got {etree.QName(root).localname}")
    header = root.find(q("Header"))
    body = root.find(q("Body"))
    if header is None or body is None or len(body) != 1:
        raise DuisError("sr:Request needs a Header and a Body with one element")
    request_id = header.findtext(q("RequestID")) or ""
    originator, target, counter = split_request_id(request_id)
    return DuisRequest(
        request_id.strip(),
        originator,
        target,
        counter,
        (header.findtext(q("ServiceReference")) or "").strip(),
        (header.findtext(q("ServiceReferenceVariant")) or "").strip(),
        int(header.findtext(q("CommandVariant")) or "0"),
        body[0],
        root,
    )


def dashed(eui: Eui64 | bytes) -> str:
    return "-".join(f"{b:02X}" for b in bytes(eui))


def _timestamp(when: _dt.datetime) -> str:
    return when.astimezone(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _response(
    request_id: str | None, response_id: str | None, code: str, when: _dt.datetime
) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(q("Response"), nsmap={"sr": SR, "ra": RA})
    root.set("schemaVersion", SCHEMA_VERSION)
    header = etree.SubElement(root, q("Header"))
    if request_id is not None:
        etree.SubElement(header, q("RequestID")).text = request_id
    if response_id is not None:
        etree.SubElement(header, q("ResponseID")).text = response_id
    etree.SubElement(header, q("ResponseCode")).text = code
    etree.SubElement(header, q("ResponseDateTime")).text = _timestamp(when)
    return root, etree.SubElement(root, q("Body"))


def response_message(
    *,
    request_id: str | None,
    code: str,
    when: _dt.datetime,
    service_reference: str,
    variant: str,
    response_id: str | None = None,
    gbcs_payload: bytes | None = None,
    precommand: bytes | None = None,
    gbcs_version: str = "4.0",
    inventory: list[dict[str, str]] | None = None,
    dsp_body: etree._Element | None = None,
) -> etree._Element:
    """An sr:Response with a ResponseMessage (acknowledgement, result or pre-command);
    `dsp_body` is a non-device service's own body (`dsp_schedule_id`, `dsp_wan_matrix`)."""
    root, body = _response(request_id, response_id, code, when)
    message = etree.SubElement(body, q("ResponseMessage"))
    etree.SubElement(message, q("ServiceReference")).text = service_reference
    etree.SubElement(message, q("ServiceReferenceVariant")).text = variant
    if precommand is not None:
        pre = etree.SubElement(message, q("PreCommand"))
        etree.SubElement(pre, q("GBCSVersion")).text = gbcs_version
        etree.SubElement(pre, q("GBCSPayload")).text = base64.b64encode(precommand).decode()
    elif gbcs_payload is not None:
        etree.SubElement(message, q("GBCSPayload")).text = base64.b64encode(gbcs_payload).decode()
    elif inventory:
        listed = etree.SubElement(message, q("DSPInventory"))
        for record in inventory[:17]:  # the schema's limit per response
            device = etree.SubElement(listed, q("Device"))
            for name in INVENTORY_FIELDS:
                if record.get(name):
                    etree.SubElement(device, q(name)).text = record[name]
    elif dsp_body is not None:
        message.append(dsp_body)
    return root


def dsp_schedule_id(schedule_id: str) -> etree._Element:
    """5.1's answer body: the DSP schedule ID the user names the schedule by in 5.2 / 5.3."""
    element = etree.Element(q("DSPScheduleID"))
    element.text = schedule_id
    return element


def dsp_opt_in(device: str, key_agreement: bytes, digital_signing: bytes | None) -> etree._Element:
    """8.6's answer body: the DCC's (Access Control Broker's) certificates, base64 DER as
    `sr:Certificate` (xs:base64Binary) takes them, in the schema's order."""
    opt_in = etree.Element(q("DSPOptIn"))
    etree.SubElement(opt_in, q("DeviceID")).text = device
    if digital_signing is not None:
        etree.SubElement(
            opt_in, q("DSPBrokerSecurityCredentialsDigitalSigning")
        ).text = base64.b64encode(digital_signing).decode()
    etree.SubElement(opt_in, q("DSPBrokerSecurityCredentialsKeyAgreement")).text = base64.b64encode(
        key_agreement
    ).decode()
    return opt_in


def dsp_scheduled_message(payload: bytes, schedule_id: str) -> etree._Element:
    """A schedule run's answer body: the device's GBCS response and the DSP schedule
    ID that ran (v5.4 `DSPScheduledMessage`, the elements in the schema's order)."""
    message = etree.Element(q("DSPScheduledMessage"))
    etree.SubElement(message, q("GBCSPayload")).text = base64.b64encode(payload).decode()
    etree.SubElement(message, q("DSPScheduleID")).text = schedule_id
    return message


def dsp_schedules_read(schedules: list[tuple[str, etree._Element]]) -> etree._Element:
    """5.2's answer body: each schedule's ID and details. `CreateSchedule` (5.1) has the
    details' type (`DSPSchedule`), so its children are the details as created."""
    read = etree.Element(q("DSPSchedulesRead"))
    for schedule_id, created in schedules[:99]:  # the schema's limit per response
        entry = etree.SubElement(read, q("DSPSchedules"))
        etree.SubElement(entry, q("DSPScheduleID")).text = schedule_id
        details = etree.SubElement(entry, q("DSPScheduleDetails"))
        for child in created:
            if isinstance(child.tag, str):
                details.append(copy.deepcopy(child))
    return read


#: The firmware warning body of each firmware variant's answer.
FIRMWARE_WARNINGS = {"11.1": "DSPUpdateFirmwareWarning", "11.4": "DSPUpdatePPMIDFirmwareWarning"}


def dsp_firmware_warning(variant: str, not_applicable: list[str]) -> etree._Element:
    """11.1 / 11.4's warning body: the devices (dashed EUI-64s) whose model has the
    image on no CPL row, so nothing was sent to them."""
    warning = etree.Element(q(FIRMWARE_WARNINGS[variant]))
    listed = etree.SubElement(warning, q("NotApplicableFirmwareDeviceIDList"))
    listed.text = ",".join(not_applicable)
    return warning


@dataclass(frozen=True)
class WanCoverage:
    """What 12.1 reports for a CSP region the lab knows the address in."""

    available: bool
    technology: str  # DUIS WANTechnologyType: free text, 1-30 characters
    likelihood: str  # High / Medium / Low


def dsp_wan_matrix(
    asked: etree._Element, region: str, coverage: WanCoverage | None
) -> etree._Element:
    """12.1's answer body: the request's address (`RequestWANMatrix`, echoed) and one
    CSP region row; `coverage` None gives the region alone (the address is not known)."""
    matrix = etree.Element(q("DSPWANMatrix"))
    echoed = etree.SubElement(matrix, q("Request"))
    for child in asked:
        if isinstance(child.tag, str):
            echoed.append(copy.deepcopy(child))
    row = etree.SubElement(matrix, q("DSPWANMatrixResponse"))
    etree.SubElement(row, q("CSPRegion")).text = region
    etree.SubElement(row, q("CSPRegionResponseCode")).text = "I0"
    if coverage is not None:
        etree.SubElement(row, q("CoverageAvailability")).text = (
            "true" if coverage.available else "false"
        )
        etree.SubElement(row, q("WANTechnology")).text = coverage.technology
        etree.SubElement(row, q("ConnectivityLikelihood")).text = coverage.likelihood
    return matrix


#: The DSPInventory Device fields we fill, in schema order.
INVENTORY_FIELDS = (
    "DeviceID",
    "DeviceType",
    "DeviceStatus",
    "DeviceManufacturer",
    "DeviceModel",
    "SMETSCHTSVersion",
    "DeviceFirmwareVersion",
    "DateCommissioned",
    "ImportMPxN",
    "SecondaryImportMPAN",
    "ExportMPAN",
)


def device_alert(
    *, alert_code: int, when: _dt.datetime, payload: bytes, response_id: str | None = None
) -> etree._Element:
    """An sr:Response carrying a device alert (code 0x8F..., GBCS payload)."""
    root, body = _response(None, response_id, "I0", when)
    message = etree.SubElement(body, q("DeviceAlertMessage"))
    etree.SubElement(message, q("AlertCode")).text = f"{alert_code:04X}"
    etree.SubElement(message, q("GBCSPayload")).text = base64.b64encode(payload).decode()
    return root


#: DCC alert codes whose meaning a public source confirms (docs/duis.md "DCC alerts").
UPDATE_HAN_DEVICE_LOG_RESULT = "N24"


def dcc_alert_han_log_result(*, request_id: str, when: _dt.datetime) -> etree._Element:
    """N24: the DCC tells the user the outcome of its 8.11 Update HAN Device Log is in."""
    root, body = _response(None, None, "I0", when)
    message = etree.SubElement(body, q("DCCAlertMessage"))
    etree.SubElement(message, q("DCCAlertCode")).text = UPDATE_HAN_DEVICE_LOG_RESULT
    alert = etree.SubElement(message, q("DCCAlert"))
    result = etree.SubElement(alert, q("UpdateHANDeviceLogResult"))
    etree.SubElement(result, q("UpdateHANDeviceLogServiceRequestID")).text = request_id
    return root


def to_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
