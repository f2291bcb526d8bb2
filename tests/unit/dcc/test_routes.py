"""The route table against the devices' use-case table and the service catalogue."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from emulator.devices.usecases import USE_CASES
from hil.dcc.routes import (
    ROUTES,
    UNROUTED,
    NoRoute,
    Route,
    route,
    routes_for,
    variants_with_routes,
)

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "hil" / "fixtures" / "service_catalogue.csv"
SHARED_CATALOGUE = ROOT.parent / "shared" / "reference" / "service_catalogue.csv"


def device_variants() -> set[str]:
    path = CATALOGUE if CATALOGUE.is_file() else SHARED_CATALOGUE
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 123
    return {row["service_reference_variant"] for row in rows if row["non_device"] == "false"}


@pytest.mark.parametrize("r", ROUTES, ids=lambda r: f"{r.variant}-{r.use_case}-{r.device_type}")
def test_route_matches_the_devices_use_case(r: Route) -> None:
    use_case = USE_CASES.get(r.message_code)
    assert use_case is not None, f"0x{r.message_code:04X} is not a device use case"
    assert r.device_type in use_case.devices
    assert r.originator in use_case.originators
    if use_case.critical is not None:
        assert r.critical == use_case.critical


def test_every_device_variant_is_routed_or_explained() -> None:
    variants = device_variants()
    routed = variants_with_routes()
    assert variants - routed - set(UNROUTED) == set()
    assert set(UNROUTED) <= variants, "UNROUTED names variants that are not device requests"
    assert not set(UNROUTED) & routed, "a variant cannot be both routed and unrouted"
    assert all(len(reason) > 20 for reason in UNROUTED.values())


def test_routes_are_unique_per_variant_device_and_option() -> None:
    keys = Counter((r.variant, r.device_type, r.option) for r in ROUTES)
    assert [k for k, n in keys.items() if n > 1] == []


def test_default_route_and_options() -> None:
    assert route("4.1.1", "ESME").use_case == "ECS17b"
    assert route("4.1.1", "GSME").use_case == "GCS13a"
    assert route("4.1.1", "GPF").message_code == 0x0074
    assert route("6.13", "ESME", "security").use_case == "ECS35b"
    assert route("8.11", "CHF", "add").use_case == "CCS01"
    assert route("8.11", "CHF", "remove").message_code == 0x0002


def test_a_variant_without_a_default_needs_its_option() -> None:
    with pytest.raises(NoRoute, match="'add'"):
        route("8.11", "CHF")


def test_unknown_combinations_raise() -> None:
    with pytest.raises(NoRoute):
        route("4.1.1", "PPMID")
    with pytest.raises(NoRoute, match="options"):
        route("6.13", "ESME", "nonsense")
    with pytest.raises(NoRoute, match="Service Opt In"):
        route("8.6", "ESME")


def test_routes_for_lists_defaults_first() -> None:
    found = routes_for("6.13", "ESME")
    assert found[0].option is None
    assert {r.use_case for r in found} >= {"ECS35a", "ECS35b"}
    assert {r.device_type for r in routes_for("4.1.1")} == {"ESME", "GSME", "GPF"}
