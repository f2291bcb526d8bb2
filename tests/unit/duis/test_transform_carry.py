"""Issue 15: body values the transform carries into the command, and what the DCC
chooses itself (a CIN, when a future-dated command runs)."""

from __future__ import annotations

import datetime as _dt

import pytest
from duis_support import METER, SUPPLIER, request_xml

from emulator.gbcs.asn1 import DerConstructed, DerString
from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Array, OctetString, Structure
from emulator.gbcs.zcl.gbz import GbzPayload
from emulator.premises import lab_pki
from hil.dcc.commands import BuildContext, BuildError, build_command
from hil.dcc.routes import route
from hil.duis.transform import transform
from hil.duis.xml import parse, read_request

NOW = _dt.datetime(2026, 3, 2, 10, 0, tzinfo=_dt.UTC)
HASH = "AA" * 32


def _request(body: str, variant: str, target: str = METER):  # type: ignore[no-untyped-def]
    return read_request(parse(request_xml(body, variant, target)))


@pytest.fixture(scope="module")
def ctx() -> BuildContext:
    pki, _ = lab_pki("duis-carry")
    return BuildContext(now=NOW, keystore=pki.keystore, device_types={})


def _activate(when: str) -> str:
    return (
        f"<sr:ActivateFirmware><sr:ExecutionDateTime>{when}</sr:ExecutionDateTime>"
        f"<sr:FirmwareHash>{HASH}</sr:FirmwareHash></sr:ActivateFirmware>"
    )


def test_a_device_future_dated_command_carries_its_execution_time(ctx: BuildContext) -> None:
    t = transform(_request(_activate("2026-03-20T09:00:00Z"), "11.3"), device_type="ESME")
    when = _dt.datetime(2026, 3, 20, 9, tzinfo=_dt.UTC)
    assert t.params["execution_time"] == when
    built = build_command(route("11.3", "ESME"), 5, SUPPLIER, METER, t.params, ctx)
    assert isinstance(built.payload, DerConstructed)
    assert built.payload.items[-1] == DerString(0x18, b"20260320090000Z")


def test_service_opt_out_is_held_by_the_dcc() -> None:
    body = (
        "<sr:ServiceOptOut><sr:ExecutionDateTime>2026-03-20T09:00:00Z</sr:ExecutionDateTime>"
        "<sr:ACBFloorSeqNumber>12</sr:ACBFloorSeqNumber></sr:ServiceOptOut>"
    )
    t = transform(_request(body, "8.5"), device_type="ESME")
    assert "execution_time" not in t.params
    assert t.execute_at == _dt.datetime(2026, 3, 20, 9, tzinfo=_dt.UTC)
    assert t.params["floor_seq_number"] == 12


def test_the_dcc_generates_the_cin(ctx: BuildContext) -> None:
    request = _request("<sr:RequestCustomerIdentificationNumber/>", "9.1")
    cins = {transform(request, device_type="ESME").params["cin"] for _ in range(20)}
    assert len(cins) > 1 and all(0 <= c < 10_000 for c in cins)
    built = build_command(route("9.1", "ESME"), 5, SUPPLIER, METER, {"cin": 42}, ctx)
    assert isinstance(built.payload, AccessRequest)
    assert built.payload.data[0] == OctetString(b"0042")


def test_reading_gas_alert_behaviours_asks_for_the_non_critical_group(ctx: BuildContext) -> None:
    gas = "00-DB-12-34-56-78-90-A1"
    built = build_command(route("6.2.10", "GSME"), 5, SUPPLIER, gas, {}, ctx)
    assert isinstance(built.payload, GbzPayload)
    assert built.payload.components[0].frame.fields == {"event_id": 0x81FF}


def test_max_demand_reset_drops_the_registers_not_named(ctx: BuildContext) -> None:
    body = (
        "<sr:ResetMaximumDemandRegisters><sr:MaxDemandConfigTimeActivePowerImportValue/>"
        "</sr:ResetMaximumDemandRegisters>"
    )
    t = transform(_request(body, "6.18.2"), device_type="ESME")
    built = build_command(route("6.18.2", "ESME"), 5, SUPPLIER, METER, t.params, ctx)
    assert isinstance(built.payload, AccessRequest)
    assert [str(s.instance) for s in built.payload.specs] == ["1-0:1.6.1.255"]
    with pytest.raises(BuildError, match="specs"):
        build_command(route("6.18.2", "ESME"), 5, SUPPLIER, METER, {"specs": [3]}, ctx)


def test_credential_update_needs_one_certificate_per_cell(ctx: BuildContext) -> None:
    r = route("6.15.1", "ESME")
    with pytest.raises(BuildError, match="needs 3 certificates"):
        build_command(r, 5, SUPPLIER, METER, {"certificates": [b"\x30\x00"]}, ctx)
    certs = [bytes((0x30, 3, 2, 1, n)) for n in range(3)]
    params = {"certificates": certs, "certification_path": [], "prepayment_floor_seq_number": 9}
    built = build_command(r, 5, SUPPLIER, METER, params, ctx)
    assert isinstance(built.payload, DerConstructed)
    control, replacements, path = built.payload.items[:3]
    assert isinstance(replacements, DerConstructed) and isinstance(path, DerConstructed)
    assert [c.items[0].encode() for c in replacements.items] == certs  # type: ignore[attr-defined]
    assert path.items == []
    assert b"\x02\x01\x09" in control.encode()  # the prepayment top-up floor


def test_gas_alert_settings_make_one_command_per_configuration(ctx: BuildContext) -> None:
    gas = "00-DB-12-34-56-78-90-A1"
    settings = [
        {"event_configuration": 0x08, "payload": {"number_of_events": 1, "event_ids": [0x810E]}},
        {"event_configuration": 0x43, "payload": {"number_of_events": 2, "event_ids": [1, 2]}},
        {"event_configuration": 0x5B, "payload": {"number_of_events": 1, "event_ids": [3]}},
    ]
    params = {"event_settings": settings}
    built = build_command(route("6.22", "GSME"), 5, SUPPLIER, gas, params, ctx)
    assert isinstance(built.payload, GbzPayload)
    fields = [c.frame.fields or {} for c in built.payload.components]
    assert [f["event_configuration"] for f in fields] == [0x08, 0x43, 0x5B]
    assert fields[1]["payload"] == {"number_of_events": 2, "event_ids": [1, 2]}
    with pytest.raises(BuildError, match="event_settings"):
        build_command(route("6.22", "GSME"), 5, SUPPLIER, gas, {"event_settings": [{"x": 1}]}, ctx)


def test_restoring_a_hub_log_names_the_replaced_hub() -> None:
    chf, gpf = "00-DB-12-34-56-78-90-A2", "00-DB-12-34-56-78-90-A3"
    body = (
        "<sr:RestoreHANDeviceLog><sr:OldCHFID>00-DB-12-34-56-78-90-95</sr:OldCHFID>"
        "</sr:RestoreHANDeviceLog>"
    )
    t = transform(_request(body, "8.12.1", chf), device_type="CHF")
    assert t.params == {"restore_from": "00-DB-12-34-56-78-90-95"} and t.unmapped == []
    body = (
        "<sr:RestoreGPFDeviceLog><sr:OldGPFID>00-DB-12-34-56-78-90-B3</sr:OldGPFID>"
        "</sr:RestoreGPFDeviceLog>"
    )
    t = transform(_request(body, "8.12.2", gpf), device_type="GPF")
    assert t.params == {"restore_from": "00-DB-12-34-56-78-90-B3"}


def test_bit_strings_keep_the_template_width(ctx: BuildContext) -> None:
    """A 3-bit collection flag or 7 weekday bits given as a byte stay 3 or 7 bits wide."""
    built = build_command(route("1.6", "ESME"), 5, SUPPLIER, METER, {}, ctx)
    assert isinstance(built.payload, AccessRequest)
    rows = built.payload.data[1]
    assert isinstance(rows, Array)
    widths = {row.items[2].bits for row in rows.items if isinstance(row, Structure)}
    assert widths == {3}
