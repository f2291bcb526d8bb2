"""What a device's answer says: success or failure, in a line a tester can read.

The DCC passes the device's response on to the user untouched; this summary is
for reports, assertions and the DCC's own bookkeeping (the inventory changes only
on success). Each payload family carries its result codes differently:

- DLMS: every response spec's result must be success (0);
- GBZ: every ZCL attribute record status and default-response status must be
  SUCCESS (0) or NOT_FOUND (0x8B), and a consumer top-up must be accepted.
  NOT_FOUND means the device holds no entry for that item (a log slot, a
  snapshot offset, a price not yet published): the command ran, as a DLMS read
  of an empty range does, the RTDS class such responses as "not found" apart
  from errors, and the device goes on with the next component
  (`emulator.devices.zcl_device`). They are counted in `not_found`. Encrypted
  parts are counted, not opened (only the user holds the key);
- ASN.1: each use case's response puts its result code(s) in its own place
  (`ASN1_READERS`, from the GBCS response definitions checked against the RTDS
  success and error responses). A lone INTEGER is the use case's error form; a
  NULL (or a SEQUENCE holding only NULL) acknowledges a future-dated command, which
  reports its real outcome later in an alert. A response shape this module does
  not know is a failure, never a silent success.

`device_code` is the device's own code for the first failing item (a DLMS
data-access or action result, a ZCL status, an ASN.1 result or status value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.errors import GbcsError
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
)
from emulator.gbcs.dlms.apdu import AccessResponse, DataNotification
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.payload import PayloadKind, decode_message_payload
from emulator.gbcs.zcl.foundation import STATUS_NOT_FOUND
from emulator.gbcs.zcl.gbz import GbzPayload


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    summary: str
    items: int = 0
    failures: int = 0
    encrypted: int = 0
    #: The device's result code of the first failing item (None when nothing failed).
    device_code: int | None = None
    #: A future-dated command accepted now; its outcome comes later in an alert.
    deferred: bool = False
    #: GBZ items the device holds no entry for (ZCL NOT_FOUND): no data, not a failure.
    not_found: int = 0


#: ZCL consumer top-up result types that accept the top-up (accepted; accepted and
#: supply enabled, disabled or armed); the others reject it.
TOP_UP_ACCEPTED = frozenset({0x00, 0x10, 0x11, 0x12})


def _zcl_results(payload: GbzPayload) -> tuple[list[int], int]:
    """Status per ZCL item (0 for items without one), and how many are encrypted."""
    codes: list[int] = []
    encrypted = 0
    for component in payload.components:
        frame = component.frame
        if frame.fields is None:
            encrypted += 1
            codes.append(0)
            continue
        records = frame.fields.get("records")
        status: object = 0
        if isinstance(records, list):
            for record in records:
                status = record.get("status", 0) if isinstance(record, dict) else 0
                codes.append(status if isinstance(status, int) else 0)
        else:
            if frame.name == "default_response":
                status = frame.fields.get("status", 0)
            elif frame.name == "consumer_top_up_response":
                result = frame.fields.get("result_type", 0)
                status = 0 if result in TOP_UP_ACCEPTED else result
            codes.append(status if isinstance(status, int) else 0)
    return codes, encrypted


# -- ASN.1 ----------------------------------------------------------------------------------


class _Shape(Exception):
    """The response does not have the shape its use case defines."""


Asn1Reader = Callable[[Der], list[int]]


def _items(node: Der) -> list[Der]:
    if not isinstance(node, DerConstructed):
        raise _Shape(f"expected a SEQUENCE, got {type(node).__name__}")
    return node.items


def _code(node: Der) -> int:
    if isinstance(node, DerInteger | DerEnumerated):
        return node.value
    raise _Shape(f"expected a result INTEGER, got {type(node).__name__}")


def _at(items: list[Der], index: int) -> Der:
    if index >= len(items) or -index > len(items):
        raise _Shape(f"item {index} missing")
    return items[index]


def _first_code(tree: Der) -> list[int]:
    """CS06 {result, version}, CS07 {result, joined devices}."""
    return [_code(_at(_items(tree), 0))]


def _last_code(tree: Der) -> list[int]:
    """CS08 {version, result}, GCS28 {device time, result}."""
    items = _items(tree)
    if len(items) != 2:
        raise _Shape("expected two items")
    return [_code(items[1])]


def _credential_statuses(tree: Der) -> list[int]:
    """CS02a/CS02f: per remote party role asked about, {role, status ENUMERATED, ...}."""
    codes = [_code(_at(_items(row), 1)) for row in _items(tree)]
    if not codes:
        raise _Shape("no role reported")
    return codes


def _replacement_statuses(tree: Der) -> list[int]:
    """CS02b/CS02g: {NULL, {counter, role, sequence number changes, replacement outcomes}};
    each replacement outcome is {cell identifier, status ENUMERATED, old/new ids}."""
    outcome = _items(_at(_items(tree), 1))
    rows = _items(_at(outcome, 3))
    codes = [_code(_at(_items(row), 1)) for row in rows]
    if not codes:
        raise _Shape("no trust anchor replacement outcome")
    return codes


def _restore_statuses(tree: Der) -> list[int]:
    """GCS59: {{{entry, result}*}}: one result per restored device log entry."""
    return [_code(_at(_items(row), 1)) for row in _items(_at(_items(tree), 0))]


def _certification_request(tree: Der) -> list[int]:
    """CS02c success: a PKCS#10 request {{version 0, subject, key info, attributes}, ...}."""
    items = _items(tree)
    info = _items(_at(items, 0))
    if len(items) != 3 or not isinstance(items[2], DerBitString) or _code(_at(info, 0)) != 0:
        raise _Shape("not a certification request")
    return [0]


def _certificate(tree: Der) -> list[int]:
    """CS02e success: an X.509 certificate {tbsCertificate, algorithm, signature}."""
    items = _items(tree)
    if len(items) != 3 or not isinstance(items[2], DerBitString) or len(_items(items[0])) < 6:
        raise _Shape("not a certificate")
    return [0]


def _result_integer(tree: Der) -> list[int]:
    """CS02d, CS03, CS04: the response is the result INTEGER."""
    return [_code(tree)]


#: Where each ASN.1 use case's response carries its result code(s), by message code.
ASN1_READERS: dict[int, Asn1Reader] = {
    0x0008: _credential_statuses,  # CS02a
    0x011B: _credential_statuses,  # CS02f
    0x000A: _certification_request,  # CS02c
    0x000B: _result_integer,  # CS02d
    0x000C: _certificate,  # CS02e
    0x000D: _result_integer,  # CS03A1
    0x000E: _result_integer,  # CS03B
    0x00AB: _result_integer,  # CS03A2
    0x00AF: _result_integer,  # CS03C
    0x000F: _result_integer,  # CS04AC
    0x0010: _result_integer,  # CS04B
    0x0012: _first_code,  # CS06
    0x0013: _first_code,  # CS07
    0x0129: _last_code,  # CS08
    0x007F: _last_code,  # GCS28
    0x008C: _restore_statuses,  # GCS59
    **dict.fromkeys(range(0x0100, 0x010A), _replacement_statuses),  # CS02b
    0x0125: _replacement_statuses,  # CS02g by the load controller
    0x0126: _replacement_statuses,  # CS02g by the supplier
}


def _deferred(tree: Der) -> bool:
    if isinstance(tree, DerNull):
        return True
    return (
        isinstance(tree, DerConstructed)
        and tree.identifier() == b"\x30"
        and len(tree.items) == 1
        and isinstance(tree.items[0], DerNull)
    )


def asn1_result_codes(message_code: int, tree: Der) -> list[int] | None:
    """The result codes of an ASN.1 response (None: accepted for future execution).

    Raises ValueError when the response's shape is not the use case's.
    """
    if _deferred(tree):
        return None
    if isinstance(tree, DerInteger):  # every ASN.1 use case's error form
        return [tree.value]
    reader = ASN1_READERS.get(message_code)
    if reader is None:
        raise ValueError("no result reading for this use case's response")
    try:
        return reader(tree)
    except _Shape as exc:
        raise ValueError(f"unexpected response shape: {exc}") from None


def _asn1_outcome(use_case: str, message_code: int, tree: Der) -> Outcome:
    try:
        codes = asn1_result_codes(message_code, tree)
    except ValueError as exc:
        return Outcome(False, f"{use_case}: {exc}", 1, 1)
    if codes is None:
        return Outcome(True, f"{use_case}: accepted for future execution", 1, deferred=True)
    return _from_codes(use_case, codes, [str(c) for c in codes], "results", 0)


def _from_codes(
    use_case: str,
    codes: list[int],
    names: list[str],
    what: str,
    encrypted: int,
    no_data: int | None = None,
) -> Outcome:
    """`no_data`: the code that means "no entry held" rather than a failure."""
    empty = sum(1 for c in codes if no_data is not None and c == no_data)
    bad = [(c, n) for c, n in zip(codes, names, strict=True) if c not in (0, no_data)]
    n = len(codes)
    text = f"{use_case}: {n - len(bad)}/{n} {what} succeeded"
    if bad:
        text += " (" + ", ".join(sorted({name for _, name in bad})) + ")"
    if empty:
        text += f", {empty} found no entry"
    if encrypted:
        text += f", {encrypted} encrypted for the user"
    first = bad[0][0] if bad else None
    return Outcome(not bad, text, n, len(bad), encrypted, first, not_found=empty)


def summarise(msg: GbcsMessage) -> Outcome:
    use_case = lookup(msg.message_code).use_case or f"0x{msg.message_code:04X}"
    try:
        decoded = decode_message_payload(msg)
    except GbcsError as exc:
        return Outcome(False, f"{use_case}: undecodable payload ({exc})")
    tree = decoded.tree
    if decoded.kind == PayloadKind.DLMS and isinstance(tree, AccessResponse):
        codes = [r.result for r in tree.results]
        names = [r.result_name for r in tree.results]
        return _from_codes(use_case, codes, names, "items", decoded.encrypted_parts)
    if decoded.kind == PayloadKind.DLMS and isinstance(tree, DataNotification):
        return Outcome(True, f"{use_case}: data notification", 1, 0, decoded.encrypted_parts)
    if isinstance(tree, GbzPayload):
        codes, encrypted = _zcl_results(tree)
        names = [f"status 0x{c:02X}" for c in codes]
        return _from_codes(use_case, codes, names, "ZCL items", encrypted, STATUS_NOT_FOUND)
    if decoded.kind == PayloadKind.ASN1 and isinstance(tree, Der):
        return _asn1_outcome(use_case, msg.message_code, tree)
    return Outcome(False, f"{use_case}: unexpected {decoded.kind.value} response")
