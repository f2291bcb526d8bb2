"""DUIS bodies that are structures: the use case they choose and where their values go."""

from __future__ import annotations

import base64
from typing import Any

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


# -- issue 15: bodies the transform used to drop -----------------------------------------------


def _mapped(use_case: str, xml: str) -> dict[str, Any]:
    body = _body(xml)
    held = [e for e in body.iter() if len(e) == 0]
    params, used = map_body(use_case, body, MapContext())
    assert {id(e) for e in held} <= used, "a body value was left for the unmapped list"
    return params


def test_sub_ghz_channels_become_channel_masks_and_decimals_hundredths() -> None:
    params = _mapped(
        "DBCH04",
        "<sr:SetCHFSubGHzConfiguration>"
        "<sr:LowerBandSubGHzChannels0To26><sr:Channel3/></sr:LowerBandSubGHzChannels0To26>"
        "<sr:LowerBandSubGHzChannels27To34><sr:Channel30/></sr:LowerBandSubGHzChannels27To34>"
        "<sr:NormalLimitedDutyCycleThreshold>1.25</sr:NormalLimitedDutyCycleThreshold>"
        "<sr:GSMECurfew>9</sr:GSMECurfew>"
        "<sr:LocalCHRetryPercentage>12.50</sr:LocalCHRetryPercentage>"
        "</sr:SetCHFSubGHzConfiguration>",
    )
    assert params["values"] == {
        "0.0": ((28 << 27) | 1 << 3).to_bytes(4, "big"),  # page 28, channel 3
        "0.1": ((29 << 27) | 1 << 3).to_bytes(4, "big"),  # page 29 starts at channel 27
        "0.4": 125,
        "0.7": 9,
        "0.14": 1250,
    }


def test_max_demand_period_is_a_start_and_an_end_entry() -> None:
    params = _mapped(
        "ECS37",
        "<sr:SetMaximumDemandConfigurableTimePeriod><sr:MaximumDemandTimePeriodSchedule>"
        "<sr:StartTime>06:30:00.00Z</sr:StartTime><sr:EndTime>09:15:00.00Z</sr:EndTime>"
        "</sr:MaximumDemandTimePeriodSchedule></sr:SetMaximumDemandConfigurableTimePeriod>",
    )
    start, end = params["values"]["0.0"], params["values"]["0.1"]
    assert (start[0], start[3], start[4]) == (0, 1, bytes((6, 30, 0, 0)))
    assert (end[0], end[3], end[4]) == (1, 2, bytes((9, 15, 0, 0)))


def test_max_demand_reset_sends_only_the_named_registers() -> None:
    params = _mapped(
        "ECS57",
        "<sr:ResetMaximumDemandRegisters><sr:MaxDemandActivePowerExportValue/>"
        "</sr:ResetMaximumDemandRegisters>",
    )
    assert params == {"specs": [2]}


def test_switching_table_carries_seasons_weeks_days_and_special_days() -> None:
    params = _mapped(
        "ECS01c",
        "<sr:UpdateImportTariffSecondaryElement><sr:SwitchingTable>"
        "<sr:DayProfiles><sr:DayProfile><sr:DayName>2</sr:DayName>"
        "<sr:ProfileSchedule><sr:StartTime>05:30:00.00Z</sr:StartTime>"
        "<sr:TOUTariffAction>03</sr:TOUTariffAction></sr:ProfileSchedule>"
        "</sr:DayProfile></sr:DayProfiles>"
        "<sr:WeekProfiles><sr:WeekProfile><sr:WeekName>4</sr:WeekName>"
        + "".join(
            f'<sr:ReferencedDayName index="{i}">2</sr:ReferencedDayName>' for i in range(1, 8)
        )
        + "</sr:WeekProfile></sr:WeekProfiles>"
        "<sr:Seasons><sr:Season><sr:SeasonName>all</sr:SeasonName><sr:SeasonStartDate>"
        "<sr:Year><sr:SpecifiedYear>2016</sr:SpecifiedYear></sr:Year>"
        "<sr:Month><sr:SpecifiedMonth>02</sr:SpecifiedMonth></sr:Month>"
        "<sr:DayOfMonth><sr:SpecifiedDayOfMonth>03</sr:SpecifiedDayOfMonth></sr:DayOfMonth>"
        "<sr:DayOfWeek><sr:NonSpecifiedDayOfWeek/></sr:DayOfWeek></sr:SeasonStartDate>"
        "<sr:ReferencedWeekName>4</sr:ReferencedWeekName></sr:Season></sr:Seasons>"
        "</sr:SwitchingTable>"
        "<sr:SpecialDays><sr:SpecialDay><sr:Date>"
        "<sr:Year><sr:NonSpecifiedYear/></sr:Year>"
        "<sr:Month><sr:SpecifiedMonth>01</sr:SpecifiedMonth></sr:Month>"
        "<sr:DayOfMonth><sr:SpecifiedDayOfMonth>01</sr:SpecifiedDayOfMonth></sr:DayOfMonth>"
        "<sr:DayOfWeek><sr:NonSpecifiedDayOfWeek/></sr:DayOfWeek></sr:Date>"
        "<sr:ReferencedDayName>2</sr:ReferencedDayName></sr:SpecialDay></sr:SpecialDays>"
        "<sr:PriceElements><sr:PriceScale>-4</sr:PriceScale>"
        '<sr:ElectricityPriceElement index="1">777</sr:ElectricityPriceElement>'
        "</sr:PriceElements></sr:UpdateImportTariffSecondaryElement>",
    )
    values = params["values"]
    assert values["0.0.1"] == -4 and values["0.2"] == [[b"\x01", 777]]
    assert values["1"] == [[b"all", b"\x07\xe0\x02\x03\xff\x00\x00\x00\x00\x80\x00\xff", b"\x04"]]
    assert values["2"] == [[b"\x04", 2, 2, 2, 2, 2, 2, 2]]
    assert values["3"] == [[2, [[bytes((5, 30, 0, 0)), bytes((0, 0, 10, 0, 100, 255)), 203]]]]
    assert values["4"] == [[1, b"\xff\xff\x01\x01\xff", 2]]


def test_credential_roles_follow_the_body() -> None:
    params = _mapped(
        "CS02fMAC",
        "<sr:RetrieveDeviceSecurityCredentialsKRP><sr:RemotePartyRole>ACB</sr:RemotePartyRole>"
        "<sr:RemotePartyRole>LoadController</sr:RemotePartyRole>"
        "</sr:RetrieveDeviceSecurityCredentialsKRP>",
    )
    assert params == {"roles": ["acb", "load_controller"]}


def test_credential_update_takes_the_body_certificates_in_cell_order() -> None:
    ds, ka, pp, path = (base64.b64encode(bytes((0x30, 1, n))).decode() for n in range(4))
    params = _mapped(
        "CS02bSupplierBySupplier",
        "<sr:UpdateSecurityCredentialsKRP><sr:ReplacementCertificates>"
        "<sr:SupplierOrNetworkOperatorCertificates>"
        f"<sr:KeyAgreementTopUpCertificate>{pp}</sr:KeyAgreementTopUpCertificate>"
        f"<sr:KeyAgreementCertificate>{ka}</sr:KeyAgreementCertificate>"
        f"<sr:DigitalSigningCertificate>{ds}</sr:DigitalSigningCertificate>"
        "</sr:SupplierOrNetworkOperatorCertificates></sr:ReplacementCertificates>"
        f"<sr:CertificationPathCertificates><sr:Certificate>{path}</sr:Certificate>"
        "</sr:CertificationPathCertificates>"
        "<sr:ApplyTimeBasedCPVChecks>false</sr:ApplyTimeBasedCPVChecks>"
        "</sr:UpdateSecurityCredentialsKRP>",
    )
    # supplier cells: digital signature, key agreement, prepayment key agreement
    assert params["certificates"] == [bytes((0x30, 1, 0)), bytes((0x30, 1, 1)), bytes((0x30, 1, 2))]
    assert params["certification_path"] == [bytes((0x30, 1, 3))]
    assert params["disapply_cpv_checks"] is True


def test_gas_alert_behaviour_groups_events_by_configuration() -> None:
    def event(code: str, wan: str, han: str, log: str, alarm: str) -> str:
        return (
            f"<sr:{code}><sr:WANAlert>{wan}</sr:WANAlert><sr:HANAlert>{han}</sr:HANAlert>"
            f"<sr:EventLog>{log}</sr:EventLog><sr:Alarm>{alarm}</sr:Alarm></sr:{code}>"
        )

    params = _mapped(
        "GCS20",
        "<sr:ConfigureAlertBehaviour><sr:GasSupplierAlertEventSettings>"
        + event("x810E", "Enable", "Disable", "Disable", "Disable")
        + event("x8161", "Disable", "Disable", "Enable", "Enable")
        + event("x81AA", "Enable", "Disable", "Disable", "Disable")
        + "</sr:GasSupplierAlertEventSettings></sr:ConfigureAlertBehaviour>",
    )
    assert params["event_settings"] == [
        {
            "event_configuration": 0x08,
            "payload": {"number_of_events": 2, "event_ids": [0x810E, 0x81AA]},
        },
        {"event_configuration": 0x43, "payload": {"number_of_events": 1, "event_ids": [0x8161]}},
    ]
