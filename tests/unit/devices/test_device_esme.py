"""ESME behaviour: metering, profiles, load switch, future-dated changes, top-ups, reads."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import (
    HALF_HOUR,
    START,
    Lab,
    access_response,
    action,
    build_lab,
    decrypted,
    dlms_command,
    dlms_time,
    get,
    get_range,
    last_security_code,
    party_sensitive_key,
    protected_read,
    results,
    send,
    set_,
    tree,
    zigbee,
)

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Outbound
from emulator.devices.esme import (
    EVENT_SUPPLY_ARMED,
    EVENT_SUPPLY_DISABLED,
    EVENT_SUPPLY_ENABLED,
    Esme,
)
from emulator.devices.logs import UTRN_NOT_AUTHENTIC
from emulator.errors import MacError
from emulator.gbcs import crypto, utrn
from emulator.gbcs.dlms.apdu import DataNotification, Obis
from emulator.gbcs.dlms.axdr import (
    Array,
    CompactArray,
    Data,
    DoubleLongUnsigned,
    Enum,
    Integer,
    Long,
    LongUnsigned,
    OctetString,
    Structure,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.gbcs.payload import open_blob
from emulator.pki.keystore import KeyUsage

IMPORT_REGISTERS = (1, "0-0:94.44.34.10", 2)  # what ECS17b (4.1.1) reads
PROFILE = "0-0:99.1.1.255"  # half-hourly: capture time, import energy, tier 1
DAILY = "0-0:98.1.10.255"
ECS23 = 0x0039  # read load profile (non-critical, supplier)
ECS26a = 0x003B  # a non-critical supplier read
ECS01a, ECS08 = 0x0019, 0x001F  # critical: tariff (prices), TOU calendar


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()  # the meter starts metering at START
    return lab


def _rows(device: Esme, lab: Lab, obis: str = PROFILE, selection: Data | None = None) -> list[Data]:
    spec = get(7, obis, 2) if selection is None else get_range(7, obis, 2, selection)
    response = send(device, dlms_command(lab.supplier, device, ECS23, spec))
    assert results(response) == [0]
    buffer = access_response(response).data[0]
    assert isinstance(buffer, CompactArray)
    return list(buffer.values)


def _column(rows: list[Data], index: int) -> list[int]:
    values = []
    for row in rows:
        assert isinstance(row, Structure)
        cell = row.items[index]
        assert isinstance(cell, DoubleLongUnsigned)
        values.append(cell.value)
    return values


def _range(start: _dt.datetime, end: _dt.datetime, *, as_date_time: bool = False) -> Structure:
    restricting = Structure(
        [LongUnsigned(8), OctetString(bytes(Obis("0-0:1.0.0.255"))), Integer(2), LongUnsigned(0)]
    )
    if as_date_time:
        return Structure([restricting, dlms_time(start), dlms_time(end), Array([])])
    bounds = [DoubleLongUnsigned(zigbee(start)), DoubleLongUnsigned(zigbee(end))]
    return Structure([restricting, *bounds, Array([])])


# -- metering and profiles ---------------------------------------------------------------------


def test_half_hour_rows_appear_as_time_passes(lab: Lab) -> None:
    esme = lab.esme
    assert _rows(esme, lab) == []
    for n in range(1, 5):
        lab.advance(HALF_HOUR)
        rows = _rows(esme, lab)
        assert len(rows) == n
        assert _column(rows, 0)[-1] == zigbee(START + n * HALF_HOUR)
    lab.advance(HALF_HOUR - _dt.timedelta(seconds=1))
    assert len(_rows(esme, lab)) == 4  # not before the boundary


def test_entries_in_use_counts_rows(lab: Lab) -> None:
    lab.advance(3 * HALF_HOUR)
    response = send(lab.esme, dlms_command(lab.supplier, lab.esme, ECS23, get(7, PROFILE, 7)))
    assert access_response(response).data == [DoubleLongUnsigned(3)]


def test_import_energy_grows_with_load(lab: Lab) -> None:
    esme = lab.esme
    energy = []
    for _ in range(3):
        lab.advance(HALF_HOUR)
        energy.append(_column(_rows(esme, lab), 1)[-1])
    assert energy == [250, 500, 750]  # 500 W for half an hour = 250 Wh
    esme.meter.load_w = 2000.0
    lab.advance(HALF_HOUR)
    assert _column(_rows(esme, lab), 1)[-1] == 750 + 1000


def test_profile_rows_keep_the_value_at_their_capture_time(lab: Lab) -> None:
    lab.advance(4 * HALF_HOUR)  # one jump of two hours, then a read
    assert _column(_rows(lab.esme, lab), 1) == [250, 500, 750, 1000]


def test_daily_profile_captures_at_midnight_only(lab: Lab) -> None:
    esme = lab.esme
    lab.advance(_dt.timedelta(hours=13, minutes=59))
    assert _rows(esme, lab, DAILY) == []
    lab.advance(_dt.timedelta(minutes=1))  # 2026-03-03 00:00
    rows = _rows(esme, lab, DAILY)
    assert _column(rows, 0) == [zigbee(_dt.datetime(2026, 3, 3, tzinfo=_dt.UTC))]


@pytest.mark.parametrize("as_date_time", [False, True], ids=["u32 bounds", "date-time bounds"])
def test_range_selection_returns_only_rows_in_range(lab: Lab, as_date_time: bool) -> None:
    esme = lab.esme
    for _ in range(6):
        lab.advance(HALF_HOUR)
        esme.catch_up()
    assert len(_rows(esme, lab)) == 6
    selection = _range(START + 2 * HALF_HOUR, START + 4 * HALF_HOUR, as_date_time=as_date_time)
    rows = _rows(esme, lab, selection=selection)
    assert _column(rows, 0) == [zigbee(START + n * HALF_HOUR) for n in (2, 3, 4)]
    assert _column(rows, 1) == [500, 750, 1000]
    empty = _range(START - 4 * HALF_HOUR, START - HALF_HOUR, as_date_time=as_date_time)
    assert _rows(esme, lab, selection=empty) == []


def test_export_register_stays_zero_while_importing(lab: Lab) -> None:
    lab.advance(_dt.timedelta(hours=2))
    response = send(lab.esme, lab.supplier.command("4.2", lab.esme.eui))
    assert results(response) == [0, 0, 0, 0]
    assert access_response(response).data[0] == DoubleLongUnsigned(0)


def _import_register(lab: Lab) -> int:
    response = send(lab.esme, protected_read(lab.supplier, lab.esme, 0x0027, [IMPORT_REGISTERS]))
    (value,) = decrypted(response, lab.verifier).decrypted_dlms
    assert isinstance(value, Structure)
    first = value.items[0]
    assert isinstance(first, Structure)
    energy = first.items[0]
    assert isinstance(energy, DoubleLongUnsigned)
    return energy.value


def test_import_energy_register_follows_the_meter(lab: Lab) -> None:
    lab.advance(_dt.timedelta(hours=3))
    assert _import_register(lab) == 1500  # 500 W for 3 h


# -- load switch -------------------------------------------------------------------------------


def _supply_state(lab: Lab) -> int:
    response = send(lab.esme, lab.supplier.command("7.4", lab.esme.eui))
    assert response.header.date_time is None
    (state,) = access_response(response).data
    assert isinstance(state, Enum)
    return state.value


def test_load_switch_disable_arm_enable(lab: Lab) -> None:
    esme = lab.esme
    assert _supply_state(lab) == 1
    assert results(send(esme, lab.supplier.command("7.2", esme.eui))) == [0]
    assert esme.meter.supply_enabled is False
    assert _supply_state(lab) == 0
    assert results(send(esme, lab.supplier.command("7.3", esme.eui))) == [0]
    assert _supply_state(lab) == 2
    assert esme.meter.supply_enabled is False  # armed is not yet connected
    assert results(send(esme, lab.supplier.command("7.1", esme.eui))) == [0]
    assert _supply_state(lab) == 1
    assert esme.event_log.codes()[-3:] == [
        EVENT_SUPPLY_DISABLED,
        EVENT_SUPPLY_ARMED,
        EVENT_SUPPLY_ENABLED,
    ]


def test_arming_a_connected_supply_keeps_it_connected(lab: Lab) -> None:
    send(lab.esme, lab.supplier.command("7.3", lab.esme.eui))
    assert _supply_state(lab) == 1


def test_no_energy_while_disconnected(lab: Lab) -> None:
    esme = lab.esme
    lab.advance(HALF_HOUR)
    send(esme, lab.supplier.command("7.2", esme.eui))
    lab.advance(2 * HALF_HOUR)
    send(esme, lab.supplier.command("7.1", esme.eui))
    lab.advance(HALF_HOUR)
    esme.catch_up()
    assert _column(_rows(esme, lab), 1) == [250, 250, 250, 500]


def test_unknown_disconnector_script_is_refused(lab: Lab) -> None:
    esme = lab.esme
    send(esme, lab.supplier.command("7.2", esme.eui))
    unknown = action(9, "0-0:10.0.106.255", 1, LongUnsigned(0x99))
    script = dlms_command(lab.supplier, esme, 0x004F, unknown, critical=True)
    assert results(send(esme, script)) != [0]
    assert esme.meter.supply_enabled is False
    assert _supply_state(lab) == 0


# -- future-dated activations ------------------------------------------------------------------

PRICE_OBIS = "0-0:19.20.0.255"


def _price(value: int) -> Structure:
    return Structure(
        [
            Structure([Integer(-2), Integer(0)]),
            Structure([LongUnsigned(826), OctetString(b"GBP\x00\x00\x00"), Integer(-2)]),
            Array([Structure([OctetString(b"\x01"), Long(value)])]),
        ]
    )


def _active_price(lab: Lab) -> Data:
    response = send(lab.esme, dlms_command(lab.supplier, lab.esme, ECS26a, get(113, PRICE_OBIS, 5)))
    (value,) = access_response(response).data
    assert isinstance(value, Structure)
    prices = value.items[2]
    assert isinstance(prices, Array)
    return prices.items[0]


def _schedule_price(lab: Lab, value: int, when: OctetString) -> GbcsMessage:
    command = dlms_command(
        lab.supplier,
        lab.esme,
        ECS01a,
        set_(113, PRICE_OBIS, 6, _price(value)),
        set_(113, PRICE_OBIS, 7, when),
        critical=True,
    )
    assert results(send(lab.esme, command)) == [0, 0]
    return command


def test_future_dated_price_activates_on_time_with_00cc_alert(lab: Lab) -> None:
    alerts: list[Outbound] = []
    lab.esme.on_alert = alerts.append
    at = START + _dt.timedelta(hours=2)
    command = _schedule_price(lab, 1234, dlms_time(at))
    factory = Structure([OctetString(b"\x00"), Long(0)])
    assert _active_price(lab) == factory
    lab.advance(_dt.timedelta(hours=1, minutes=59))
    assert alerts == []
    assert _active_price(lab) == factory
    lab.advance(_dt.timedelta(minutes=1))
    assert len(alerts) == 1
    out = alerts[0]
    assert (out.kind, out.message_code, out.destination) == ("alert", 0x00CC, lab.supplier.party)
    alert = decode_message(out.message)
    assert alert.message_code == 0x00CC and alert.originator == lab.esme.eui
    assert lab.verifier.verify(alert).signature is True
    body = tree(alert)
    assert isinstance(body, DataNotification) and isinstance(body.body, Structure)
    code, when, detail = body.body.items
    assert code == LongUnsigned(0x8F66)
    assert isinstance(when, OctetString)
    assert DlmsDateTime.from_bytes(when.value).to_datetime() == at
    assert isinstance(detail, OctetString)
    assert detail.value[:10] == ECS01a.to_bytes(2, "big") + command.counter.to_bytes(8, "big")
    assert _active_price(lab) == Structure([OctetString(b"\x01"), Long(1234)])
    lab.advance(_dt.timedelta(days=1))
    assert len(alerts) == 1  # once only


def test_future_dated_calendar_activates(lab: Lab) -> None:
    alerts: list[Outbound] = []
    lab.esme.on_alert = alerts.append
    season = Array([Structure([OctetString(b"SUMMER"), dlms_time(START), OctetString(b"\x01")])])
    at = START + _dt.timedelta(days=1)
    command = dlms_command(
        lab.supplier,
        lab.esme,
        ECS08,
        set_(20, "0-0:13.0.0.255", 7, season),
        set_(20, "0-0:13.0.0.255", 10, dlms_time(at)),
        critical=True,
    )
    assert results(send(lab.esme, command)) == [0, 0]

    def active_seasons() -> Data:
        read = dlms_command(lab.supplier, lab.esme, ECS26a, get(20, "0-0:13.0.0.255", 3))
        return access_response(send(lab.esme, read)).data[0]

    assert active_seasons() != season
    lab.advance(_dt.timedelta(days=1))
    assert [a.message_code for a in alerts] == [0x00CC]
    assert active_seasons() == season


def test_never_marker_cancels_a_future_dated_change(lab: Lab) -> None:
    alerts: list[Outbound] = []
    lab.esme.on_alert = alerts.append
    _schedule_price(lab, 1234, dlms_time(START + _dt.timedelta(hours=2)))
    never = OctetString(DlmsDateTime.never_marker().encode())
    cancel = dlms_command(
        lab.supplier, lab.esme, ECS01a, set_(113, PRICE_OBIS, 7, never), critical=True
    )
    assert results(send(lab.esme, cancel)) == [0]
    lab.advance(_dt.timedelta(hours=3))
    assert alerts == []
    assert _active_price(lab) == Structure([OctetString(b"\x00"), Long(0)])


def test_a_new_date_replaces_the_pending_one(lab: Lab) -> None:
    alerts: list[Outbound] = []
    lab.esme.on_alert = alerts.append
    _schedule_price(lab, 1, dlms_time(START + _dt.timedelta(hours=1)))
    _schedule_price(lab, 2, dlms_time(START + _dt.timedelta(hours=3)))
    lab.advance(_dt.timedelta(hours=2))
    assert alerts == []
    lab.advance(_dt.timedelta(hours=1))
    assert len(alerts) == 1
    assert _active_price(lab) == Structure([OctetString(b"\x01"), Long(2)])


# -- top-ups -----------------------------------------------------------------------------------


def _utrn(lab: Lab, counter: int, pence: int, device: Eui64 | None = None) -> str:
    """A UTRN from the supplier's prepayment key for `device` (default: the ESME)."""
    supplier = lab.premises.parties[AnchorRole.SUPPLIER]
    target = device or lab.esme.eui
    device_key = lab.premises.pki.parties[bytes(target)].keys[KeyUsage.KEY_AGREEMENT]
    z = crypto.shared_secret(
        supplier.keys[KeyUsage.PREPAYMENT_KEY_AGREEMENT], device_key.public_key()
    )
    return utrn.generate_utrn(z, supplier.eui, target, counter, pence)


def test_utrn_credits_once(lab: Lab) -> None:
    esme = lab.esme
    code = _utrn(lab, 1 << 32, 1500)
    before = esme.meter.balance
    response = send(esme, lab.supplier.command("2.2", esme.eui, utrn=code))
    assert results(response) == [0]
    assert esme.meter.balance == before + 1500
    again = send(esme, lab.supplier.command("2.2", esme.eui, utrn=code))
    assert results(again) != [0]
    assert esme.meter.balance == before + 1500
    assert last_security_code(esme) == 0x8F51  # Duplicate UTRN entered
    later = _utrn(lab, 2 << 32, 200)
    assert results(send(esme, lab.supplier.command("2.2", esme.eui, utrn=later))) == [0]
    assert esme.meter.balance == before + 1700


def test_utrn_for_another_device_is_refused(lab: Lab) -> None:
    esme = lab.esme
    code = _utrn(lab, 1 << 32, 1500, device=lab.gsme.eui)
    before = esme.meter.balance
    assert results(send(esme, lab.supplier.command("2.2", esme.eui, utrn=code))) != [0]
    assert esme.meter.balance == before
    assert last_security_code(esme) == UTRN_NOT_AUTHENTIC


def test_utrn_with_bad_check_digit_is_refused(lab: Lab) -> None:
    code = _utrn(lab, 1 << 32, 1500)
    bad = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert results(send(lab.esme, lab.supplier.command("2.2", lab.esme.eui, utrn=bad))) != [0]
    assert last_security_code(lab.esme) == 0x8F64  # UTRN not for this Device


# -- data protection ---------------------------------------------------------------------------


def _blob(response: GbcsMessage) -> bytes:
    """The sensitive blob; its protection parameters name the device as originator."""
    (result,) = access_response(response).data
    assert isinstance(result, Structure)
    parameters, blob = result.items
    assert isinstance(parameters, Array) and isinstance(blob, OctetString)
    (parameter,) = parameters.items
    assert isinstance(parameter, Structure)
    options = parameter.items[1]
    assert isinstance(options, Structure)
    assert options.items[1] == OctetString(bytes(response.originator))
    assert options.items[2] == OctetString(bytes(response.recipient))
    return blob.value


def test_protected_read_decrypts_only_for_the_requester(lab: Lab) -> None:
    esme = lab.esme
    command = protected_read(lab.supplier, esme, 0x0027, [IMPORT_REGISTERS])
    response = send(esme, command)
    blob = _blob(response)

    def key_of(role: AnchorRole) -> bytes:
        return party_sensitive_key(lab, role, esme, command.counter)

    plain = open_blob(key_of(AnchorRole.SUPPLIER), crypto.iv_for(esme.eui), blob)
    assert plain[:1] == b"\x02"  # a structure
    with pytest.raises(MacError):
        open_blob(key_of(AnchorRole.NETWORK_OPERATOR), crypto.iv_for(esme.eui), blob)
    decoded = decrypted(response, lab.verifier)
    (values,) = decoded.decrypted_dlms
    assert isinstance(values, Structure) and len(values.items) == 1


def test_protected_profile_read_carries_the_rows(lab: Lab) -> None:
    esme = lab.esme
    lab.advance(_dt.timedelta(days=1, hours=1))
    command = protected_read(lab.supplier, esme, 0x0027, [(7, "0-0:99.1.0.255", 2)])
    response = send(esme, command)
    (values,) = decrypted(response, lab.verifier).decrypted_dlms
    assert isinstance(values, Structure)
    (rows,) = values.items
    assert isinstance(rows, CompactArray)
    assert len(rows.values) == 50  # every half hour from 10:30 to 11:00 the next day
