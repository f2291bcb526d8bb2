"""Issue 15: 6.8 billing calendars of every periodicity and 6.14.1 switch descriptions
carried from the DUIS body into the command, and held by the device after it."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pytest
from duis_support import SUPPLIER, request_xml

from emulator.devices.esme import Esme
from emulator.devices.gsme import Gsme
from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Data
from emulator.gbcs.frame import Cra
from emulator.gbcs.payload import decode_payload
from emulator.gbcs.zcl.gbz import GbzPayload
from emulator.metering.schedule import Execution
from emulator.premises import lab_pki
from hil.dcc.commands import BuildContext, Built, build_command
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.dcc.routes import route
from hil.dcc.templates import zigbee
from hil.duis.transform import Transformed, transform
from hil.duis.xml import parse, read_request

ESME, GSME = "00-DB-12-34-56-78-90-A0", "00-DB-12-34-56-78-90-A1"


def _transformed(body: str, variant: str, target: str, device_type: str) -> Transformed:
    raw = request_xml(body, variant, target, counter=9, command_variant=4)
    return transform(read_request(parse(raw)), device_type=device_type)


def _built(t: Transformed, device_type: str, target: str, option: str | None = None) -> Built:
    pki, _ = lab_pki("duis-schedules")
    ctx = BuildContext(
        now=_dt.datetime(2026, 3, 2, tzinfo=_dt.UTC), keystore=pki.keystore, device_types={}
    )
    r = route(t.variant, device_type, option)
    return build_command(r, 9, SUPPLIER, target, t.params, ctx)


def _plain(d: Data) -> Any:
    items = getattr(d, "items", None)
    if items is not None:
        return [_plain(i) for i in items]
    return getattr(d, "value", None)


def _billing(choice: str) -> str:
    return (
        "<sr:UpdateDeviceConfigurationBillingCalendar><sr:ElectricityBillingCalendar>"
        f"<sr:BillingTime>06:30:00.00Z</sr:BillingTime>{choice}"
        "</sr:ElectricityBillingCalendar></sr:UpdateDeviceConfigurationBillingCalendar>"
    )


QUARTERLY = (
    "<sr:Quarterly><sr:DayOfMonth>5</sr:DayOfMonth>"
    "<sr:BillingPeriodStartMonth>11</sr:BillingPeriodStartMonth></sr:Quarterly>"
)


@pytest.mark.parametrize(
    ("choice", "dates"),
    [
        (QUARTERLY, [bytes((0xFF, 0xFF, m, 5, 0xFF)) for m in (11, 2, 5, 8)]),
        (
            QUARTERLY.replace("Quarterly", "SixMonthly"),
            [bytes((0xFF, 0xFF, m, 5, 0xFF)) for m in (11, 5)],
        ),
        (QUARTERLY.replace("Quarterly", "Yearly"), [bytes((0xFF, 0xFF, 11, 5, 0xFF))]),
        ("<sr:Weekly>3</sr:Weekly>", [bytes((0xFF, 0xFF, 0xFF, 0xFF, 3))]),
        ("<sr:Daily/>", [b"\xff" * 5]),
        ("<sr:Monthly>28</sr:Monthly>", [bytes((0xFF, 0xFF, 0xFF, 28, 0xFF))]),
    ],
)
def test_every_billing_periodicity_goes_into_the_schedule(choice: str, dates: list[bytes]) -> None:
    t = _transformed(_billing(choice), "6.8", ESME, "ESME")
    assert t.unmapped == []
    built = _built(t, "ESME", ESME)
    decoded = decode_payload(built.encoded, Cra.COMMAND, built.message_code).tree
    assert isinstance(decoded, AccessRequest)
    assert _plain(decoded.data[0]) == [[bytes((6, 30, 0, 0)), d] for d in dates]


@pytest.mark.parametrize(
    ("periodicity", "duration", "kind"),
    [("Quarterly", 3, 0x23), ("Weekly", 1, 0x22), ("Yearly", 12, 0x23), ("Daily", 1, 0x21)],
)
def test_the_gas_billing_period_follows_the_body(
    periodicity: str, duration: int, kind: int
) -> None:
    body = (
        "<sr:UpdateDeviceConfigurationBillingCalendar><sr:GasBillingCalendar>"
        "<sr:BillingPeriodStart>2026-04-01T00:00:00Z</sr:BillingPeriodStart>"
        f"<sr:Periodicity>{periodicity}</sr:Periodicity>"
        "</sr:GasBillingCalendar></sr:UpdateDeviceConfigurationBillingCalendar>"
    )
    t = _transformed(body, "6.8", GSME, "GSME")
    assert t.unmapped == []
    built = _built(t, "GSME", GSME)
    decoded = decode_payload(built.encoded, Cra.COMMAND, built.message_code).tree
    assert isinstance(decoded, GbzPayload)
    billing, block = (c.frame.fields or {} for c in decoded.components)
    start = zigbee(_dt.datetime(2026, 4, 1, tzinfo=_dt.UTC))
    assert billing["billing_period_start_time"] == start == block["block_period_start_time"]
    assert billing["billing_period_duration"] == duration == block["block_period_duration"]
    assert billing["billing_period_duration_type"] == kind == block["block_period_duration_type"]


DESCRIPTIONS = (
    "<sr:UpdateDeviceConfigurationALCDescriptions>"
    '<sr:ALCSHCALCSDescription index="2"><sr:SwitchDescription>Heat pump</sr:SwitchDescription>'
    '</sr:ALCSHCALCSDescription><sr:ALCSHCALCSDescription index="4">'
    "<sr:SwitchDescription>Storage heater</sr:SwitchDescription></sr:ALCSHCALCSDescription>"
    "</sr:UpdateDeviceConfigurationALCDescriptions>"
)


def test_switch_descriptions_set_only_the_switches_named() -> None:
    t = _transformed(DESCRIPTIONS, "6.14.1", ESME, "ESME")
    assert t.unmapped == []
    built = _built(t, "ESME", ESME)
    decoded = decode_payload(built.encoded, Cra.COMMAND, built.message_code).tree
    assert isinstance(decoded, AccessRequest)
    assert [str(s.instance) for s in decoded.specs] == ["0-0:94.44.0.12", "0-0:94.44.0.14"]
    assert [_plain(d) for d in decoded.data] == [b"Heat pump", b"Storage heater"]


@pytest.fixture
async def lab() -> Any:
    the_lab = Lab.load(DEFAULT_LAB)
    async with the_lab:
        yield the_lab


async def _run(lab: Lab, t: Transformed, target: str, option: str | None = None) -> None:
    dcc = lab.dcc
    assert dcc is not None
    result = dcc.submit(
        t.variant, as_user="supplier", target=lab.eui(target), params=t.params, option=option
    )
    if result.precommand is not None:
        dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.ok, result.detail


async def test_the_devices_hold_the_body_schedules_and_descriptions(lab: Lab) -> None:
    esme, gsme = lab.device("ESME"), lab.device("GSME")
    assert isinstance(esme, Esme) and isinstance(gsme, Gsme)
    await _run(lab, _transformed(_billing(QUARTERLY), "6.8", ESME, "ESME"), "ESME")
    assert esme.meter.billing_schedule == tuple(
        Execution(6 * 3600 + 30 * 60, month=m, day=5) for m in (11, 2, 5, 8)
    )
    await _run(lab, _transformed(DESCRIPTIONS, "6.14.1", ESME, "ESME"), "ESME")
    held = {
        str(o.obis): _plain(esme.cosem.get(o, 2))
        for o in (esme.model.get(1, bytes.fromhex(f"00005e2c00{n:02x}")) for n in (11, 12, 14))
        if o is not None
    }
    assert held["0-0:94.44.0.12"] == b"Heat pump" and held["0-0:94.44.0.14"] == b"Storage heater"
    assert held["0-0:94.44.0.11"] != b"Heat pump"
    gas = (
        "<sr:UpdateDeviceConfigurationBillingCalendar><sr:GasBillingCalendar>"
        "<sr:BillingPeriodStart>2026-04-01T00:00:00Z</sr:BillingPeriodStart>"
        "<sr:Periodicity>Quarterly</sr:Periodicity>"
        "</sr:GasBillingCalendar></sr:UpdateDeviceConfigurationBillingCalendar>"
    )
    await _run(lab, _transformed(gas, "6.8", GSME, "GSME"), "GSME")
    period = gsme.zcl.published[(0x0700, "publish_billing_period")][-1]  # the newest
    assert period["billing_period_duration"] == 3
    assert period["billing_period_start_time"] == zigbee(_dt.datetime(2026, 4, 1, tzinfo=_dt.UTC))
