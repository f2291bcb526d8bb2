"""Every route with a builder, built with default parameters and sent end to end.

Each case builds the command of one route for a lab premises (CHF, GPF, ESME,
GSME, PPMID, HCALCS behind a hub on the in-process medium), protects it as the
route's originator does (critical: signed, and MACed by the DCC), sends it
through the hub and checks the device's answer: a GBCS response to that command
(not a refusal, not the "command not supported" alert) whose payload decodes and
whose results are all success. The sleepy gas meter is woken to take its command.

The lab has lived 40 days before the tests (clock from `BEGIN` to `NOW`), so
logs, profiles and snapshots hold data; each case runs on clones of those
devices. Golden cases check that a shape, given the reference command's values,
encodes to the reference payload byte for byte.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from route_setup import device_of, lab_setup

from emulator.clock import VirtualClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, DeviceType
from emulator.devices.gsme import Gsme
from emulator.gbcs import builder
from emulator.gbcs.asn1 import (
    Der,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerOctetString,
)
from emulator.gbcs.dlms.apdu import AccessResponse
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.payload import decode_message_payload, encode_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import GbzPayload
from emulator.han.memory import MemoryMedium
from emulator.hub import CommandRejected
from emulator.pki.testpki import RemotePartyRole
from emulator.premises import DEFAULT_DEVICES, Premises, lab_pki
from hil.dcc.commands import (
    BuildContext,
    BuildError,
    Built,
    build_command,
    has_builder,
    parameters_for,
)
from hil.dcc.routes import ROUTES, Route, route

NOW = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)
BEGIN = NOW - _dt.timedelta(days=40)
LOAD_CONTROLLER = Eui64("90-B3-D5-1F-30-01-00-08")
DEVICES = (*DEFAULT_DEVICES, (DeviceType.HCALCS, 0xA5))
BUILDABLE = [r for r in ROUTES if has_builder(r)]


def _id(r: Route) -> str:
    return f"{r.variant}-{r.use_case}-{r.device_type}" + (f"-{r.option}" if r.option else "")


# -- the lab ---------------------------------------------------------------------------------


@dataclass
class Lab:
    base: Premises
    clock: VirtualClock

    def fresh(self) -> Premises:
        """The lab's premises with cloned devices: each case starts from the same state."""
        b = self.base
        chf, gpf = b.chf.clone(), b.gpf.clone()
        devices = {eui: d.clone() for eui, d in b.devices.items()}
        assert isinstance(chf, type(b.chf)) and isinstance(gpf, type(b.gpf))
        return Premises(b.pki, b.parties, b.clock, chf, gpf, devices)


@pytest.fixture(scope="module")
def lab() -> Lab:
    clock = VirtualClock(BEGIN)
    pki, parties = lab_pki("dcc-commands")
    parties[AnchorRole.LOAD_CONTROLLER] = pki.remote_party(
        LOAD_CONTROLLER, RemotePartyRole.LOAD_CONTROLLER, "Lab Load Controller"
    )
    premises = Premises.build(devices=DEVICES, clock=clock, pki=(pki, parties))
    for device in (premises.chf, premises.gpf, *premises.devices.values()):
        clock.set(BEGIN)
        device.warm_up(NOW)
    assert clock.now() == NOW
    return Lab(premises, clock)


def context(premises: Premises) -> BuildContext:
    types = {bytes(d.eui): d.device_type.value for d in all_devices(premises)}
    return BuildContext(NOW, premises.pki.keystore, types, ca_certificate=premises.pki.org_ca)


def all_devices(premises: Premises) -> Iterator[Device]:
    yield premises.chf
    yield premises.gpf
    yield from premises.devices.values()


# -- sending -----------------------------------------------------------------------------------


@pytest.fixture
async def premises(lab: Lab) -> AsyncIterator[Premises]:
    fresh = lab.fresh()
    await fresh.connect(MemoryMedium().url)
    try:
        yield fresh
    finally:
        await fresh.close()
        MemoryMedium.reset_registry()


def protect(premises: Premises, r: Route, target: Eui64, built: Built, counter: int) -> bytes:
    originator = premises.parties[AnchorRole(r.originator)].eui
    security = premises.security_for()
    msg = builder.command(built.message_code, counter, originator, target, built.payload)
    return builder.protect(msg, security, critical=built.critical).encode()


async def deliver(premises: Premises, target: Device, raw: bytes) -> GbcsMessage:
    hub = premises.hub
    assert hub is not None
    if isinstance(target, Gsme):  # asleep: the command waits in the hub for its wake-up
        sending = asyncio.create_task(hub.send(raw, timeout=5))
        await asyncio.sleep(0)
        await premises.runner_for(target.eui).wake(listen=0.05)
        answer = await sending
    else:
        answer = await hub.send(raw, timeout=5)
    return decode_message(answer)


# -- judging answers ----------------------------------------------------------------------------

ZCL_SUCCESS = 0x00


def zcl_failures(payload: GbzPayload) -> list[str]:
    found = []
    for i, c in enumerate(payload.components):
        fields = c.frame.fields or {}
        name = c.frame.name
        # NOT_FOUND: no entry held for that slot (a log shorter than the read), not a failure
        if name == "default_response" and fields.get("status") not in (ZCL_SUCCESS, 0x8B):
            found.append(f"component {i}: default response status {fields.get('status')}")
        for record in fields.get("records", []) if name == "read_attributes_response" else []:
            if record.get("status") != ZCL_SUCCESS:
                found.append(f"component {i}: attribute 0x{record['attribute_id']:04X} failed")
        if name == "consumer_top_up_response" and fields.get("result_type") != 0:
            found.append(f"component {i}: top-up result {fields.get('result_type')}")
    return found


def _items(node: Der) -> list[Der]:
    return node.items if isinstance(node, DerConstructed) else []


def asn1_failures(use_case: str, tree: Der) -> list[str]:
    """The result codes of each ASN.1 response (0 is success everywhere)."""
    codes: list[int] = []
    if use_case.startswith(("CS03", "CS04", "CS02d")):
        codes = [tree.value] if isinstance(tree, DerInteger) else [-1]
    elif use_case in ("CS06", "CS07"):
        first = _items(tree)[:1]
        codes = [first[0].value if first and isinstance(first[0], DerInteger) else -1]
    elif use_case in ("CS08", "GCS28", "GCS28Commission"):
        last = _items(tree)[-1:]
        codes = [last[0].value if last and isinstance(last[0], DerInteger) else -1]
    elif use_case == "GCS59":
        outcomes = [o for row in _items(_items(tree)[0]) for o in _items(row)[1:]]
        codes = [o.value if isinstance(o, DerInteger) else -1 for o in outcomes]
    elif use_case.startswith(("CS02b", "CS02g")):
        accepted, outcome = _items(tree)
        assert isinstance(accepted, DerNull)
        codes = [o.value for o in _walk(outcome) if isinstance(o, DerEnumerated)]
        assert codes, "no replacement outcome"
    elif use_case.startswith(("CS02a", "CS02f")):
        codes = [o.value for o in _walk(tree) if isinstance(o, DerEnumerated)]
    elif use_case in ("CS02c", "CS02e"):
        assert isinstance(tree, DerConstructed), f"expected a DER structure, got {tree}"
    return [f"result {c}" for c in codes if c != 0]


def _walk(node: Der) -> Iterator[Der]:
    yield node
    for item in _items(node):
        yield from _walk(item)


def failures(r: Route, response: GbcsMessage, security: MessageSecurity) -> list[str]:
    decoded = decode_message_payload(response)
    error = try_decrypt(decoded, security, response)
    assert error is None, f"sensitive data does not open: {error}"
    tree = decoded.tree
    if isinstance(tree, AccessResponse):
        return [f"spec {i}: {s.result_name}" for i, s in enumerate(tree.results) if not s.ok]
    if isinstance(tree, GbzPayload):
        return zcl_failures(tree)
    assert isinstance(tree, Der), f"unexpected payload {type(tree).__name__}"
    return asn1_failures(r.use_case, tree)


# -- the cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize("r", BUILDABLE, ids=_id)
async def test_route_is_answered_with_success(r: Route, premises: Premises) -> None:
    target = device_of(premises, r.device_type)
    params = lab_setup(r, premises, target, NOW)
    counter = 0x2000
    originator = _originator(premises, r)
    built = build_command(r, counter, originator, target.eui, params, context(premises))
    assert built.message_code == r.message_code and built.critical == r.critical
    response = await deliver(premises, target, protect(premises, r, target.eui, built, counter))
    assert response.cra == Cra.RESPONSE
    assert response.message_code == r.message_code
    assert response.counter == counter
    assert failures(r, response, premises.security_for()) == []


def _originator(premises: Premises, r: Route) -> Eui64:
    return premises.parties[AnchorRole(r.originator)].eui


async def test_a_refused_step_is_a_failure(premises: Premises) -> None:
    """The judge sees a failed step: the disconnector has no script 0x99."""
    r = route("7.2", "ESME")
    esme = premises.device(DeviceType.ESME)
    params = {"values": {"0": 0x99}}
    built = build_command(r, 0x2001, _originator(premises, r), esme.eui, params, context(premises))
    response = await deliver(premises, esme, protect(premises, r, esme.eui, built, 0x2001))
    assert failures(r, response, premises.security_for()) == ["spec 0: object-unavailable"]


async def test_a_command_for_another_device_type_is_refused(premises: Premises) -> None:
    """An ESME use case sent to the CHF gets "command not supported", not a response."""
    r = route("7.4", "ESME")
    chf = premises.chf
    built = build_command(r, 0x2002, _originator(premises, r), chf.eui, {}, context(premises))
    with pytest.raises(CommandRejected):
        await deliver(premises, chf, protect(premises, r, chf.eui, built, 0x2002))


def test_most_routes_have_builders() -> None:
    missing = sorted({r.use_case for r in ROUTES if not has_builder(r)})
    assert missing == []


# -- parameters ------------------------------------------------------------------------------------


def minimal_context() -> BuildContext:
    pki, _ = lab_pki("dcc-minimal")
    return BuildContext(now=NOW, keystore=pki.keystore, device_types={})


@pytest.mark.parametrize(
    ("variant", "device", "option", "missing"),
    [
        ("8.11", "CHF", "add", "device"),
        ("8.7.1", "ESME", None, "partner"),
        ("8.8.1", "GSME", None, "partner"),
        ("11.3", "ESME", None, "image_hash"),
    ],
)
def test_missing_required_parameter(
    variant: str, device: str, option: str | None, missing: str
) -> None:
    r = route(variant, device, option)
    target = Eui64("00-DB-12-34-56-78-90-A0")
    with pytest.raises(BuildError, match=rf"{r.use_case}: parameter '{missing}' is required"):
        build_command(r, 1, Eui64("90-B3-D5-1F-30-01-00-00"), target, {}, minimal_context())


@pytest.mark.parametrize(
    ("variant", "device", "params", "complaint"),
    [
        ("4.1.1", "ESME", {"colour": "red"}, "unknown parameter"),
        ("4.8.1", "ESME", {"from": "yesterday"}, "'from' must be a datetime"),
        ("3.1", "ESME", {"message": 42}, "'message'"),
        ("2.2", "ESME", {"utrn": "1234"}, "'utrn' must be 20 decimal digits"),
        ("6.13", "ESME", {"values": {"7": 1}}, "no request spec"),
        ("1.5", "GSME", {"values": {"0.no_such_field": 1}}, "no field"),
    ],
)
def test_bad_parameters_are_named(
    variant: str, device: str, params: dict[str, Any], complaint: str
) -> None:
    r = route(variant, device)
    with pytest.raises(BuildError, match=complaint) as info:
        build_command(
            r,
            1,
            Eui64("90-B3-D5-1F-30-01-00-00"),
            Eui64("00-DB-12-34-56-78-90-A0"),
            params,
            minimal_context(),
        )
    assert r.use_case in str(info.value)


def test_every_route_documents_its_parameters() -> None:
    for r in BUILDABLE:
        params = parameters_for(r)
        assert all(text for text in params.values()), r.use_case


def test_minimal_context_builds_reads() -> None:
    r = route("4.1.1", "ESME")
    built = build_command(
        r, 7, "90-B3-D5-1F-30-01-00-00", "00-DB-12-34-56-78-90-A0", {}, minimal_context()
    )
    assert built.message_code == 0x0027 and not built.critical


# -- golden: shapes with the reference values give the reference payload -------------------------

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
ESME = Eui64("00-DB-12-34-56-78-90-A0")
GSME = Eui64("00-DB-12-34-56-78-90-A1")

# ECS35a (6.13): read the event log for 2014-12-31 (UTC seconds since 2000).
ECS35A = (
    "d9200003e800010400070000636200ff020102040204120001090600005e2c64ff0f02120000"
    "061c35f900061c374a8001000100"
)
# GCS40a (1.5): credit adjustment of 23130 at issuer event 473385600, start now.
GCS40A = "0109010107050010010005804a371c00000000005a5a0000"
# ECS17b (4.1.1): sensitive read of the import registers, counter 1000.
ECS17B = (
    "d9200003e8000103001e00002b0208ff0101020201010205120001090600005e2c220a0f0212"
    "00000202160000010102021602020509090400000000000003e8090890b3d51f300100000908"
    "00db1234567890a009000202160202020901020900"
)


def _payload(built: Built) -> str:
    return encode_payload(built.payload).hex()


def test_golden_event_log_read() -> None:
    r = route("6.13", "ESME")
    params = {
        "from": _dt.datetime(2014, 12, 31, tzinfo=_dt.UTC),
        "to": _dt.datetime(2015, 1, 1, tzinfo=_dt.UTC),
    }
    built = build_command(r, 1000, SUPPLIER, ESME, params, minimal_context())
    assert _payload(built) == ECS35A


def test_golden_gas_credit_adjustment() -> None:
    r = route("1.5", "GSME")
    params = {
        "issuer_event_id": 473385600,
        "credit_adjustment_value": 23130,
    }
    built = build_command(r, 1000, SUPPLIER, GSME, params, minimal_context())
    assert _payload(built) == GCS40A


def test_golden_sensitive_read() -> None:
    r = route("4.1.1", "ESME")
    built = build_command(r, 1000, SUPPLIER, ESME, {}, minimal_context())
    assert _payload(built) == ECS17B


def test_shapes_are_neutral() -> None:
    """No reference value leaks into a default command: defaults come from ctx and params."""
    r = route("2.3", "GSME")
    built = build_command(r, 1, SUPPLIER, GSME, {}, minimal_context())
    assert isinstance(built.payload, GbzPayload)
    for c in built.payload.components:
        fields = c.frame.fields or {}
        assert fields["debt_amount"] == 0 and fields["debt_label"] == b""


def test_top_up_tokens_are_accepted_once_each(lab: Lab) -> None:
    premises = lab.fresh()
    esme = premises.device(DeviceType.ESME)
    ctx = context(premises)
    r = route("2.2", "ESME")
    security = premises.security_for()
    supplier = _originator(premises, r)
    answers = []
    for counter in (0x3001, 0x3002):
        built = build_command(r, counter, supplier, esme.eui, {"amount_pence": 500}, ctx)
        msg = builder.command(built.message_code, counter, supplier, esme.eui, built.payload)
        out = esme.receive(builder.protect(msg, security, critical=False).encode())
        tree = decode_message_payload(decode_message(out[0].message)).tree
        assert isinstance(tree, AccessResponse)
        answers.append(tree.results[0].result)
    assert answers == [0, 0]  # two tokens, two counters: both accepted


def test_join_carries_the_partner_and_its_type(lab: Lab) -> None:
    premises = lab.fresh()
    ppmid = premises.device(DeviceType.PPMID)
    r = route("8.7.1", "ESME")
    built = build_command(r, 5, SUPPLIER, ESME, {"partner": ppmid.eui}, context(premises))
    tree = built.payload
    assert isinstance(tree, DerConstructed)
    method, partner, kind = tree.items
    assert isinstance(method, DerInteger) and method.value == 0  # method A, initiator
    assert isinstance(partner, DerOctetString) and partner.value == bytes(ppmid.eui)
    assert isinstance(kind, DerInteger) and kind.value == 5  # PPMID
