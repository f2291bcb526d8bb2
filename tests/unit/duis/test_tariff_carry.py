"""Issue 15: a DUIS 1.1.1 Update Import Tariff carries the whole tariff into ECS01a, and
the ESME then holds the body's calendar, thresholds and prices."""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator

import pytest
from duis_support import SUPPLIER, request_xml

from emulator.devices.esme import Esme
from emulator.devices.gsme import Gsme
from emulator.devices.prepay_bridge import zcl_tariff
from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Data, Structure
from emulator.gbcs.frame import Cra
from emulator.gbcs.payload import decode_payload
from emulator.gbcs.zcl.gbz import GbzPayload
from emulator.metering import DayProfile
from emulator.premises import lab_pki
from hil.dcc.commands import BuildContext, build_command
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.dcc.routes import route
from hil.duis.transform import Transformed, transform
from hil.duis.xml import parse, read_request


def _date(year: int | None, month: int, day: int) -> str:
    y = "<sr:NonSpecifiedYear/>" if year is None else f"<sr:SpecifiedYear>{year}</sr:SpecifiedYear>"
    return (
        f"<sr:Year>{y}</sr:Year><sr:Month><sr:SpecifiedMonth>{month:02d}</sr:SpecifiedMonth>"
        f"</sr:Month><sr:DayOfMonth><sr:SpecifiedDayOfMonth>{day:02d}</sr:SpecifiedDayOfMonth>"
        "</sr:DayOfMonth><sr:DayOfWeek><sr:NonSpecifiedDayOfWeek/></sr:DayOfWeek>"
    )


def _action(start: str, kind: str, number: int) -> str:
    return (
        f"<sr:ProfileSchedule><sr:StartTime>{start}</sr:StartTime>"
        f"<sr:{kind}>{number}</sr:{kind}></sr:ProfileSchedule>"
    )


def _week(name: int, days: list[int]) -> str:
    refs = "".join(
        f'<sr:ReferencedDayName index="{i}">{d}</sr:ReferencedDayName>'
        for i, d in enumerate(days, 1)
    )
    return f"<sr:WeekProfile><sr:WeekName>{name}</sr:WeekName>{refs}</sr:WeekProfile>"


#: A TOU tariff with blocks: day 1 switches tier 2 -> 3 at 07:00, day 2 is tier 1 all
#: day (weekends), a winter and a summer week, two special days; tier 1 has two block
#: thresholds, and four TOU prices and tier 1's block prices are set.
BODY = f"""<sr:UpdateImportTariffPrimaryElement>
<sr:ExecutionDateTime>2026-03-03T00:00:00Z</sr:ExecutionDateTime>
<sr:ElecTariffElements><sr:CurrencyUnits>GBP</sr:CurrencyUnits><sr:SwitchingTable>
<sr:DayProfiles>
<sr:DayProfile><sr:DayName>1</sr:DayName>{_action("00:00:00.00Z", "TOUTariffAction", 2)}
{_action("07:00:00.00Z", "TOUTariffAction", 3)}</sr:DayProfile>
<sr:DayProfile><sr:DayName>2</sr:DayName>{_action("00:00:00.00Z", "BlockTariffAction", 1)}
</sr:DayProfile></sr:DayProfiles>
<sr:WeekProfiles>{_week(1, [1, 1, 1, 1, 1, 2, 2])}{_week(2, [2, 2, 2, 2, 2, 2, 1])}
</sr:WeekProfiles>
<sr:Seasons>
<sr:Season><sr:SeasonName>winter</sr:SeasonName><sr:SeasonStartDate>{_date(2026, 1, 1)}
</sr:SeasonStartDate><sr:ReferencedWeekName>1</sr:ReferencedWeekName></sr:Season>
<sr:Season><sr:SeasonName>summer</sr:SeasonName><sr:SeasonStartDate>{_date(2026, 6, 1)}
</sr:SeasonStartDate><sr:ReferencedWeekName>2</sr:ReferencedWeekName></sr:Season>
</sr:Seasons></sr:SwitchingTable>
<sr:SpecialDays>
<sr:SpecialDay><sr:Date>{_date(2026, 5, 4)}</sr:Date>
<sr:ReferencedDayName>2</sr:ReferencedDayName></sr:SpecialDay>
<sr:SpecialDay><sr:Date>{_date(None, 12, 25)}</sr:Date>
<sr:ReferencedDayName>2</sr:ReferencedDayName></sr:SpecialDay>
</sr:SpecialDays>
<sr:ThresholdMatrix>
<sr:Thresholds index="1"><sr:BlockThreshold index="2">2500</sr:BlockThreshold>
<sr:BlockThreshold index="1">1500</sr:BlockThreshold></sr:Thresholds>
<sr:Thresholds index="2"><sr:BlockThreshold index="1">4294967295</sr:BlockThreshold>
</sr:Thresholds></sr:ThresholdMatrix>
</sr:ElecTariffElements>
<sr:PriceElements><sr:ElectricityPriceElements>
<sr:StandingCharge>23456</sr:StandingCharge><sr:StandingChargeScale>-5</sr:StandingChargeScale>
<sr:PriceScale>-5</sr:PriceScale>
<sr:HybridTariff>
<sr:BlockPrices index="1"><sr:BlockPrice index="1">1100</sr:BlockPrice>
<sr:BlockPrice index="2">1200</sr:BlockPrice><sr:BlockPrice index="3">1300</sr:BlockPrice>
</sr:BlockPrices>
<sr:TOUPrice index="1">2001</sr:TOUPrice><sr:TOUPrice index="2">2002</sr:TOUPrice>
<sr:TOUPrice index="3">2003</sr:TOUPrice>
</sr:HybridTariff>
</sr:ElectricityPriceElements></sr:PriceElements>
</sr:UpdateImportTariffPrimaryElement>"""


def _transformed(meter: str) -> Transformed:
    raw = request_xml(BODY, "1.1.1", meter, counter=9, command_variant=4)
    return transform(read_request(parse(raw)), device_type="ESME")


def _plain(d: Data) -> object:
    items = getattr(d, "items", None)
    if items is not None:
        return [_plain(i) for i in items]
    return getattr(d, "value", None)


def test_the_whole_tariff_goes_into_the_ecs01a_command() -> None:
    meter = "00-DB-12-34-56-78-90-A0"
    t = _transformed(meter)
    assert t.unmapped == ["ElecTariffElements/CurrencyUnits=GBP"]  # the ESME has no currency
    pki, _ = lab_pki("duis-tariff")
    ctx = BuildContext(
        now=_dt.datetime(2026, 3, 2, tzinfo=_dt.UTC), keystore=pki.keystore, device_types={}
    )
    built = build_command(route("1.1.1", "ESME"), 9, SUPPLIER, meter, t.params, ctx)
    # decoded from its bytes, as `smets-hil gbcs decode` reads them
    decoded = decode_payload(built.encoded, Cra.COMMAND, built.message_code).tree
    assert isinstance(decoded, AccessRequest)
    data = [_plain(d) for d in decoded.data]
    seasons, weeks, days, special = data[:4]
    assert seasons == [
        [b"winter", bytes((0x07, 0xEA, 1, 1, 0xFF, 0, 0, 0, 0, 0x80, 0, 0xFF)), b"\x01"],
        [b"summer", bytes((0x07, 0xEA, 6, 1, 0xFF, 0, 0, 0, 0, 0x80, 0, 0xFF)), b"\x02"],
    ]
    assert weeks == [[b"\x01", 1, 1, 1, 1, 1, 2, 2], [b"\x02", 2, 2, 2, 2, 2, 2, 1]]
    scripts = bytes((0, 0, 10, 0, 100, 0xFF))
    assert days == [
        [1, [[bytes((0, 0, 0, 0)), scripts, 2], [bytes((7, 0, 0, 0)), scripts, 3]]],
        [2, [[bytes((0, 0, 0, 0)), scripts, 101]]],  # block action 1: selector 100 + 1
    ]
    assert special == [[1, bytes((0x07, 0xEA, 5, 4, 0xFF)), 2], [2, b"\xff\xff\x0c\x19\xff", 2]]
    assert data[4] == [1500, 2500]  # tier 1's thresholds in index order
    assert data[5] == [0xFFFF_FFFF]
    standing, prices = decoded.data[13], decoded.data[14]
    assert isinstance(standing, Structure) and isinstance(prices, Structure)
    assert _plain(standing)[0][1] == -5 and _plain(standing)[2] == [[b"", 23456]]  # type: ignore[index]
    keyed = {bytes(k): v for k, v in _plain(prices)[2]}  # type: ignore[index]
    assert [keyed[bytes((i,))] for i in (1, 2, 3, 4)] == [2001, 2002, 2003, 0]
    assert [keyed[bytes((h | 1,))] for h in (0xA0, 0xB0, 0xC0)] == [1100, 1200, 1300]


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    the_lab = Lab.load(DEFAULT_LAB)
    async with the_lab:
        yield the_lab


async def test_the_esme_holds_the_template_tariff(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    esme = lab.device("ESME")
    assert isinstance(esme, Esme)
    t = _transformed(str(lab.eui("ESME")))
    t.params.pop("execution_time", None)  # now
    result = dcc.submit("1.1.1", as_user="supplier", target=lab.eui("ESME"), params=t.params)
    dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.ok, result.detail
    esme.catch_up()
    assert esme.dropped_settings == 0
    tariff = esme.meter.primary.tariffs.active(esme.clock.now())
    assert tariff.standing_charge == 23456
    assert tariff.tier_prices[:3] == (2001, 2002, 2003)
    assert tariff.blocks(1) == ((1500, 2500), (1100, 1200, 1300))
    calendar = tariff.calendar
    assert calendar.days == {
        1: DayProfile(((0, 2), (420, 3))),
        2: DayProfile(((0, 1),)),
    }
    assert calendar.weeks == {1: (1, 1, 1, 1, 1, 2, 2), 2: (2, 2, 2, 2, 2, 2, 1)}
    assert calendar.seasons == ((1, 1, 1), (6, 1, 2))
    assert calendar.special_days == {_dt.date(2026, 5, 4): 2}


def _gas_date(year: int | None, month: int, day: int) -> str:
    y = "" if year is None else f"<sr:SpecifiedYear>{year}</sr:SpecifiedYear>"
    return (
        f"<sr:GasYearWithWildcards>{y}</sr:GasYearWithWildcards>"
        f"<sr:GasMonthWithWildcards><sr:SpecifiedMonth>{month}</sr:SpecifiedMonth>"
        "</sr:GasMonthWithWildcards><sr:GasDayOfMonthWithWildcards>"
        f"<sr:SpecifiedDayOfMonth>{day}</sr:SpecifiedDayOfMonth></sr:GasDayOfMonthWithWildcards>"
    )


def _gas_day(name: int, tier: int | None) -> str:
    action = (
        "<sr:BlockTariff/>" if tier is None else f"<sr:TOUTariffAction>{tier}</sr:TOUTariffAction>"
    )
    return f"<sr:DayProfile><sr:DayName>{name}</sr:DayName>{action}</sr:DayProfile>"


def _gas_body(days: str, weeks: str, prices: str, thresholds: str) -> str:
    return f"""<sr:UpdateImportTariffPrimaryElement><sr:GasTariffElements><sr:SwitchingTable>
<sr:DayProfiles>{days}</sr:DayProfiles><sr:WeekProfiles>{weeks}</sr:WeekProfiles>
<sr:Seasons><sr:Season><sr:SeasonStartDate>{_gas_date(None, 1, 1)}</sr:SeasonStartDate>
<sr:ReferencedWeekName>1</sr:ReferencedWeekName></sr:Season>
<sr:Season><sr:SeasonStartDate>{_gas_date(None, 7, 1)}</sr:SeasonStartDate>
<sr:ReferencedWeekName>2</sr:ReferencedWeekName></sr:Season></sr:Seasons></sr:SwitchingTable>
<sr:SpecialDays><sr:SpecialDay><sr:Date>{_gas_date(2026, 4, 6)}</sr:Date>
<sr:ReferencedDayName>2</sr:ReferencedDayName></sr:SpecialDay></sr:SpecialDays>
<sr:ThresholdMatrix>{thresholds}</sr:ThresholdMatrix></sr:GasTariffElements>
<sr:PriceElements><sr:GasPriceElements><sr:CurrencyUnits>GBP</sr:CurrencyUnits>
<sr:StandingCharge>31234</sr:StandingCharge>{prices}</sr:GasPriceElements></sr:PriceElements>
</sr:UpdateImportTariffPrimaryElement>"""


#: Three day profiles (tiers 1, 2, 3), two weeks, two seasons, one special day.
GAS_TOU = _gas_body(
    _gas_day(1, 1) + _gas_day(2, 2) + _gas_day(3, 3),
    _week(1, [1, 1, 1, 1, 1, 2, 2]) + _week(2, [3, 3, 3, 3, 3, 2, 2]),
    "<sr:TOUTariff>"
    + "".join(
        f'<sr:TOUPrice index="{i}">{p}</sr:TOUPrice>' for i, p in ((1, 7001), (2, 7002), (3, 7003))
    )
    + "</sr:TOUTariff>",
    '<sr:BlockThreshold index="1">1</sr:BlockThreshold>',  # DUIS: a mock for a TOU tariff
)
GAS_BLOCK = _gas_body(
    _gas_day(1, None),
    _week(1, [1] * 7) + _week(2, [1] * 7),
    "<sr:BlockTariff>"
    + "".join(
        f'<sr:BlockPrice index="{i}">{p}</sr:BlockPrice>' for i, p in ((1, 500), (2, 600), (3, 700))
    )
    + "<sr:NumberOfThresholds>2</sr:NumberOfThresholds></sr:BlockTariff>",
    '<sr:BlockThreshold index="2">2000</sr:BlockThreshold>'
    '<sr:BlockThreshold index="1">1000</sr:BlockThreshold>',
)


def _gas(body: str, meter: str = "00-DB-12-34-56-78-90-A1") -> Transformed:
    raw = request_xml(body, "1.1.1", meter, counter=9, command_variant=4)
    return transform(read_request(parse(raw)), device_type="GSME")


def _gas_components(body: str) -> dict[str, list[dict[str, object]]]:
    meter = "00-DB-12-34-56-78-90-A1"
    t = _gas(body, meter)
    pki, _ = lab_pki("duis-tariff")
    ctx = BuildContext(
        now=_dt.datetime(2026, 3, 2, tzinfo=_dt.UTC), keystore=pki.keystore, device_types={}
    )
    built = build_command(route("1.1.1", "GSME"), 9, SUPPLIER, meter, t.params, ctx)
    decoded = decode_payload(built.encoded, Cra.COMMAND, built.message_code).tree
    assert isinstance(decoded, GbzPayload)
    found: dict[str, list[dict[str, object]]] = {}
    for c in decoded.components:
        found.setdefault(c.frame.name, []).append(dict(c.frame.fields or {}))
    return found


def test_a_gas_tou_tariff_goes_into_gcs01a() -> None:
    assert _gas(GAS_TOU).unmapped == ["GasTariffElements/ThresholdMatrix/BlockThreshold=1"]
    found = _gas_components(GAS_TOU)
    (calendar,) = found["publish_calendar"]
    assert (calendar["number_of_day_profiles"], calendar["number_of_week_profiles"]) == (3, 2)
    assert [(d["day_id"], d["schedule_entries"]) for d in found["publish_day_profile"]] == [
        (n, [{"start_time": 0, "tier_or_action": n}]) for n in (1, 2, 3)
    ]
    weeks = found["publish_week_profile"]
    assert [(w["week_id"], w["day_id_monday"], w["day_id_sunday"]) for w in weeks] == [
        (1, 1, 2),
        (2, 3, 2),
    ]
    (seasons,) = found["publish_seasons"]
    assert [(s["season_start_date"]["month"], s["week_id"]) for s in seasons["seasons"]] == [  # type: ignore[index,union-attr]
        (1, 1),
        (7, 2),
    ]
    (special,) = found["publish_special_days"]
    assert special["special_days"] == [
        {"special_day_date": {"year": 2026, "month": 4, "day": 6, "weekday": 255}, "day_id": 2}
    ]
    (info,) = found["publish_tariff_information"]
    assert (info["standing_charge"], info["currency"], info["number_of_price_tiers_in_use"]) == (
        31234,
        826,
        3,
    )
    (matrix,) = found["publish_price_matrix"]
    assert matrix["entries"] == [
        {"tier_block_id": t, "price": p} for t, p in ((1, 7001), (2, 7002), (3, 7003))
    ]
    assert "publish_block_thresholds" not in found


def test_a_gas_block_tariff_sends_its_thresholds() -> None:
    assert _gas(GAS_BLOCK).unmapped == []
    found = _gas_components(GAS_BLOCK)
    (matrix,) = found["publish_price_matrix"]
    assert matrix["sub_payload_control"] == 0  # block prices
    assert [e["price"] for e in matrix["entries"]] == [500, 600, 700]  # type: ignore[union-attr,index]
    (thresholds,) = found["publish_block_thresholds"]
    assert thresholds["entries"] == [{"tier": 0, "thresholds": [1000, 2000]}]
    assert thresholds["sub_payload_control"] == 1
    (info,) = found["publish_tariff_information"]
    assert info["number_of_block_thresholds_in_use"] == 2


async def test_the_gsme_holds_the_template_tariff(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    gsme = lab.device("GSME")
    assert isinstance(gsme, Gsme)
    t = _gas(GAS_TOU, str(lab.eui("GSME")))
    result = dcc.submit("1.1.1", as_user="supplier", target=lab.eui("GSME"), params=t.params)
    dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.ok, result.detail
    tariff = zcl_tariff(gsme.zcl.published)
    assert tariff is not None
    assert tariff.tier_prices == (7001, 7002, 7003) and tariff.standing_charge == 31234
    # the new calendar replaced the factory's (its day 4 and 2014-12-25 are gone)
    assert tariff.calendar.days == {n: DayProfile(((0, n),)) for n in (1, 2, 3)}
    assert tariff.calendar.weeks == {1: (1, 1, 1, 1, 1, 2, 2), 2: (3, 3, 3, 3, 3, 2, 2)}
    assert tariff.calendar.seasons == ((1, 1, 1), (7, 1, 2))
    assert tariff.calendar.special_days == {_dt.date(2026, 4, 6): 2}
