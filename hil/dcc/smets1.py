"""The SMETS1 service provider (S1SP): service requests to vendor commands and back.

SMETS1 devices do not speak GBCS. For a request to a SMETS1 device the DCC
(`Dcc.submit`, after its role, category and eligibility checks) hands over to
`Smets1ServiceProvider.handle`, which:

1. refuses a variant the device model's profile does not support
   (`NOT_AVAILABLE_FOR_SMETS1`, SEC H3.10A: unavailable "for a particular SMETS1
   Device Model"), and PPMID firmware from anyone but the electricity supplier
   (`ROLE_NOT_ELIGIBLE`);
2. translates the request (`TRANSLATIONS`) into one vendor protocol command
   (`emulator.devices.smets1.protocol`): money from pence or millipence into the
   model's units by its rounding rule (`emulator.devices.smets1.money`), PPMID
   firmware into the hub's firmware regime;
3. sends it to the premises' SMETS1 hub in a `VENDOR` envelope on the lab's
   link and turns the reply into the service response: `COMPLETED`/`I0` with
   named values (times converted from the device's time base to UTC), or
   `FAILED` with `DEVICE_REJECTED` (the device refused: mode, state, limit) or
   `DEVICE_FAILURE` (it tried and failed); the vendor code is the value
   `Vendor response code` either way.

Response times: the SMETS1 column of the catalogue (16 s on-demand, 24 h where
the catalogue says, 5 days for 11.3 Activate Firmware). SEC H3.14's start
points do not apply to SMETS1 (H3.15); the S1SP's clock starts when the DCC
receives the service request (on-demand: there is no pre-command to sign), at
the execution time (future-dated) or at the predecessor's response
(sequenced), and the whole interval counts, the device's own delay included.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hashlib
import itertools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.devices.smets1.money import to_meter_units
from emulator.devices.smets1.profile import Behaviour, Smets1Profile
from emulator.devices.smets1.protocol import (
    VendorCommand,
    VendorProtocolError,
    VendorReply,
    decode_reply,
)
from emulator.errors import EmulatorError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.values import NamedValue
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link, open_link
from hil.dcc.catalogue import Role, ServiceVariant
from hil.dcc.inventory import DeviceKind, InventoryDevice, InventoryError
from hil.dcc.requests import SUCCESS, Refusal, RequestStatus, Result
from hil.dcc.timing import Category, StartPoint

if TYPE_CHECKING:
    from hil.dcc.service import Dcc

log = logging.getLogger(__name__)

#: The S1SP's own address on the link (a test EUI-64 of the DCC's range).
S1SP_EUI = Eui64("90-B3-D5-1F-30-FF-00-51")


@dataclass(frozen=True, slots=True)
class Call:
    """One vendor command: to which device (the hub for the firmware regime) and what."""

    device: Eui64
    cmd: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Request:
    """What a translation sees: the request, its target and the target's model."""

    result: Result
    device: InventoryDevice
    hub: Eui64
    profile: Smets1Profile

    @property
    def params(self) -> dict[str, Any]:
        return self.result.request.params

    def call(self, cmd: str, **args: Any) -> Call:
        return Call(self.device.eui, cmd, args)

    def units(self, millipence: int, what: str) -> int:
        """Interface millipence to the meter's units, by the model's rounding rule."""
        units, lost = to_meter_units(
            millipence, self.profile.money_resolution_mp, self.profile.rounding
        )
        if lost:
            self.result.timeline.append(
                (self.result.request.received_at, f"{what}: {lost} millipence lost to rounding")
            )
        return units


def _int_param(req: Request, name: str, *, default: int | None = None) -> int:
    value = req.params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refusal("INVALID_PARAMETERS", f"{req.result.variant} needs {name} (an integer)")
    return value


def _top_up(req: Request) -> Call:
    pence = _int_param(req, "amount_pence")
    return req.call("top_up", units=req.units(pence * 1000, "top-up"))


def _payment_mode(req: Request) -> Call:
    option = req.result.request.option
    if option not in (None, "prepayment", "credit"):
        raise Refusal("INVALID_PARAMETERS", "1.6 option: prepayment or credit (the default)")
    return req.call("set_payment_mode", mode=option or "credit")


def _prepay_config(req: Request) -> Call:
    config: dict[str, Any] = {}
    for name in ("ec_limit_millipence", "ec_threshold_millipence"):
        if name in req.params:
            key = name.replace("millipence", "units")
            config[key] = req.units(_int_param(req, name), name)
    for name in ("debt_recovery_order", "disablement_not_allowed", "non_disablement"):
        if name in req.params:
            config[name] = req.params[name]
    if not config:
        known = "ec_limit_millipence, ec_threshold_millipence, debt_recovery_order, "
        raise Refusal(
            "INVALID_PARAMETERS",
            f"2.1 needs one of {known}disablement_not_allowed, non_disablement",
        )
    return req.call("set_prepay_config", config=config)


def _debt(req: Request) -> Call:
    return req.call(
        "set_debt",
        units=req.units(_int_param(req, "debt_millipence"), "debt"),
        recovery_units_per_day=req.units(
            _int_param(req, "recovery_millipence_per_day", default=0), "recovery rate"
        ),
    )


def _image(req: Request) -> tuple[str, str]:
    """11.1's image: its SHA-256 and version (a bare image or a hash, as for SMETS2+)."""
    params = req.params
    version = str(params.get("version", "00000002"))
    if "image" in params:
        try:
            image = bytes.fromhex(str(params["image"]))
        except ValueError:
            raise Refusal("INVALID_PARAMETERS", "11.1 image must be hexadecimal") from None
        if not image:
            raise Refusal("INVALID_PARAMETERS", "11.1 image is empty")
        return hashlib.sha256(image).hexdigest(), version
    text = str(params.get("image_hash", ""))
    try:
        if len(bytes.fromhex(text)) != 32:
            raise ValueError
    except ValueError:
        raise Refusal(
            "INVALID_PARAMETERS", "11.1 needs image (hex) or image_hash (SHA-256)"
        ) from None
    return text.lower(), version


def _update_firmware(req: Request) -> Call:
    image_hash, version = _image(req)
    if req.device.kind == DeviceKind.PPMID and req.profile.has(Behaviour.PPMID_FIRMWARE_VIA_HUB):
        return Call(req.hub, "hub_load_firmware", {
            "image_hash": image_hash, "version": version, "for_device": req.device.eui.compact,
        })  # fmt: skip
    return req.call("load_firmware", image_hash=image_hash, version=version)


def _activate_firmware(req: Request) -> Call:
    text = str(req.params.get("image_hash", "")).lower()
    if len(text) != 64:
        raise Refusal("INVALID_PARAMETERS", "11.3 needs image_hash (SHA-256, hex)")
    return req.call("activate_firmware", image_hash=text)


def _plain(cmd: str, **args: Any) -> Callable[[Request], Call]:
    return lambda req: req.call(cmd, **args)


# -- replies into values ---------------------------------------------------------------------


def _gbp(reply: VendorReply, key: str) -> float:
    units = int(reply.data.get(key, 0))
    resolution = int(reply.data.get("resolution_mp", 1000))
    return round(units * resolution / 100_000, 5)


def _balance_values(reply: VendorReply) -> list[NamedValue]:
    return [
        NamedValue("Meter balance", _gbp(reply, "balance_units"), "GBP", "S1:balance_units"),
        NamedValue("Debt", _gbp(reply, "debt_units"), "GBP", "S1:debt_units"),
        NamedValue("Emergency credit in use", bool(reply.data.get("ec_active")), "", "S1:ec"),
    ]


def _no_values(reply: VendorReply) -> list[NamedValue]:
    return []


def _data_value(name: str, key: str, unit: str = "") -> Callable[[VendorReply], list[NamedValue]]:
    return lambda reply: [NamedValue(name, reply.data.get(key), unit, f"S1:{key}")]


@dataclass(frozen=True, slots=True)
class Translation:
    build: Callable[[Request], Call]
    values: Callable[[VendorReply], list[NamedValue]] = _no_values


#: Service reference variant -> vendor command and response values. A profile may
#: only list variants that are here (hil.dcc.smets1_profiles checks it).
TRANSLATIONS: dict[str, Translation] = {
    "1.6": Translation(_payment_mode, _data_value("Payment mode", "mode")),
    "2.1": Translation(_prepay_config, _data_value("Scripts today", "scripts_today")),
    "2.2": Translation(_top_up, _balance_values),
    "2.3": Translation(_debt, _balance_values),
    "2.5": Translation(_plain("activate_ec"), _balance_values),
    "4.1.1": Translation(
        _plain("read_registers"), _data_value("Active import energy", "import_wh", "Wh")
    ),
    "4.18": Translation(_plain("read_balance"), _balance_values),
    "6.2.9": Translation(_plain("read_payment_mode"), _data_value("Payment mode", "mode")),
    "6.11": Translation(_plain("read_time")),
    "7.1": Translation(
        _plain("set_supply", enabled=True), _data_value("Supply enabled", "enabled")
    ),
    "7.2": Translation(
        _plain("set_supply", enabled=False), _data_value("Supply enabled", "enabled")
    ),
    "7.4": Translation(_plain("read_supply"), _data_value("Supply enabled", "enabled")),
    "8.1.1": Translation(_plain("read_config")),
    "11.1": Translation(_update_firmware),
    "11.2": Translation(_plain("read_firmware"), _data_value("Firmware version", "version")),
    "11.3": Translation(_activate_firmware, _data_value("Firmware version", "version")),
}


def device_time(local: str, dst: bool, profile: Smets1Profile) -> _dt.datetime:
    """A device's wall-clock time (naive, its own base, DST flag) as UTC.

    The flag settles the hour that occurs twice when the clocks go back.
    """
    naive = _dt.datetime.fromisoformat(local)
    aware = naive.replace(tzinfo=profile.timezone, fold=0 if dst else 1)
    return aware.astimezone(_dt.UTC)


def pre_enrolment_problems(config: dict[str, Any], profile: Smets1Profile) -> list[str]:
    """What stops a SMETS1 meter's enrolment (DOMAIN.md): recovery order, disablement flag."""
    problems = []
    order = [str(v) for v in config.get("debt_recovery_order", [])]
    if order != list(profile.required_debt_recovery_order):
        want = ", ".join(profile.required_debt_recovery_order)
        problems.append(f"debt recovery types are in the order {', '.join(order)}, not {want}")
    if config.get("disablement_not_allowed") is not False:
        problems.append("'disablement of supply not allowed' is not set to false")
    return problems


class Smets1ServiceProvider:
    """The DCC's SMETS1 service provider for a lab: one link, every SMETS1 premises."""

    def __init__(self, dcc: Dcc, link_url: str) -> None:
        self.dcc = dcc
        self.link_url = link_url
        self.link: Link | None = None
        self.profiles: dict[bytes, Smets1Profile] = {}  # device EUI -> its model
        self.hubs: dict[bytes, Eui64] = {}  # device EUI -> its SMETS1 hub
        #: Replies the S1SP could not use (undecodable, unmatched, NACKs), by reason.
        self.drops: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[VendorReply]] = {}
        self._task: asyncio.Task[None] | None = None
        self._timers: list[Any] = []
        #: Called with ("command" | "response", device, JSON bytes) for each vendor message.
        self._listeners: list[Callable[[str, Eui64, bytes], None]] = []

    def add_listener(self, listener: Callable[[str, Eui64, bytes], None]) -> None:
        self._listeners.append(listener)

    def _tell(self, kind: str, device: Eui64, raw: bytes) -> None:
        for listener in self._listeners:
            listener(kind, device, raw)

    def add_premises(self, hub: Eui64, devices: list[Eui64], profile: Smets1Profile) -> None:
        for eui in [hub, *devices]:
            self.profiles[bytes(eui)] = profile
            self.hubs[bytes(eui)] = hub

    async def start(self) -> None:
        self.link = open_link(self.link_url, local=[S1SP_EUI])
        await self.link.open()
        self._task = asyncio.create_task(self._receive(), name="s1sp")

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.link is not None:
            await self.link.close()

    # -- from the DCC ------------------------------------------------------------------------
    def takes(self, service: ServiceVariant, device: InventoryDevice | None) -> bool:
        """Whether the S1SP answers this request: a device request to a SMETS1 device."""
        if device is None or not device.smets1 or service.role_only:
            return False
        return not service.non_device or service.variant == "11.1"

    def handle(self, result: Result, service: ServiceVariant, device: InventoryDevice) -> None:
        """Refuse (raises `Refusal`) or acknowledge and start the vendor exchange."""
        request = result.request
        profile = self.profiles.get(bytes(device.eui))
        if profile is None:
            raise Refusal("NO_COMMAND_ROUTE", f"{device.eui} is on no SMETS1 premises of the lab")
        if not profile.supports(request.variant):
            raise Refusal(
                "NOT_AVAILABLE_FOR_SMETS1",
                f"{request.variant} {service.name} is not available for the {profile.model}",
            )
        if (
            request.variant == "11.1"
            and device.kind == DeviceKind.PPMID
            and profile.has(Behaviour.PPMID_FIRMWARE_VIA_HUB)
            and request.role != Role.IMPORT_SUPPLIER
        ):
            raise Refusal(
                "ROLE_NOT_ELIGIBLE",
                f"SMETS1 PPMID firmware ({profile.model}) is for the electricity supplier only",
            )
        translation = TRANSLATIONS.get(request.variant)
        if translation is None:  # a profile lists only translated variants; kept for safety
            raise Refusal("NO_COMMAND_ROUTE", f"{request.variant}: no SMETS1 translation")
        req = Request(result, device, self.hubs[bytes(device.eui)], profile)
        call = translation.build(req)
        result.use_case = f"SMETS1 {call.cmd}"
        self.dcc._acknowledge(result)
        timing = result.timing
        if request.category == Category.FUTURE_DATED and request.execute_at is not None:
            if timing is not None:
                timing.start = None
                timing.start_point = StartPoint.EXECUTION_TIME
            self._timers.append(
                self.dcc.clock.call_at(
                    request.execute_at, lambda: self._go(req, call, translation, timing_start=True)
                )
            )
            return
        if request.category == Category.SEQUENCED:
            if timing is not None:
                timing.start = None
                timing.start_point = StartPoint.PREDECESSOR_RESPONSE
            self.dcc._spawn(self._after_predecessor(req, call, translation), sending=True)
            return
        self._go(req, call, translation)

    def _go(
        self, req: Request, call: Call, translation: Translation, *, timing_start: bool = False
    ) -> None:
        timing = req.result.timing
        if timing_start and timing is not None:
            timing.start = self.dcc.elapsed()
        self.dcc._spawn(self._exchange(req, call, translation), sending=True)

    async def _after_predecessor(self, req: Request, call: Call, translation: Translation) -> None:
        predecessor = self.dcc.results[str(req.result.request.depends_on)]
        await predecessor.wait()
        if not predecessor.ok:
            self.dcc._complete(
                req.result, RequestStatus.CANCELLED, "PREDECESSOR_FAILED",
                f"{predecessor.request_id} ended {predecessor.status}",
            )  # fmt: skip
            self.dcc._notify(req.result, "cancelled: the request it follows did not succeed")
            return
        if req.result.timing is not None:
            req.result.timing.start = predecessor.completed_at or self.dcc.elapsed()
        await self._exchange(req, call, translation)

    # -- the vendor exchange ---------------------------------------------------------------------
    async def _exchange(self, req: Request, call: Call, translation: Translation) -> None:
        result = req.result
        if result.done:  # cancelled while held (decommissioned, suspended): nothing is sent
            return
        command = VendorCommand(next(self._ids), call.device.compact, call.cmd, call.args)
        result.command = command.encode()
        self._tell("command", call.device, result.command)
        result.timeline.append((self.dcc.clock.now(), f"vendor command sent: {call.cmd}"))
        try:
            reply = await self._send(req.hub, command)
        except TimeoutError:
            self.dcc._complete(
                result, RequestStatus.FAILED, "NO_RESPONSE", "the SMETS1 hub did not answer"
            )
            return
        except (EmulatorError, VendorProtocolError) as exc:
            self.dcc._complete(
                result, RequestStatus.FAILED, "LINK_ERROR", f"{type(exc).__name__}: {exc}"
            )
            return
        result.response = reply.encode()
        self._tell("response", call.device, result.response)
        result.data = {"vendor": {"code": reply.code, "status": reply.status, "text": reply.text}}
        result.timeline.append(
            (
                self.dcc.clock.now(),
                f"vendor reply: {reply.status} {reply.code} after {reply.delay_s:g} s",
            )
        )
        values = [NamedValue("Vendor response code", reply.code, "", "S1:code")]
        if reply.local_time:
            utc = device_time(reply.local_time, reply.dst, req.profile)
            values.append(
                NamedValue("Meter time", utc.isoformat(), "", "S1:local_time", reply.local_time)
            )
        values.append(NamedValue("Execution delay", reply.delay_s, "s", "S1:delay_s"))
        if not reply.ok:
            result.values = values
            reason = "DEVICE_REJECTED" if reply.status == "rejected" else "DEVICE_FAILURE"
            self.dcc._complete(result, RequestStatus.FAILED, reason, f"{reply.code}: {reply.text}")
            return
        result.values = [*translation.values(reply), *values]
        if not self._after_success(req, call, reply):
            return
        self.dcc._complete(result, RequestStatus.COMPLETED, SUCCESS)

    def _after_success(self, req: Request, call: Call, reply: VendorReply) -> bool:
        """Effects beyond the device: firmware known to the DCC, enrolment (8.1.1)."""
        request = req.result.request
        if request.variant == "11.1":
            image_hash, version = str(call.args["image_hash"]), str(call.args["version"])
            self.dcc.firmware[bytes.fromhex(image_hash)] = version
            req.result.data = {**req.result.data, "image_hash": image_hash, "version": version}
        if request.variant == "8.1.1":
            problems = pre_enrolment_problems(reply.data, req.profile)
            if problems and req.profile.has(Behaviour.PRE_ENROLMENT_CHECKS):
                self.dcc._complete(
                    req.result,
                    RequestStatus.FAILED,
                    "PRE_ENROLMENT_CHECK_FAILED",
                    "; ".join(problems),
                )
                return False
            try:
                self.dcc.inventory.commission(req.device.eui)
            except InventoryError as exc:
                self.dcc._complete(req.result, RequestStatus.FAILED, exc.code, str(exc))
                return False
        return True

    async def _send(self, hub: Eui64, command: VendorCommand) -> VendorReply:
        assert self.link is not None
        future: asyncio.Future[VendorReply] = asyncio.get_running_loop().create_future()
        self._waiting[command.id] = future
        try:
            await self.link.send(
                Envelope(S1SP_EUI, hub, EnvelopeKind.VENDOR, command.encode(), command.id)
            )
            return await asyncio.wait_for(future, self.dcc.response_timeout)
        finally:
            self._waiting.pop(command.id, None)

    async def _receive(self) -> None:
        assert self.link is not None
        while True:
            try:
                env = await self.link.recv()
            except EmulatorError:
                return
            if env.kind == EnvelopeKind.NACK:
                self._drop("nack", env.payload.decode("utf-8", "replace"))
                future = self._waiting.get(env.sequence)
                if future is not None and not future.done():
                    future.set_exception(
                        VendorProtocolError("nack", env.payload.decode("utf-8", "replace"))
                    )
                continue
            if env.kind != EnvelopeKind.VENDOR:
                self._drop("not a vendor message", env.kind.name)
                continue
            try:
                reply = decode_reply(env.payload)
            except VendorProtocolError as exc:
                self._drop("undecodable", str(exc))
                continue
            future = self._waiting.get(reply.id)
            if future is None or future.done():
                self._drop("unmatched reply", f"id {reply.id}")
                continue
            future.set_result(reply)

    def _drop(self, reason: str, detail: str) -> None:
        self.drops[reason] += 1
        log.warning("S1SP: dropped (%s): %s", reason, detail)
