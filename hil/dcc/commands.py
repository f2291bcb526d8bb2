"""GBCS command payloads for service requests: one builder per use case.

`build_command(route, counter, originator, target, params, ctx)` returns the
payload of the use case a route names (`hil.dcc.routes`), ready for the GBCS
builder to number, address, sign and MAC. Two kinds of builder:

- shapes (`hil.dcc.templates`): the request specifications or ZCL commands the
  use case carries, with neutral values and time slots, generated from the
  reference data and reviewed. Callers fill in real values through named
  parameters (ZCL field names, the read window, the execution time) or by path
  (`values`);
- hand-written builders where the payload needs logic: UTRN top-ups, hub device
  logs, clock windows, and the ASN.1 use cases (security credentials, joins,
  firmware activation, gas clock, GPF log) whose content comes from the key
  store and the premises.

Every parameter is optional unless a command cannot exist without it (the
device of a hub log change, a join partner, a firmware image hash). A bad or
missing parameter raises `BuildError` naming the parameter and the use case.
`parameters_for(route)` lists the parameters with a one-line description.

`Sender` is the remote-party side the device tests use: counters, signing and
the DCC's MAC around a built payload.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from emulator.errors import EmulatorError, GbcsError, KeyNotFoundError
from emulator.gbcs import builder, utrn
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerConstructed,
    DerInteger,
    DerNull,
    DerOctetString,
    DerPrimitive,
    DerSequence,
    DerString,
    decode_der,
)
from emulator.gbcs.dlms.apdu import AccessRequest, Obis, RequestSpec, SpecKind, invoke_id_for
from emulator.gbcs.dlms.axdr import (
    Array,
    Boolean,
    Data,
    Enum,
    Integer,
    LongUnsigned,
    NullData,
    OctetString,
    Structure,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.payload import PayloadTree, encode_payload
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import CONTROL_LAST, GbzComponent, GbzPayload, ZclFrame
from emulator.pki.keystore import KeyUsage
from hil.dcc.routes import Route, route
from hil.dcc.templates import (
    ZT,
    DlmsDraft,
    DlmsTemplate,
    Fill,
    GbzDraft,
    GbzTemplate,
    Times,
    ZclCommand,
    has_slots,
    protection,
    slot_rules,
    zcl,
)
from hil.dcc.templates.constants import DLMS_CONSTANTS, GBZ_CONSTANTS, USE_CASE_CONSTANTS
from hil.dcc.templates.dlms import TEMPLATES as DLMS_TEMPLATES
from hil.dcc.templates.gbz import TEMPLATES as GBZ_TEMPLATES


@dataclass(frozen=True, slots=True)
class Built:
    message_code: int
    payload: PayloadTree
    critical: bool
    #: The payload's bytes as `build_command` encoded them to check that every value
    #: fits: framing uses them instead of encoding the tree a second time.
    encoded: bytes = field(default=b"", compare=False, repr=False)

    @property
    def body(self) -> bytes | PayloadTree:
        """What to frame: the encoded payload when there is one, else the tree."""
        return self.encoded or self.payload


class BuildError(ValueError):
    """A parameter is missing or wrong; the message names it and the use case."""


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What builders may read besides the request: the lab clock, keys and premises.

    `ca_certificate` is the issuer of the remote-party certificates (CS02b carries
    it as its certification path; without it the path is empty). `utrn_counters`
    is the supplier's top-up counter per device, advanced by every UTRN a
    builder makes (GBCS: it must grow, by less than 1024 between accepted tokens).
    """

    now: _dt.datetime
    keystore: Any
    device_types: Mapping[bytes, str] = field(default_factory=dict)
    ca_certificate: x509.Certificate | None = None
    utrn_counters: MutableMapping[bytes, int] = field(default_factory=dict)
    read_window: _dt.timedelta = _dt.timedelta(days=31)
    #: Install codes by device EUI, as an installer reads them off the devices (a lab
    #: knows its devices'): the default of CCS01's `install_code`.
    install_codes: Mapping[bytes, bytes] = field(default_factory=dict)


# -- parameters ---------------------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """One build: the route, the parties, the caller's parameters and the context."""

    route: Route
    counter: int
    originator: Eui64
    target: Eui64
    params: Mapping[str, Any]
    ctx: BuildContext

    @property
    def use_case(self) -> str:
        return self.route.use_case

    def fail(self, name: str, problem: str) -> BuildError:
        return BuildError(f"{self.use_case}: parameter {name!r} {problem}")

    def has(self, name: str) -> bool:
        return self.params.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None else value

    def integer(self, name: str, default: int) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be an integer, got {value!r}")
        return value

    def time(self, name: str, default: _dt.datetime) -> _dt.datetime:
        value = self.get(name, default)
        if not isinstance(value, _dt.datetime):
            raise self.fail(name, f"must be a datetime, got {value!r}")
        if value.tzinfo is None:
            raise self.fail(name, "must be timezone-aware (UTC)")
        return value

    def optional_time(self, name: str) -> _dt.datetime | None:
        return self.time(name, self.ctx.now) if self.has(name) else None

    def eui(self, name: str, default: Eui64 | None = None) -> Eui64:
        value = self.params.get(name)
        if value is None:
            if default is None:
                raise self.fail(name, "is required (an EUI-64)")
            return default
        try:
            return Eui64(value)
        except (ValueError, TypeError) as exc:
            raise self.fail(name, f"is not an EUI-64: {exc}") from None

    def octets(self, name: str, default: bytes | None = None, size: int | None = None) -> bytes:
        value = self.params.get(name)
        if value is None:
            if default is None:
                raise self.fail(name, "is required (bytes or hex)")
            value = default
        if isinstance(value, str):
            try:
                value = bytes.fromhex(value.replace(" ", "").replace("-", ""))
            except ValueError:
                raise self.fail(name, "is not hex") from None
        if not isinstance(value, bytes | bytearray):
            raise self.fail(name, f"must be bytes or hex, got {value!r}")
        if size is not None and len(value) != size:
            raise self.fail(name, f"must be {size} bytes, got {len(value)}")
        return bytes(value)

    def times(self) -> Times:
        now = self.ctx.now
        end = self.time("to", now)
        start = self.time("from", end - self.ctx.read_window)
        if start > end:
            raise self.fail("from", "is after 'to'")
        cancel = bool(self.get("cancel", False))
        return Times(now, start, end, self.optional_time("execution_time"), cancel)


PayloadBuilder = Callable[[Request], PayloadTree]


@dataclass(frozen=True, slots=True)
class HandBuilder:
    build: PayloadBuilder
    parameters: Mapping[str, str]


_HAND: dict[str, HandBuilder] = {}


def _hand(*use_cases: str, **parameters: str) -> Callable[[PayloadBuilder], PayloadBuilder]:
    def register(fn: PayloadBuilder) -> PayloadBuilder:
        for name in use_cases:
            _HAND[name] = HandBuilder(fn, dict(parameters))
        return fn

    return register


WINDOW = {
    "from": "start of the read window (datetime; default 'to' minus the context's read window)",
    "to": "end of the read window (datetime; default now)",
}
EXECUTION = {
    "execution_time": "when a future-dated command runs (datetime; default: immediately)",
    "cancel": "true to cancel a future-dated command instead",
}
VALUES = {
    "values": "overrides by path: DLMS 'spec[.item...]', GBZ 'component[.field]' -> value",
}

NON_DISABLEMENT_HELP = (
    "non-disablement periods: list of {start: 'HH:MM', end: 'HH:MM', days: [weekday names]"
    " (default every day)}; a period may run over midnight"
)
MAX_METER_BALANCE_HELP = (
    "maximum meter balance, pence (0: no limit); a top-up or adjustment that would take the"
    " balance above it is refused (0-0:94.44.2.20)"
)
MAX_CREDIT_HELP = (
    "maximum credit threshold, pence (0: no limit); a UTRN worth more is refused (0-0:94.44.2.10)"
)
#: Weekday names, Monday first: the order of a DLMS schedule's weekday bits.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: The non-disablement script table and its START / STOP selectors (GBCS, ECS08).
NON_DISABLEMENT_TABLE = bytes((0, 0, 10, 0, 106, 0xFF))
NON_DISABLEMENT_START, NON_DISABLEMENT_STOP = 32, 33
ANY_DATE = b"\xff\xff\xff\xff\xff"


def flag_bits(flags: Sequence[bool]) -> bytes:
    """A DLMS bit string byte: the first flag in the most significant bit."""
    value = 0
    for i, flag in enumerate(flags):
        if flag:
            value |= 0x80 >> i
    return bytes((value,))


def non_disablement_entry(
    number: int,
    selector: int,
    time: bytes,
    weekdays: bytes,
    special_days: bytes = b"\x00",
    begin: bytes = ANY_DATE,
    end: bytes = ANY_DATE,
) -> list[Any]:
    """One entry of ECS08's non-disablement schedule (class 10): enabled, running the
    script table's START or STOP selector at `time` on the flagged days."""
    return [
        number,
        True,
        NON_DISABLEMENT_TABLE,
        selector,
        time,
        0xFFFF,
        weekdays,
        special_days,
        begin,
        end,
    ]


def non_disablement_entries(periods: Any) -> list[list[Any]]:
    """`non_disablement` periods -> ECS08 schedule entries (a START and a STOP each).

    Raises ValueError naming what is wrong (a time that is not HH:MM, a day name)."""
    if not isinstance(periods, list):
        raise ValueError("non_disablement must be a list of {start, end, days}")
    entries: list[list[Any]] = []
    for period in periods:
        if not isinstance(period, Mapping) or not {"start", "end"} <= set(period):
            raise ValueError(f"a period needs start and end: {period!r}")
        named = [str(d) for d in period.get("days") or WEEKDAYS]
        unknown = [d for d in named if d.lower() not in WEEKDAYS]
        if unknown:
            raise ValueError(f"not weekdays: {', '.join(unknown)}")
        days = {d.lower() for d in named}
        weekdays = flag_bits([day in days for day in WEEKDAYS])
        for key, selector in (("start", NON_DISABLEMENT_START), ("end", NON_DISABLEMENT_STOP)):
            text = str(period[key])
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
                raise ValueError(f"{key} {text!r} is not HH:MM")
            time = bytes((int(text[:2]), int(text[3:]), 0, 0))
            entries.append(non_disablement_entry(len(entries) + 1, selector, time, weekdays))
    return entries


#: The largest limit in pence whose millipence fits ECS08's I32 (2^31 - 1 millipence).
MAX_LIMIT_PENCE = (2**31 - 1) // 1000


def limit_millipence(pence: Any) -> int:
    """A credit limit given in pence (0: no limit) -> the ESME's COSEM millipence.

    Strict: a limit is money the supplier states, so a bool, a fraction or a
    negative amount is a mistake in the scenario, not something to round."""
    if isinstance(pence, bool) or not isinstance(pence, int):
        raise ValueError(f"must be whole pence (an integer), got {pence!r}")
    if not 0 <= pence <= MAX_LIMIT_PENCE:
        raise ValueError(f"must be 0..{MAX_LIMIT_PENCE} pence (0: no limit), got {pence}")
    return pence * 1000


#: Named parameters converted before they go into the command.
PARAMETER_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "non_disablement": non_disablement_entries,
    "cin": lambda cin: f"{int(cin):04d}".encode("ascii"),
    "recovery_rate_1": lambda pence: [[b"", int(pence)]],
    "recovery_rate_2": lambda pence: [[b"", int(pence)]],
    # ESME COSEM money is millipence (docs/metering.md): named debts are given in pence
    "payment_debt": lambda pence: int(pence) * 1000,
    "time_debt_1": lambda pence: int(pence) * 1000,
    "time_debt_2": lambda pence: int(pence) * 1000,
    "max_meter_balance": limit_millipence,
    "max_credit": limit_millipence,
}

#: Named parameters of DLMS shapes: use case -> name -> (request spec index, description).
DLMS_PARAMETERS: dict[str, dict[str, tuple[int | str, str]]] = {
    "ECS10": {"message": (0, "text shown on the meter display")},
    "ECS12": {"tenancy_date": (0, "change of tenancy date (datetime)")},
    "ECS16": {
        "supplier_telephone": (0, "supplier telephone number (text)"),
        "supplier_name": (1, "supplier name (text)"),
    },
    "ECS04a": {"amount": (0, "balance adjustment in millipence, the ESME's COSEM unit (integer)")},
    "ECS34": {"thresholds": (0, "instantaneous power thresholds (list of integers, W)")},
    "ECS38": {"offset_limit": (0, "randomised offset limit (seconds)")},
    "ECS39a": {"mpan": (0, "import MPAN (13 digits)")},
    "ECS39b": {"mpan": (0, "export MPAN (13 digits)")},
    "ECS50": {"cin": (0, "customer identification number (4 digits)")},
    "ECS81": {"tampered": (0, "supply tamper state (bool)")},
    "ECS07": {
        "recovery_rate_1": ("0.2", "time debt 1 recovered per period, pence (price scale -2)"),
        "recovery_rate_2": ("1.2", "time debt 2 recovered per period, pence (price scale -2)"),
        "payment_recovery": (2, "share of each payment recovered to the payment debt, 1/10000"),
        "recovery_period_1": (3, "time debt 1's recovery period, seconds (3600 or 86400)"),
        "recovery_period_2": (4, "time debt 2's recovery period, seconds (3600 or 86400)"),
        "payment_debt": (7, "pence added to the payment debt"),
        "time_debt_1": (8, "pence added to time debt 1"),
        "time_debt_2": (9, "pence added to time debt 2"),
    },
    "ECS08": {
        "max_meter_balance": (1, MAX_METER_BALANCE_HELP),
        "max_credit": (2, MAX_CREDIT_HELP),
        "non_disablement": (3, NON_DISABLEMENT_HELP),
    },
    "ECS08a": {
        "max_meter_balance": (1, MAX_METER_BALANCE_HELP),
        "max_credit": (2, MAX_CREDIT_HELP),
        "non_disablement": (3, NON_DISABLEMENT_HELP),
    },
}


#: DLMS use cases whose request specs are each optional: the `specs` parameter.
OPTIONAL_SPECS = frozenset({"ECS57", "ECS46c", "ECS46a", "ECS62Add", "ECS62Remove"})
#: The specs sent when `specs` is not given, where that is not all of them: ECS46c
#: names the switch types of switches 1 and 2 only (3-5 are optional).
DEFAULT_SPECS: dict[str, tuple[int, ...]] = {"ECS46c": (0, 1, 5, 6, 7, 8)}
SPECS = {"specs": "the request specs to send, by index in the full command (default all)"}


#: GBZ use cases whose one command repeats per group of values: use case -> (parameter,
#: description). Each item of the parameter is a mapping of the component's fields.
GBZ_REPEATED: dict[str, tuple[str, str]] = {
    "GCS20": (
        "event_settings",
        "one Set Event Configuration per configuration: list of {event_configuration:"
        " ZSE bits, payload: {number_of_events, event_ids}} (default: the template's)",
    ),
}


#: GBZ use cases that send one ZCL command of a kind per item of a parameter, in place of
#: the shape's commands of that kind (the shape has as many as its reference had): use
#: case -> {parameter: (ZCL command name, description)}. A kind the shape lacks comes
#: from `GBZ_EXTRA` and goes last.
GBZ_COMPONENT_LISTS: dict[str, dict[str, tuple[str, str]]] = {
    "GCS01a": {
        "day_profiles": (
            "publish_day_profile",
            "one Publish Day Profile per item: list of field mappings (default: the shape's)",
        ),
        "week_profiles": (
            "publish_week_profile",
            "one Publish Week Profile per item: list of field mappings (default: the shape's)",
        ),
        "block_thresholds": (
            "publish_block_thresholds",
            "Publish Block Thresholds after the price matrix, one per item: list of field"
            " mappings (default: none, as a TOU tariff)",
        ),
    },
}
#: ZCL commands a shape lacks (its reference had none): GCS01a's block thresholds, for
#: the tariff published with them (its thresholds' tier, then up to 15 thresholds).
GBZ_EXTRA: dict[str, ZclCommand] = {
    "publish_block_thresholds": zcl(
        0x0700,
        0x09,
        0x06,
        "publish_block_thresholds",
        {
            "provider_id": 0,
            "issuer_event_id": ZT("event_id"),
            "start_time": 0,
            "issuer_tariff_id": 0,
            "command_index": 0,
            "number_of_commands": 1,
            "sub_payload_control": 0,
            "entries": [],
        },
    ),
}


def _listed(req: Request, template: GbzTemplate) -> GbzTemplate:
    """The template with one component per item of each list parameter given."""
    components = list(template.components)
    for name, (command, _) in GBZ_COMPONENT_LISTS[req.use_case].items():
        items = req.get(name)
        if items is None:
            continue
        at = [i for i, c in enumerate(components) if c.name == command]
        first = components[at[0]] if at else GBZ_EXTRA[command]
        if not isinstance(items, list):
            raise req.fail(name, "must be a list of field mappings")
        made = []
        for n, fields in enumerate(items):
            if not isinstance(fields, Mapping) or not set(fields) <= set(first.fields):
                raise req.fail(name, f"item {n}: fields must be among {sorted(first.fields)}")
            made.append(dataclasses.replace(first, fields={**first.fields, **fields}))
        position = at[0] if at else len(components)
        components = [c for c in components if c.name != command]
        components[position:position] = made
    return GbzTemplate(tuple(components))


def _template(use_case: str) -> DlmsTemplate | GbzTemplate | None:
    return DLMS_TEMPLATES.get(use_case) or GBZ_TEMPLATES.get(use_case)


def parameters_for(r: Route) -> dict[str, str]:
    """Parameter name -> one-line description, for a route's use case."""
    return dict(_parameters(r))


#: use case -> its parameters: every build checks its caller's names against them, and
#: they depend only on the static tables (a fleet builds ~1,000 commands a second).
_PARAMETERS: dict[str, dict[str, str]] = {}


def _parameters(r: Route) -> Mapping[str, str]:
    known = _PARAMETERS.get(r.use_case)
    if known is None:
        known = _PARAMETERS[r.use_case] = _find_parameters(r)
    return known


def _find_parameters(r: Route) -> dict[str, str]:
    hand = _HAND.get(r.use_case)
    if hand is not None:
        return dict(hand.parameters)
    template = _template(r.use_case)
    if template is None:
        raise BuildError(f"{r.use_case}: no builder (see docs/commands.md)")
    params: dict[str, str] = {}
    rules = slot_rules(template)
    if rules & {"from", "to"}:
        params.update(WINDOW)
    if "execution" in rules:
        params.update(EXECUTION)
    if isinstance(template, GbzTemplate):
        repeated = GBZ_REPEATED.get(r.use_case)
        if repeated is not None:
            params[repeated[0]] = repeated[1]
        for name, (_, text) in GBZ_COMPONENT_LISTS.get(r.use_case, {}).items():
            params[name] = text
        for c in template.components:
            for name in c.fields:
                params.setdefault(name, f"ZCL field of {c.name} (every component that has it)")
    else:
        for name, (_, text) in DLMS_PARAMETERS.get(r.use_case, {}).items():
            params[name] = text
        if r.use_case in OPTIONAL_SPECS:
            params.update(SPECS)
    params.update(VALUES)
    return params


def has_builder(r: Route) -> bool:
    return r.use_case in _HAND or _template(r.use_case) is not None


def build_command(
    r: Route,
    counter: int,
    originator: Eui64 | str,
    target: Eui64 | str,
    params: Mapping[str, Any],
    ctx: BuildContext,
) -> Built:
    """The payload of `r`'s use case for `target`, from `params` and `ctx`."""
    known = _parameters(r)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise BuildError(
            f"{r.use_case}: unknown parameter(s) {', '.join(unknown)}"
            f" (known: {', '.join(sorted(known))})"
        )
    req = Request(r, counter, Eui64(originator), Eui64(target), params, ctx)
    hand = _HAND.get(r.use_case)
    try:
        if hand is not None:
            payload = hand.build(req)
        else:
            template = _template(r.use_case)
            assert template is not None
            payload = (
                _render_dlms(req, template)
                if isinstance(template, DlmsTemplate)
                else _render_gbz(req, template)
            )
        encoded = encode_payload(payload)  # a value that does not fit fails here, not later
    except BuildError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError, GbcsError) as exc:
        raise BuildError(f"{r.use_case}: {exc}") from exc
    return Built(r.message_code, payload, r.critical, encoded)


def _values(req: Request) -> Mapping[str | int, Any]:
    values = req.get("values", {})
    if not isinstance(values, Mapping):
        raise req.fail("values", "must be a mapping of path -> value")
    return values


#: use case -> its template's spec values with the constants applied, and the ids of
#: those without slots (`DlmsDraft.shared`). Nothing mutates A-XDR nodes (overrides
#: build new ones), so these are shared by every build of the use case; coercing a
#: 1.1.1 price matrix on every build was a tenth of a fleet worker's CPU.
_CONSTANT_VALUES: dict[str, tuple[tuple[Data, ...], frozenset[int]]] = {}


def _constant_values(
    use_case: str, template: DlmsTemplate
) -> tuple[tuple[Data, ...], frozenset[int]]:
    cached = _CONSTANT_VALUES.get(use_case)
    if cached is None:
        draft = DlmsDraft.of(template)
        for position, spec in enumerate(template.specs):
            key = (spec.class_id, spec.obis, spec.member)
            for path, value in DLMS_CONSTANTS.get(key, {}).items():
                draft.override(f"{position}.{path}" if path else str(position), value)
        for fixed, value in USE_CASE_CONSTANTS.get(use_case, {}).items():
            draft.override(fixed, value)
        shared = frozenset(id(v) for v in draft.values if not has_slots(v))
        cached = _CONSTANT_VALUES[use_case] = (tuple(draft.values), shared)
    return cached


def _render_dlms(req: Request, template: DlmsTemplate) -> AccessRequest:
    values, shared = _constant_values(req.use_case, template)
    draft = DlmsDraft(list(template.specs), list(values), shared)
    for name, (index, _) in DLMS_PARAMETERS.get(req.use_case, {}).items():
        if req.has(name):
            try:
                value = req.params[name]
                convert = PARAMETER_CONVERTERS.get(name)
                draft.override(index, convert(value) if convert else value)
            except (KeyError, TypeError, ValueError) as exc:
                raise req.fail(name, str(exc)) from None
    for key, value in _values(req).items():
        try:
            draft.override(key, value)
        except (KeyError, TypeError) as exc:
            raise req.fail("values", f"at {key!r}: {exc}") from None
    if req.has("specs") or req.use_case in DEFAULT_SPECS:
        try:
            draft.keep([int(i) for i in req.get("specs", DEFAULT_SPECS.get(req.use_case))])
        except (KeyError, TypeError, ValueError) as exc:
            raise req.fail("specs", str(exc)) from None
    return draft.render(Fill(req.times(), req.counter, req.originator, req.target))


def _repeated(req: Request, template: GbzTemplate) -> GbzTemplate:
    """The template with its first component once per item of the repeated parameter."""
    name = GBZ_REPEATED[req.use_case][0]
    items = req.get(name)
    if not isinstance(items, list) or not items:
        raise req.fail(name, "must be a non-empty list of field mappings")
    first = template.components[0]
    components = []
    for n, fields in enumerate(items):
        if not isinstance(fields, Mapping) or not set(fields) <= set(first.fields):
            raise req.fail(name, f"item {n}: fields must be among {sorted(first.fields)}")
        components.append(dataclasses.replace(first, fields={**first.fields, **fields}))
    return GbzTemplate(tuple(components))


def _render_gbz(req: Request, template: GbzTemplate) -> GbzPayload:
    if req.use_case in GBZ_REPEATED and req.has(GBZ_REPEATED[req.use_case][0]):
        template = _repeated(req, template)
    if req.use_case in GBZ_COMPONENT_LISTS:
        template = _listed(req, template)
    draft = GbzDraft.of(template)
    fixed = GBZ_CONSTANTS.get(req.use_case, {})
    for index, component in enumerate(template.components):
        for name, value in fixed.get(component.name, {}).items():
            draft.override(f"{index}.{name}", value)
    for name in draft.field_names():
        if req.has(name):
            draft.set_field(name, req.params[name])
    for key, value in _values(req).items():
        try:
            draft.override(key, value)
        except (KeyError, TypeError) as exc:
            raise req.fail("values", f"at {key!r}: {exc}") from None
    return draft.render(req.times(), req.counter)


# -- DLMS helpers of the hand-written builders ----------------------------------------------


def _spec(kind: SpecKind, class_id: int, obis: str, member: int) -> RequestSpec:
    return RequestSpec(kind, class_id, Obis(obis), member)


def _dlms(counter: int, *specs: tuple[RequestSpec, Data]) -> AccessRequest:
    return AccessRequest(invoke_id_for(counter), [s for s, _ in specs], [d for _, d in specs])


def _dlms_time(when: _dt.datetime) -> OctetString:
    return OctetString(DlmsDateTime.from_datetime(when).encode())


NETWORK_CONTROL = "0-0:30.3.0.255"


def protected_read(
    counter: int,
    originator: Eui64,
    recipient: Eui64,
    objects: list[tuple[int, str, int]],
    data_protection: str,
) -> AccessRequest:
    """A sensitive read of whole attributes (class 30 get_protected_attributes).

    For tests and tools that read objects no use case shape names.
    """
    descriptors = Array(
        [
            Structure(
                [
                    LongUnsigned(c),
                    OctetString(bytes(Obis(o))),
                    Integer(a),
                    LongUnsigned(0),
                    Structure([Enum(0), NullData()]),
                ]
            )
            for c, o, a in objects
        ]
    )
    argument = Structure([descriptors, Array([protection(counter, originator, recipient)])])
    return _dlms(counter, (_spec(SpecKind.ACTION, 30, data_protection, 1), argument))


# -- 2.2 top-ups -----------------------------------------------------------------------------

_TOP_UP = {
    "utrn": "the 20-digit UTRN to apply (default: one generated for amount_pence)",
    "amount_pence": "top-up value in pence when no UTRN is given (default 1000)",
    "utrn_counter": "supplier's PTUT counter for the generated UTRN (default: next for the device)",
}


def _utrn(req: Request) -> str:
    """The caller's UTRN, or a valid one made with the supplier's prepayment key."""
    given = req.get("utrn")
    if given is not None:
        text = str(given).replace(" ", "").replace("-", "")
        if len(text) != 20 or not text.isdigit():
            raise req.fail("utrn", "must be 20 decimal digits")
        return text
    amount = req.integer("amount_pence", 1000)
    if not 0 <= amount <= utrn.MAX_VALUE:
        raise req.fail("amount_pence", f"must be 0..{utrn.MAX_VALUE}")
    device = bytes(req.target)
    step = req.get("utrn_counter")
    if step is None:
        step = req.ctx.utrn_counters.get(device, 0) + 1
    elif isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise req.fail("utrn_counter", "must be a positive integer")
    security = MessageSecurity(req.ctx.keystore)
    try:
        z = security.shared_secret(
            req.originator, req.target, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT
        )
    except EmulatorError as exc:  # the key store names what it lacks
        raise req.fail("utrn", f"cannot be generated: {exc}") from None
    token = utrn.generate_utrn(z, req.originator, req.target, step << 32, amount)
    req.ctx.utrn_counters[device] = step
    return token


@_hand("CS01a", **_TOP_UP)
def top_up_esme(req: Request) -> PayloadTree:
    """CS01a: the token gateway (class 115) applies the UTRN."""
    token = OctetString(_utrn(req).encode())
    return _dlms(req.counter, (_spec(SpecKind.ACTION, 115, "0-0:19.40.0.255", 1), token))


@_hand("CS01b", **_TOP_UP)
def top_up_gsme(req: Request) -> PayloadTree:
    """CS01b: ZSE consumer top-up, originating device 0 (the remote party)."""
    fields = {"originating_device": 0, "top_up_code": _utrn(req).encode()}
    frame = ZclFrame(0x01, 0, 0x04, fields, name="consumer_top_up")
    return GbzPayload([GbzComponent(CONTROL_LAST, 0x0705, frame)])


# -- 8.11 / 8.12 hub device logs --------------------------------------------------------------


@_hand(
    "CCS01",
    device="EUI-64 of the device to add to the CHF Device Log (required)",
    install_code=(
        "the device's install code (bytes or hex; default: the code the lab's installer"
        " read off the device, else 16 zero bytes)"
    ),
    join_timeout="seconds joining stays open for it (default 3600)",
)
def add_to_hub_log(req: Request) -> PayloadTree:
    """CCS01: register_device (EUI, install-code key), then open joining."""
    device = req.eui("device")
    code = req.octets("install_code", req.ctx.install_codes.get(bytes(device), bytes(16)))
    timeout = req.integer("join_timeout", 3600)
    if not 0 < timeout <= 0xFFFF:
        raise req.fail("join_timeout", "must be 1..65535 seconds")
    register = Structure([OctetString(bytes(device)), Enum(1), OctetString(code), Enum(0)])
    return _dlms(
        req.counter,
        (_spec(SpecKind.ACTION, 104, NETWORK_CONTROL, 1), register),
        (_spec(SpecKind.SET, 104, NETWORK_CONTROL, 3), LongUnsigned(timeout)),
        (_spec(SpecKind.SET, 104, NETWORK_CONTROL, 2), Boolean(True, 0xFF)),
    )


@_hand("CCS02", device="EUI-64 of the device to remove from the CHF Device Log (required)")
def remove_from_hub_log(req: Request) -> PayloadTree:
    """CCS02: unregister_device; the CHF keeps its link key in the historic log."""
    device = OctetString(bytes(req.eui("device")))
    return _dlms(req.counter, (_spec(SpecKind.ACTION, 104, NETWORK_CONTROL, 2), device))


_HUB = frozenset({"CHF", "GPF"})


@_hand(
    "CCS03",
    entries="list of (EUI-64, link key hash 16 bytes) to restore (default: every device"
    " of the premises but the hub, with zero hashes)",
    pan_id="the 8-byte identifier carried before the entries (default zeros)",
)
def restore_hub_log(req: Request) -> PayloadTree:
    """CCS03: restore the CHF Device Log from a backup."""
    default = [(eui, bytes(16)) for eui, kind in req.ctx.device_types.items() if kind not in _HUB]
    rows: list[Data] = []
    for n, item in enumerate(req.get("entries", default)):
        try:
            eui, key_hash = item
            rows.append(Structure([OctetString(bytes(Eui64(eui))), OctetString(bytes(key_hash))]))
        except (TypeError, ValueError):
            raise req.fail("entries", f"item {n} is not (EUI-64, link key hash)") from None
    argument = Structure([OctetString(req.octets("pan_id", bytes(8), 8)), Array(rows)])
    return _dlms(req.counter, (_spec(SpecKind.ACTION, 104, NETWORK_CONTROL, 5), argument))


# -- 6.11 / 8.1.1 clocks ---------------------------------------------------------------------

_CLOCK = {
    "valid_from": "start of the window the device clock must be in (default now - 1 minute)",
    "valid_to": "end of that window (default now + 1 minute)",
}


#: A gas meter takes its commands when it next wakes (GBCS: at least every 30 minutes),
#: so its clock window must stay open that long; an always-on ESME needs a minute.
GAS_CLOCK_WINDOW = _dt.timedelta(hours=1)
_GAS_CLOCK = {
    "valid_from": "start of the window the gas meter's clock must be in (default now - 1 minute)",
    "valid_to": "end of that window (default now + 1 hour: the meter reads it when it wakes)",
}


def _window(
    req: Request, ahead: _dt.timedelta = _dt.timedelta(minutes=1)
) -> tuple[_dt.datetime, _dt.datetime]:
    minute = _dt.timedelta(minutes=1)
    start = req.time("valid_from", req.ctx.now - minute)
    end = req.time("valid_to", req.ctx.now + ahead)
    if start > end:
        raise req.fail("valid_from", "is after 'valid_to'")
    return start, end


@_hand("ECS70", "ECS70Commission", **_CLOCK)
def set_esme_clock(req: Request) -> PayloadTree:
    """ECS70: clock base, adjust to the preset time within a validity window, read back.

    The preset time is "not specified" (all 0xFF): the meter takes its time from
    the DCC's reference, within the window.
    """
    start, end = _window(req)
    preset = OctetString(DlmsDateTime.never_marker().encode())
    window = Structure([preset, _dlms_time(start), _dlms_time(end)])
    clock = "0-0:1.0.0.255"
    return _dlms(
        req.counter,
        (_spec(SpecKind.SET, 8, clock, 9), Enum(5)),
        (_spec(SpecKind.ACTION, 8, clock, 5), window),
        (_spec(SpecKind.ACTION, 8, clock, 4), Integer(0)),
        (_spec(SpecKind.GET, 8, clock, 2), NullData()),
        (_spec(SpecKind.GET, 8, clock, 4), NullData()),
    )


_AUXILIARY = {
    "controller": "auxiliary controller N (1-5; default 5)",
    "input": "true: the controller takes input from the controlled load (APC input)",
    "level": "commanded state level, 0-100 (default 100)",
    "start": "when the state starts (datetime; default now)",
    "end": "when it ends (datetime; default one hour after the start)",
}


@_hand("ECS47a", "ECS47e", **_AUXILIARY)
def set_auxiliary_controller(req: Request) -> PayloadTree:
    """ECS47a (7.13) / ECS47e (7.16): an auxiliary controller's state for a period.

    The controller's start and end date-times are the registers 0-0:94.44.(116+N).x
    (x = 1, 2 for 7.13; 3, 4 for 7.16) and the script table entry's selector names the
    controller kind (1 output, 2 input from the controlled load), N and the level.
    """
    number = int(req.get("controller", 5))
    level = int(req.get("level", 100))
    if not 1 <= number <= 5:
        raise req.fail("controller", f"{number} is not a controller number (1-5)")
    if not 0 <= level <= 100:
        raise req.fail("level", f"{level} is not a level (0-100)")
    kind = 2 if req.get("input") else 1
    first, table = (1, 103) if req.use_case == "ECS47a" else (3, 107)
    start = req.time("start", req.ctx.now)
    end = req.time("end", start + _dt.timedelta(hours=1))
    registers = f"0-0:94.44.{116 + number}"
    selector = ((kind << 4 | number) << 8) | level
    return _dlms(
        req.counter,
        (_spec(SpecKind.SET, 1, f"{registers}.{first}", 2), _dlms_time(start)),
        (_spec(SpecKind.SET, 1, f"{registers}.{first + 1}", 2), _dlms_time(end)),
        (_spec(SpecKind.ACTION, 9, f"0-0:10.0.{table}.255", 1), LongUnsigned(selector)),
    )


def _generalized(when: _dt.datetime) -> DerString:
    return DerString(0x18, when.astimezone(_dt.UTC).strftime("%Y%m%d%H%M%SZ").encode())


_NEVER = DerString(0x18, b"99991231235959Z")


@_hand("GCS28", "GCS28Commission", **_GAS_CLOCK)
def set_gas_clock(req: Request) -> PayloadTree:
    """GCS28: the gas meter sets its clock if its time lies in the validity window.

    The meter checks the window when it wakes and takes the command, up to a wake
    interval after the DCC sent it (RTDS GCS28: device time outside -> result 2).
    """
    start, end = _window(req, GAS_CLOCK_WINDOW)
    return DerSequence([_generalized(start), _generalized(end)])


# -- ASN.1: joins --------------------------------------------------------------------------

#: GBCS join / device log device types. The same numbers, Type 2 = 6 included, are
#: the device types of Silicon Labs' GBCS Device Log for comms hubs
#: (SiliconLabs/gecko_sdk, protocol/zigbee/app/framework/plugin/gbcs-device-log/
#: gbcs-device-log.h); the reference data has no Type 2 join to check against.
DEVICE_TYPE_NUMBERS = {
    "GSME": 0,
    "ESME": 1,
    "CHF": 2,
    "GPF": 3,
    "HCALCS": 4,
    "PPMID": 5,
    "IHD": 6,  # Type 2 devices
    "CAD": 6,
    "TYPE2": 6,
}
#: Join method and role of each join use case (A initiator, A responder, B, C).
JOIN_METHODS = {
    "CS03A1": 0,
    "CS03A2Critical": 1,
    "CS03A2NonCritical": 1,
    "CS03B": 2,
    "CS03CCritical": 3,
    "CS03CNonCritical": 3,
}


def _partner_type(req: Request, partner: Eui64) -> int:
    if req.has("partner_type"):
        value = req.get("partner_type")
        if isinstance(value, str):
            if value.upper() not in DEVICE_TYPE_NUMBERS:
                raise req.fail("partner_type", f"unknown device type {value!r}")
            return DEVICE_TYPE_NUMBERS[value.upper()]
        return req.integer("partner_type", 0)
    kind = req.ctx.device_types.get(bytes(partner))
    if kind is None:
        raise req.fail(
            "partner_type", f"is required: {partner} is not in the context's device types"
        )
    return DEVICE_TYPE_NUMBERS[kind.upper()]


@_hand(
    "CS03A1",
    "CS03A2Critical",
    "CS03A2NonCritical",
    "CS03B",
    partner="EUI-64 of the device to join with (required)",
    partner_type="its GBCS device type (name or number; default from the context's device types)",
)
def join(req: Request) -> PayloadTree:
    partner = req.eui("partner")
    return DerSequence(
        [
            DerInteger(JOIN_METHODS[req.use_case]),
            DerOctetString(bytes(partner)),
            DerInteger(_partner_type(req, partner)),
        ]
    )


@_hand(
    "CS03CCritical",
    "CS03CNonCritical",
    partner="EUI-64 of the device to join with (required)",
    partner_type="its GBCS device type (name or number; default from the context's device types)",
    certificate="partner's key agreement certificate, DER (default: from the key store)",
)
def join_method_c(req: Request) -> PayloadTree:
    """CS03C: the partner's key agreement certificate travels with the join."""
    partner = req.eui("partner")
    if req.has("certificate"):
        der = req.octets("certificate")
    else:
        der = _certificate_der(req, partner, KeyUsage.KEY_AGREEMENT, "certificate")
    return DerSequence(
        [
            DerInteger(JOIN_METHODS["CS03CCritical"]),
            DerOctetString(bytes(partner)),
            DerInteger(_partner_type(req, partner)),
            decode_der(der),
        ]
    )


@_hand(
    "CS04ACCritical",
    "CS04ACNonCritical",
    "CS04B",
    partner="EUI-64 of the device to unjoin (required)",
)
def unjoin(req: Request) -> PayloadTree:
    return DerOctetString(bytes(req.eui("partner")))


@_hand("CS07")
def read_join_details(req: Request) -> PayloadTree:
    return DerNull()


# -- ASN.1: firmware ------------------------------------------------------------------------


@_hand(
    "CS06",
    image_hash="SHA-256 manufacturer image hash of the image to activate (32 bytes or hex;"
    " required)",
    **EXECUTION,
)
def activate_firmware(req: Request) -> PayloadTree:
    items: list[Der] = [
        DerOctetString(req.octets("image_hash", size=32)),
        DerInteger(req.counter),
    ]
    if req.get("cancel", False):
        items.append(_NEVER)
    elif req.has("execution_time"):
        items.append(_generalized(req.time("execution_time", req.ctx.now)))
    return DerSequence(items)


@_hand("CS08")
def read_ppmid_firmware_version(req: Request) -> PayloadTree:
    return DerNull()


# -- ASN.1: GPF device log ---------------------------------------------------------------------

_GAS_HAN = frozenset({"GSME", "PPMID", "IHD", "CAD", "TYPE2"})


@_hand(
    "GCS59",
    entries="list of (EUI-64, device type name or number) to restore (default: the gas"
    " meter and HAN devices of the premises)",
)
def restore_gpf_log(req: Request) -> PayloadTree:
    default = [(eui, kind) for eui, kind in req.ctx.device_types.items() if kind in _GAS_HAN]
    rows: list[Der] = []
    for n, item in enumerate(req.get("entries", default)):
        try:
            eui, kind = item
            number = DEVICE_TYPE_NUMBERS[kind.upper()] if isinstance(kind, str) else int(kind)
            rows.append(DerSequence([DerOctetString(bytes(Eui64(eui))), DerInteger(number)]))
        except (TypeError, ValueError, KeyError):
            raise req.fail("entries", f"item {n} is not (EUI-64, device type)") from None
    return DerSequence([DerSequence(rows)])


# -- ASN.1: security credentials -----------------------------------------------------------------

#: Remote party role numbers of trust anchor cells (as the devices number them).
ROLE_NUMBERS = {
    "recovery": 1,
    "supplier": 2,
    "network_operator": 3,
    "acb": 4,
    "transitional_cos": 5,
    "wan_provider": 6,
    "root": 7,
    "load_controller": 8,
}
_SIGNING = DerBitString(7, b"\x80")  # digitalSignature
_AGREEMENT = DerBitString(3, b"\x08")  # keyAgreement
_USAGES = {"digital_signature": KeyUsage.DIGITAL_SIGNATURE, "key_agreement": KeyUsage.KEY_AGREEMENT}


def _usage_bits(usage: KeyUsage) -> DerBitString:
    return _SIGNING if usage == KeyUsage.DIGITAL_SIGNATURE else _AGREEMENT


def _usage(req: Request, default: str = "key_agreement") -> KeyUsage:
    name = req.get("usage", default)
    if name not in _USAGES:
        raise req.fail("usage", f"must be one of {', '.join(_USAGES)}")
    return _USAGES[name]


def _certificate_der(req: Request, eui: Eui64, usage: KeyUsage, param: str) -> bytes:
    try:
        cert = req.ctx.keystore.certificate(eui, usage)
    except KeyNotFoundError as exc:
        raise req.fail(param, f"not given and not in the key store: {exc}") from None
    der: bytes = cert.public_bytes(serialization.Encoding.DER)
    return der


def _originator_cell(req: Request, signed: bool) -> Der:
    number = ROLE_NUMBERS.get(req.route.originator, 127)
    return DerSequence([DerInteger(number), _SIGNING if signed else _AGREEMENT])


_CREDENTIAL_ROLES = {
    "roles": "roles whose credentials to report (names or numbers; default supplier,"
    " network_operator, acb)",
}


@_hand("CS02aMAC", "CS02aSignature", "CS02fMAC", "CS02fSignature", **_CREDENTIAL_ROLES)
def provide_credentials(req: Request) -> PayloadTree:
    """CS02a/f: the authorising cell (the originator's) and the roles asked about."""
    roles = req.get("roles", ["supplier", "network_operator", "acb"])
    numbers: list[Der] = []
    for role in roles:
        number = ROLE_NUMBERS.get(role) if isinstance(role, str) else role
        if not isinstance(number, int):
            raise req.fail("roles", f"unknown role {role!r}")
        numbers.append(DerInteger(number))
    signed = req.use_case.endswith("Signature")
    return DerSequence([_originator_cell(req, signed), DerSequence(numbers)])


@_hand("CS02c", usage="key usage of the new key pair: key_agreement (default) or digital_signature")
def issue_credentials(req: Request) -> PayloadTree:
    return DerSequence([_usage_bits(_usage(req))])


@_hand("CS02e", usage="which device certificate: key_agreement (default) or digital_signature")
def provide_device_certificate(req: Request) -> PayloadTree:
    return DerSequence([_usage_bits(_usage(req))])


@_hand(
    "CS02d",
    certificate="the device certificate to install, DER (default: the device's current one"
    " of `usage` from the key store)",
    usage="key usage when the certificate comes from the key store (default key_agreement)",
)
def update_device_certificate(req: Request) -> PayloadTree:
    if req.has("certificate"):
        der = req.octets("certificate")
    else:
        der = _certificate_der(req, req.target, _usage(req), "certificate")
    return decode_der(der)


@dataclass(frozen=True, slots=True)
class CredentialUpdate:
    """The fixed part of a CS02b / CS02g use case (GBCS Update Security Credentials).

    `cells` are the trust anchor cells replaced: (role, key usage, cell usage: 1 for
    the supplier's prepayment top-up cell). The authorising remote party control
    carries the replacement `mode`, optionally the flag disapplying time-based
    certification path checks, the authorising cell (`authorising`: a role, or
    None), the originator's sequence number, the new party's floor sequence
    number (`floor`), the supplier's prepayment floor (`specialist`), and floor
    changes for other roles (`others`; the supplier's with its prepayment floor).
    """

    mode: int
    cells: tuple[tuple[str, KeyUsage, int], ...]
    authorising: str | None
    disapply_cpv: bool = False
    floor: bool = True
    specialist: bool = False
    others: tuple[str, ...] = ()


_DS, _KA, _PP = (
    KeyUsage.DIGITAL_SIGNATURE,
    KeyUsage.KEY_AGREEMENT,
    KeyUsage.PREPAYMENT_KEY_AGREEMENT,
)
_SUPPLIER_CELLS = (("supplier", _DS, 0), ("supplier", _KA, 0), ("supplier", _PP, 1))
_NO_CELLS = (("network_operator", _DS, 0), ("network_operator", _KA, 0))
_LC_CELLS = (("load_controller", _DS, 0), ("load_controller", _KA, 0))
CREDENTIAL_UPDATES: dict[str, CredentialUpdate] = {
    "CS02bSupplierBySupplier": CredentialUpdate(2, _SUPPLIER_CELLS, "supplier", specialist=True),
    "CS02bSupplierBySupplierHandover": CredentialUpdate(
        2, _SUPPLIER_CELLS, "supplier", specialist=True
    ),
    "CS02bNOByNO": CredentialUpdate(3, _NO_CELLS, "network_operator"),
    "CS02bNOByNOHandover": CredentialUpdate(3, _NO_CELLS, "network_operator"),
    "CS02bACBByACB": CredentialUpdate(4, (("acb", _KA, 0),), None),
    "CS02bWPByWP": CredentialUpdate(5, (("wan_provider", _DS, 0),), "wan_provider"),
    "CS02bTransCoSByTransCoS": CredentialUpdate(
        6, (("transitional_cos", _DS, 0),), "transitional_cos", disapply_cpv=True, floor=False
    ),
    "CS02bSupplierByTransCoS": CredentialUpdate(
        7, _SUPPLIER_CELLS, "transitional_cos", floor=False, others=("supplier",)
    ),
    "CS02bAnyExceptAbnormalRootByRecovery": CredentialUpdate(
        8,
        (
            ("recovery", _DS, 0),
            *_SUPPLIER_CELLS,
            *_NO_CELLS,
            ("acb", _KA, 0),
            ("transitional_cos", _DS, 0),
        ),
        "recovery",
        disapply_cpv=True,
        others=("supplier", "network_operator", "acb", "transitional_cos"),
    ),
    "CS02gLoadControllerByLoadController": CredentialUpdate(
        10, _LC_CELLS, "load_controller", disapply_cpv=True
    ),
    "CS02gLoadControllerBySupplier": CredentialUpdate(
        11, _LC_CELLS, "supplier", floor=False, others=("load_controller",)
    ),
}


def _seq_number(tag: int, value: int) -> DerPrimitive:
    size = max(1, (value.bit_length() + 8) // 8)
    return DerPrimitive(bytes((tag,)), value.to_bytes(size, "big"))


def _party_of_role(req: Request, role: str, main: bool) -> Eui64:
    """Whose certificates go into a role's cells: the `party` parameter (for the main
    role), the originator when it holds the role, else the key store's only remote
    party of that role."""
    if main and req.has("party"):
        return req.eui("party")
    if req.route.originator == role:
        return req.originator
    wanted = f"{ROLE_NUMBERS[role]:02d}"
    entries = getattr(req.ctx.keystore, "entries", None)
    found: set[bytes] = set()
    for eui, usage, _ in entries() if entries is not None else ():
        try:
            cert = req.ctx.keystore.certificate(eui, usage)
        except KeyNotFoundError:
            continue
        ou = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        if ou and str(ou[0].value) == wanted:
            found.add(bytes(eui))
    if len(found) != 1:
        raise req.fail("party", f"is required: {len(found)} {role} parties in the key store")
    return Eui64(found.pop())


def _der_list(req: Request, name: str) -> list[Der] | None:
    """A parameter holding a list of DER encodings (bytes or hex), decoded; None if unset."""
    if not req.has(name):
        return None
    value = req.get(name)
    if not isinstance(value, list | tuple):
        raise req.fail(name, "must be a list of DER certificates")
    found: list[Der] = []
    for n, item in enumerate(value):
        try:
            found.append(decode_der(bytes.fromhex(item) if isinstance(item, str) else bytes(item)))
        except (TypeError, ValueError, GbcsError):
            raise req.fail(name, f"item {n} is not a DER certificate") from None
    return found


def _floor_change(role: str, floor: int, top_up: int) -> Der:
    """A role's new floor sequence number; a supplier's also its prepayment top-up floor."""
    items: list[Der] = [DerInteger(ROLE_NUMBERS[role]), DerInteger(floor)]
    if role == "supplier":
        items.append(DerSequence([DerSequence([DerInteger(0), DerInteger(top_up)])]))
    return DerSequence(items)


@_hand(
    *CREDENTIAL_UPDATES,
    party="EUI-64 of the party whose certificates go into the (first role's) cells (default:"
    " the originator if it holds the role, else the key store's party of that role)",
    floor_seq_number="floor sequence number for the new party (default 0)",
    prepayment_floor_seq_number="the new supplier's prepayment top-up floor sequence number"
    " (default: floor_seq_number; 6.23: in the supplier's floor change)",
    disapply_cpv_checks="true to disapply time-based certification path checks (default:"
    " true for the TransCoS, recovery and load controller updates)",
    certificates="replacement certificates, DER, one per cell in the use case's cell order"
    " (default: the parties' certificates from the key store)",
    certification_path="certification path certificates, DER (default: the context's CA"
    " certificate)",
    **EXECUTION,
)
def update_credentials(req: Request) -> PayloadTree:
    """CS02b / CS02g: replace trust anchor cells with the parties' certificates.

    The certification path is the context's CA certificate when it has one.
    """
    spec = CREDENTIAL_UPDATES[req.use_case]
    floor = req.integer("floor_seq_number", 0)
    control: list[Der] = [DerInteger(spec.mode)]
    if req.get("disapply_cpv_checks", spec.disapply_cpv):
        control.append(DerPrimitive(b"\x81", b"\x01"))
    if spec.authorising is not None:
        cell = [DerInteger(ROLE_NUMBERS[spec.authorising]), _SIGNING]
        control.append(DerConstructed(b"\xa2", cell))
    control.append(_seq_number(0x83, req.counter))
    if spec.floor:
        control.append(_seq_number(0x84, floor))
    top_up = req.integer("prepayment_floor_seq_number", floor)
    if spec.specialist:
        specialist: list[Der] = [DerSequence([DerInteger(0), DerInteger(top_up)])]
        control.append(DerConstructed(b"\xa5", specialist))
    if spec.others:
        changes = [_floor_change(role, floor, top_up) for role in spec.others]
        control.append(DerConstructed(b"\xa6", changes))
    main = spec.cells[0][0]
    given = _der_list(req, "certificates")
    if given is not None and len(given) != len(spec.cells):
        raise req.fail("certificates", f"needs {len(spec.cells)} certificates, got {len(given)}")
    replacements: list[Der] = []
    for n, (role, usage, cell_usage) in enumerate(spec.cells):
        if given is not None:
            cert = given[n]
        else:
            party = _party_of_role(req, role, role == main)
            cert = decode_der(_certificate_der(req, party, usage, "party"))
        target: list[Der] = [DerInteger(ROLE_NUMBERS[role]), _usage_bits(usage)]
        if cell_usage:
            target.append(DerInteger(cell_usage))
        replacements.append(DerSequence([cert, DerSequence(target)]))
    path = _der_list(req, "certification_path")
    if path is None:
        path = []
        if req.ctx.ca_certificate is not None:
            ca = req.ctx.ca_certificate.public_bytes(serialization.Encoding.DER)
            path.append(decode_der(ca))
    items: list[Der] = [DerSequence(control), DerSequence(replacements), DerSequence(path)]
    if req.get("cancel", False):
        items.append(_NEVER)
    elif req.has("execution_time"):
        items.append(_generalized(req.time("execution_time", req.ctx.now)))
    return DerSequence(items)


# -- the remote party side ----------------------------------------------------------------------

#: Variant keys the first builders used (kept for callers of `Sender.command`).
_LEGACY = {
    "4.1.1-gas": ("4.1.1", "GSME", None),
    "8.11-add": ("8.11", "CHF", "add"),
    "8.11-remove": ("8.11", "CHF", "remove"),
}


class Sender:
    """A remote party's side of GBCS: counters, signing and the DCC's MAC.

    `security` must hold the party's signing key and the ACB's key-agreement key
    (the DCC MACs every command it sends on a user's behalf).
    """

    def __init__(
        self,
        party: Eui64 | str,
        security: MessageSecurity,
        *,
        first_counter: int = 0x1000,
        now: Callable[[], _dt.datetime] | None = None,
        device_types: Mapping[bytes, str] | None = None,
    ) -> None:
        self.party = Eui64(party)
        self.security = security
        self.counter = first_counter
        self._now = now or (lambda: _dt.datetime.now(_dt.UTC))
        self.device_types = dict(device_types or {})
        self.utrn_counters: dict[bytes, int] = {}

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter

    def context(self) -> BuildContext:
        return BuildContext(
            self._now(),
            self.security.keystore,
            self.device_types,
            utrn_counters=self.utrn_counters,
        )

    def command(
        self,
        variant: str,
        target: Eui64 | str,
        *,
        device_type: str = "ESME",
        option: str | None = None,
        **params: Any,
    ) -> GbcsMessage:
        """Build, number, sign (critical) and MAC the command of a variant."""
        if variant in _LEGACY:
            variant, device_type, option = _LEGACY[variant]
        elif variant == "8.11":
            device_type = "CHF"
        r = route(variant, device_type, option)
        built = build_command(r, self.next_counter(), self.party, target, params, self.context())
        return self.protect(built, target)

    def protect(self, built: Built, target: Eui64 | str) -> GbcsMessage:
        counter = self.counter
        msg = builder.command(built.message_code, counter, self.party, Eui64(target), built.body)
        return builder.protect(msg, self.security, critical=built.critical)
