"""Non-device service requests: the DCC answers them itself.

Each handler gets the acknowledged request and returns the data of the service
response; `validate` runs before the acknowledgement so bad parameters are a
refusal, not a failure. Inventory rules that refuse a change raise
`InventoryError` with their own code.

=========  ======================================  ===================================
variant    what it does                            data in the response
=========  ======================================  ===================================
5.1        creates a schedule of a read service    schedule (id, next run)
5.2        one schedule (id), or the user's on a   list of schedules
           device
5.3        deletes one schedule (id), or the       deleted schedule ids
           user's on a device
8.2        Read Inventory (device, MPxN, or all)   inventory records (DUIS names)
8.3        Decommission Device                     decommissioned devices
8.4        Update Inventory (status; DeleteDevice  the device's record
           of a pending device; a meter's MPxN)
8.14.1-4   Communications Hub Status Update        CHF and GPF records
11.1       Update Firmware (image to the hub)      image hash and where it went
11.4       Update PPMID Firmware (CS05c)           image hash and where it went
12.1       Request WAN Matrix                      coverage for the premises
12.2       Device Pre-notification                 the new pending record
8.13       Return Local Command Response           the device's response, checked
8.6        Service Opt In: a withdrawn device      the device and the DCC's (ACB)
           returns to its status before 8.5        key-agreement and digital-signing
           withdrew it, from the OptInDate         certificates
=========  ======================================  ===================================

8.13 is a device service in the catalogue, but the DCC sends nothing to the device:
the user delivered a command locally and hands back the device's GBCS response
(`DCC_ANSWERED`). The DCC checks it is a response from the device of the original
request, to this user, to that request's counter, and passes it on as the
service response.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization

from emulator.errors import GbcsDecodeError, KeyNotFoundError
from emulator.gbcs import ota
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.pki.keystore import KeyUsage
from hil.dcc.catalogue import ServiceVariant
from hil.dcc.eligibility import check
from hil.dcc.inventory import (
    METERS,
    DeviceKind,
    InventoryDevice,
    InventoryError,
    SmiStatus,
    mpxns_of,
)
from hil.dcc.requests import Refusal, Result, ServiceRequest
from hil.dcc.schedules import (
    URP_VARIANTS,
    Schedule,
    parse_end_date,
    parse_interval,
    parse_time,
    schedulable,
)
from hil.dcc.timing import Category

if TYPE_CHECKING:
    from hil.dcc.service import Dcc

log = logging.getLogger(__name__)

#: Device services the DCC answers itself, sending nothing to the device.
DCC_ANSWERED = frozenset({"8.13"})


#: DUIS ESME variants whose first letter says the elements (A single element, B twin
#: element, C polyphase; the letters after it name auxiliary equipment).
TWIN_ESME_VARIANT = "B"


def _notified_details(params: Mapping[str, Any]) -> dict[str, Any]:
    """The inventory fields a 12.2 pre-notification gives besides the device."""
    details: dict[str, Any] = {}
    for name, field_name in (
        ("manufacturer", "manufacturer"),
        ("model", "model"),
        ("version", "firmware_version"),
        ("smets_chts_version", "smets_chts_version"),
    ):
        if name in params:
            details[field_name] = str(params[name])
    variant = params.get("esme_variant")
    if isinstance(variant, str):
        details["elements"] = 2 if variant.startswith(TWIN_ESME_VARIANT) else 1
    return details


def _param(result: Result, name: str) -> Any:
    value = result.request.params.get(name)
    if value is None:
        raise Refusal(
            "INVALID_PARAMETERS", f"{result.request.variant} needs the parameter {name!r}"
        )
    return value


def _eui_param(result: Result, name: str) -> Eui64:
    value = _param(result, name)
    try:
        return Eui64(value)
    except ValueError as exc:
        raise Refusal("INVALID_PARAMETERS", f"{name}: {exc}") from None


def validate(
    dcc: Dcc, result: Result, service: ServiceVariant, device: InventoryDevice | None
) -> None:
    """Refuse what cannot be acknowledged (missing parameters, bad schedules)."""
    variant = service.variant
    request = result.request
    needs_device = ("8.14.1", "8.14.2", "8.14.3", "8.14.4", "8.3", "8.4", "8.6", "11.1", "11.4")
    if variant in needs_device and device is None:
        raise Refusal("TARGET_REQUIRED", f"{variant} needs a target device on the inventory")
    report = request.params.get("hub_report")
    if report is not None and not (
        isinstance(report, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in report.items())
    ):
        raise Refusal("INVALID_PARAMETERS", "hub_report: a mapping of DUIS names to text")
    if variant.startswith("8.14.") and device is not None and device.kind != DeviceKind.CHF:
        raise Refusal(
            "DEVICE_TYPE_NOT_APPLICABLE", f"{variant} applies to a CHF, not a {device.kind}"
        )
    if variant == "12.2":
        _eui_param(result, "device")
        try:
            DeviceKind.parse(str(_param(result, "device_type")))
        except ValueError as exc:
            raise Refusal("INVALID_PARAMETERS", str(exc)) from None
    if variant == "8.4" and request.params.get("delete"):
        if device is not None and device.status != SmiStatus.PENDING:
            raise Refusal(
                "STATUS_NOT_ELIGIBLE",
                f"8.4 DeleteDevice takes only a pending device; {device.eui} is {device.status}",
            )
    elif variant == "8.4" and mpxns_of(request.params):
        if device is not None and device.kind not in METERS:
            raise Refusal(
                "DEVICE_TYPE_NOT_APPLICABLE",
                f"8.4 UpdateMPxN: {device.eui} is a {device.kind}; only a meter has MPxNs",
            )
    elif variant == "8.4":
        try:
            SmiStatus.parse(str(_param(result, "status")))
        except ValueError as exc:
            raise Refusal("INVALID_PARAMETERS", str(exc)) from None
    if variant in FIRMWARE_VARIANTS and not {"image", "image_hash"} & set(request.params):
        raise Refusal("INVALID_PARAMETERS", f"{variant} needs 'image' (hex) or 'image_hash'")
    if variant == "5.1":
        _validate_schedule(dcc, result, device)
    mpxn = request.params.get("mpxn")
    if variant == "8.2" and mpxn is not None and not dcc.inventory.by_mpxn(str(mpxn)):
        raise Refusal("DEVICE_NOT_IN_INVENTORY", f"8.2: no meter on the SMI has MPxN {mpxn}")
    if variant == "8.6":
        assert device is not None
        _opt_in_at(result)
        named = request.params.get("device_type")
        if named is not None and str(named).upper() != device.kind.value.upper():
            raise Refusal(
                "INVALID_PARAMETERS",
                f"8.6: DeviceType {named}, but {device.eui} is a {device.kind}",
            )
    if variant == "8.13":
        _local_response(result, device)
    if variant in ("5.2", "5.3"):
        # DUIS: either one schedule (DSPScheduleID) or the user's schedules on a device.
        if "schedule_id" in request.params:
            schedule = dcc.schedules.get(str(request.params["schedule_id"]))
            if schedule is None or schedule.owner is not request.user:
                raise Refusal("SCHEDULE_NOT_FOUND", "no such schedule of this user")
        elif device is None:
            raise Refusal("TARGET_REQUIRED", f"{variant} needs a DSPScheduleID or a device")


def _local_response(result: Result, device: InventoryDevice | None) -> GbcsMessage:
    """8.13: the returned GBCS response, if it answers the original request: a
    response from that request's device, to this user, with its counter."""
    request = result.request
    if device is None:
        raise Refusal("TARGET_REQUIRED", "8.13 needs the original request's device on the SMI")
    original = str(_param(result, "original_request_id"))
    raw = _param(result, "response")
    try:
        sender, target, counter = original.split(":")
        wanted = (Eui64(sender), Eui64(target), int(counter))
        message = decode_message(bytes(raw))
    except (ValueError, GbcsDecodeError) as exc:
        raise Refusal("INVALID_PARAMETERS", f"8.13: {exc}") from None
    header = message.header
    user_id = request.user.ids[request.role]
    problems = [
        what
        for what, bad in (
            ("not a response", header.cra != Cra.RESPONSE),
            ("the original request is another user's", bytes(wanted[0]) != bytes(user_id)),
            ("the original request is to another device", bytes(wanted[1]) != bytes(device.eui)),
            (f"not from {device.eui}", bytes(header.originator) != bytes(device.eui)),
            (f"not to {user_id}", bytes(header.recipient) != bytes(user_id)),
            (
                f"counter {header.originator_counter}, not {wanted[2]}",
                header.originator_counter != wanted[2],
            ),
        )
        if bad
    ]
    if problems:
        raise Refusal(
            "LOCAL_RESPONSE_MISMATCH",
            f"8.13: the response does not answer {original}: " + "; ".join(problems),
        )
    return message


def _validate_schedule(dcc: Dcc, result: Result, device: InventoryDevice | None) -> None:
    request = result.request
    inner = dcc.catalogue.get(str(_param(result, "variant")))
    if inner is None:
        raise Refusal(
            "UNKNOWN_VARIANT", f"cannot schedule unknown variant {request.params['variant']!r}"
        )
    reference = request.params.get("service_reference")
    if reference is not None and str(reference) != inner.reference:
        raise Refusal(
            "INVALID_PARAMETERS",
            f"scheduled variant {inner.variant} is not of service reference {reference}",
        )
    body_variant = request.params.get("body_variant")
    if body_variant is not None and body_variant != inner.variant:
        # DUIS: the scheduled body (its `DSPSchedule` choice) names a service too.
        raise Refusal(
            "INVALID_PARAMETERS",
            f"the scheduled body is for {body_variant}, the schedule names {inner.variant}",
        )
    if not schedulable(inner):
        raise Refusal("SCHEDULE_NOT_ALLOWED", f"{inner.variant} {inner.name} cannot be scheduled")
    if device is None:
        raise Refusal("TARGET_REQUIRED", "5.1 needs the device the schedule reads")
    try:
        first = parse_time(request.params.get("start", request.received_at))
        parse_interval(request.params.get("every", "1d"))
        end = parse_end_date(request.params.get("end"))
    except ValueError as exc:
        raise Refusal("INVALID_PARAMETERS", str(exc)) from None
    if first <= request.received_at:
        raise Refusal(
            "EXECUTION_TIME_NOT_IN_FUTURE", "a schedule's first run must be after receipt"
        )
    if end is not None and end < first.astimezone(_dt.UTC).date():
        raise Refusal("INVALID_PARAMETERS", f"schedule end date {end} is before its first run")
    decision = check(inner, request.role, dcc._subject(request, device), catalogue=dcc.catalogue)
    if not decision.eligible:
        raise Refusal(decision.reason, f"scheduling {inner.variant}: {decision.detail}")
    inner_params = dict(request.params.get("params") or {})
    if "ka_certificate" in inner_params:
        if inner.variant not in URP_VARIANTS:
            raise Refusal(
                "INVALID_PARAMETERS",
                f"{inner.variant} {inner.name} takes no KAPublicSecurityCredential",
            )
        # Refused now rather than at every run: the scheduled command must be one the
        # ACB may send for the user, and the certificate must name the user.
        dcc.check_urp_credentials(
            ServiceRequest(
                request.request_id,
                inner.variant,
                request.user,
                request.role,
                device.eui,
                inner_params,
                Category.SCHEDULED,
                first,
            ),
            device,
        )


def handle(
    dcc: Dcc, result: Result, service: ServiceVariant, device: InventoryDevice | None
) -> Any:
    request = result.request
    variant = service.variant
    user_id = request.user.ids[request.role]
    if variant == "8.2":
        mpxn = request.params.get("mpxn")
        if mpxn is not None:
            devices = dcc.inventory.by_mpxn(str(mpxn))
        elif device is not None:
            devices = dcc.inventory.associated(device.eui)
        else:
            devices = list(dcc.inventory)
        return dcc.inventory.records(d for d in devices if d.kind != DeviceKind.TYPE2)
    if variant == "12.1":
        return _wan_matrix(dcc, str(request.params.get("postcode", "")))
    if variant == "12.2":
        added = dcc.inventory.pre_notify(
            _eui_param(result, "device"),
            DeviceKind.parse(str(request.params["device_type"])),
            by=user_id,
            hub=request.params.get("hub"),
            details=_notified_details(request.params),
        )
        return added.record()
    assert device is not None or variant in ("5.1",)
    if variant in ("8.14.1", "8.14.2"):
        assert device is not None
        dcc.inventory.hub_installed(
            device.eui, wan=variant == "8.14.1", report=request.params.get("hub_report")
        )
        return dcc.inventory.records(d for d in dcc.inventory.on_hub(device.eui) if d.kind.hub)
    if variant in ("8.14.3", "8.14.4"):
        assert device is not None
        dcc.inventory.hub_returned(
            device.eui, fault=variant == "8.14.3", report=request.params.get("hub_report")
        )
        return dcc.inventory.records(d for d in dcc.inventory.on_hub(device.eui) if d.kind.hub)
    if variant == "8.3":
        assert device is not None
        changed = dcc.inventory.decommission(device.eui)
        if device.kind == DeviceKind.CHF:
            reg = dcc.registration_for(device)
            for supplier in sorted(reg.suppliers() if reg else set()):
                found = dcc.users.by_id(supplier)
                if found is not None and found[0] is not request.user:
                    dcc.notifications.append(
                        (found[0].name, request.request_id, f"CHF {device.eui} decommissioned")
                    )
        return [str(d.eui) for d in changed]
    if variant == "8.4" and request.params.get("delete"):
        assert device is not None
        return dcc.inventory.delete(device.eui).record()
    if variant == "8.4" and mpxns_of(request.params):
        assert device is not None  # UpdateMPxN: the meter's metering point changes
        dcc.inventory.set_mpxns(device.eui, mpxns_of(request.params))
        return device.record()
    if variant == "8.4":
        assert device is not None
        dcc.inventory.update_status(device.eui, SmiStatus.parse(str(request.params["status"])))
        return device.record()
    if variant in FIRMWARE_VARIANTS:
        assert device is not None
        return _update_firmware(dcc, result, device)
    if variant == "5.1":
        assert device is not None
        return dcc.create_schedule(result, device).as_dict()
    if variant == "8.13":
        assert device is not None
        message = _local_response(result, device)
        result.response = bytes(request.params["response"])
        return {
            "original_request_id": str(request.params["original_request_id"]),
            "message_code": message.message_code,
        }
    if variant == "8.6":
        assert device is not None
        return _opt_in(dcc, result, device)
    if variant == "5.2":
        return [s.as_dict() for s in _schedules_named(dcc, result, device)]
    if variant == "5.3":
        deleted = []
        for schedule in _schedules_named(dcc, result, device):
            dcc.schedules.pop(schedule.schedule_id).cancel()
            deleted.append(schedule.schedule_id)
        return {"deleted": deleted}
    raise InventoryError("NOT_IMPLEMENTED", f"{variant} {service.name} is not implemented")


def _opt_in_at(result: Result) -> _dt.datetime:
    """8.6's OptInDate (an xs:date: from the start of that UTC day), or now if none."""
    value = result.request.params.get("opt_in_date")
    if value is None:
        return result.request.received_at
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
    try:
        day = value if isinstance(value, _dt.date) else _dt.date.fromisoformat(str(value))
    except ValueError:
        raise Refusal("INVALID_PARAMETERS", f"8.6: OptInDate {value!r} is not a date") from None
    return _dt.datetime.combine(day, _dt.time(), tzinfo=_dt.UTC)


def _opt_in(dcc: Dcc, result: Result, device: InventoryDevice) -> dict[str, Any]:
    """8.6 Service Opt In: the DCC gives the requester its security credentials (the
    Access Control Broker's certificates the devices hold), and a withdrawn device
    returns to its status before the withdrawal from the OptInDate (now if that day
    has begun on the lab clock). A device that is not withdrawn keeps its status."""
    when = _opt_in_at(result)
    restored: str | None = None
    mpxns = mpxns_of(result.request.params)
    if device.status == SmiStatus.WITHDRAWN:
        if when <= dcc.clock.now():
            restored = _restore(dcc, device.eui, result.request_id, mpxns)
        else:
            dcc.opt_in_later(
                result.request_id,
                when,
                lambda: _restore(dcc, device.eui, result.request_id, mpxns),
            )
            log.info("%s: %s opts in at %s", result.request_id, device.eui, when.isoformat())
    signing: bytes | None = None
    with contextlib.suppress(KeyNotFoundError):
        # optional in DSPOptIn: the ACB's key agreement certificate is what devices hold
        signing = _der(dcc, KeyUsage.DIGITAL_SIGNATURE)
    return {
        "device": str(device.eui),
        "key_agreement": _der(dcc, KeyUsage.KEY_AGREEMENT),
        "digital_signing": signing,
        "opt_in": when.isoformat(),
        "restored": restored,
    }


def _der(dcc: Dcc, usage: KeyUsage) -> bytes:
    return dcc.keystore.certificate(dcc.acb, usage).public_bytes(serialization.Encoding.DER)


def _restore(dcc: Dcc, eui: Eui64, request_id: str, mpxns: Mapping[str, str]) -> str | None:
    """Opt the device back in (if it is still withdrawn) and log it; the metering points
    the opt-in names go on its record then (a meter back on DCC services is found by
    them again). A device that is not withdrawn changes nothing, MPxNs included."""
    back = dcc.inventory.opt_in(eui, "8.6 service opt in")
    if back is not None:
        log.info("%s: %s opted in by 8.6 Service Opt In: %s again", request_id, eui, back)
        if mpxns and not dcc.inventory.set_mpxns(eui, mpxns):
            log.info("%s: %s is not a meter; its MPxNs %s are not kept", request_id, eui, mpxns)
    return None if back is None else back.value


def _schedules_named(dcc: Dcc, result: Result, device: InventoryDevice | None) -> list[Schedule]:
    """5.2 / 5.3: the schedule the request names, else the user's schedules on the device."""
    request = result.request
    wanted = request.params.get("schedule_id")
    return [
        s
        for s in dcc.schedules.values()
        if s.owner is request.user
        and (
            s.schedule_id == str(wanted)
            if wanted is not None
            else device is not None and s.target == device.eui
        )
    ]


def _normal_postcode(text: str) -> str:
    return "".join(text.split()).upper()


def _wan_matrix(dcc: Dcc, postcode: str) -> dict[str, Any]:
    """Coverage at a postcode: the lab's premises there, else not known."""
    wanted = _normal_postcode(postcode)
    for reg in dcc.registrations.values():
        if wanted and _normal_postcode(reg.postcode) == wanted:
            return {
                "postcode": postcode,
                "CSPRegion": reg.csp_region,
                "WANCoverage": reg.wan_coverage,
            }
    return {"postcode": postcode, "CSPRegion": None, "WANCoverage": "NotKnown"}


OTA_MAGIC = ota.FILE_IDENTIFIER.to_bytes(4, "little")
#: 11.1 Update Firmware (CHF, meters) and 11.4 Update PPMID Firmware: one handler,
#: the eligibility table keeps each to its device types.
FIRMWARE_VARIANTS = ("11.1", "11.4")


#: The GBCS use case that carries the image to the hub, by target device type.
DISTRIBUTION_USE_CASES = {DeviceKind.CHF: "CS05a", DeviceKind.PPMID: "CS05c"}


def _update_firmware(dcc: Dcc, result: Result, device: InventoryDevice) -> dict[str, Any]:
    """11.1/11.4: record the image and hand it to the device's hub (CS05a for the
    hub itself, CS05b for a meter by 11.1, CS05c for a PPMID by 11.4).

    An OTA Upgrade Image (it starts with the OTA file identifier) is decoded: its
    manufacturer image hash and file version are what the device will be asked to
    activate, and the device holds the file itself to check before activating.
    Any other bytes are taken as a bare manufacturer image.
    """
    params = result.request.params
    variant = result.request.variant
    version = str(params.get("version", "00000002"))
    ota_file: bytes | None = None
    if "image" in params:
        try:
            image = bytes.fromhex(str(params["image"]))
        except ValueError:
            raise Refusal("INVALID_PARAMETERS", f"{variant} image must be hexadecimal") from None
        if not image:
            raise Refusal("INVALID_PARAMETERS", f"{variant} image is empty")
        digest = hashlib.sha256(image).digest()
        if image.startswith(OTA_MAGIC):
            try:
                decoded = ota.decode_image(image, signed=ota.signed_for(device.kind.value))
            except GbcsDecodeError as exc:
                raise Refusal("INVALID_PARAMETERS", f"{variant} OTA image: {exc}") from None
            digest, version, ota_file = (
                decoded.manufacturer_image_hash,
                decoded.header.version_hex,
                image,
            )
            if dcc.cpl is not None and not dcc.cpl.lists(device.model, digest):
                # DUIS lists such a device as NotApplicableFirmware: nothing is sent
                raise Refusal(
                    "FIRMWARE_NOT_ON_CPL",
                    f"{variant}: manufacturer image hash {digest.hex().upper()} is not on"
                    f" the CPL for model {device.model!r}",
                )
    else:
        try:
            digest = bytes.fromhex(str(params["image_hash"]))
        except ValueError:
            raise Refusal(
                "INVALID_PARAMETERS", f"{variant} image_hash must be hexadecimal"
            ) from None
        if len(digest) != 32:
            raise Refusal("INVALID_PARAMETERS", f"{variant} image_hash must be 32 bytes (SHA-256)")
    dcc.firmware[digest] = version
    delivered = []
    if dcc.firmware_delivery is not None:
        dcc.firmware_delivery(device.eui, digest, version, ota_file)
        delivered.append(str(device.eui))
    return {
        "image_hash": digest.hex(),
        "version": version,
        "delivered_to": delivered,
        "use_case": DISTRIBUTION_USE_CASES.get(device.kind, "CS05b"),
    }


__all__ = ["Schedule", "handle", "validate"]
