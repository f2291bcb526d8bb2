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
import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.commands import BuildError, parameters_for
from hil.dcc.routes import routes_for
from hil.duis.xml import DuisRequest, parse_datetime

#: DUIS element name (local) -> builder parameter, where the snake-case name differs.
ALIASES: dict[str, str] = {
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
    "CustomerIdentificationNumber": "cin",
    "DebtRecoveryRateCap": "debt_recovery_amount",
    "AdjustMeterBalance": "amount",
    "OtherDeviceID": "partner",
    "FirmwareHash": "image_hash",
    "InstallCode": "install_code",
    "JoinTimePeriod": "join_timeout",
    "RemotePartyFloorSeqNumber": "floor_seq_number",
}
#: DUIS enumerations -> the number the GBCS field carries (ZCL currency: ISO 4217).
VALUE_MAPS: dict[str, dict[str, int]] = {"currency": {"GBP": 826, "ECB": 978}}
#: Parameters kept as text (hex strings that may look like numbers, EUI-64s).
TEXT_PARAMETERS = frozenset({"install_code", "image_hash", "partner", "device"})
#: Body elements that choose the use case's option (8.11 Add / Remove).
OPTION_FIELDS = frozenset({"RequestType"})
#: Body values the DCC itself uses rather than the GBCS command.
DCC_FIELDS = frozenset({"ExecutionDateTime"})
#: Non-device services (answered by the DCC layer): DUIS element -> `hil.dcc.nondevice` name.
NON_DEVICE_PARAMS: dict[str, str] = {
    "DeviceID": "device",
    "FirmwareImage": "image",
    "DeviceType": "device_type",
    "DSPScheduleID": "schedule_id",
}
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
    found: list[tuple[str, str]] = []
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
        found.append(("/".join(reversed(parts)), text))
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
) -> Transformed:
    """The service request a DUIS request stands for, with its body values carried.

    A request addressed to the DCC (non-device services) is about the device its
    body names; its values go to the non-device service under `NON_DEVICE_PARAMS`.
    """
    dcc = {bytes(e) for e in dcc_ids}
    target: Eui64 | None = request.target
    if bytes(request.target) in dcc:
        target = body_device(request) if non_device else None
    known = known_parameters(request.variant, device_type) if device_type else set()
    params: dict[str, Any] = {}
    unmapped: list[str] = []
    execute_at = request.execute_at
    option: str | None = None
    if execute_at is not None and execute_at.year >= CANCEL_YEAR:
        execute_at = None
        if "cancel" in known:
            params["cancel"] = True
    for path, text in leaves(request.body):
        local = path.rsplit("/", 1)[-1]
        if local in DCC_FIELDS:
            continue
        if local in OPTION_FIELDS:
            option = text.lower()
            continue
        if non_device and local in NON_DEVICE_PARAMS:
            name = NON_DEVICE_PARAMS[local]
            params.setdefault(name, base64.b64decode(text).hex() if name == "image" else text)
            continue
        name = ALIASES.get(path) or ALIASES.get(local) or snake(local)
        if name in known and name not in params:
            mapped = VALUE_MAPS.get(name, {}).get(text)
            params[name] = (
                mapped if mapped is not None else text if name in TEXT_PARAMETERS else value(text)
            )
        else:
            unmapped.append(f"{path}={text}")
    return Transformed(request.variant, target, params, execute_at, unmapped, option)
