"""The DCC in front of the devices: service requests in, GBCS commands out.

`Dcc.submit` takes a request and either refuses it (one reason code, nothing
reaches a device) or acknowledges it; `Dcc.request` also signs a critical
request's pre-command as the user and waits for the response. In order:

1. the user holds the role it claims (`USER_NOT_IN_ROLE`);
2. the category is valid: a future-dated execution time is later than receipt
   and at most 30 days ahead (`EXECUTION_TIME_NOT_IN_FUTURE`,
   `EXECUTION_TIME_TOO_FAR`, SEC H3.12); a service the schedule offers
   future-dated only (8.5) is not asked for on demand (`CATEGORY_NOT_AVAILABLE`);
   a sequenced request names a known request (`UNKNOWN_PREDECESSOR`) and is not
   scheduled;
3. eligibility (`hil.dcc.eligibility`), from the inventory and registration data
   (`DEVICE_NOT_IN_INVENTORY` when the target is unknown);
4. non-device requests are answered here (`hil.dcc.nondevice`);
5. device requests need a GBCS route for the target's type (`NO_COMMAND_ROUTE`)
   and an originator the use case accepts (`ORIGINATOR_NOT_ACCEPTED`); the
   command is built (`INVALID_PARAMETERS`), then held until its execution time
   or its predecessor's success;
6. a critical command goes back to the user as a pre-command; only a signed
   pre-command that verifies against the user's certificate and is otherwise
   identical to the pre-command goes on (`SIGNATURE_INVALID`,
   `PRECOMMAND_MISMATCH`); the DCC (as Access Control Broker) adds the MAC;
7. the hub delivers it; the device's response completes the request
   (`DEVICE_NOT_ADMITTED`, `DEVICE_REJECTED`, `NO_RESPONSE` otherwise).

Alerts from the hubs are matched to the request they answer (future-dated
outcomes, "command not supported": the alert comes from the command's device and
names its counter) or recorded for the suppliers of the device; alerts that do
not decode are dropped, counted in `Dcc.drops` and logged. Decommissioning,
suspending or withdrawing a device cancels its future-dated and scheduled requests
whose command has not gone out (H3.20); a successful Restrict Access for Change of
Tenancy cancels Other Users' ones (H3.18).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from emulator.clock import Clock, stopwatch
from emulator.devices.usecases import USE_CASES
from emulator.errors import EmulatorError, GbcsError
from emulator.gbcs import builder
from emulator.gbcs.alert_body import NamedCommand, named_command
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, OtherInformation, decode_message
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.security import MessageSecurity
from emulator.hub import (
    CommandNotSupported,
    CommandRejected,
    Hub,
    NotAdmitted,
    ResponseTimeout,
)
from emulator.pki.keystore import KeyStore, KeyUsage
from emulator.pki.testpki import eui_from_certificate
from emulator.tasks import cancel_and_wait
from hil.dcc import nondevice
from hil.dcc.backups import LogBackups
from hil.dcc.catalogue import SUPPLIER_ROLES, Catalogue, Role, ServiceVariant, load_catalogue
from hil.dcc.commands import BuildContext, BuildError, build_command
from hil.dcc.cpl import Cpl
from hil.dcc.eligibility import PARTNER_VARIANTS, Subject, check
from hil.dcc.inventory import (
    MPXN_PARAMS,
    NOT_ON_HAN,
    DeviceKind,
    Inventory,
    InventoryDevice,
    InventoryError,
    SmiStatus,
    StatusChange,
    mpxns_of,
)
from hil.dcc.outcome import summarise
from hil.dcc.registration import PremisesRegistration
from hil.dcc.requests import (
    ACKNOWLEDGED,
    SUCCESS,
    Refusal,
    RequestStatus,
    Result,
    ServiceRequest,
)
from hil.dcc.routes import Route, routes_for
from hil.dcc.schedules import Schedule, parse_end_date, parse_interval, parse_time
from hil.dcc.timing import Category, ResponseTiming, StartPoint, TimingReport, target_for
from hil.dcc.users import User, UserRegistry
from hil.dcc.values import response_values

if TYPE_CHECKING:
    from hil.dcc.smets1 import Smets1ServiceProvider

MAX_FUTURE = _dt.timedelta(days=30)
#: Services the schedule offers future-dated only (on demand "N/A", SEC consultation
#: Table 5.1): 8.5 Service Opt Out. Others the notes name so (1.2, 3.4, 6.6, 6.7,
#: 6.17, 11.1) are not checked: the harness and the RTDS send them on demand.
FUTURE_DATED_ONLY = frozenset({"8.5"})
#: Join and unjoin use cases of method B, the one a Type 2 device pairs by.
METHOD_B_USE_CASES = frozenset({"CS03B", "CS04B"})

log = logging.getLogger(__name__)

#: The trust-anchor role a user's commands arrive as, by user role. Export
#: suppliers, agents and Other Users have no cell: the ACB authenticates them.
ANCHOR_ROLE: dict[Role, str] = {
    Role.IMPORT_SUPPLIER: "supplier",
    Role.GAS_SUPPLIER: "supplier",
    Role.EXPORT_SUPPLIER: "other",
    Role.ELECTRICITY_DISTRIBUTOR: "network_operator",
    Role.GAS_TRANSPORTER: "network_operator",
    Role.REGISTERED_SUPPLIER_AGENT: "other",
    Role.OTHER_USER: "other",
    Role.LOAD_CONTROLLER: "load_controller",  # a lab role (catalogue.LAB_ROLES)
}


class _InventoryKinds(Mapping[bytes, str]):
    """Device kinds by EUI, read from the inventory when asked: a dict built for each
    command made a lab of 1,000 premises quadratic (bench/join.py)."""

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    def __getitem__(self, eui: bytes) -> str:
        device = self._inventory.get(eui) if len(eui) == 8 else None
        if device is None:
            raise KeyError(eui)
        return device.kind.value

    def __iter__(self) -> Iterator[bytes]:
        return (bytes(d.eui) for d in self._inventory)

    def __len__(self) -> int:
        return len(self._inventory)


@dataclass(frozen=True, slots=True)
class _Sent:
    """A command as an alert can name it: its request, the device it went to, its code."""

    request_id: str
    device: bytes
    message_code: int


@dataclass
class DeviceAlert:
    """An alert delivered to users, with its delivery time (60 s target, H3.14(g))."""

    device: Eui64
    message_code: int
    received: _dt.datetime
    delivery_s: float
    users: list[str]
    request_id: str | None = None
    raw: bytes = field(default=b"", repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "message_code": f"0x{self.message_code:04X}",
            "use_case": lookup(self.message_code).use_case,
            "received": self.received.isoformat(),
            "delivery_s": round(self.delivery_s, 6),
            "users": self.users,
            "request_id": self.request_id,
            "values": [v.as_dict() for v in response_values(None, None, self.raw)]
            if self.raw
            else [],
        }


class Dcc:
    """One DCC for a lab: users, inventory, registration, hubs and the rules between."""

    def __init__(
        self,
        *,
        clock: Clock,
        users: UserRegistry,
        inventory: Inventory,
        registrations: Mapping[bytes, PremisesRegistration],
        hubs: Mapping[bytes, Hub],
        keystore: KeyStore,
        acb: Eui64 | str,
        catalogue: Catalogue | None = None,
        ca_certificate: x509.Certificate | None = None,
        dcc_parties: Mapping[str, Eui64] | None = None,
    ) -> None:
        self.clock = clock
        self.ca_certificate = ca_certificate
        #: The suppliers' top-up counters per device, kept across requests (UTRNs); a lab
        #: with a device under test keeps that device's across runs (`KeptUtrnCounters`).
        self.utrn_counters: MutableMapping[bytes, int] = {}
        #: Install codes the installers read off the devices (CCS01's default).
        self.install_codes: dict[bytes, bytes] = {}
        self.users = users
        self.inventory = inventory
        self.registrations = dict(registrations)
        self.hubs = dict(hubs)
        self.keystore = keystore
        self.acb = Eui64(acb)
        self.catalogue = catalogue or load_catalogue()
        self.security = MessageSecurity(keystore, self.acb)
        #: The DCC's own remote parties by trust-anchor role (acb, transitional_cos,
        #: wan_provider, recovery): use cases they originate are signed by the DCC.
        self.dcc_parties: dict[str, Eui64] = {"acb": self.acb, **(dcc_parties or {})}
        self.elapsed = stopwatch(clock)
        self.results: dict[str, Result] = {}
        self.timings = TimingReport()
        self.alerts: list[DeviceAlert] = []
        self.notifications: list[tuple[str, str, str]] = []  # (user, request_id, text)
        self.schedules: dict[str, Schedule] = {}
        #: DSP schedule IDs are DUIS `scheduleID`s: non-negative integers.
        self._schedule_ids = itertools.count(1)
        #: Called with each schedule run as it starts (the DUIS server POSTs its answer).
        self.run_listeners: list[Callable[[Schedule, Result], None]] = []
        #: Schedules that ran their last run (their end date) and left `schedules`, by
        #: ID: a later 5.2 / 5.3 naming one is about its device (SCHEDULE_NOT_FOUND).
        self.ended_schedules: dict[str, Schedule] = {}
        self.firmware: dict[bytes, str] = {}  # image hash -> version (11.1)
        #: The CPL an OTA image's hash must be on for the target's model (None: no check).
        self.cpl: Cpl | None = None
        #: Hub logs from the last CS14 / GCS62 alerts: what 8.12.1 / 8.12.2 restore.
        self.backups = LogBackups()
        self._restored: dict[str, list[Eui64]] = {}  # request id -> devices 8.12.1 restores
        self.firmware_delivery: Callable[[Eui64, bytes, str, bytes | None], None] | None = None
        #: How long to wait for a device's response (real seconds) before failing with
        #: NO_RESPONSE; a sleepy meter's wake-up wait counts (real-clock labs).
        self.response_timeout = 30.0
        #: The SMETS1 service provider (hil.dcc.smets1): requests to SMETS1 devices go there.
        self.smets1: Smets1ServiceProvider | None = None
        self._sequence = itertools.count(1)
        self._counters: dict[bytes, int] = {}
        #: Added to every originator counter (`next_counter`). A lab with a device under
        #: test sets it from the wall clock: the board remembers counters across runs,
        #: and a fresh lab's virtual clock starts at the same time every run.
        self.counter_offset = 0
        self._reserved: dict[bytes, set[int]] = {}
        self._by_counter: dict[tuple[bytes, int], _Sent] = {}
        #: Alerts from the hubs the DCC could not use, by reason: "undecodable" (the
        #: message or its alert body does not decode), "not_an_alert" (a response or
        #: command on the alert path). Each is also logged.
        self.drops: Counter[str] = Counter()
        self._timers: dict[str, Any] = {}  # request_id -> clock timer of a held request
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sending: set[asyncio.Task[Any]] = set()
        self._alert_tasks: list[asyncio.Task[None]] = []
        inventory.add_listener(self._on_status_change)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        for hub in self.hubs.values():
            self._alert_tasks.append(asyncio.create_task(self._alert_loop(hub)))

    async def stop(self) -> None:
        # Cancelled again until they end, within a bound: a send that lost its
        # cancellation (3.11's wait_for) must not hold the lab's shutdown.
        await cancel_and_wait([*self._alert_tasks, *self._tasks])
        self._alert_tasks.clear()
        self._tasks.clear()

    async def __aenter__(self) -> Dcc:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any, *, sending: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if sending:
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait (at most `timeout` s) until every command on its way has its answer."""
        deadline = asyncio.get_running_loop().time() + timeout
        for _ in range(3):
            await asyncio.sleep(0)
        while self._sending:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.wait(set(self._sending), timeout=left)
            for _ in range(3):
                await asyncio.sleep(0)

    # -- the API -----------------------------------------------------------------------------
    async def request(
        self,
        variant: str,
        *,
        as_user: User | str,
        target: Eui64 | str | InventoryDevice | None = None,
        role: Role | str | None = None,
        params: Mapping[str, Any] | None = None,
        execute_at: _dt.datetime | None = None,
        depends_on: str | Result | None = None,
        option: str | None = None,
        label: str = "",
        timeout: float | None = 60.0,
        wait: bool = True,
    ) -> Result:
        """Submit, sign a critical pre-command as the user, and (by default) wait."""
        result = self.submit(
            variant,
            as_user=as_user,
            target=target,
            role=role,
            params=params,
            execute_at=execute_at,
            depends_on=depends_on,
            option=option,
            label=label,
        )
        if result.status == RequestStatus.AWAITING_SIGNATURE and result.precommand is not None:
            self.signed_precommand(result.request_id, self.sign_as_user(result))
        if wait and result.request.category in (Category.ON_DEMAND, Category.SEQUENCED):
            await result.wait(timeout)
        return result

    def submit(
        self,
        variant: str,
        *,
        as_user: User | str,
        target: Eui64 | str | InventoryDevice | None = None,
        role: Role | str | None = None,
        params: Mapping[str, Any] | None = None,
        execute_at: _dt.datetime | None = None,
        depends_on: str | Result | None = None,
        option: str | None = None,
        label: str = "",
        scheduled: Schedule | None = None,
    ) -> Result:
        """Receive a service request: refuse it, or acknowledge it and start processing.

        `scheduled` is set by the DCC itself for each run of a 5.1 schedule.
        """
        user = as_user if isinstance(as_user, User) else self.users[as_user]
        device = self.inventory.get(target.eui) if isinstance(target, InventoryDevice) else None
        target_eui = (
            target.eui
            if isinstance(target, InventoryDevice)
            else (None if target is None else Eui64(target))
        )
        if target_eui is None and variant.strip() in ("5.2", "5.3"):  # a schedule knows its device
            named = str((params or {}).get("schedule_id"))
            schedule = self.schedules.get(named) or self.ended_schedules.get(named)
            target_eui = schedule.target if schedule is not None else None
        if device is None and target_eui is not None:
            device = self.inventory.get(target_eui)
        chosen = self._choose_role(user, variant, device, role)
        predecessor = depends_on.request_id if isinstance(depends_on, Result) else depends_on
        category = (
            Category.SCHEDULED
            if scheduled is not None
            else Category.SEQUENCED
            if predecessor
            else Category.FUTURE_DATED
            if execute_at is not None
            else Category.ON_DEMAND
        )
        user_id = user.ids.get(chosen) or next(iter(user.ids.values()))
        request_id = f"{user_id}:{target_eui or self.acb}:{next(self._sequence)}"
        request = ServiceRequest(
            request_id,
            variant.strip(),
            user,
            chosen,
            target_eui,
            dict(params or {}),
            category,
            self.clock.now(),
            execute_at,
            predecessor,
            option,
            label,
        )
        result = Result(request)
        self.results[request_id] = result
        result.timeline.append((request.received_at, "service request received"))
        service = self.catalogue.get(request.variant)
        result.timing = ResponseTiming(
            request_id,
            request.variant,
            category,
            bool(device and device.smets1),
            _seconds(target_for(service, category, smets1=bool(device and device.smets1)))
            if service
            else None,
            received=self.elapsed(),
        )
        if scheduled is not None and result.timing is not None:
            result.timing.start_point = StartPoint.EXECUTION_TIME
        try:
            self._validate(result, service, device)
            assert service is not None
            if self.smets1 is not None and self.smets1.takes(service, device):
                assert device is not None
                self.smets1.handle(result, service, device)
            elif (
                service.non_device or service.role_only or service.variant in nondevice.DCC_ANSWERED
            ):
                nondevice.validate(self, result, service, device)
                self._acknowledge(result)
                self._run_non_device(result, service, device)
            else:
                assert device is not None
                if self._commission_in_smi(result, device):
                    return result
                self._prepare_device_request(result, service, device)
        except Refusal as refusal:
            result.finish(RequestStatus.REFUSED, refusal.code, refusal.detail)
            result.timeline.append((self.clock.now(), f"refused: {refusal.code}"))
            result.timing = None
        return result

    def signed_precommand(self, request_id: str, signed: bytes) -> Result:
        """The user's signed pre-command: check it, MAC it, send it (or hold it)."""
        received = self.elapsed()
        result = self.results[request_id]
        if result.status != RequestStatus.AWAITING_SIGNATURE or result.precommand is None:
            raise ValueError(f"{request_id} is not waiting for a signed pre-command")
        result.timeline.append((self.clock.now(), "signed pre-command received"))
        try:
            message = self._check_signed(result, signed)
        except Refusal as refusal:
            result.finish(RequestStatus.FAILED, refusal.code, refusal.detail)
            result.timeline.append(
                (self.clock.now(), f"signed pre-command refused: {refusal.code}")
            )
            return result
        protected = self.security.protect(message, sign=False, mac=True)
        result.status = RequestStatus.ACKNOWLEDGED
        timing = result.timing
        if timing is not None and result.request.category == Category.ON_DEMAND:
            timing.start_point = StartPoint.SIGNED_PRECOMMAND_RECEIVED
            timing.start = received
        self._dispatch(result, protected)
        return result

    def sign_as_user(self, result: Result) -> bytes:
        """What the user's system does with a pre-command: sign it with the user's key."""
        if result.precommand is None:
            raise ValueError(f"{result.request_id} has no pre-command")
        user_security = MessageSecurity(self.keystore, self.acb)
        return user_security.protect(result.precommand, sign=True, mac=False).encode()

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait until every acknowledged on-demand or sequenced request has finished."""
        pending = [
            r
            for r in self.results.values()
            if not r.done and r.request.category in (Category.ON_DEMAND, Category.SEQUENCED)
        ]
        for r in pending:
            with contextlib.suppress(TimeoutError):
                await r.wait(timeout)

    # -- checks ---------------------------------------------------------------------------------
    def _choose_role(
        self, user: User, variant: str, device: InventoryDevice | None, role: Role | str | None
    ) -> Role:
        if role is not None:
            return Role.parse(role) if isinstance(role, str) else role
        if len(user.roles) == 1:
            return next(iter(user.roles))
        service = self.catalogue.get(variant.strip())
        eligible = [r for r in user.roles if service is None or r in service.roles] or list(
            user.roles
        )
        fuel = device.kind.fuel if device is not None else None
        preferred: tuple[Role, ...] = {
            "gas": (Role.GAS_SUPPLIER, Role.GAS_TRANSPORTER),
            "electricity": (Role.IMPORT_SUPPLIER, Role.ELECTRICITY_DISTRIBUTOR),
        }.get(fuel or "", (Role.IMPORT_SUPPLIER,))
        ordered: list[Role] = [*preferred, *sorted(eligible)]
        return next(r for r in ordered if r in eligible)

    def _validate(
        self, result: Result, service: ServiceVariant | None, device: InventoryDevice | None
    ) -> None:
        request = result.request
        if request.role not in request.user.roles:
            raise Refusal(
                "USER_NOT_IN_ROLE", f"{request.user.name} is not a DCC user as {request.role}"
            )
        now = request.received_at
        if request.execute_at is not None:
            if request.execute_at.tzinfo is None:
                raise Refusal("INVALID_PARAMETERS", "execution time needs a UTC offset")
            if request.execute_at <= now:
                raise Refusal(
                    "EXECUTION_TIME_NOT_IN_FUTURE",
                    f"execution time {request.execute_at.isoformat()} is not after receipt",
                )
            if request.execute_at > now + MAX_FUTURE:
                raise Refusal(
                    "EXECUTION_TIME_TOO_FAR",
                    f"execution time {request.execute_at.isoformat()} is more than 30 days ahead",
                )
        if request.variant in FUTURE_DATED_ONLY and request.execute_at is None:
            raise Refusal(
                "CATEGORY_NOT_AVAILABLE",
                f"{request.variant} is future-dated only: it needs an execution time",
            )
        if request.depends_on is not None and request.depends_on not in self.results:
            raise Refusal("UNKNOWN_PREDECESSOR", f"no request {request.depends_on} to follow")
        known_target = request.target is None or device is not None
        if service is not None and not service.role_only and not known_target:
            raise Refusal("DEVICE_NOT_IN_INVENTORY", f"{request.target} is not on the inventory")
        decision = check(
            service or request.variant,
            request.role,
            None if device is None else self._subject(request, device),
            catalogue=self.catalogue,
        )
        if not decision.eligible:
            raise Refusal(decision.reason, decision.detail)

    def registration_for(self, device: InventoryDevice) -> PremisesRegistration | None:
        hub = device.eui if device.kind == DeviceKind.CHF else device.hub
        return None if hub is None else self.registrations.get(bytes(hub))

    def _subject(self, request: ServiceRequest, device: InventoryDevice) -> Subject:
        reg = self.registration_for(device)
        role, user_id = request.role, request.user.ids[request.role]
        kind = device.kind
        partner_id = request.params.get("device") or request.params.get("partner")
        if request.variant in PARTNER_VARIANTS and partner_id is not None:
            with contextlib.suppress(ValueError):
                partner = self.inventory.get(Eui64(partner_id))
                kind = partner.kind if partner is not None else kind
        added_by_user = device.added_by is not None and bytes(device.added_by) == bytes(user_id)
        if reg is None:  # a pre-notified device not yet on a hub: still its adder's
            return Subject(
                kind, device.status, device.smets1, registered=False, added_by_user=added_by_user
            )
        return Subject(
            kind=kind,
            status=device.status,
            smets1=device.smets1,
            registered=reg.registered(
                role,
                user_id,
                device.kind,
                variant=request.variant,
                today=request.received_at.date(),
            ),
            responsible_supplier=role in SUPPLIER_ROLES
            and reg.responsible_supplier(user_id, device.kind),
            supplier_on_hub=reg.supplier_on_hub(user_id),
            lead_supplier=(lead := reg.lead()) is not None and bytes(lead) == bytes(user_id),
            added_by_user=added_by_user,
        )

    # -- non-device requests ------------------------------------------------------------------
    def _acknowledge(self, result: Result) -> None:
        result.status = RequestStatus.ACKNOWLEDGED
        result.reason = ACKNOWLEDGED
        result.timeline.append((self.clock.now(), "acknowledged"))
        timing = result.timing
        if timing is not None and timing.start is None:
            timing.start = timing.received

    def _run_non_device(
        self, result: Result, service: ServiceVariant, device: InventoryDevice | None
    ) -> None:
        try:
            result.data = nondevice.handle(self, result, service, device)
        except InventoryError as exc:
            self._complete(result, RequestStatus.FAILED, exc.code, str(exc))
            return
        except Refusal as refusal:
            self._complete(result, RequestStatus.FAILED, refusal.code, refusal.detail)
            return
        self._complete(result, RequestStatus.COMPLETED, SUCCESS)

    # -- device requests ------------------------------------------------------------------------
    def _commission_in_smi(self, result: Result, device: InventoryDevice) -> bool:
        """8.1.1 for a device no GBCS command commissions (GPF, PPMID, HCALCS): the DCC
        checks the SEC rules (H5.2, H5.3) and records it on the SMI. A Type 2 device
        is never commissioned. True when handled here."""
        if result.request.variant != "8.1.1" or routes_for("8.1.1", device.kind.value):
            return False
        if device.kind.type2:
            raise Refusal(
                "DEVICE_TYPE_NOT_APPLICABLE", f"{device.eui}: Type 2 devices are not commissioned"
            )
        try:
            self.inventory.commission(device.eui)
        except InventoryError as exc:
            raise Refusal(exc.code, str(exc)) from None
        self._acknowledge(result)
        self._complete(result, RequestStatus.COMPLETED, SUCCESS)
        return True

    def _route(self, result: Result, device: InventoryDevice) -> tuple[Route, Eui64]:
        """The GBCS route and the device the command goes to (a GSME's may be its GPF)."""
        request = result.request
        candidates: list[tuple[Route, Eui64]] = []
        for r in routes_for(request.variant, device.kind.value):
            if request.option is None or r.option == request.option:
                candidates.append((r, device.eui))
        if device.kind == DeviceKind.GSME and device.hub is not None:
            gpf = next(
                (d for d in self.inventory.on_hub(device.hub) if d.kind == DeviceKind.GPF), None
            )
            if gpf is not None:
                for r in routes_for(request.variant, DeviceKind.GPF.value):
                    if request.option is None or r.option == request.option:
                        candidates.insert(0, (r, gpf.eui))  # the GPF answers without a wake-up
        if not candidates:
            raise Refusal(
                "NO_COMMAND_ROUTE",
                f"{request.variant} has no GBCS use case for a {device.kind}"
                + (f" with option {request.option!r}" if request.option else "")
                + " in this emulator",
            )
        if request.option is None:  # prefer use cases that accept this role's commands
            usable = [c for c in candidates if self._accepts(c[0], request.role)]
            candidates = usable or candidates
            method_b = [c for c in candidates if c[0].use_case in METHOD_B_USE_CASES]
            if method_b and self._partner_is_type2(request):
                return method_b[0]  # a Type 2 device joins and unjoins by method B
        default = [c for c in candidates if c[0].option is None]
        if not default and request.option is None and len({c[0].option for c in candidates}) > 1:
            options = ", ".join(sorted({str(c[0].option) for c in candidates}))
            raise Refusal("INVALID_PARAMETERS", f"{request.variant} needs an option: {options}")
        return (default or candidates)[0]

    def _partner_is_type2(self, request: ServiceRequest) -> bool:
        partner = request.params.get("partner")
        with contextlib.suppress(ValueError):
            found = self.inventory.get(Eui64(partner)) if partner is not None else None
            return found is not None and found.kind.type2
        return False

    def _check_partner_logged(self, request: ServiceRequest) -> None:
        """A join needs both devices on the HAN: a partner the SMI still holds as
        pending was never added to the CHF Device Log (8.11 makes it whitelisted),
        so it cannot be paired; nor can a decommissioned or withdrawn one."""
        partner = request.params.get("partner")
        if request.variant not in ("8.7.1", "8.7.2") or partner is None:
            return
        try:
            found = self.inventory.get(Eui64(partner))
        except ValueError:
            return  # the command builder names the bad parameter
        if found is None:
            raise Refusal("DEVICE_NOT_IN_INVENTORY", f"join partner {partner} is not on the SMI")
        if found.status in NOT_ON_HAN:
            raise Refusal(
                "PARTNER_NOT_IN_DEVICE_LOG",
                f"join partner {found.eui} is {found.status}: not in the CHF Device Log",
            )

    def _accepts(self, route: Route, role: Role) -> bool:
        if route.originator in self.dcc_parties:
            return True
        use_case = USE_CASES.get(route.message_code)
        if use_case is None:
            return True
        return ANCHOR_ROLE[role] in use_case.originators or "acb" in use_case.originators

    def _originator(
        self, result: Result, route: Route, device: InventoryDevice
    ) -> tuple[Eui64, Eui64 | None]:
        """Who the command comes from, and for whom when the DCC sends it on a user's behalf.

        A user without a trust-anchor cell (Export Supplier, agent, Other User) cannot
        be the grouping originator: the device could not MAC a response to it. The
        ACB sends the command and names the user as supplementary remote party, with
        the user's key-agreement certificate for any sensitive data (GBCS; RTDS
        GCS15d and the GCS16b "unknown remote party" messages).
        """
        request = result.request
        user_id = request.user.ids[request.role]
        if route.originator in self.dcc_parties:
            return self.dcc_parties[route.originator], None  # the DCC sends (and signs) these
        use_case = USE_CASES.get(route.message_code)
        anchor = ANCHOR_ROLE[request.role]
        by_acb = use_case is not None and "acb" in use_case.originators
        if by_acb and anchor == "supplier" and self._outgoing_supplier(request, device):
            # The outgoing supplier on the day of a change of supplier (4.6.x, 4.14):
            # the device's supplier cell names the new one now, so the ACB sends for
            # it as an unknown remote party (GBCS; RTDS GCS16b URP).
            return self.acb, user_id
        if "ka_certificate" in request.params:
            # DUIS "URP credentials": the user asks to be the unknown remote party the
            # device encrypts for, with the certificate it sends.
            if not by_acb:
                raise Refusal(
                    "INVALID_PARAMETERS",
                    f"{route.use_case} takes no unknown remote party credentials",
                )
            return self.acb, user_id
        if anchor == "other" and (use_case is None or "other" in use_case.originators):
            return self.acb, user_id
        if use_case is None or anchor in use_case.originators:
            return user_id, None
        if "acb" in use_case.originators:
            return self.acb, None  # hub and DCC-originated use cases
        raise Refusal(
            "ORIGINATOR_NOT_ACCEPTED",
            f"{route.use_case} is not accepted from a {request.role} ({anchor})",
        )

    def _outgoing_supplier(self, request: ServiceRequest, device: InventoryDevice) -> bool:
        """A supplier eligible only as the outgoing one (not registered for the device)."""
        reg = self.registration_for(device)
        user_id = request.user.ids[request.role]
        return reg is not None and not reg.registered(request.role, user_id, device.kind)

    def _default_params(
        self, route: Route, request: ServiceRequest, device: InventoryDevice
    ) -> dict[str, Any]:
        """Parameters the DCC knows better than the user: whose credentials a
        credential update installs when the request does not say (the registered
        network operator of the device's system, or the requesting supplier)."""
        params = dict(request.params)
        if route.use_case in ("CCS03", "GCS59"):
            return self._restore_params(route, request, device, params)
        if "party" in params or not route.use_case.startswith(("CS02b", "CS02g")):
            return params
        reg = self.registration_for(device)
        if "NOByNO" in route.use_case and reg is not None:
            gas = device.kind.fuel == "gas"
            operator = reg.gas_transporter if gas else reg.electricity_distributor
            if operator is not None:
                params["party"] = str(operator)
        elif "Supplier" in route.use_case and request.role in SUPPLIER_ROLES:
            params["party"] = str(request.user.ids[request.role])
        return params

    def _check_mpxn(
        self, request: ServiceRequest, device: InventoryDevice, params: dict[str, Any]
    ) -> None:
        """Take the metering points out of the command's parameters: no GBCS command
        carries them (8.11 records them on success, `_after_success`). 6.23 names the
        meter's import MPxN for the DCC's registration check (the gaining supplier is
        registered for it): a change of supplier does not change it, so it is checked
        against the meter's record, never written; a record without one is not checked."""
        given = mpxns_of(params)
        for name in MPXN_PARAMS:
            params.pop(name, None)
        known = device.mpxns.get("ImportMPxN")
        named = given.get("ImportMPxN")
        if request.variant == "6.23" and named is not None and known not in (None, named):
            raise Refusal(
                "MPXN_MISMATCH",
                f"6.23: ImportMPxN {named} is not {device.eui}'s ({known})",
            )

    def _restore_params(
        self, route: Route, request: ServiceRequest, device: InventoryDevice, params: dict[str, Any]
    ) -> dict[str, Any]:
        """8.12.x without `entries`: the log of the DCC's backup (the last CS14 or GCS62)
        of the hub function `restore_from` names (a replaced hub), or of the target."""
        source = params.pop("restore_from", None)
        try:
            key = bytes(Eui64(source)) if source is not None else bytes(device.eui)
        except ValueError:
            raise Refusal(
                "INVALID_PARAMETERS", f"restore_from: not an EUI-64: {source!r}"
            ) from None
        if "entries" not in params:
            backup = (
                self.backups.chf.get(key)
                if route.use_case == "CCS03"
                else self.backups.gpf.get(key)
            )
            if backup is None and source is not None:
                raise Refusal("NO_LOG_BACKUP", f"no {route.use_case} log backup of {Eui64(key)}")
            if backup is not None:
                params["entries"] = [(str(eui), value) for eui, value in backup]
        if route.use_case == "CCS03" and "entries" in params:
            self._restored[request.request_id] = [Eui64(e[0]) for e in params["entries"]]
        return params

    def next_counter(self, originator: Eui64, at: _dt.datetime | None = None) -> int:
        """Originator counters rise with time (ms) and never repeat.

        A command held for a future execution time is numbered from that time, not
        from now: devices accept only counters above the last they saw, and the
        commands sent before the execution time must not overtake it. Such numbers
        are kept apart until the command is sent (`_sent_counter`).
        """
        key = bytes(originator)
        if at is None:
            now_ms = int(self.clock.now().timestamp() * 1000) + self.counter_offset
            value = max(self._counters.get(key, 0) + 1, now_ms)
            self._counters[key] = value
            return value
        value = int(at.timestamp() * 1000) + self.counter_offset
        reserved = self._reserved.setdefault(key, set())
        while value in reserved:
            value += 1
        reserved.add(value)
        return value

    def _sent_counter(self, originator: Eui64, counter: int) -> None:
        key = bytes(originator)
        self._counters[key] = max(self._counters.get(key, 0), counter)
        self._reserved.get(key, set()).discard(counter)

    def _prepare_device_request(
        self, result: Result, service: ServiceVariant, device: InventoryDevice
    ) -> None:
        request = result.request
        route, recipient = self._route(result, device)
        originator, on_behalf = self._originator(result, route, device)
        if request.variant == "8.1.1":
            try:
                self.inventory.check_commission(device.eui)
            except InventoryError as exc:
                raise Refusal(exc.code, str(exc)) from None
        self._check_partner_logged(request)
        counter = self.next_counter(originator, request.execute_at)
        context = BuildContext(
            now=request.execute_at or self.clock.now(),
            keystore=self.keystore,
            device_types=_InventoryKinds(self.inventory),
            ca_certificate=self.ca_certificate,
            utrn_counters=self.utrn_counters,
            install_codes=self.install_codes,
        )
        params = self._default_params(route, request, device)
        urp_certificate = params.pop("ka_certificate", None)
        self._check_mpxn(request, device, params)
        try:
            built = build_command(route, counter, originator, recipient, params, context)
        except BuildError as exc:
            raise Refusal("INVALID_PARAMETERS", str(exc)) from None
        result.use_case = route.use_case
        other = None
        if on_behalf is not None:
            der = (
                _urp_certificate(urp_certificate, on_behalf)
                if urp_certificate is not None
                else self.keystore.certificate(on_behalf, KeyUsage.KEY_AGREEMENT).public_bytes(
                    serialization.Encoding.DER
                )
            )
            other = OtherInformation(
                built.message_code,
                on_behalf,
                self.next_counter(on_behalf, request.execute_at),
                None,
                der,
            )
        message = builder.command(
            built.message_code, counter, originator, recipient, built.body, other=other
        )
        self._by_counter[(bytes(originator), counter)] = _Sent(
            request.request_id, bytes(recipient), built.message_code
        )
        self._acknowledge(result)
        timing = result.timing
        if timing is not None:
            timing.start = None  # set at the start point below
        if built.critical and originator in self.dcc_parties.values():
            protected = builder.protect(message, self.security, critical=True)
            if timing is not None and request.category in (Category.ON_DEMAND, Category.SCHEDULED):
                timing.start = timing.received
            self._dispatch(result, protected)
            return
        if built.critical:
            result.precommand = builder.precommand(message)
            result.status = RequestStatus.AWAITING_SIGNATURE
            result.timeline.append((self.clock.now(), "pre-command returned to the user"))
            if timing is not None:
                timing.precommand = self.elapsed() - timing.received
            return
        protected = builder.protect(message, self.security, critical=False)
        if timing is not None and request.category in (Category.ON_DEMAND, Category.SCHEDULED):
            timing.start = timing.received
        self._dispatch(result, protected)

    def _check_signed(self, result: Result, signed: bytes) -> GbcsMessage:
        assert result.precommand is not None
        try:
            message = decode_message(signed)
        except GbcsError as exc:
            raise Refusal(
                "PRECOMMAND_MISMATCH", f"signed pre-command does not decode: {exc}"
            ) from None
        if message.without_protection().encode() != result.precommand.encode():
            raise Refusal(
                "PRECOMMAND_MISMATCH",
                "the signed pre-command differs from the pre-command (header or payload changed)",
            )
        if not message.is_signed:
            raise Refusal("SIGNATURE_INVALID", "the pre-command came back unsigned")
        try:
            self.security.verify_signature(message, result.request.user.ids[result.request.role])
        except EmulatorError as exc:
            raise Refusal("SIGNATURE_INVALID", f"signature does not verify: {exc}") from None
        return message

    def _dispatch(self, result: Result, command: GbcsMessage) -> None:
        """Send now, at the execution time, or after the predecessor, as the category says."""
        request = result.request
        encoded = command.encode()
        if request.depends_on is not None:
            self._spawn(self._after_predecessor(result, encoded))
        elif request.execute_at is not None:
            self._hold_until(result, request.execute_at, encoded)
        else:
            self._spawn(self._send(result, encoded), sending=True)

    def _hold_until(self, result: Result, when: _dt.datetime, encoded: bytes) -> None:
        result.timeline.append((self.clock.now(), f"held until {when.isoformat()}"))

        def fire() -> None:
            self._timers.pop(result.request_id, None)
            if result.done:
                return
            timing = result.timing
            if timing is not None:
                timing.start_point = StartPoint.EXECUTION_TIME
                timing.start = self.elapsed()
            self._spawn(self._send(result, encoded), sending=True)

        self._timers[result.request_id] = self.clock.call_at(when, fire)

    async def _after_predecessor(self, result: Result, encoded: bytes) -> None:
        predecessor = self.results[result.request.depends_on or ""]
        await predecessor._done.wait()
        if not predecessor.ok:
            self._complete(
                result,
                RequestStatus.CANCELLED,
                "PREDECESSOR_FAILED",
                f"{predecessor.request_id} ended {predecessor.status} ({predecessor.reason})",
            )
            self._notify(result, "cancelled: the request it follows did not succeed")
            return
        timing = result.timing
        if result.request.execute_at is not None and result.request.execute_at > self.clock.now():
            self._hold_until(result, result.request.execute_at, encoded)
            return
        if timing is not None:
            timing.start_point = StartPoint.PREDECESSOR_RESPONSE
            timing.start = predecessor.completed_at or self.elapsed()
        await self._send(result, encoded)

    async def _send(self, result: Result, encoded: bytes) -> None:
        request = result.request
        message = decode_message(encoded)
        self._sent_counter(message.originator, message.counter)
        party = message.header.other.supplementary_remote_party_id
        party_counter = message.header.other.supplementary_remote_party_counter
        if party is not None and party_counter is not None:
            self._sent_counter(party, party_counter)
        hub = self._hub_for(message.recipient)
        result.command = encoded
        result.timeline.append((self.clock.now(), f"command sent ({result.use_case})"))
        if hub is None:
            self._complete(result, RequestStatus.FAILED, "NO_RESPONSE", "no hub serves the device")
            return
        try:
            raw = await hub.send(encoded, timeout=self.response_timeout)
        except NotAdmitted as exc:
            self._complete(result, RequestStatus.FAILED, "DEVICE_NOT_ADMITTED", str(exc))
            return
        except CommandNotSupported as exc:
            self._complete(result, RequestStatus.FAILED, "COMMAND_NOT_SUPPORTED", exc.reason)
            return
        except CommandRejected as exc:
            self._complete(result, RequestStatus.FAILED, "DEVICE_REJECTED", exc.reason)
            return
        except ResponseTimeout as exc:
            self._complete(result, RequestStatus.FAILED, "NO_RESPONSE", str(exc))
            return
        except EmulatorError as exc:  # the HAN link dropped, the hub stopped, ...
            self._complete(
                result, RequestStatus.FAILED, "LINK_ERROR", f"{type(exc).__name__}: {exc}"
            )
            return
        finally:
            han = hub.han_seconds.pop((bytes(message.originator), message.counter), 0.0)
            if result.timing is not None:
                result.timing.han += han
        result.response = raw
        response = decode_message(raw)
        result.outcome = summarise(response)
        result.values = response_values(self.security, result.command, raw)
        result.timeline.append((self.clock.now(), f"response: {result.outcome.summary}"))
        if result.outcome.ok:
            self._after_success(request)
            self._complete(result, RequestStatus.COMPLETED, SUCCESS)
        else:
            self._complete(result, RequestStatus.FAILED, "DEVICE_FAILURE", result.outcome.summary)

    def _hub_for(self, eui: Eui64) -> Hub | None:
        hub = self.hubs.get(bytes(eui))
        if hub is not None:
            return hub
        device = self.inventory.get(eui)
        if device is not None and device.hub is not None:
            return self.hubs.get(bytes(device.hub))
        return next(iter(self.hubs.values()), None) if len(self.hubs) == 1 else None

    def _after_success(self, request: ServiceRequest) -> None:
        """What a completed service changes in the inventory (docs/dcc.md)."""
        partner = request.params.get("device") or request.params.get("partner")
        target = request.target
        with contextlib.suppress(InventoryError, ValueError):
            if request.variant == "8.11" and partner is not None and target is not None:
                if request.option in (None, "add"):
                    self.inventory.whitelisted(Eui64(partner), target)
                    self._record_mpxns(request, Eui64(partner))
                else:
                    self.inventory.removed_from_log(Eui64(partner), target)
            elif request.variant == "8.12.1" and target is not None:
                restored = self._restored.pop(request.request_id, None)
                if restored is not None:
                    self.inventory.log_restored(target, restored)
            elif request.variant in ("8.7.1", "8.7.2") and partner is not None and target:
                self.inventory.joined(Eui64(partner), target)
            elif request.variant in ("8.8.1", "8.8.2") and partner is not None and target:
                self.inventory.unjoined(Eui64(partner), target)
            elif request.variant == "8.1.1" and target is not None:
                self.inventory.commission(target)
            elif request.variant == "3.2" and target is not None:
                self._change_of_tenancy(target)
            elif request.variant == "8.5" and target is not None:
                before = self.inventory.withdraw(target, "8.5 service opt out")
                log.info(
                    "%s: %s withdrawn by 8.5 Service Opt Out (was %s)",
                    request.request_id,
                    target,
                    before,
                )

    def _record_mpxns(self, request: ServiceRequest, eui: Eui64) -> None:
        """8.11 add: the metering points given for the device added go on its record (a
        meter's; for another device they are logged, not kept)."""
        mpxns = mpxns_of(request.params)
        if mpxns and not self.inventory.set_mpxns(eui, mpxns):
            log.info(
                "%s: %s is not a meter; its MPxNs %s are not kept",
                request.request_id,
                eui,
                mpxns,
            )

    def _complete(
        self, result: Result, status: RequestStatus, reason: str, detail: str = ""
    ) -> None:
        if result.done:
            return
        result.completed_at = self.elapsed()
        timing = result.timing
        if timing is not None:
            if timing.start is None and status == RequestStatus.COMPLETED:
                timing.start = timing.received
            timing.stop = result.completed_at if timing.start is not None else None
            if (
                status in (RequestStatus.COMPLETED, RequestStatus.FAILED)
                and timing.start is not None
            ):
                self.timings.add(timing)
        result.finish(status, reason, detail)
        result.timeline.append((self.clock.now(), f"{status}: {reason}"))

    # -- cancellations ---------------------------------------------------------------------------
    def _notify(self, result: Result, text: str) -> None:
        self.notifications.append((result.request.user.name, result.request_id, text))

    def _cancel_held(self, predicate: Callable[[ServiceRequest], bool], code: str, why: str) -> int:
        cancelled = 0
        for result in list(self.results.values()):
            if result.done or result.command is not None:
                continue
            if result.request.category not in (Category.FUTURE_DATED, Category.SCHEDULED):
                continue
            if not predicate(result.request):
                continue
            timer = self._timers.pop(result.request_id, None)
            if timer is not None:
                timer.cancel()
            self._complete(result, RequestStatus.CANCELLED, code, why)
            self._notify(result, f"cancelled: {why}")
            cancelled += 1
        for schedule in list(self.schedules.values()):
            if predicate(schedule.as_request()):
                schedule.cancel()
                self.schedules.pop(schedule.schedule_id, None)
                self.notifications.append(
                    (schedule.owner.name, schedule.schedule_id, f"cancelled: {why}")
                )
                cancelled += 1
        return cancelled

    def _on_status_change(self, change: StatusChange) -> None:
        codes = {
            SmiStatus.DECOMMISSIONED: "DEVICE_DECOMMISSIONED",
            SmiStatus.SUSPENDED: "DEVICE_SUSPENDED",
            SmiStatus.WITHDRAWN: "DEVICE_WITHDRAWN",
        }
        code = codes.get(change.new)
        if code is None:
            return
        device = bytes(change.device)
        self._cancel_held(
            lambda r: r.target is not None and bytes(r.target) == device,
            code,
            f"{change.device} is {change.new} (SEC H3.20)",
        )

    def _change_of_tenancy(self, target: Eui64) -> None:
        device = self.inventory.get(target)
        hub = (
            None
            if device is None
            else (device.eui if device.kind == DeviceKind.CHF else device.hub)
        )
        on_hub = (
            {bytes(d.eui) for d in self.inventory.on_hub(hub)}
            if hub is not None
            else {bytes(target)}
        )
        self._cancel_held(
            lambda r: (
                r.role == Role.OTHER_USER and r.target is not None and bytes(r.target) in on_hub
            ),
            "CHANGE_OF_TENANCY",
            "the premises changed tenancy (SEC H3.18)",
        )

    # -- schedules (5.1-5.3) --------------------------------------------------------------------
    def opt_in_later(self, request_id: str, when: _dt.datetime, action: Callable[[], Any]) -> None:
        """8.6 with a future OptInDate: run `action` then, on the lab clock."""

        def fire() -> None:
            self._timers.pop(f"{request_id}:opt-in", None)
            action()

        self._timers[f"{request_id}:opt-in"] = self.clock.call_at(when, fire)

    def create_schedule(self, result: Result, device: InventoryDevice) -> Schedule:
        request = result.request
        params = request.params
        schedule = Schedule(
            schedule_id=str(next(self._schedule_ids)),
            owner=request.user,
            role=request.role,
            variant=str(params["variant"]),
            target=device.eui,
            params=dict(params.get("params") or {}),
            first=parse_time(params.get("start", request.received_at)),
            every=parse_interval(params.get("every", "1d")),
            created_by=request.request_id,
            end=parse_end_date(params.get("end")),
        )
        self.schedules[schedule.schedule_id] = schedule
        self._arm(schedule, schedule.first)
        return schedule

    def check_urp_credentials(self, request: ServiceRequest, device: InventoryDevice) -> None:
        """A request carrying the user's key agreement certificate (`ka_certificate`):
        refused unless its command is one the ACB may send for the user and the
        certificate names the user, as its sending would be (5.1 checks its runs so)."""
        probe = Result(request)
        route, _recipient = self._route(probe, device)
        _sender, on_behalf = self._originator(probe, route, device)
        if on_behalf is not None:
            _urp_certificate(request.params.get("ka_certificate"), on_behalf)

    def _arm(self, schedule: Schedule, when: _dt.datetime) -> None:
        schedule.next_run = when
        schedule.timer = self.clock.call_at(when, lambda: self._run_schedule(schedule))

    def _run_schedule(self, schedule: Schedule) -> None:
        if self.schedules.get(schedule.schedule_id) is not schedule or schedule.next_run is None:
            return
        ran_at = schedule.next_run
        run = self.submit(
            schedule.variant,
            as_user=schedule.owner,
            target=schedule.target,
            role=schedule.role,
            params=schedule.params_at(ran_at),
            label=f"{schedule.schedule_id} run {len(schedule.runs) + 1}",
            scheduled=schedule,
        )
        schedule.runs.append(run.request_id)
        following = ran_at + schedule.every
        if schedule.runs_at(following):
            self._arm(schedule, following)
        else:
            # Past its end date: no run left, so it leaves the schedules (5.2 no longer
            # lists it). Not a DCC removal (DSPScheduleRemoval): it ended as asked.
            schedule.cancel()
            self.schedules.pop(schedule.schedule_id, None)
            self.ended_schedules[schedule.schedule_id] = schedule
        for listener in list(self.run_listeners):
            listener(schedule, run)

    # -- alerts -------------------------------------------------------------------------------
    async def _alert_loop(self, hub: Hub) -> None:
        async for raw in hub.alerts():
            self._on_alert(raw)

    def _on_alert(self, raw: bytes) -> None:
        arrived = self.elapsed()
        try:
            msg = decode_message(raw)
        except GbcsError as exc:
            self._drop("undecodable", f"alert that does not decode: {exc}")
            return
        if msg.cra != Cra.ALERT:
            self._drop("not_an_alert", f"{msg.cra.name.lower()} from {msg.originator}")
            return
        try:
            named = named_command(msg)
        except GbcsError as exc:
            self._drop(
                "undecodable", f"alert 0x{msg.message_code:04X} from {msg.originator}: {exc}"
            )
            return
        self.backups.take(msg)
        request_id = None if named is None else self._request_of_alert(msg, named)
        device = self.inventory.get(msg.originator)
        users: list[str] = []
        if request_id is not None:
            result = self.results[request_id]
            result.alerts.append(raw)
            users = [result.request.user.name]
        elif device is not None:
            reg = self.registration_for(device)
            if reg is not None:
                for key in sorted(reg.suppliers()):
                    found = self.users.by_id(key)
                    if found is not None:
                        users.append(found[0].name)
        self.alerts.append(
            DeviceAlert(
                msg.originator,
                msg.message_code,
                self.clock.now(),
                self.elapsed() - arrived,
                users,
                request_id,
                raw,
            )
        )

    def _drop(self, reason: str, detail: str) -> None:
        self.drops[reason] += 1
        log.warning("DCC dropped an alert (%s): %s", reason, detail)

    def _request_of_alert(self, msg: GbcsMessage, named: NamedCommand) -> str | None:
        """The request whose command the alert names (`emulator.gbcs.alert_body`).

        The alert must come from the device the command went to and name its
        originator counter (and its message code, where the body repeats it).
        Alerts go back to the command's originator, so when two originators'
        counters collide the one the alert is addressed to wins.
        """
        device = bytes(msg.originator)
        found = [
            (originator, sent)
            for (originator, counter), sent in self._by_counter.items()
            if counter == named.counter
            and sent.device == device
            and named.message_code in (None, sent.message_code)
            and sent.request_id in self.results
        ]
        for originator, sent in found:
            if originator == bytes(msg.recipient):
                return sent.request_id
        return found[-1][1].request_id if found else None


def _seconds(value: _dt.timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _urp_certificate(der: object, party: Eui64) -> bytes:
    """The requester's own key agreement certificate (DUIS URP credentials), checked to
    be a certificate that names it: the device encrypts its response for that key."""
    if not isinstance(der, bytes | bytearray):
        raise Refusal("INVALID_PARAMETERS", "ka_certificate must be DER bytes")
    try:
        cert = x509.load_der_x509_certificate(bytes(der))
    except ValueError as exc:
        raise Refusal("INVALID_PARAMETERS", f"ka_certificate: {exc}") from None
    named = eui_from_certificate(cert)
    if named is None or bytes(named) != bytes(party):
        raise Refusal(
            "INVALID_PARAMETERS", f"ka_certificate names {named}, not the requester {party}"
        )
    return bytes(der)
