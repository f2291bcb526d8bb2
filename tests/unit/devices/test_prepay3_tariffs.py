"""Issue 10, last tariff gaps on the ESME: TOU with blocks (ECS01a thresholds and
block prices 0xAn..0xDn for tiers 2..8), charged per tier by the engine."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import (
    Lab,
    access_response,
    build_lab,
    decrypted,
    dlms_command,
    get,
    last_row,
    protected_read,
    read_profile,
    results,
    send,
)

from emulator.devices.esme import Esme
from emulator.devices.prepay_bridge import BLOCK_KEYS, millipence
from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import Array, CompactArray, DoubleLongUnsigned, Structure, encode_data
from emulator.metering import Constant, DayProfile, MeteringError, Tariff, TouCalendar


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()
    return lab


def price_matrix(
    tiers: dict[int, int], blocks: dict[int, tuple[int, ...]]
) -> list[tuple[bytes, int]]:
    """80 keyed entries: tiers 0x01..0x30, then block prices A1..D8 (high nibble: block)."""
    entries = [(bytes([t]), tiers.get(t, 0)) for t in range(1, 49)]
    for block, high in enumerate(BLOCK_KEYS):
        for tier in range(1, 9):
            prices = blocks.get(tier, ())
            entries.append((bytes([high | tier]), prices[block] if block < len(prices) else 0))
    return entries


def test_ecs01a_gives_tiers_2_to_8_their_own_blocks(lab: Lab) -> None:
    esme = lab.esme
    values = {
        "4": [1000, 2000],  # tier 1 thresholds (Wh)
        "5": [3000],  # tier 2
        "14.0": [3, -4],  # 10^-4 GBP (hundredths of a penny) per kWh
        "14.2": price_matrix({1: 1500, 2: 900}, {1: (1000, 2000, 4000), 2: (500, 2500)}),
        "13.0": [0, -4],
        "13.2": [(b"", 0)],
    }
    command = lab.supplier.command("1.1.1", esme.eui, values=values)
    assert set(results(send(esme, command))) == {0}
    esme.catch_up()
    tariff = esme.meter.primary.tariffs.active(esme.clock.now())
    assert tariff.blocks(1) == ((1000, 2000), (10_000, 20_000, 40_000))
    assert tariff.blocks(2) == ((3000,), (5000, 25_000))
    assert [tariff.price(2, b) for b in (0, 1)] == [5000, 25_000]
    assert tariff.block_of(2, 2999) == 0 and tariff.block_of(2, 3000) == 1
    assert tariff.price(3, 1) == 20_000  # tier 3 has no blocks of its own: tier 1's


# -- the secondary element in a twin ESME's profile and billing rows --------------------------


def _twin(variant: str) -> Lab:
    lab = build_lab(esme_variant=variant)
    lab.esme.catch_up()
    return lab


@pytest.mark.parametrize(
    ("code", "obis"),
    [(0x002F, "0-0:98.1.2.255"), (0x0033, "0-0:98.1.9.255"), (0x0037, "0-0:99.1.0.255")],
)
def test_twin_rows_carry_the_secondary_import_after_the_primary(code: int, obis: str) -> None:
    lab = _twin("twin")
    esme = lab.esme
    assert esme.meter.secondary is not None
    esme.meter.set_profile(Constant(2000), secondary=True)
    lab.advance(_dt.timedelta(days=32))  # past a midnight and a month end (billing)
    if obis == "0-0:98.1.2.255":  # the change triggered billing log: a change of mode
        esme.catch_up()
        esme.meter.set_payment_mode(not esme.meter.prepayment)
    buffer = read_profile(lab, esme, code, obis)
    row = buffer.values[-1]
    assert isinstance(row, Structure)
    primary, secondary = row.items[1], row.items[2]
    assert isinstance(primary, DoubleLongUnsigned) and isinstance(secondary, DoubleLongUnsigned)
    assert secondary.value == esme.meter.secondary.import_wh - _since(esme, row) * 2000
    assert secondary.value > primary.value  # 2 kW against the default 500 W
    if len(row.items) > 3 and isinstance(row.items[3], Array):  # daily, billing: 4 tiers next
        tiers = row.items[4]
        assert isinstance(tiers, Array) and len(tiers.items) == 4
        assert sum(v.value for v in tiers.items if isinstance(v, DoubleLongUnsigned)) == (
            secondary.value
        )
    assert encode_data(buffer)  # the description has the extra columns


def _since(esme: Esme, row: Structure) -> int:
    """Wh per W metered since the row's capture (rows keep the value at capture time)."""
    stamp = row.items[0]
    assert isinstance(stamp, DoubleLongUnsigned)
    captured = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=stamp.value)
    now = esme.clock.now()
    return int((now - captured).total_seconds()) // 3600


def test_single_element_rows_are_unchanged() -> None:
    lab = _twin("single")
    esme = lab.esme
    lab.advance(_dt.timedelta(days=2))
    row = last_row(lab, esme, 0x0033, "0-0:98.1.9.255")
    assert isinstance(row.items[2], Array)


# -- the price scale of a DLMS charge ---------------------------------------------------------


def test_a_charge_is_in_the_accounts_currency_times_ten_to_the_price_scale() -> None:
    """ECS01b's standing charge 20000 at price scale -5 is 20p a day (10^-5 GBP, the
    unit of the ESME's other money amounts), and 3121 at -5 is 3.121p per kWh."""
    assert millipence(20000, -5) == 20_000
    assert millipence(3121, -5) == 3121
    assert millipence(3, -1) == 30_000  # ECS07's time debt rate: 30p per period
    with pytest.raises(MeteringError):
        millipence(1, -6)


# -- the TOU-with-blocks matrices: daily rows and ECS17e ---------------------------------------


def _tou_with_blocks_esme() -> Lab:
    lab = _twin("single")
    esme = lab.esme
    days = {1: DayProfile(((0, 2), (420, 1)))}
    tariff = Tariff(
        (30_000, 10_000),
        0,
        calendar=TouCalendar(days, {1: (1,) * 7}),
        tier_blocks=(((10_000,), (20_000, 40_000)), ((3000,), (5000, 15_000))),
    )
    esme.meter.local_time = False
    esme.meter.publish_tariff(tariff)
    esme.meter.set_profile(Constant(1000))
    lab.advance(_dt.timedelta(days=2, hours=2))
    return lab


def _u32s(node: object) -> list[int]:
    assert isinstance(node, Array)
    return [v.value for v in node.items if isinstance(v, DoubleLongUnsigned)]


def test_daily_rows_carry_the_tier_x_block_register_matrix() -> None:
    """After the 48 tier registers, four arrays of 8: block 1..4, each by tier 1..8
    (the layout of the reference ECS21a rows and DUIS TariffTOUBlockNRegisterMatrixValue)."""
    lab = _tou_with_blocks_esme()
    esme = lab.esme
    response = send(esme, protected_read(lab.supplier, esme, 0x0033, [(7, "0-0:98.1.9.255", 2)]))
    (value,) = decrypted(response, lab.verifier).decrypted_dlms
    assert isinstance(value, Structure) and isinstance(value.items[0], CompactArray)
    row = value.items[0].values[-1]
    assert isinstance(row, Structure)
    matrix = [v for node in row.items[3:7] for v in _u32s(node)]
    assert matrix == esme.meter.daily_log[-1]["tier_block_wh"]
    assert matrix[1] > 0 and matrix[8] > 0  # night in block 1, day in block 2
    assert sum(matrix) == row.items[1].value  # type: ignore[attr-defined]


def test_ecs17e_reads_the_register_matrix_then_the_block_counter_matrix() -> None:
    lab = _tou_with_blocks_esme()
    esme = lab.esme
    response = send(esme, protected_read(lab.supplier, esme, 0x002A, [(1, "0-0:94.44.34.2", 2)]))
    (value,) = decrypted(response, lab.verifier).decrypted_dlms
    assert isinstance(value, Structure) and isinstance(value.items[0], Structure)
    values = _u32s(value.items[0].items[0])  # the register structure: one array of 64
    assert values == [*esme.meter.tier_block_wh, *esme.meter.block_counter_wh]
    # noon: since midnight 7 night hours (tier 2: 3 kWh in block 1, 4 in block 2) and 5 day
    # hours (tier 1: block 1 up to the 10 kWh threshold, 3 kWh, then 2 in block 2)
    counters = values[32:]
    assert (counters[0], counters[1], counters[8], counters[9]) == (3000, 3000, 2000, 4000)
    assert sum(counters) == 12_000 < sum(values[:32])


@pytest.mark.parametrize(("variant", "entries"), [("single", 13), ("twin", 15)])
def test_a_twin_account_charges_the_secondary_element_to_token_and_emergency_credit(
    variant: str, entries: int
) -> None:
    """ECS26a reads the account's credit charge configuration: a twin meter adds the
    secondary element's charge (0-0:19.20.5) for credits 0-0:19.10.0 and .1."""
    lab = _twin(variant)
    esme = lab.esme
    command = dlms_command(lab.supplier, esme, 0x003B, get(111, "0-0:19.0.0.255", 11))
    (value,) = access_response(send(esme, command)).data
    assert isinstance(value, Array) and len(value.items) == entries
    if variant == "twin":
        tail = [[bytes(i.value) for i in e.items[:2]] for e in value.items[-2:]]  # type: ignore[attr-defined]
        secondary = bytes(Obis("0-0:19.20.5.255"))
        assert tail == [
            [bytes(Obis("0-0:19.10.0.255")), secondary],
            [bytes(Obis("0-0:19.10.1.255")), secondary],
        ]
