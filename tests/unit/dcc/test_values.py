"""Service responses carry the device's values, named and with units (DUIS-like)."""

from __future__ import annotations

import asyncio
from typing import Any

from lab_support import dcc_of, esme_of

from emulator.devices.gpf import Gpf
from emulator.devices.gsme import Gsme
from emulator.gbcs.values import ENCRYPTED, NamedValue
from hil.dcc.cli import result_rows
from hil.dcc.lab import Lab
from hil.dcc.requestfile import RunReport
from hil.dcc.requests import Result
from hil.dcc.values import response_values


async def _read(lab: Lab, variant: str, target: str, **kwargs: Any) -> Result:
    result = await dcc_of(lab).request(
        variant, as_user="supplier", target=lab.eui(target), **kwargs
    )
    assert result.ok, (result.reason, result.detail)
    return result


def _by_name(values: list[NamedValue]) -> dict[str, NamedValue]:
    return {v.name: v for v in values}


async def test_import_register_read_is_opened_and_named_with_its_unit(lab: Lab) -> None:
    esme_of(lab).meter.import_wh = 12345.0
    esme_of(lab).meter.reactive_import_varh = 678.0
    result = await _read(lab, "4.1.1", "ESME")  # ECS17b: a sensitive read (data protection)
    values = _by_name(result.values)
    active = values["Active import energy"]
    assert (active.value, active.unit, active.text) == (12345, "Wh", "12.345 kWh")
    assert values["Reactive import energy"].value == 678
    assert values["Reactive import energy"].unit == "varh"
    assert "0-0:94.44.34.10" in active.source
    listed = result.as_dict()["values"]
    assert {"name": "Active import energy", "value": 12345, "unit": "Wh"}.items() <= listed[
        0
    ].items()


async def test_registers_are_scaled_by_the_scaler_unit_read_with_them(lab: Lab) -> None:
    esme_of(lab).meter.export_wh = 4200.0
    result = await _read(lab, "4.2", "ESME")  # ECS17a: value and scaler_unit of 2.8.0, 4.8.0
    values = _by_name(result.values)
    assert values["Active export energy"].value == 4200
    assert values["Active export energy"].unit == "Wh"
    assert not any("scaler_unit" in v.name for v in result.values)  # folded into the value


async def test_balance_reads_come_in_pounds(lab: Lab) -> None:
    esme_of(lab).meter.balance = 1234  # pence in the engine, 1234000 millipence read
    balance = _by_name((await _read(lab, "4.18", "ESME")).values)["Meter balance"]
    assert (balance.value, balance.unit, balance.text) == (12.34, "GBP", "12.34 GBP")
    registers = _by_name((await _read(lab, "4.3", "ESME")).values)  # ECS19, sensitive
    assert registers["Meter balance"].value == 12.34
    assert registers["Emergency credit balance"].unit == "GBP"


async def test_profile_buffers_are_rows_under_column_names(lab: Lab) -> None:
    await lab.run_for(3 * 3600)  # half-hour profile entries to read
    result = await _read(lab, "4.8.1", "ESME")  # ECS22b: half hour profile (sensitive)
    [profile] = result.values
    assert profile.name == "Half hour profile data (consumption)"
    assert profile.value["columns"][0] == "capture_time"
    rows = profile.value["rows"]
    assert rows and all(str(row[0]).startswith("20") for row in rows)
    assert profile.text == f"{len(rows)} rows"


async def test_enumerations_are_named(lab: Lab) -> None:
    result = await _read(lab, "7.4", "ESME")  # ECS45: load switch status
    [state] = result.values
    assert state.value == "connected" and state.raw == 1


async def test_gas_reads_are_scaled_by_multiplier_divisor_and_unit(lab: Lab) -> None:
    gsme, gpf = lab.device("GSME"), lab.device("GPF")
    assert isinstance(gsme, Gsme) and isinstance(gpf, Gpf)
    gsme.meter.import_wh = 54321.0
    gsme.meter.balance = 2500.0
    gpf.sync(gsme.mirror())  # the meter woke and pushed its data
    values = _by_name((await _read(lab, "4.1.1", "GSME")).values)  # GCS13a from the GPF
    summation = values["current_summation_delivered"]
    assert (summation.value, summation.unit, summation.raw) == (54.321, "m3", 54321)
    assert values["unit_of_measure"].value == "m3"
    prepayment = _by_name((await _read(lab, "4.3", "GSME")).values)  # GCS14
    credit = prepayment["credit_remaining"]
    assert (credit.value, credit.unit) == (25.0, "GBP")
    assert prepayment["currency"].value == "GBP"


async def test_asn1_responses_have_named_fields(lab: Lab) -> None:
    result = await _read(lab, "11.2", "PPMID")  # CS08: firmware version of a PPMID
    values = _by_name(result.values)
    assert values["result"].value == 0
    device = lab.device("PPMID")
    assert device is not None
    assert values["firmware_version"].value == device.firmware_version.upper()


async def test_the_firmware_version_read_is_the_devices(lab: Lab) -> None:
    esme_of(lab).firmware_version = "0123ABCD"
    [version] = (await _read(lab, "11.2", "ESME")).values  # ECS52
    assert (version.name, version.value) == ("Firmware version", "0123ABCD")


async def test_sensitive_data_without_the_users_key_stays_encrypted(lab: Lab) -> None:
    result = await _read(lab, "4.1.1", "ESME")
    assert result.response is not None
    [value] = response_values(None, result.command, result.response)
    assert value.status == ENCRYPTED and value.value is None
    assert value.text == ENCRYPTED


async def test_the_table_shows_the_values_of_a_read(lab: Lab) -> None:
    esme_of(lab).meter.import_wh = 2000.0
    result = await _read(lab, "4.1.1", "ESME")
    report = RunReport("demo.yaml", [result], dcc_of(lab), [], lab)
    row = next(r for r in result_rows(report) if r[0] == result.request_id)
    assert "Active import energy 2.000 kWh" in row[-1]


async def test_alerts_to_users_carry_their_named_code(lab: Lab) -> None:
    dcc = dcc_of(lab)
    params = {"device": str(lab.eui("CAD"))}
    added = await dcc.request(
        "8.11", as_user="energy-app", target=lab.eui("CHF"), option="add", params=params
    )
    assert added.ok, added.detail
    for _ in range(5):
        await asyncio.sleep(0)
    cs14 = next(a for a in dcc.alerts if a.message_code == 0x0018)  # CHF device log changed
    first = cs14.as_dict()["values"][0]
    assert first["name"] == "alert_code"
    assert first["value"] == "0x8F12 CHF Device Log Changed" and first["raw"] == 0x8F12
