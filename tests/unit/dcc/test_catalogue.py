"""The service catalogue: all 123 variants and the 6 of the supplement, parsed and checked."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from hil.dcc.catalogue import (
    CATALOGUE_CSV,
    LAB_ROLES,
    OVERRIDES_CSV,
    SUPPLEMENT_CSV,
    Catalogue,
    Role,
    format_duration,
    load_catalogue,
    parse_duration,
)

SHARED = Path(__file__).resolve().parents[4] / "shared" / "reference" / "service_catalogue.csv"


def test_all_123_variants_load() -> None:
    catalogue = load_catalogue()
    assert len(Catalogue.from_csv(CATALOGUE_CSV)) == 123
    assert len(catalogue) == 129
    assert catalogue["2.2"].name == "Top Up Device"
    assert catalogue["2.2"].roles == {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}
    assert catalogue["2.2"].smets2_target == _dt.timedelta(seconds=30)
    assert catalogue["2.2"].smets1_target == _dt.timedelta(seconds=16)
    assert catalogue["11.3"].smets1_target == _dt.timedelta(days=5)
    assert catalogue["1.1.2"].smets2_only and catalogue["1.1.2"].smets1_target is None
    assert catalogue["8.2"].non_device and catalogue["8.2"].role_only
    reference = Catalogue.from_csv(CATALOGUE_CSV)
    assert not reference["8.5"].used and not reference["8.6"].used  # "Not used" there


def test_overrides_run_opt_out_and_opt_in_as_the_reference_data_does() -> None:
    """8.5 / 8.6: no role in the schedule extract, but in the RTDS and DUIS templates."""
    catalogue = load_catalogue()
    overrides = Catalogue.from_csv(OVERRIDES_CSV)
    assert {v.variant for v in overrides} == {"8.5", "8.6"}
    assert all(v.notes.startswith("Override:") and "Not used" in v.notes for v in overrides)
    both = {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}
    opt_out, opt_in = catalogue["8.5"], catalogue["8.6"]
    assert opt_out.roles == both and opt_in.roles == both
    assert opt_out.smets2_target == opt_in.smets2_target == _dt.timedelta(hours=24)
    assert not opt_out.non_device and opt_in.non_device
    assert not opt_out.available_for_smets1 and not opt_in.available_for_smets1


def test_an_override_of_an_unknown_variant_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, ["9.9,9.9,X,Import Supplier,30 seconds,n/a,false,false,"])
    with pytest.raises(ValueError, match=r"override of unknown variant 9\.9"):
        Catalogue.from_csv(CATALOGUE_CSV, overrides=path)


@pytest.mark.skipif(not SHARED.is_file(), reason="shared reference folder not beside the checkout")
def test_fixture_is_a_faithful_copy_of_the_reference() -> None:
    assert CATALOGUE_CSV.read_bytes() == SHARED.read_bytes()


def test_supplement_rows_say_where_they_come_from() -> None:
    """DUIS 5.4 variants the reference catalogue lacks; each names its source."""
    supplement = Catalogue.from_csv(SUPPLEMENT_CSV)
    assert {v.variant for v in supplement} == {"6.14.3", "7.13", "7.14", "7.15", "7.16", "11.4"}
    assert all(v.notes.startswith("Supplement:") for v in supplement)
    assert load_catalogue()["7.13"].roles == {Role.IMPORT_SUPPLIER}


def test_load_controller_is_a_lab_role_for_716_only() -> None:
    """The lab's Load Controller (the originator of the DCC's 7.16 templates) may send
    7.16 Limit APC Level and nothing else; no SEC role may send 7.16."""
    catalogue = load_catalogue()
    assert [v.variant for v in catalogue.for_role(Role.LOAD_CONTROLLER)] == ["7.16"]
    limit = catalogue["7.16"]
    assert limit.roles == {Role.LOAD_CONTROLLER}
    assert limit.smets2_only and limit.smets1_target is None
    assert limit.smets2_target == catalogue["7.13"].smets2_target
    assert Role.LOAD_CONTROLLER in LAB_ROLES
    assert Role.parse("LC") is Role.parse("load_controller") is Role.LOAD_CONTROLLER


def test_role_names_and_short_codes_parse() -> None:
    assert Role.parse("GT") is Role.GAS_TRANSPORTER
    assert Role.parse("import_supplier") is Role.IMPORT_SUPPLIER
    assert Role.parse("registered supplier agent") is Role.REGISTERED_SUPPLIER_AGENT
    with pytest.raises(ValueError, match="unknown user role"):
        Role.parse("Meter Reader")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30 seconds", 30), ("16 seconds", 16), ("24 hours", 86400), ("5 days", 432000)],
)
def test_durations_round_trip(text: str, seconds: int) -> None:
    value = parse_duration(text)
    assert value == _dt.timedelta(seconds=seconds)
    assert format_duration(value) == text


def test_na_is_none_and_garbage_is_an_error() -> None:
    assert parse_duration("n/a") is None
    with pytest.raises(ValueError, match="unparseable"):
        parse_duration("soon")


def _write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "cat.csv"
    header = (
        "service_reference,service_reference_variant,name,eligible_user_roles,"
        "smets2_target_response_time,smets1_target_response_time,non_device,smets2_only,notes"
    )
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_bad_role_names_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path, ["9.9,9.9,X,Import Supplier;Wizard,30 seconds,n/a,false,false,"])
    with pytest.raises(ValueError, match=r"cat.csv:2: .*Wizard"):
        Catalogue.from_csv(path)


def test_duplicate_variant_is_refused(tmp_path: Path) -> None:
    row = "9.9,9.9,X,Import Supplier,30 seconds,n/a,false,false,"
    with pytest.raises(ValueError, match="duplicate"):
        Catalogue.from_csv(_write(tmp_path, [row, row]))


def test_bad_flag_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="true/false"):
        Catalogue.from_csv(
            _write(tmp_path, ["9.9,9.9,X,Import Supplier,30 seconds,n/a,maybe,false,"])
        )


def test_for_role_lists_only_that_roles_variants() -> None:
    catalogue = load_catalogue()
    gt = catalogue.for_role(Role.GAS_TRANSPORTER)
    assert {v.variant for v in gt} >= {"14.1", "6.2.8", "12.2"}
    assert all(Role.GAS_TRANSPORTER in v.roles for v in gt)
