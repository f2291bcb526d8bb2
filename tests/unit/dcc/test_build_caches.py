"""Per-use-case caches of the command builders (fleet CPU): a build never changes what
a later build of the same use case sends, and what is framed is the checked payload."""

from __future__ import annotations

import datetime as _dt

import pytest

from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Array, Structure
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.payload import encode_payload
from emulator.premises import lab_pki
from hil.dcc.commands import BuildContext, build_command, parameters_for
from hil.dcc.routes import route

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
METER = "00-DB-12-34-56-78-90-A0"
NOW = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)


@pytest.fixture(scope="module")
def ctx() -> BuildContext:
    pki, _ = lab_pki("build-caches")
    return BuildContext(now=NOW, keystore=pki.keystore, device_types={})


def _matrix_spec(request: AccessRequest) -> int:
    """The index of the TOU/block price matrix (class 113, 0-0:19.20.0.255) in 1.1.1."""
    return next(
        i
        for i, s in enumerate(request.specs)
        if s.class_id == 113 and str(s.instance) == "0-0:19.20.0.255"
    )


def test_an_override_does_not_leak_into_the_next_build(ctx: BuildContext) -> None:
    r = route("1.1.1", "ESME")
    first = build_command(r, 7, SUPPLIER, METER, {}, ctx)
    assert isinstance(first.payload, AccessRequest)
    spec = _matrix_spec(first.payload)
    later = NOW + _dt.timedelta(days=3)
    params = {"values": {f"{spec}.2.0.1": 1234}, "execution_time": later}
    changed = build_command(r, 7, SUPPLIER, METER, params, ctx)
    assert isinstance(changed.payload, AccessRequest)
    matrix = changed.payload.data[spec]
    assert isinstance(matrix, Structure) and isinstance(matrix.items[2], Array)
    entry = matrix.items[2].items[0]
    assert isinstance(entry, Structure) and entry.items[1] == type(entry.items[1])(1234)
    stamp = DlmsDateTime.from_datetime(later).encode()
    assert stamp in changed.encoded and stamp not in first.encoded  # slots are filled per build
    again = build_command(r, 7, SUPPLIER, METER, {}, ctx)
    assert again.encoded == first.encoded
    assert again.encoded != changed.encoded


def test_the_framed_bytes_are_the_payload_encoded(ctx: BuildContext) -> None:
    for variant in ("1.1.1", "4.1.1", "11.2"):
        built = build_command(route(variant, "ESME"), 9, SUPPLIER, METER, {}, ctx)
        assert built.encoded == encode_payload(built.payload)
        assert built.body == built.encoded


def test_read_windows_and_counters_still_vary_per_build(ctx: BuildContext) -> None:
    r = route("4.1.1", "ESME")
    one = build_command(r, 9, SUPPLIER, METER, {}, ctx)
    two = build_command(r, 10, SUPPLIER, METER, {}, ctx)
    assert one.encoded != two.encoded  # invoke id and protection counter follow the counter
    assert isinstance(one.payload, AccessRequest) and isinstance(two.payload, AccessRequest)
    assert [s.instance for s in one.payload.specs] == [s.instance for s in two.payload.specs]


def test_parameters_for_hands_out_a_copy() -> None:
    r = route("1.1.1", "ESME")
    known = parameters_for(r)
    known.clear()
    assert parameters_for(r)  # the cached table is untouched
