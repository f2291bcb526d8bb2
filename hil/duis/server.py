"""The DUIS HTTP front door of a lab, shaped like DCC Boxed's.

Three POST endpoints take signed DUIS requests: `/api/v1/serviceS` (send command:
non-critical requests, signed pre-commands), `/api/v1/serviceT` (transform: a
critical request; the answer carries the pre-command for the user to sign) and
`/api/v1/serviceD` (non-device services, answered synchronously). Each request is

1. parsed (no entities, no network) and validated against the DUIS v5.4 schema;
2. checked for a signature by a known test certificate (`XmlCredentials`) that
   belongs to the request's originator and verifies (signxml);
3. refused if its RequestID was seen before (replay);
4. transformed (`hil.duis.transform`) and submitted to the lab's DCC layer, which
   applies role, eligibility, inventory and critical-command rules as for every
   other client.

The synchronous answer is a DUIS Response signed by the DCC: `I99` or the error
code (`hil.duis.codes`). Failures at steps 1-3 never reach the DCC layer. Device
responses and alerts are then POSTed, signed, to the user's response address.
`GET /smki/certificates?eui=..|serial=..` lists the lab's XML-signing test
certificates (PEM, JSON), standing in for Boxed's SMKI search.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from lxml import etree

from emulator.errors import EmulatorError, GbcsDecodeError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from hil.dcc.inventory import InventoryDevice
from hil.dcc.lab import LABS
from hil.dcc.requests import RequestStatus, Result
from hil.dcc.routes import routes_for
from hil.dcc.schedules import Schedule
from hil.dcc.service import Dcc
from hil.dcc.timing import Category
from hil.dcc.values import response_values
from hil.duis import codes
from hil.duis.signing import Credential, SigningError, XmlCredentials, sign, signer_of, verify
from hil.duis.transform import body_device, transform
from hil.duis.xml import (
    FIRMWARE_WARNINGS,
    DuisError,
    DuisRequest,
    WanCoverage,
    dashed,
    dcc_alert_han_log_result,
    device_alert,
    dsp_firmware_warning,
    dsp_opt_in,
    dsp_schedule_id,
    dsp_scheduled_message,
    dsp_schedules_read,
    dsp_wan_matrix,
    parse,
    q,
    read_request,
    response_message,
    split_request_id,
    validate,
)

log = logging.getLogger(__name__)

#: The port DCC Boxed serves its DUIS interface on.
DEFAULT_PORT = 8079
#: The DCC's EUI-64 in DCC Boxed (its Access Control Broker): non-device requests
#: are addressed to it.
BOXED_DCC = Eui64("90-B3-D5-1F-30-00-00-02")
#: The lab `duis serve` starts by default: the demo premises with DCC Boxed's ZAZ1 users.
DUIS_LAB = LABS / "boxed.yaml"
ENDPOINTS = {"S": "/api/v1/serviceS", "T": "/api/v1/serviceT", "D": "/api/v1/serviceD"}
MAX_BODY = 1 << 20


class Rejected(Exception):
    """A request the front door answers with an error code (nothing reaches the DCC)."""

    def __init__(self, reason: str, detail: str, request: DuisRequest | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.request = request


@dataclass
class Delivery:
    """One asynchronous message POSTed to a user (response or alert)."""

    url: str
    request_id: str | None
    code: str
    body: bytes = field(repr=False)
    status: int | None = None
    error: str = ""


class DuisServer:
    """DUIS over HTTP in front of one `Dcc`."""

    def __init__(
        self,
        dcc: Dcc,
        credentials: XmlCredentials,
        schema: etree.XMLSchema,
        *,
        response_url: str | None = None,
        response_urls: Mapping[str, str] | None = None,
        response_timeout: float = 60.0,
    ) -> None:
        if credentials.dcc is None or credentials.dcc.private_key is None:
            raise SigningError("the DUIS server needs the DCC's XML-signing key")
        self.dcc = dcc
        self.credentials = credentials
        self.schema = schema
        self.response_url = response_url
        #: Per-user response addresses, by the user's dashed EUI-64 (as in a RequestID).
        self.response_urls = {k.upper(): v for k, v in (response_urls or {}).items()}
        self.response_timeout = response_timeout
        self.seen: set[str] = set()
        self.pending: dict[str, tuple[DuisRequest, Result]] = {}
        #: The CreateSchedule body of each schedule made over DUIS (5.1), by DSP schedule
        #: ID: 5.2 answers with it (the DCC layer keeps the schedule, not its XML).
        self.schedule_bodies: dict[str, etree._Element] = {}
        self.deliveries: list[Delivery] = []
        #: Requests refused at the front door and deliveries that failed, by reason.
        self.counts: Counter[str] = Counter()
        self.app = web.Application(client_max_size=MAX_BODY)
        for kind, path in ENDPOINTS.items():
            self.app.router.add_post(path, self._endpoint(kind))
        self.app.router.add_get("/smki/certificates", self._smki)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._alerts_seen = len(dcc.alerts)
        self._notifications_seen = len(dcc.notifications)
        dcc.run_listeners.append(self._on_scheduled_run)
        self.url = ""

    @property
    def dcc_credential(self) -> Credential:
        assert self.credentials.dcc is not None
        return self.credentials.dcc

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = port
        for sock in getattr(site._server, "sockets", None) or []:
            bound = int(sock.getsockname()[1])
        self.url = f"http://{host}:{bound}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._spawn(self._alert_loop())
        return self.url

    async def stop(self) -> None:
        if self._on_scheduled_run in self.dcc.run_listeners:
            self.dcc.run_listeners.remove(self._on_scheduled_run)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> DuisServer:
        await self.start(port=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every response on its way has been POSTed (tests, benchmarks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            busy = [t for t in self._tasks if t.get_name() != "duis-alerts"]
            if not busy:
                return
            await asyncio.wait(busy, timeout=deadline - loop.time())

    # -- HTTP --------------------------------------------------------------------------------
    def _endpoint(self, kind: str) -> Any:
        async def handle(http: web.Request) -> web.Response:
            data = await http.read()
            status, body = self.receive(kind, data)
            content_type = "application/xml" if status == 200 else "text/plain"
            return web.Response(status=status, body=body, content_type=content_type)

        return handle

    async def _smki(self, http: web.Request) -> web.Response:
        eui = http.query.get("eui")
        serial = http.query.get("serial")
        wanted = None
        if eui:
            try:
                wanted = bytes(Eui64(eui))
            except EmulatorError as exc:  # a bad query is the client's error, not a 500
                self.counts["smki_bad_query"] += 1
                log.warning("SMKI query refused: eui=%r: %s", eui, exc)
                return web.Response(status=400, text=f"eui: {exc}")
        found = []
        for cred in [*self.credentials.users.values(), self.dcc_credential]:
            if wanted is not None and bytes(cred.eui) != wanted:
                continue
            if serial and str(cred.serial) != serial.strip():
                continue
            found.append(
                {
                    "eui": dashed(cred.eui),
                    "serial": str(cred.serial),
                    "role": cred.role,
                    "issuer": cred.issuer,
                    "subject": cred.certificate.subject.rfc4514_string(),
                    "certificate": cred.certificate.public_bytes(
                        serialization.Encoding.PEM
                    ).decode(),
                }
            )
        return web.json_response(found)

    # -- the synchronous path ----------------------------------------------------------------
    def receive(self, kind: str, data: bytes) -> tuple[int, bytes]:
        """A request's bytes in, the HTTP status and signed synchronous DUIS answer out.

        A message too broken to echo in a schema-valid DUIS response (no usable
        RequestID or service reference) gets HTTP 400 and a one-line reason instead.
        """
        try:
            request = self._admit(data)
            return 200, self._sign(self._dispatch(kind, request))
        except Rejected as refused:
            self.counts[refused.reason] += 1
            log.info("DUIS request refused: %s: %s", refused.reason, refused.detail)
            answer = self._error(refused, data)
            if not self.schema.validate(answer):
                return 400, f"{codes.duis_code(refused.reason)}: {refused.detail}\n".encode()
            return 200, self._sign(answer)

    def _admit(self, data: bytes) -> DuisRequest:
        try:
            root = parse(data)
            validate(self.schema, root)
            request = read_request(root)
        except DuisError as exc:
            raise Rejected(codes.SCHEMA_INVALID, str(exc)) from None
        try:
            issuer, serial = signer_of(root)
        except SigningError as exc:
            raise Rejected(codes.SIGNATURE_INVALID, str(exc), request) from None
        cred = self.credentials.by_issuer_serial(issuer, serial)
        if cred is None:
            raise Rejected(
                codes.UNKNOWN_USER, f"no certificate {issuer} / {serial} on record", request
            )
        if bytes(cred.eui) != bytes(request.originator):
            raise Rejected(
                codes.SIGNATURE_INVALID,
                f"signed by {cred.eui}, not by the originator {request.originator}",
                request,
            )
        try:
            verify(root, cred)
        except SigningError as exc:
            raise Rejected(codes.SIGNATURE_INVALID, str(exc), request) from None
        if self.dcc.users.by_id(request.originator) is None:
            raise Rejected(codes.UNKNOWN_USER, f"{request.originator} is not a lab user", request)
        if request.signed_precommand is None:
            if request.request_id in self.seen:
                raise Rejected(
                    codes.REPLAYED_REQUEST_ID, f"{request.request_id} was used before", request
                )
            self.seen.add(request.request_id)
        return request

    def _dispatch(self, kind: str, request: DuisRequest) -> etree._Element:
        signed = request.signed_precommand
        if signed is not None:
            return self._signed_precommand(kind, request, signed)
        service = self.dcc.catalogue.get(request.variant)
        if service is None:
            raise Rejected("UNKNOWN_VARIANT", f"no service {request.variant}", request)
        non_device = service.non_device or service.role_only
        device = self.dcc.inventory.get(request.target)
        if kind == "D" and not non_device:
            raise Rejected(codes.WRONG_ENDPOINT, f"{request.variant} is not non-device", request)
        if kind == "T" and not self._critical(request.variant, device):
            raise Rejected(codes.WRONG_ENDPOINT, f"{request.variant} is not critical", request)
        t = transform(
            request,
            device_type=None if device is None else device.kind.value,
            dcc_ids=[*self.dcc.dcc_parties.values(), BOXED_DCC],
            non_device=non_device,
            twin=device is not None and device.elements > 1,
        )
        if t.unmapped:
            self.counts["unmapped_values"] += len(t.unmapped)
            log.info("%s: body values not carried: %s", request.request_id, ", ".join(t.unmapped))
        user, _roles = self.dcc.users.by_id(request.originator) or (None, None)
        assert user is not None
        result = self.dcc.submit(
            t.variant,
            as_user=user,
            target=t.target,
            params=t.params,
            execute_at=t.execute_at,
            option=t.option,
            label=request.request_id,
        )
        if result.refused:
            raise Rejected(result.reason, result.detail, request)
        if result.status == RequestStatus.AWAITING_SIGNATURE and result.precommand is not None:
            self.pending[request.request_id] = (request, result)
            return self._answer(request, codes.ACKNOWLEDGED, precommand=result.precommand.encode())
        if kind == "D" and result.done:
            code = codes.SUCCESS if result.ok else codes.duis_code(result.reason, request.variant)
            if result.reason == "DEVICE_FAILURE" and result.response is not None:
                # As the DCC does: the device answered, so the DCC's part succeeded; the
                # device's failure is in the GBCS payload the user parses.
                code = codes.SUCCESS
            return self._non_device_answer(request, code, result)
        self._spawn(self._respond(request, result))
        return self._answer(request, codes.ACKNOWLEDGED)

    def _signed_precommand(self, kind: str, request: DuisRequest, signed: bytes) -> etree._Element:
        if kind != "S":
            raise Rejected(codes.WRONG_ENDPOINT, "signed pre-commands go to serviceS", request)
        pending = self.pending.pop(request.request_id, None)
        if pending is None:
            raise Rejected(
                codes.NOT_AWAITING_SIGNATURE,
                f"{request.request_id} is not waiting for a signed pre-command",
                request,
            )
        original, result = pending
        self.dcc.signed_precommand(result.request_id, signed)
        if result.done and not result.ok:
            raise Rejected(result.reason, result.detail, request)
        self._spawn(self._respond(original, result))
        return self._answer(request, codes.ACKNOWLEDGED)

    def _non_device_answer(self, request: DuisRequest, code: str, result: Result) -> etree._Element:
        """The synchronous answer of a non-device service, with its inventory records
        (8.2, 8.14.x), schedule ID (5.1), WAN matrix (12.1) or the DCC's credentials
        (8.6 DSPOptIn) when it has them; a body the schema will not take is counted and
        left out."""
        if result.ok:
            self._keep_schedule_bodies(request, result.data)
            dsp_body = (
                _dsp_body(request, result.data, self.schedule_bodies)
                if code == codes.SUCCESS
                else None
            )
        else:
            self.counts[result.reason] += 1
            log.info("DUIS request failed: %s: %s", result.reason, result.detail)
            dsp_body = _refusal_body(result.reason, request)
        if dsp_body is not None:
            answer = response_message(
                request_id=request.request_id,
                code=code,
                when=self.dcc.clock.now(),
                service_reference=request.service_reference,
                variant=request.variant,
                dsp_body=dsp_body,
            )
            left_out = etree.QName(dsp_body).localname
            return self._validated(answer, request, code, left_out, "dsp_body_not_schema_valid")
        records = result.data if isinstance(result.data, list) else None
        if records and all(isinstance(r, dict) and "DeviceID" in r for r in records):
            for record in records:
                record["DeviceID"] = dashed(Eui64(record["DeviceID"]))
            answer = response_message(
                request_id=request.request_id,
                code=code,
                when=self.dcc.clock.now(),
                service_reference=request.service_reference,
                variant=request.variant,
                inventory=records,
            )
            return self._validated(
                answer, request, code, "inventory records", "inventory_not_schema_valid"
            )
        return self._answer(request, code)

    def _validated(
        self, answer: etree._Element, request: DuisRequest, code: str, left_out: str, reason: str
    ) -> etree._Element:
        """`answer` if the schema takes it, else the bare answer with `code`: a body we built
        wrong must not turn a served request into an invalid response, and is counted
        under `reason` and logged, never dropped silently."""
        if self.schema.validate(answer):
            return answer
        self.counts[reason] += 1
        log.warning(
            "%s: %s left out: %s",
            request.request_id,
            left_out,
            self.schema.error_log.last_error,
        )
        return self._answer(request, code)

    def _keep_schedule_bodies(self, request: DuisRequest, data: object) -> None:
        """5.1 keeps its CreateSchedule body for 5.2; 5.3 drops those it deleted."""
        if request.variant == "5.1" and isinstance(data, dict) and "schedule_id" in data:
            self.schedule_bodies[str(data["schedule_id"])] = copy.deepcopy(request.body)
        elif request.variant == "5.3" and isinstance(data, dict):
            for schedule_id in data.get("deleted", []):
                self.schedule_bodies.pop(str(schedule_id), None)

    @staticmethod
    def _critical(variant: str, device: InventoryDevice | None) -> bool:
        if device is None:
            return False
        return any(r.critical for r in routes_for(variant, device.kind.value))

    def _answer(
        self,
        request: DuisRequest,
        code: str,
        *,
        precommand: bytes | None = None,
        payload: bytes | None = None,
        response_id: str | None = None,
        dsp_body: etree._Element | None = None,
    ) -> etree._Element:
        return response_message(
            request_id=request.request_id,
            response_id=response_id,
            code=code,
            when=self.dcc.clock.now(),
            service_reference=request.service_reference,
            variant=request.variant,
            precommand=precommand,
            gbcs_payload=payload,
            dsp_body=dsp_body,
        )

    def _error(self, refused: Rejected, data: bytes) -> etree._Element:
        request = refused.request
        if request is not None:
            code = codes.duis_code(refused.reason, request.variant)
            body = _refusal_body(refused.reason, request)
            if body is not None:
                answer = self._answer(request, code, dsp_body=body)
                left_out = etree.QName(body).localname
                return self._validated(answer, request, code, left_out, "dsp_body_not_schema_valid")
            return self._answer(request, code)
        code = codes.duis_code(refused.reason)
        request_id, reference, variant = _header_of(data)
        return response_message(
            request_id=request_id,
            code=code,
            when=self.dcc.clock.now(),
            service_reference=reference,
            variant=variant,
        )

    def _sign(self, root: etree._Element) -> bytes:
        return sign(root, self.dcc_credential)

    # -- the asynchronous path ---------------------------------------------------------------
    def url_for(self, user: Eui64) -> str | None:
        return self.response_urls.get(dashed(user)) or self.response_url

    async def _respond(self, request: DuisRequest, result: Result) -> None:
        # A future-dated or scheduled request answers at its execution time, however far.
        on_demand = result.request.category in (Category.ON_DEMAND, Category.SEQUENCED)
        try:
            await result.wait(self.response_timeout if on_demand else None)
        except TimeoutError:
            code = codes.duis_code("NO_RESPONSE")
        else:
            code = codes.SUCCESS if result.ok else codes.duis_code(result.reason)
            if result.reason == "DEVICE_FAILURE" and result.response is not None:
                # As the DCC does: the device answered, so the DCC's part succeeded; the
                # device's failure is in the GBCS payload the user parses.
                code = codes.SUCCESS
        response_id = f"{dashed(request.target)}:{dashed(request.originator)}:{request.counter}"
        root = self._answer(request, code, payload=result.response, response_id=response_id)
        await self._post(request.originator, request.request_id, code, self._sign(root))
        if request.variant == "8.11" and result.response is not None:
            # As Boxed does after an Update HAN Device Log: DCC alert N24 naming the request.
            alert = dcc_alert_han_log_result(
                request_id=request.request_id, when=self.dcc.clock.now()
            )
            await self._post(request.originator, request.request_id, "N24", self._sign(alert))

    def _on_scheduled_run(self, schedule: Schedule, run: Result) -> None:
        """A run of a schedule made over DUIS answers its user when it completes; runs
        of schedules made otherwise (Python API, request files) have no DUIS user."""
        if schedule.schedule_id not in self.schedule_bodies:
            return
        if schedule.schedule_id not in self.dcc.schedules:  # its last run: past its end date
            self.schedule_bodies.pop(schedule.schedule_id, None)
        try:
            self._spawn(self._respond_scheduled(schedule, run))
        except RuntimeError:  # the clock ran the schedule outside the event loop
            self.counts["scheduled_run_not_posted"] += 1
            log.warning(
                "schedule %s: run %s not posted (no event loop)",
                schedule.schedule_id,
                run.request_id,
            )

    async def _respond_scheduled(self, schedule: Schedule, run: Result) -> None:
        """POST a run's answer: the scheduled service's reference and variant, its own
        response ID (device, user, the command's counter; there is no user request ID),
        and `DSPScheduledMessage` with the device's response; a run that got none
        answers its code without a body."""
        await run.wait(None)  # scheduled: timed against 24 hours, not on demand
        code = codes.SUCCESS if run.ok else codes.duis_code(run.reason)
        if run.reason == "DEVICE_FAILURE" and run.response is not None:
            code = codes.SUCCESS  # as for any request: the failure is in the payload
        response_id = None
        if run.command is not None:
            try:
                sent = decode_message(run.command)
            except GbcsDecodeError:  # not a GBCS message (a SMETS1 vendor command)
                log.info(
                    "schedule %s: run %s has no GBCS counter", schedule.schedule_id, run.request_id
                )
            else:
                response_id = f"{dashed(sent.recipient)}:{dashed(sent.originator)}:{sent.counter}"
        variant = schedule.variant
        root = response_message(
            request_id=None,
            response_id=response_id,
            code=code,
            when=self.dcc.clock.now(),
            service_reference=".".join(variant.split(".")[:2]),
            variant=variant,
            dsp_body=(
                None
                if run.response is None
                else dsp_scheduled_message(run.response, schedule.schedule_id)
            ),
        )
        if not self.schema.validate(root):
            self.counts["scheduled_message_not_schema_valid"] += 1
            log.warning(
                "schedule %s: run %s answer not schema-valid: %s",
                schedule.schedule_id,
                run.request_id,
                self.schema.error_log.last_error,
            )
            return
        user = schedule.owner.ids.get(schedule.role) or next(iter(schedule.owner.ids.values()))
        await self._post(user, run.request_id, code, self._sign(root))

    async def _post(self, user: Eui64, request_id: str | None, code: str, body: bytes) -> None:
        url = self.url_for(user)
        if url is None:
            self.counts["no_response_address"] += 1
            log.warning("no response address for %s: %s not delivered", user, request_id)
            return
        delivery = Delivery(url, request_id, code, body)
        self.deliveries.append(delivery)
        assert self._session is not None
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": "application/xml"}
            ) as reply:
                delivery.status = reply.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            delivery.error = str(exc) or type(exc).__name__
            self.counts["delivery_failed"] += 1
            log.warning("response for %s to %s failed: %s", request_id, url, delivery.error)

    async def _alert_loop(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            task.set_name("duis-alerts")
        while True:
            await asyncio.sleep(0.05)
            while self._alerts_seen < len(self.dcc.alerts):
                alert = self.dcc.alerts[self._alerts_seen]
                self._alerts_seen += 1
                root = device_alert(
                    alert_code=_alert_code(alert.raw, alert.message_code),
                    when=alert.received,
                    payload=alert.raw,
                )
                body = self._sign(root)
                for name in alert.users:
                    user = self.dcc.users.get(name)
                    if user is None or not user.ids:
                        continue
                    eui = next(iter(user.ids.values()))
                    await self._post(eui, alert.request_id, "I0", body)
            self._count_unsent_dcc_alerts()

    def _count_unsent_dcc_alerts(self) -> None:
        """The DCC layer's notifications (cancelled future-dated and scheduled requests,
        decommissioned hubs) would reach the user as DCC alerts, but no public source pairs
        them with a DCCAlertCode (docs/duis.md, "DCC alerts"): rather than invent a code,
        each is counted and logged, never dropped silently."""
        while self._notifications_seen < len(self.dcc.notifications):
            user, request_id, text = self.dcc.notifications[self._notifications_seen]
            self._notifications_seen += 1
            self.counts["dcc_alert_not_sent"] += 1
            log.info(
                "DCC alert for %s not sent (no public DCC alert code): %s: %s",
                user,
                request_id,
                text,
            )


#: 12.1: the WAN technology the lab reports for a CSP region. A lab default, not a
#: DCC table (DUIS leaves WANTechnology free text): the North region's long-range
#: radio and the Central / South regions' cellular WAN, 4G for the 4G regions.
WAN_TECHNOLOGY = {
    "North": "Long Range Radio",
    "Central": "Cellular",
    "South": "Cellular",
    "4G North": "4G",
    "4G Central": "4G",
    "4G South": "4G",
}
#: `wan_coverage` (lab file) that 12.1 reports as coverage available.
COVERED = "Connected"


def _dsp_body(
    request: DuisRequest, data: object, schedule_bodies: Mapping[str, etree._Element]
) -> etree._Element | None:
    """A non-device service's own DUIS body from the DCC layer's result, if it has one."""
    if request.variant == "5.1" and isinstance(data, dict) and "schedule_id" in data:
        return dsp_schedule_id(str(data["schedule_id"]))
    if request.variant == "5.2" and isinstance(data, list):
        known = [
            (str(s["schedule_id"]), schedule_bodies[str(s["schedule_id"])])
            for s in data
            if isinstance(s, dict) and str(s.get("schedule_id")) in schedule_bodies
        ]
        if len(known) < len(data):
            log.info(
                "%s: %d schedule(s) not made over DUIS left out of DSPSchedulesRead",
                request.request_id,
                len(data) - len(known),
            )
        return dsp_schedules_read(known) if known else None
    if request.variant == "8.6" and isinstance(data, dict):
        signing = data.get("digital_signing")
        return dsp_opt_in(
            dashed(Eui64(str(data["device"]))),
            bytes(data["key_agreement"]),
            bytes(signing) if isinstance(signing, bytes) else None,
        )
    if request.variant == "12.1" and isinstance(data, dict):
        region = data.get("CSPRegion")
        if not region:  # no lab premises at that address
            return dsp_wan_matrix(request.body, "Unknown", None)
        available = data.get("WANCoverage") == COVERED
        coverage = WanCoverage(
            available=available,
            technology=WAN_TECHNOLOGY.get(str(region), "Unknown"),
            likelihood="High" if available else "Low",
        )
        return dsp_wan_matrix(request.body, str(region), coverage)
    return None


def _refusal_body(reason: str, request: DuisRequest) -> etree._Element | None:
    """The body a refusal's answer carries, if DUIS gives it one: the firmware warning
    naming the device whose model has the image on no CPL row (11.1, 11.4)."""
    if reason != "FIRMWARE_NOT_ON_CPL" or request.variant not in FIRMWARE_WARNINGS:
        return None
    device = body_device(request)
    if device is None:
        return None
    return dsp_firmware_warning(request.variant, [dashed(device)])


def _alert_code(raw: bytes, message_code: int) -> int:
    """The alert code (0x8Fxx) an alert's body carries; its message code when none."""
    for value in response_values(None, None, raw):
        if value.name == "alert_code" and isinstance(value.raw, int):
            return value.raw
    return message_code


def _header_of(data: bytes) -> tuple[str | None, str, str]:
    """RequestID, ServiceReference and variant of a message that failed validation,
    as far as they can be echoed."""
    try:
        root = parse(data)
    except DuisError:
        return None, "", ""
    header = q("Header")
    text = root.findtext(f"{header}/{q('RequestID')}")
    reference = str(root.findtext(f"{header}/{q('ServiceReference')}") or "").strip()
    variant = str(root.findtext(f"{header}/{q('ServiceReferenceVariant')}") or "").strip()
    if text is None:
        return None, reference, variant
    try:
        split_request_id(text)
    except (DuisError, ValueError):
        return None, reference, variant
    return str(text).strip(), reference, variant
