"""DUIS bodies that are structures: the use case they choose and where their values go."""

from __future__ import annotations

from lxml import etree

from emulator.gbcs.dlms.apdu import Obis
from hil.dcc.templates.constants import credit_charge_rows
from hil.duis.bodies import MapContext, map_body, option_for

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"


def _body(xml: str) -> etree._Element:
    return etree.fromstring(f'<sr:Body xmlns:sr="{SR}">{xml}</sr:Body>')[0]


def test_the_body_chooses_the_use_case() -> None:
    prepay = _body("<sr:UpdatePaymentMode><sr:Prepayment/></sr:UpdatePaymentMode>")
    credit = _body("<sr:UpdatePaymentMode><sr:Credit/></sr:UpdatePaymentMode>")
    assert option_for("1.6", prepay, "ESME") == "prepayment"
    assert option_for("1.6", credit, "ESME") is None
    reset = _body(
        "<sr:UpdateMeterBalance><sr:CreditMode><sr:ResetMeterBalance/></sr:CreditMode>"
        "</sr:UpdateMeterBalance>"
    )
    assert option_for("1.5", reset, "GSME") == "credit_mode_reset"
    assert option_for("1.5", reset, "ESME") == "reset"  # the ESME has one reset route
    log = _body(
        "<sr:ReadEventOrSecurityLog><sr:LogToRead>Security</sr:LogToRead>"
        "</sr:ReadEventOrSecurityLog>"
    )
    assert option_for("6.13", log, "ESME") == "security"


def test_debt_goes_to_its_charges() -> None:
    body = _body(
        "<sr:UpdateDebt><sr:TimeDebtRegister1>30000</sr:TimeDebtRegister1>"
        "<sr:PaymentDebtRegister>50000</sr:PaymentDebtRegister>"
        "<sr:ElecDebtRecovery1><sr:DebtRecoveryRate>3</sr:DebtRecoveryRate>"
        "<sr:DebtRecoveryRatePriceScale>-1</sr:DebtRecoveryRatePriceScale>"
        "<sr:DebtRecoveryRatePeriod>WEEKLY</sr:DebtRecoveryRatePeriod></sr:ElecDebtRecovery1>"
        "</sr:UpdateDebt>"
    )
    held = [e for e in body.iter() if len(e) == 0]  # as the transform holds its leaves
    params, used = map_body("ECS07", body, MapContext())
    leaves = {id(e) for e in held}
    assert params["values"] == {
        "0.0.1": -1,
        "0.2": [[b"", 3]],
        "3": 7 * 86400,
        "7": 50000,
        "8": 30000,
    }
    assert leaves <= used  # every value was used: nothing goes on to the unmapped list


def test_suspend_debt_flags_change_the_collection_rows() -> None:
    body = _body(
        "<sr:UpdatePaymentMode><sr:Prepayment><sr:SuspendDebtDisabled>true"
        "</sr:SuspendDebtDisabled><sr:SuspendDebtEmergency>true</sr:SuspendDebtEmergency>"
        "<sr:DisablementThreshold>556677</sr:DisablementThreshold></sr:Prepayment>"
        "</sr:UpdatePaymentMode>"
    )
    params, _ = map_body("ECS03", body, MapContext())
    rows = params["values"]["2"]
    assert params["values"]["1"] == 556677
    assert rows == credit_charge_rows(
        prepayment=True, suspend_disabled=True, suspend_emergency=True
    )
    time_debt = [r for r in rows if r[1] == Obis("0-0:19.20.1.255")]
    assert {r[2] for r in time_debt if r[0] != Obis("0-0:19.10.2.255")} == {b"\xc0"}
    assert len(rows) == 13 and len(credit_charge_rows(prepayment=True)) == 10
    gas, _ = map_body("GCS03", body, MapContext())
    assert gas == {"proposed_payment_control_configuration": 0x097 | 0x400, "cut_off_value": 556677}


def test_prices_keep_their_matrix_identifiers() -> None:
    body = _body(
        "<sr:UpdatePricePrimaryElement><sr:PriceElements><sr:ElectricityPriceElements>"
        "<sr:StandingCharge>20000</sr:StandingCharge><sr:PriceScale>-5</sr:PriceScale>"
        '<sr:BlockTariff><sr:BlockPrices index="2"><sr:BlockPrice index="3">6566</sr:BlockPrice>'
        "</sr:BlockPrices></sr:BlockTariff></sr:ElectricityPriceElements></sr:PriceElements>"
        "</sr:UpdatePricePrimaryElement>"
    )
    params, _ = map_body("ECS01b", body, MapContext())
    matrix = dict(params["values"]["1.2"])
    assert len(matrix) == 80 and matrix[bytes((0xC2,))] == 6566  # block 3, tier 2
    assert sum(price for price in matrix.values()) == 6566
    assert params["values"]["0.2"] == [[b"", 20000]] and params["values"]["1.0.1"] == -5
