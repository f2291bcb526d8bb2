"""`gbcs decode` prints names next to numbers and the payload's named values."""

from __future__ import annotations

import datetime as _dt
import json

from click.testing import CliRunner

from emulator.gbcs import builder
from emulator.gbcs.dlms.apdu import (
    AccessRequest,
    AccessResponse,
    DataNotification,
    Obis,
    RequestSpec,
    ResponseSpec,
    SpecKind,
)
from emulator.gbcs.dlms.axdr import (
    DoubleLongUnsigned,
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
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import GbzComponent, GbzPayload, ZclFrame
from emulator.gbcs.zcl.types import ZclValue
from hil.cli import main

S = Eui64("90-B3-D5-1F-30-01-00-00")
D = Eui64("00-DB-12-34-56-78-90-A0")
COUNTER = 0x0100000000000123
IMPORT = Obis("1-0:1.8.0.255")

READ_REGISTER = AccessRequest(
    0x20000123,
    [RequestSpec(SpecKind.GET, 3, IMPORT, 2), RequestSpec(SpecKind.GET, 3, IMPORT, 3)],
    [NullData(), NullData()],
)
REGISTER_VALUES = AccessResponse(
    0x20000123,
    [DoubleLongUnsigned(12345), Structure([Integer(0), Enum(30)])],
    [ResponseSpec(SpecKind.GET, 0), ResponseSpec(SpecKind.GET, 0)],
)


def wire(msg: GbcsMessage, security: MessageSecurity) -> str:
    return builder.protect(msg, security, critical=False).encode().hex()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_dlms_response_is_named_from_its_command(security: MessageSecurity) -> None:
    command = builder.command(0x0025, COUNTER, S, D, READ_REGISTER)
    response = builder.response(command, REGISTER_VALUES)
    code, out = run(
        "gbcs", "decode", wire(response, security), "--command", wire(command, security)
    )
    assert code == 0, out
    assert "values:\n  Active import energy: 12.345 kWh  (3 1-0:1.8.0.255 attribute 2)" in out
    assert "scaler_unit" not in out.split("values:")[1]  # folded into the register's value
    code, out = run("gbcs", "decode", wire(response, security))  # without it: by position
    assert code == 0 and "item 1: 12345" in out


def test_request_specifications_name_their_object_and_attribute(
    security: MessageSecurity,
) -> None:
    command = builder.command(0x0025, COUNTER, S, D, READ_REGISTER)
    code, out = run("gbcs", "decode", wire(command, security), "--json")
    assert code == 0, out
    spec = json.loads(out)["payload"]["tree"]["specs"][0]
    assert spec["object"] == "Active import energy" and spec["member_name"] == "value"
    other = json.loads(out)["frame"]["grouping_header"]["other"]
    assert other["message_code"] == 0x0025 and other["use_case"].startswith("0x0025 ")


def test_zcl_clusters_attributes_and_money_are_named(security: MessageSecurity) -> None:
    records = [
        {"attribute_id": 0x0616, "status": 0, "value": ZclValue(0x21, 826)},
        {"attribute_id": 0x0617, "status": 0, "value": ZclValue(0x18, 0x20)},
    ]
    credit = [{"attribute_id": 0x0001, "status": 0, "value": ZclValue(0x2B, 1234)}]
    gbz = GbzPayload(
        [
            GbzComponent(0, 0x0700, ZclFrame(0x18, 1, 0x01, {"records": records})),
            GbzComponent(1, 0x0705, ZclFrame(0x18, 2, 0x01, {"records": credit})),
        ]
    )
    command = builder.command(0x0075, COUNTER, S, D, bytes.fromhex("0500"))
    response = builder.response(command, gbz)
    code, out = run("gbcs", "decode", wire(response, security))
    assert code == 0, out
    assert "cluster=1797 cluster_name=0x0705 Prepayment" in out
    assert "attribute_id=1 attribute_name=credit_remaining" in out
    assert "  credit_remaining: 12.34 GBP  (0x0705 Prepayment attribute 0x0001)" in out
    assert "  currency: GBP" in out


def test_an_alert_code_and_the_command_it_reports_on_are_named(
    security: MessageSecurity,
) -> None:
    outcome = (
        (0x001F).to_bytes(2, "big")
        + (1004).to_bytes(8, "big")
        + (3).to_bytes(2, "big")
        + bytes(IMPORT)
        + b"\x02"
    )
    body = Structure(
        [
            LongUnsigned(0x8F66),
            OctetString(
                DlmsDateTime.from_datetime(_dt.datetime(2030, 1, 15, 9, tzinfo=_dt.UTC)).encode()
            ),
            OctetString(outcome),
        ]
    )
    alert = builder.alert(0x00CC, 0x44, D, S, DataNotification(0x20000044, body))
    code, out = run("gbcs", "decode", wire(alert, security), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["payload"]["tree"]["alert_name"] == (
        "0x8F66 Future-date HAN Interface Command Successfully Actioned"
    )
    values = {v["name"]: v for v in data["values"]}
    assert values["alert_code"]["raw"] == 0x8F66
    executed = values["executed command"]["value"]
    assert executed["use_case"] == "ECS08" and executed["originator_counter"] == 1004
    assert executed["object"] == "Active import energy"
    assert values["time"]["value"].startswith("2030-01-15T09:00")
