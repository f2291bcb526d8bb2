"""DUIS request bodies -> the DCC layer's service requests (variant, target, params).

A DUIS body names its values in DUIS terms (`ReadLogPeriod/StartDateTime`); the
GBCS builders (`hil.dcc.commands`) take their own parameter names (`from`). The
body's leaves are read as `DuisValue`s (path, text), then each one either maps to
a parameter the target's use case takes (`ALIASES`, else its snake-case name when
that is a parameter) or is listed in `Transformed.unmapped`, which the server logs
and counts: nothing in a body is dropped silently.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.commands import BuildError, parameters_for
from hil.dcc.routes import NoRoute, route, routes_for
from hil.dcc.schedules import RelativeTime, parse_time_of_day
from hil.duis.bodies import CURRENCIES, MapContext, chose_route, map_body, option_for
from hil.duis.xml import DuisRequest, parse_datetime

#: DUIS element name (path or local) -> builder parameter(s), where the snake-case name
#: differs; with several candidates, the first one the target's use case takes.
ALIASES: dict[str, str | tuple[str, ...]] = {
    "ExecutionDateTime": "execution_time",
    "StartDateTime": "from",
    "EndDateTime": "to",
    "ReadLogPeriod/StartDateTime": "from",
    "ReadLogPeriod/EndDateTime": "to",
    "DeviceID": "device",
    "UTRN": "utrn",
    "CurrencyUnits": "currency",
    "FirmwareImageHash": "image_hash",
    "SupplyDepletionState": "supply_depletion_state",
    "SupplyTamperState": ("tampered", "supply_tamper_state"),
    "CustomerIdentificationNumber": "cin",
    "DebtRecoveryRateCap": "debt_recovery_amount",
    "AdjustMeterBalance": ("amount", "credit_adjustment_value"),
    "OtherDeviceID": "partner",
    "FirmwareHash": "image_hash",
    "InstallCode": "install_code",
    "JoinTimePeriod": "join_timeout",
    "RemotePartyFloorSeqNumber": "floor_seq_number",
    "ACBFloorSeqNumber": "floor_seq_number",
    "SupplierFloorSeqNumber": "floor_seq_number",
    "SupplierPrepaymentTopUpFloorSeqNumber": "prepayment_floor_seq_number",
    "RemotePartyPrepaymentTopUpFloorSeqNumber": "prepayment_floor_seq_number",
    "SupplierMessage": "message",
    "RestrictionDateTime": ("tenancy_date", "implementation_date_time"),
    "SupplierTelephoneNumber": ("supplier_telephone", "proposed_provider_contact_details"),
    "SupplierName": ("supplier_name", "proposed_provider_name"),
    "ImportMPANs/ImportMPAN": "mpan",
    "ExportMPAN": "mpan",
    "ImportMPRN": "site_id",
    # Metering points the DCC keeps on a meter's SMI record, not in a GBCS command
    # (`SERVICE_PARAMETERS`): 8.11 add (the device added), 6.23 (checked, not written).
    "AddDeviceToCHFWhitelist/ImportMPxN": "import_mpxn",
    "AddDeviceToCHFWhitelist/SecondaryImportMPAN": "secondary_import_mpan",
    "AddDeviceToCHFWhitelist/ExportMPAN": "export_mpan",
    "ImportMPxN": "import_mpxn",
    "RandomisedOffsetLimit": "offset_limit",
    "CredentialType": "usage",
    "DeviceCertificate": "certificate",
    "UncontrolledGasFlowRate": "uncontrolled_flow_threshold",
    "OldCHFID": "restore_from",
    "OldGPFID": "restore_from",
}
#: Parameters the DCC layer takes itself, not the command builder: the replaced hub
#: whose log backup 8.12.x restores (`hil.dcc.service`), per use case.
SERVICE_PARAMETERS: dict[str, frozenset[str]] = {
    "CCS03": frozenset({"restore_from"}),
    "GCS59": frozenset({"restore_from"}),
    # 8.11 add: the added meter's metering points go on its SMI record on success.
    "CCS01": frozenset({"import_mpxn", "secondary_import_mpan", "export_mpan"}),
    # 6.23: the import MPxN of the DCC's registration check, checked against the record.
    "CS02bSupplierByTransCoS": frozenset({"import_mpxn"}),
}
#: DUIS enumerations -> what the builder parameter takes (ZCL currency: ISO 4217; the
#: ZCL supply states of Set Supply Status: 0 supply off, 3 unchanged).
VALUE_MAPS: dict[str, dict[str, Any]] = {
    "currency": CURRENCIES,
    "tampered": {"Locked": True, "Unlocked": False},
    "supply_tamper_state": {"Locked": 0, "Unchanged": 3},
    "supply_depletion_state": {"Locked": 0, "Unchanged": 3},
    "usage": {"Digital Signature": "digital_signature", "Key Agreement": "key_agreement"},
}
#: DUIS decimals -> (integer parameter, scale parameter, how the scale is written): ZCL
#: "trailing digit" fields carry the digits after the point in their upper nibble; a
#: divisor carries 10 to the power of those digits.
DECIMALS: dict[str, tuple[str, str, str]] = {
    "ConversionFactor": ("conversion_factor", "conversion_factor_trailing_digit", "nibble"),
    "CalorificValue": ("calorific_value", "calorific_value_trailing_digit", "nibble"),
    "UncontrolledGasFlowRateDecimal": ("uncontrolled_flow_threshold", "divisor", "divisor"),
}
#: Body values that together make one list parameter, in this order.
LISTS: dict[str, tuple[str, ...]] = {
    "thresholds": ("LowMediumPowerThreshold", "MediumHighPowerThreshold"),
}
#: Parameters kept as text (hex strings that may look like numbers, EUI-64s).
TEXT_PARAMETERS = frozenset(
    {
        "install_code",
        "image_hash",
        "partner",
        "device",
        "mpan",
        "site_id",
        "message",
        "restore_from",
        "import_mpxn",
        "secondary_import_mpan",
        "export_mpan",
    }
)
#: Parameters given in base64 in DUIS and as bytes to the builder.
BASE64_PARAMETERS = frozenset({"certificate"})
#: Body elements that choose the use case's option (8.11 Add / Remove).
OPTION_FIELDS = frozenset({"RequestType"})
#: Body values the DCC itself uses rather than the GBCS command.
DCC_FIELDS = frozenset({"ExecutionDateTime"})
#: A read's "unknown remote party" credentials (4.14, 4.17 URP): the requester's key
#: agreement certificate, which the DCC sends with the command (`hil.dcc.service`).
URP_CERTIFICATE = "KAPublicSecurityCredentials"
#: Non-device services (answered by the DCC layer): DUIS element -> `hil.dcc.nondevice` name.
NON_DEVICE_PARAMS: dict[str, str] = {
    "DeviceID": "device",
    "DSPScheduledServiceReferenceVariant": "variant",
    "DSPScheduledServiceReference": "service_reference",  # 5.1: checked against the variant
    "ScheduleStartDate": "start",
    "ScheduleFrequency": "every",
    "ScheduleEndDate": "end",  # 5.1: the last day the schedule runs on
    "FirmwareImage": "image",
    "FirmwareVersion": "version",
    "DeviceType": "device_type",
    "OptInDate": "opt_in_date",  # 8.6: from when a withdrawn device is back
    "DSPScheduleID": "schedule_id",
    "PostCode": "postcode",  # 12.1 RequestWANMatrix/PartialAddress: the lab knows postcodes
    "DeviceManufacturer": "manufacturer",  # 12.2: the inventory record's
    "DeviceModel": "model",
    "ESMEVariant": "esme_variant",  # 12.2: the element count (twin: "B...")
    "SMETSCHTSVersion": "smets_chts_version",  # 12.2: returned by 8.2 Read Inventory
    # 8.6 MPxNs: the opted-in meter's metering points, on its SMI record from the opt-in;
    # 8.4 UpdateMPxN: one of them changed on the record
    "ImportMPxN": "import_mpxn",
    "SecondaryImportMPAN": "secondary_import_mpan",
    "ExportMPAN": "export_mpan",
}
#: 8.2 Read Inventory searches (the `ReadInventory` choice) other than DeviceID: by the
#: MPAN / MPRN a meter's record holds.
READ_INVENTORY_SEARCH: dict[str, str] = {"MPxN": "mpxn"}
#: 5.1: a scheduled read's window (`ReadLogPeriodOffset`, e.g. in
#: `DSPRetrieveImportDailyReadLog`) -> (the scheduled service's parameter, day offset
#: element, time element). Each run reads from its own day's offsets (`RelativeTime`).
SCHEDULE_WINDOW: dict[str, tuple[str, str]] = {
    "from": ("StartDateOffset", "StartTime"),
    "to": ("EndDateOffset", "EndTime"),
}
#: 5.1: the scheduled body (the `DSPSchedule` choice) -> the service request variant it
#: stands for; `DSPScheduledServiceReferenceVariant` must name the same one.
SCHEDULED_BODIES: dict[str, str] = {
    "DSPReadInstantaneousExportRegisters": "4.2",
    "DSPRetrieveImportDailyReadLog": "4.6.1",
    "DSPRetrieveExportDailyReadLog": "4.6.2",
    "DSPReadActiveImportProfileData": "4.8.1",
    "DSPReadReactiveImportProfileData": "4.8.2",
    "DSPReadExportProfileData": "4.8.3",
    "DSPReadNetworkData": "4.10",
    "DSPReadMaximumDemandImportRegisters": "4.12.1",
    "DSPReadMaximumDemandExportRegisters": "4.12.2",
    "DSPReadPrepaymentDailyReadLog": "4.14",
    "DSPReadLoadLimitData": "4.15",
    "DSPReadActivePowerImport": "4.16",
    "DSPRetrieveDailyConsumptionLog": "4.17",
    "DSPRecordNetworkDataGAS": "14.1",
}
#: 5.1: the key agreement certificate each run's command carries (the scheduled
#: service's URP credentials), and the time of day the runs start at.
SCHEDULE_CREDENTIAL = "KAPublicSecurityCredential"
SCHEDULE_TIME = "ScheduleExecutionStartTime"
#: 8.14.x: the installer's report on a hub (install type, location, fault reason, ...)
#: goes whole to the hub's inventory record (`hub_report`, DUIS name -> text).
HUB_REPORTS = frozenset({"8.14.1", "8.14.2", "8.14.3", "8.14.4"})
#: Future-dated variants the DCC itself holds until their execution time, so their
#: command carries none: 8.5 Service Opt Out also withdraws the device in the DCC at
#: that time (its RTDS command has no execution date-time).
DCC_HELD = frozenset({"8.5"})
#: Empty choice elements of non-device bodies -> the flag they set (8.4 DeleteDevice).
NON_DEVICE_FLAGS: dict[str, str] = {"DeleteDevice": "delete"}
#: Services that return a device's response the user got locally (8.13): the DCC takes
#: the device from `OriginalRequestID` and the GBCS response from the body.
LOCAL_RESPONSE_VARIANTS = frozenset({"8.13"})
#: DUIS cancels a future-dated request by repeating it with this execution date-time.
CANCEL_YEAR = 3000
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


@dataclass
class Transformed:
    variant: str
    target: Eui64 | None
    params: dict[str, Any]
    execute_at: _dt.datetime | None
    unmapped: list[str] = field(default_factory=list)
    option: str | None = None


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def leaves(body: etree._Element) -> list[tuple[str, str]]:
    """(path below the body element, text) for every leaf with text."""
    return [(path, text) for path, text, _ in leaf_nodes(body)]


def leaf_nodes(body: etree._Element) -> list[tuple[str, str, etree._Element]]:
    """(path below the body element, text, element) for every leaf with text."""
    found: list[tuple[str, str, etree._Element]] = []
    for el in body.iter():
        if not isinstance(el.tag, str) or len(el) or el is body:
            continue
        text = (el.text or "").strip()
        if not text:
            continue
        parts: list[str] = []
        node: etree._Element | None = el
        while node is not None and node is not body:
            parts.append(etree.QName(node).localname)
            node = node.getparent()
        found.append(("/".join(reversed(parts)), text, el))
    return found


def value(text: str) -> Any:
    if re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    if _DATETIME.match(text):
        return parse_datetime(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def known_parameters(variant: str, device_type: str | None) -> set[str]:
    names: set[str] = set()
    for r in routes_for(variant, device_type):
        try:
            names |= set(parameters_for(r))
        except BuildError:
            continue
    return names


def body_device(request: DuisRequest) -> Eui64 | None:
    """The device a request addressed to the DCC is about (its body's DeviceID)."""
    for path, text in leaves(request.body):
        if path.rsplit("/", 1)[-1] in ("DeviceID", "DeviceIDList"):
            try:
                return Eui64(text.split()[0])
            except ValueError:
                return None
    return None


def transform(
    request: DuisRequest,
    *,
    device_type: str | None,
    dcc_ids: Iterable[Eui64 | bytes] = (),
    non_device: bool = False,
    twin: bool = False,
    use_case: str | None = None,
) -> Transformed:
    """The service request a DUIS request stands for, with its body values carried.

    A request addressed to the DCC (non-device services) is about the device its
    body names; its values go to the non-device service under `NON_DEVICE_PARAMS`.
    `use_case` names the GBCS use case when the caller knows it (the device's
    variant decides between use cases the body does not); else the body's option
    and the variant's routes decide.
    """
    dcc = {bytes(e) for e in dcc_ids}
    target: Eui64 | None = request.target
    if bytes(request.target) in dcc:
        target = body_device(request) if non_device else None
    if request.variant in LOCAL_RESPONSE_VARIANTS:
        return _local_response(request, target)
    known = known_parameters(request.variant, device_type) if device_type else set()
    params: dict[str, Any] = {}
    unmapped: list[str] = []
    execute_at = request.execute_at
    option: str | None = None
    if execute_at is not None and execute_at.year >= CANCEL_YEAR:
        execute_at = None
        if "cancel" in known:
            params["cancel"] = True
    elif execute_at is not None and "execution_time" in known and variant_held(request.variant):
        # GBCS carries the time of a device-future-dated command in the command (CS06's
        # activation date-time, the DLMS command's date-time): the device holds it.
        params["execution_time"] = execute_at
    nodes = leaf_nodes(request.body)
    found = [(path, text) for path, text, _ in nodes]
    option = next((t.lower() for p, t in found if p.rsplit("/", 1)[-1] in OPTION_FIELDS), None)
    if option is None and not non_device:
        option = option_for(request.variant, request.body, device_type)
    used: set[int] = set()
    use_case = use_case or _use_case(request.variant, device_type, option)
    if use_case is not None:
        known |= SERVICE_PARAMETERS.get(use_case, frozenset())
        mapped, used = map_body(use_case, request.body, MapContext(twin=twin))
        params.update(mapped)
    if not non_device:
        used |= chose_route(request.variant, request.body, option)
    if use_case == "ECS50" and "cin" not in params:
        # DUIS 9.1 carries no CIN: the DCC generates one, sends it to the meter and
        # returns it to the requester.
        params["cin"] = secrets.randbelow(10_000)
    carried = _combined(found, known, params)
    creating = non_device and request.variant == "5.1"
    scheduled: dict[str, Any] = {}  # 5.1: the scheduled service's own parameters
    runs_at: _dt.time | None = None
    if creating:
        scheduled.update(_schedule_window(found))
        if scheduled:
            carried.update(local for pair in SCHEDULE_WINDOW.values() for local in pair)
        for child in request.body:
            if isinstance(child.tag, str) and etree.QName(child).localname in SCHEDULED_BODIES:
                params["body_variant"] = SCHEDULED_BODIES[etree.QName(child).localname]
    for path, text, element in nodes:
        local = path.rsplit("/", 1)[-1]
        if local in DCC_FIELDS or local in carried or local in OPTION_FIELDS:
            continue
        if id(element) in used:
            continue
        if creating and path == SCHEDULE_CREDENTIAL:
            try:
                scheduled["ka_certificate"] = base64.b64decode(text, validate=True)
            except ValueError:
                unmapped.append(f"{path}={text}")
            continue
        if creating and path == SCHEDULE_TIME:
            try:
                runs_at = parse_time_of_day(text)
            except ValueError:
                unmapped.append(f"{path}={text}")
            continue
        if local == URP_CERTIFICATE and not non_device:
            params["ka_certificate"] = base64.b64decode(text)
            continue
        if non_device and local == "DeviceIDList" and _only_device(text, target):
            continue  # the device the request is about (a list of several is not carried)
        if non_device and request.variant in HUB_REPORTS and local not in NON_DEVICE_PARAMS:
            params.setdefault("hub_report", {})[local] = text
            continue
        if non_device and request.variant == "8.2" and path in READ_INVENTORY_SEARCH:
            params[READ_INVENTORY_SEARCH[path]] = text
            continue
        if non_device and local in NON_DEVICE_PARAMS:
            name = NON_DEVICE_PARAMS[local]
            params.setdefault(name, _non_device_value(name, text))
            continue
        name = _parameter(path, local, known)
        if name == snake(local) and not _plain(path, local, found):
            # A field deep in a structure (a day profile's StartTime) is not the
            # command's own field of that name: only top-level leaves map by name.
            unmapped.append(f"{path}={text}")
            continue
        if name in known and name not in params:
            params[name] = _convert(name, text)
        else:
            unmapped.append(f"{path}={text}")
    if scheduled:
        params["params"] = scheduled
    if runs_at is not None and isinstance(params.get("start"), str):
        # ScheduleStartDate is a day; ScheduleExecutionStartTime the time of day (UTC
        # unless it names an offset) every run starts at, instead of 00:00 UTC.
        with contextlib.suppress(ValueError):  # a bad date: the DCC layer refuses it
            day = _dt.date.fromisoformat(params["start"][:10])
            params["start"] = _dt.datetime.combine(day, runs_at).astimezone(_dt.UTC).isoformat()
    if non_device:
        for element in request.body.iter():
            if isinstance(element.tag, str) and not len(element):
                flag = NON_DEVICE_FLAGS.get(etree.QName(element).localname)
                if flag is not None:
                    params[flag] = True
    return Transformed(request.variant, target, params, execute_at, unmapped, option)


def _schedule_window(found: list[tuple[str, str]]) -> dict[str, RelativeTime]:
    """5.1: the scheduled read's window, as times relative to each run; a window
    given by halves or with values out of shape is left to `unmapped`."""
    by_name = {path.rsplit("/", 1)[-1]: text for path, text in found if "/" in path}
    window: dict[str, RelativeTime] = {}
    for name, (offset, at) in SCHEDULE_WINDOW.items():
        if offset not in by_name or at not in by_name:
            return {}
        try:
            window[name] = RelativeTime(int(by_name[offset]), parse_time_of_day(by_name[at]))
        except ValueError:
            return {}
    return window


def _only_device(text: str, target: Eui64 | None) -> bool:
    """Whether a device list names the target and nothing else."""
    try:
        return target is not None and [bytes(Eui64(t)) for t in text.split()] == [bytes(target)]
    except ValueError:
        return False


def variant_held(variant: str) -> bool:
    """Whether a future-dated request's device holds it (GBCS carries the time)."""
    return variant not in DCC_HELD


def _local_response(request: DuisRequest, target: Eui64 | None) -> Transformed:
    """8.13: the original request's target is the device; the response goes as bytes."""
    params: dict[str, Any] = {}
    unmapped: list[str] = []
    for path, text in leaves(request.body):
        local = path.rsplit("/", 1)[-1]
        if local == "OriginalRequestID":
            params["original_request_id"] = text
            parts = text.split(":")
            if target is None and len(parts) == 3:
                # not an EUI-64: no device, which the DCC layer refuses
                with contextlib.suppress(ValueError):
                    target = Eui64(parts[1])
        elif local == "DeviceGBCSResponse":
            params["response"] = base64.b64decode(text)
        else:
            unmapped.append(f"{path}={text}")
    return Transformed(request.variant, target, params, None, unmapped)


def _use_case(variant: str, device_type: str | None, option: str | None) -> str | None:
    if device_type is None:
        return None
    try:
        return route(variant, device_type, option).use_case
    except NoRoute:
        return None


def _parameter(path: str, local: str, known: set[str]) -> str:
    alias = ALIASES.get(path) or ALIASES.get(local)
    if alias is None:
        return snake(local)
    candidates = (alias,) if isinstance(alias, str) else alias
    return next((c for c in candidates if c in known), candidates[0])


def _convert(name: str, text: str) -> Any:
    mapped = VALUE_MAPS.get(name, {}).get(text)
    if mapped is not None:
        return mapped
    if name in TEXT_PARAMETERS:
        return text
    if name in BASE64_PARAMETERS:
        return base64.b64decode(text)
    return value(text)


def _combined(found: list[tuple[str, str]], known: set[str], params: dict[str, Any]) -> set[str]:
    """Values that only make sense together (a decimal and its scale, a list, a clock
    window); returns the local names it carried."""
    by_name = {path.rsplit("/", 1)[-1]: text for path, text in found}
    carried: set[str] = set()
    for local, (number, scale, style) in DECIMALS.items():
        text = by_name.get(local)
        if text is None or number not in known or scale not in known:
            continue
        whole, _, fraction = text.partition(".")
        digits = len(fraction)
        params[number] = int(whole + fraction)
        params[scale] = digits << 4 if style == "nibble" else 10**digits
        if style == "divisor" and "multiplier" in known:
            params["multiplier"] = 1
        carried.add(local)
    for name, parts in LISTS.items():
        if name in known and all(p in by_name for p in parts):
            params[name] = [int(by_name[p]) for p in parts]
            carried.update(parts)
    now, tolerance = by_name.get("CurrentDateTime"), by_name.get("TolerancePeriod")
    if now and tolerance and {"valid_from", "valid_to"} <= known:
        # DUIS: the device may take the time from CurrentDateTime until the tolerance
        # period has passed (RTDS GCS28: 23:30 with 3600 s -> 23:30..00:30).
        start = parse_datetime(now)
        params["valid_from"] = start
        params["valid_to"] = start + _dt.timedelta(seconds=int(tolerance))
        carried.update({"CurrentDateTime", "TolerancePeriod"})
    return carried


#: DUIS schedule frequencies -> the DCC layer's schedule intervals.
FREQUENCIES = {"Daily": "1d", "Weekly": "7d"}


def _non_device_value(name: str, text: str) -> Any:
    if name == "image":
        return base64.b64decode(text).hex()
    if name == "every":
        return FREQUENCIES.get(text, text)
    if name == "start" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return f"{text}T00:00:00+00:00"  # ScheduleStartDate is an xs:date: the UTC day
    return text


def _plain(path: str, local: str, found: list[tuple[str, str]]) -> bool:
    """A leaf directly in the service element (or one group below), named once."""
    return path.count("/") <= 2 and sum(p.rsplit("/", 1)[-1] == local for p, _ in found) == 1
