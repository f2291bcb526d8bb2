"""Every DUIS template becomes the reference command of its use case.

The DUIS request templates and the reference test data set share their values: a
template named ``ECS07_2.3_SUCCESS_REQUEST_DUIS.XML`` stands for the command in
``2.3_ECS07/ECS07_2.3_SUCCESS_COMMAND_GBCS.HEX``. Each template goes through the
transform (`hil.duis.transform`, `hil.duis.bodies`) and the DCC's builder; the
command's values must be the reference's, position by position, except what the
DCC chooses itself (date-times it fills in, issuer event and message identifiers).
A second pass changes each numeric body value and checks the command changes with
it, so a match cannot come from a default that happens to equal the reference.
"""

from __future__ import annotations

import base64
import datetime as _dt
import re
from collections import Counter
from pathlib import Path
from typing import Any

from lxml import etree

from emulator.gbcs.asn1 import Der, DerConstructed, DerNull
from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Array, BitString, Data, Structure
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import PayloadTree, decode_message_payload
from emulator.gbcs.zcl.gbz import GbzComponent, GbzPayload
from emulator.pki.folder import FolderKeyStore
from hil.conformance import Lab as ConformanceLab
from hil.dcc.commands import CREDENTIAL_UPDATES, BuildContext, build_command, parameters_for
from hil.dcc.routes import NoRoute, Route, route, routes_for
from hil.dcc.templates.dlms import TEMPLATES as DLMS_TEMPLATES
from hil.duis.transform import transform
from hil.duis.xml import parse, read_request

#: Templates whose command matches the reference; raise it as the transform learns.
MATCHED_FLOOR = 216
#: Variants whose use case the body chooses (the others: the device's variant does).
BODY_CHOSEN = {"1.5", "1.6", "3.3", "6.5", "6.13", "6.22", "6.15.1", "8.11"}
#: GBZ fields the DCC fills itself.
DCC_FIELDS = {
    "issuer_event_id",
    "message_id",
    "provider_id",
    "issuer_calendar_id",
    "issuer_tariff_id",
}
#: The DCC's inventory of the join partners the RTDS names but the conformance lab does not
#: emulate: a join command carries the partner's device type, which DUIS 8.7 does not
#: (the body names only the other device); the DCC takes it from the Smart Metering
#: Inventory, as `BuildContext.device_types` stands for here.
JOIN_PARTNERS = {
    "00-DB-12-34-56-78-90-93": "ESME",
    "00-DB-12-34-56-78-90-94": "GSME",
    "00-DB-12-34-56-78-90-98": "PPMID",
    "00-DB-12-34-56-78-90-9A": "HCALCS",
    "00-DB-12-34-56-78-90-9C": "GPF",
}
#: Values of a use case's command that the DCC chooses, not the body, and how to check
#: ours is one: DLMS leaf path (or ASN.1 item index) -> check.
#: - ECS50: DUIS 9.1 carries no CIN; the DCC generates it (four digits), sends it to the
#:   meter and returns it to the requester.
#: - CS03C: the partner's key agreement certificate comes from the DCC's SMKI
#:   repository (the body names only the device); the lab's key store issued its own.
DCC_CHOSEN: dict[str, dict[str, Any]] = {
    "ECS50": {"0": lambda v: isinstance(v, bytes) and len(v) == 4 and v.isdigit()},
    "CS03CCritical": {"3": lambda v: isinstance(v, Der)},
    "CS03CNonCritical": {"3": lambda v: isinstance(v, Der)},
}
#: Use cases whose replacement and certification path certificates come from the body.
#: The DUIS templates carry ZAZ1 certificates issued for them, not the RTDS lab's (other
#: serial numbers and validity): those positions are checked against the body, the rest
#: of the command against the reference.
BODY_CERTIFICATES = frozenset(CREDENTIAL_UPDATES)
#: GBZ use cases whose components are independent commands, compared in any order:
#: GCS20's Set Event Configuration commands each name their own events, so their
#: order changes nothing on the meter (ours follow the body's first appearance).
ORDER_FREE = frozenset({"GCS20"})
NAME = re.compile(r"([A-Za-z0-9]+)_([0-9.]+?)\.?_(.*)_REQUEST_DUIS\.XML")


def _leaves(d: Data, path: str) -> list[tuple[str, str, Any]]:
    if isinstance(d, Structure | Array):
        out: list[tuple[str, str, Any]] = []
        for i, item in enumerate(d.items):
            out += _leaves(item, f"{path}.{i}")
        return out
    if isinstance(d, BitString):  # a bit string's width is part of its value
        return [(path, "BitString", (d.bits, d.value))]
    return [(path, type(d).__name__, getattr(d, "value", None))]


def _text(v: Any) -> Any:
    return v.encode() if isinstance(v, str) else v


def differences(ours: PayloadTree, ref: PayloadTree, use_case: str = "") -> list[str]:
    chosen = DCC_CHOSEN.get(use_case, {})
    if isinstance(ours, AccessRequest) and isinstance(ref, AccessRequest):
        if [(s.class_id, bytes(s.instance), s.member) for s in ours.specs] != [
            (s.class_id, bytes(s.instance), s.member) for s in ref.specs
        ]:
            return ["request specs differ"]
        found = []
        for i, (x, y) in enumerate(zip(ours.data, ref.data, strict=True)):
            a, b = _leaves(x, str(i)), _leaves(y, str(i))
            if len(a) != len(b):
                found.append(f"{i}: {len(a)} values != {len(b)}")
                continue
            for (p, t, v), (_, u, w) in zip(a, b, strict=True):
                if p in chosen:
                    if not chosen[p](v):
                        found.append(f"{p}: {t} {v!r} is not a value the DCC chooses")
                    continue
                both_times = all(isinstance(z, bytes) and len(z) == 12 for z in (v, w))
                if not both_times and (t, v) != (u, w):
                    found.append(f"{p}: {t} {v!r} != {u} {w!r}")
        return found
    if isinstance(ours, GbzPayload) and isinstance(ref, GbzPayload):
        if len(ours.components) != len(ref.components):
            return [f"{len(ours.components)} components != {len(ref.components)}"]
        found = []
        mine_all, theirs_all = list(ours.components), list(ref.components)
        if use_case in ORDER_FREE:
            mine_all.sort(key=_component_key)
            theirs_all.sort(key=_component_key)
        for i, (mine, theirs) in enumerate(zip(mine_all, theirs_all, strict=True)):
            fa, fb = mine.frame.fields or {}, theirs.frame.fields or {}
            for key in sorted(set(fa) | set(fb)):
                if key in DCC_FIELDS or "time" in key:
                    continue
                if _text(fa.get(key)) != _text(fb.get(key)):
                    found.append(f"{i}.{key}: {fa.get(key)!r} != {fb.get(key)!r}")
        return found
    if isinstance(ours, Der) and isinstance(ref, Der):
        if use_case in BODY_CERTIFICATES:
            if _blank_certificates(ours) != _blank_certificates(ref):
                return ["ASN.1 differs outside the certificates"]
            return []
        if chosen and isinstance(ours, DerConstructed) and isinstance(ref, DerConstructed):
            if len(ours.items) != len(ref.items):
                return [f"{len(ours.items)} ASN.1 items != {len(ref.items)}"]
            found = []
            for i, (part, other) in enumerate(zip(ours.items, ref.items, strict=True)):
                check = chosen.get(str(i))
                if check is not None:
                    if not check(part):
                        found.append(f"{i}: {part!r} is not a value the DCC chooses")
                elif part.encode() != other.encode():
                    found.append(f"{i}: ASN.1 item differs")
            return found
        return [] if ours.encode() == ref.encode() else ["ASN.1 differs"]
    return [f"{type(ours).__name__} != {type(ref).__name__}"]


def _component_key(component: GbzComponent) -> str:
    fields = component.frame.fields or {}
    return repr(sorted((k, repr(v)) for k, v in fields.items() if k not in DCC_FIELDS))


def _certificates(tree: PayloadTree) -> list[bytes]:
    """The replacement and certification path certificates of a credential update."""
    assert isinstance(tree, DerConstructed)
    replacements, path = tree.items[1], tree.items[2]
    assert isinstance(replacements, DerConstructed) and isinstance(path, DerConstructed)
    cells = [c.items[0] for c in replacements.items if isinstance(c, DerConstructed)]
    return [c.encode() for c in cells + list(path.items)]


def _blank_certificates(tree: Der) -> bytes:
    """A credential update's encoding with every certificate replaced by NULL."""
    assert isinstance(tree, DerConstructed)
    control, replacements, path, *rest = tree.items
    assert isinstance(replacements, DerConstructed) and isinstance(path, DerConstructed)
    cells: list[Der] = [
        DerConstructed(c.identifier_octets, [DerNull(), *c.items[1:]])
        for c in replacements.items
        if isinstance(c, DerConstructed)
    ]
    blank: list[Der] = [DerNull() for _ in path.items]
    return DerConstructed(
        tree.identifier_octets,
        [
            control,
            DerConstructed(replacements.identifier_octets, cells),
            DerConstructed(path.identifier_octets, blank),
            *rest,
        ],
    ).encode()


def _body_certificates(root: etree._Element) -> list[bytes]:
    """The body's certificates, in document order (replacements, then the path)."""
    names = {
        "DigitalSigningCertificate",
        "KeyAgreementCertificate",
        "KeyAgreementTopUpCertificate",
        "Certificate",
    }
    return [
        base64.b64decode("".join((e.text or "").split()))
        for e in root.iter()
        if isinstance(e.tag, str) and etree.QName(e).localname in names
    ]


def _pairs(rtds: Path, duis: Path) -> list[tuple[Path, Path, str, str]]:
    out = []
    for path in sorted((duis / "templates").glob("*_REQUEST_DUIS.XML")):
        m = NAME.fullmatch(path.name)
        if m is None:
            continue
        use_case, variant, rest = m.groups()
        twin = rtds / f"{variant}_{use_case}" / f"{use_case}_{variant}_{rest}_COMMAND_GBCS.HEX"
        if twin.exists():
            out.append((path, twin, use_case, variant))
    return out


def _build(
    root: etree._Element, use_case: str, variant: str, counter: int, twin: bool, ctx: BuildContext
) -> tuple[PayloadTree | None, str]:
    request = read_request(root)
    routes = [r for r in routes_for(variant) if r.use_case == use_case]
    if not routes:
        return None, "no route"
    device_type = routes[0].device_type
    t = transform(request, device_type=device_type, twin=twin)
    chosen: Route
    try:
        chosen = route(variant, device_type, t.option)
    except NoRoute:
        chosen = routes[0]
    if chosen.use_case != use_case:
        same_command = DLMS_TEMPLATES.get(chosen.use_case) == DLMS_TEMPLATES.get(use_case)
        if variant in BODY_CHOSEN and not same_command:
            return None, f"body chose {chosen.use_case}"
        # Else the device's variant decides (ECS08 / ECS08a; ECS35f / ECS35g carry the
        # same request under two message codes): the DCC knows the device.
        chosen = next(r for r in routes if r.use_case == use_case)
        t = transform(request, device_type=device_type, twin=twin, use_case=use_case)
    known = set(parameters_for(chosen))
    params = {k: v for k, v in t.params.items() if k in known}
    try:
        built = build_command(chosen, counter, request.originator, request.target, params, ctx)
    except Exception as exc:
        return None, f"build: {type(exc).__name__}: {exc}"
    return built.payload, ""


def _mutated(root: etree._Element) -> etree._Element | None:
    """The body with its first plain integer value changed (None when it has none)."""
    copy = etree.fromstring(etree.tostring(root))
    body = next(
        e for e in copy.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "Body"
    )
    for el in body.iter():
        name = etree.QName(el).localname if isinstance(el.tag, str) else ""
        text = (el.text or "").strip()
        if len(el) == 0 and re.fullmatch(r"\d{1,7}", text) and "Scale" not in name:
            el.text = str(int(text) + 1)
            return copy
    return None


def test_templates_become_the_reference_commands(rtds_root: Path) -> None:
    rtds, duis = rtds_root / "RTDS-4.5.0", rtds_root.parent / "duis"
    lab = ConformanceLab.load()
    ctx = BuildContext(
        now=_dt.datetime(2026, 12, 1, tzinfo=_dt.UTC),
        keystore=FolderKeyStore(rtds_root / "keystore"),
        device_types=dict(lab.devices) | {bytes(Eui64(k)): v for k, v in JOIN_PARTNERS.items()},
    )
    pairs = _pairs(rtds, duis)
    assert len(pairs) > 200
    tally: Counter[str] = Counter()
    failures: list[str] = []
    not_carried: list[str] = []
    for template, reference, use_case, variant in pairs:
        ref_msg = decode_message(bytes.fromhex("".join(reference.read_text().split())))
        ref = decode_message_payload(ref_msg).tree
        root = parse(template.read_bytes())
        twin = "TWIN" in template.name
        ours, why = _build(root, use_case, variant, ref_msg.header.originator_counter, twin, ctx)
        if ours is None:
            tally["not built"] += 1
            failures.append(f"{template.name}: {why}")
            continue
        found = differences(ours, ref, use_case)
        from_body = _certificates(ours) if use_case in BODY_CERTIFICATES else None
        if from_body is not None and sorted(from_body) != sorted(_body_certificates(root)):
            found.append("the certificates are not the body's")
        if found:
            tally["differ"] += 1
            failures.append(f"{template.name}: {len(found)} values differ, first {found[0]}")
            continue
        tally["match"] += 1
        mutated = _mutated(root)
        if mutated is not None:
            again, _ = _build(
                mutated, use_case, variant, ref_msg.header.originator_counter, twin, ctx
            )
            if again is not None and not differences(again, ref, use_case):
                not_carried.append(template.name)
    print(f"\nDUIS templates against reference commands: {dict(tally)}")
    print(f"matched but a changed body value left the command unchanged: {not_carried}")
    for line in failures:
        print("  ", line)
    assert tally["match"] >= MATCHED_FLOOR, "\n".join(failures)
    assert not_carried == [], not_carried
