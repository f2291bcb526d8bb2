"""2.1's `max_credit` / `max_meter_balance` (ECS08): pence in, the ESME's millipence out,
anything but whole non-negative pence refused naming the parameter."""

from __future__ import annotations

import datetime as _dt

import pytest

from emulator.gbcs.dlms.apdu import AccessRequest, Obis
from emulator.gbcs.dlms.axdr import DoubleLong
from hil.dcc.commands import MAX_LIMIT_PENCE, BuildContext, BuildError, build_command
from hil.dcc.routes import route

CTX = BuildContext(now=_dt.datetime(2026, 1, 5, tzinfo=_dt.UTC), keystore=None)
SUPPLIER, ESME = "90-B3-D5-1F-30-01-00-00", "00-DB-12-34-56-78-90-A0"


def _build(params: dict[str, object]) -> AccessRequest:
    built = build_command(route("2.1", "ESME"), 1, SUPPLIER, ESME, params, CTX)
    assert isinstance(built.payload, AccessRequest)
    return built.payload


def test_the_limits_go_to_the_maximum_balance_and_credit_objects_in_millipence() -> None:
    payload = _build({"max_meter_balance": 1800, "max_credit": 1000})
    specs = zip(payload.specs, payload.data, strict=True)
    by_object = {(bytes(s.instance), s.member): d for s, d in specs}
    balance = by_object[(bytes(Obis("0-0:94.44.2.20")), 4)]  # passive values, ECS08a
    credit = by_object[(bytes(Obis("0-0:94.44.2.10")), 4)]
    assert isinstance(balance, DoubleLong) and isinstance(credit, DoubleLong)
    assert (balance.value, credit.value) == (1_800_000, 1_000_000)
    unset = _build({})
    assert unset.data[1] != balance and unset.data[2] != credit  # given, not the template's


@pytest.mark.parametrize("name", ["max_credit", "max_meter_balance"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "must be 0.."),
        (MAX_LIMIT_PENCE + 1, "must be 0.."),
        (12.5, "whole pence"),
        ("1000", "whole pence"),
        (True, "whole pence"),
    ],
)
def test_a_limit_that_is_not_whole_pence_is_refused_naming_it(
    name: str, value: object, problem: str
) -> None:
    with pytest.raises(BuildError, match=name) as info:
        _build({name: value})
    assert problem in str(info.value) and "\n" not in str(info.value)
