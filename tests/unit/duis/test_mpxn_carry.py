"""MPxNs (registration data, in no GBCS command) go where the DCC keeps them: an 8.11
add puts the added meter's on its SMI record, an 8.6 opt-in the opted-in meter's; 8.2
answers them and finds the meter by them; 8.4 UpdateMPxN changes one; 6.23 names the
meter's import MPxN for the DCC's registration check and never writes it. (The 8.2
answer against the real v5.4 schema is checked in tests/conformance/test_duis_mpxn.py.)"""

from __future__ import annotations

from duis_support import DCC, METER, SUPPLIER, request_xml
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.duis.server import BOXED_DCC, DuisServer
from hil.duis.signing import XmlCredentials, sign
from hil.duis.transform import transform
from hil.duis.xml import INVENTORY_FIELDS, parse, q, read_request

CHF = "00-DB-12-34-56-78-90-A2"
PPMID = "00-DB-12-34-56-78-90-A4"
IMPORT, SECONDARY, EXPORT = "1312345678111", "1312345678222", "1312345678333"


def _add_to_log(device: str, mpxns: str) -> str:
    return (
        f"<sr:UpdateHANDeviceLog><sr:DeviceID>{device}</sr:DeviceID>"
        "<sr:RequestType>Add</sr:RequestType><sr:AddDeviceToCHFWhitelist>"
        "<sr:JoinTimePeriod>90</sr:JoinTimePeriod>"
        "<sr:InstallCode>30313233343536373839414243444546</sr:InstallCode>"
        f"{mpxns}</sr:AddDeviceToCHFWhitelist></sr:UpdateHANDeviceLog>"
    )


async def _add(lab: Lab, device: str, mpxns: str) -> None:
    raw = request_xml(_add_to_log(device, mpxns), "8.11", CHF, counter=11)
    t = transform(read_request(parse(raw)), device_type="CHF")
    assert t.unmapped == []
    assert lab.dcc is not None
    result = await lab.dcc.request(
        "8.11", as_user="supplier", target=Eui64(CHF), params=t.params, option=t.option
    )
    assert result.ok, result.detail


def _read_inventory(creds: XmlCredentials, counter: int, search: str) -> bytes:
    body = f"<sr:ReadInventory>{search}</sr:ReadInventory>"
    raw = request_xml(body, "8.2", DCC, counter=counter, command_variant=8)
    return sign(etree.fromstring(raw), creds.users[bytes(Eui64(SUPPLIER))])


def _devices(answer: etree._Element) -> dict[str, etree._Element]:
    return {str(d.findtext(q("DeviceID"))): d for d in answer.iter(q("Device"))}


async def test_the_added_meters_mpxns_are_on_its_record_and_8_2_answers_them(
    lab_server: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    lab, server = lab_server
    await _add(
        lab,
        METER,
        f"<sr:ImportMPxN>{IMPORT}</sr:ImportMPxN>"
        f"<sr:SecondaryImportMPAN>{SECONDARY}</sr:SecondaryImportMPAN>",
    )
    record = lab.inventory[Eui64(METER)].record()
    assert (record["ImportMPxN"], record["SecondaryImportMPAN"]) == (IMPORT, SECONDARY)
    assert "ExportMPAN" not in record  # not given: not invented
    # 8.2 by the meter's MPxN: the meter and the devices associated with it
    _status, body = server.receive("D", _read_inventory(creds, 1, f"<sr:MPxN>{IMPORT}</sr:MPxN>"))
    answer = parse(body)
    assert answer.findtext(f".//{q('ResponseCode')}") == "I0"
    devices = _devices(answer)
    assert METER in devices and CHF in devices
    meter = devices[METER]
    assert meter.findtext(q("ImportMPxN")) == IMPORT
    assert meter.findtext(q("SecondaryImportMPAN")) == SECONDARY
    names = [etree.QName(e).localname for e in meter]
    assert names == [n for n in INVENTORY_FIELDS if n in names]  # the schema's order
    assert devices[CHF].find(q("ImportMPxN")) is None  # a hub has no metering point
    # 8.2 by the secondary MPAN finds the same meter
    _status, body = server.receive(
        "D", _read_inventory(creds, 2, f"<sr:MPxN>{SECONDARY}</sr:MPxN>")
    )
    assert METER in _devices(parse(body))


async def test_read_inventory_by_an_unknown_mpxn_is_e19(
    lab_server: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    _lab, server = lab_server
    _status, body = server.receive(
        "D", _read_inventory(creds, 3, "<sr:MPxN>1999999999999</sr:MPxN>")
    )
    answer = parse(body)
    assert answer.findtext(f".//{q('ResponseCode')}") == "E19"
    assert answer.find(f".//{q('DSPInventory')}") is None


async def test_a_non_meters_mpxns_are_not_kept(lab_server: tuple[Lab, DuisServer]) -> None:
    lab, _server = lab_server
    await _add(lab, PPMID, f"<sr:ImportMPxN>{IMPORT}</sr:ImportMPxN>")
    assert "ImportMPxN" not in lab.inventory[Eui64(PPMID)].record()


def _opt_in(creds: XmlCredentials, counter: int) -> bytes:
    body = (
        f"<sr:ServiceOptIn><sr:DeviceID>{METER}</sr:DeviceID><sr:DeviceType>ESME</sr:DeviceType>"
        f"<sr:MPxNs><sr:ImportMPxN>{IMPORT}</sr:ImportMPxN>"
        f"<sr:ExportMPAN>{EXPORT}</sr:ExportMPAN></sr:MPxNs>"
        "<sr:OptInDate>2026-01-01</sr:OptInDate></sr:ServiceOptIn>"
    )
    raw = request_xml(body, "8.6", DCC, counter=counter, command_variant=8)
    return sign(etree.fromstring(raw), creds.users[bytes(Eui64(SUPPLIER))])


async def test_an_opted_in_meters_mpxns_are_recorded(
    lab_server: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    lab, server = lab_server
    esme = Eui64(METER)
    # not withdrawn: the opt-in changes nothing, its MPxNs included
    _status, body = server.receive("D", _opt_in(creds, 4))
    assert parse(body).findtext(f".//{q('ResponseCode')}") == "I0"
    assert "ImportMPxN" not in lab.inventory[esme].record()
    lab.inventory.withdraw(esme, "8.5 service opt out")
    _status, body = server.receive("D", _opt_in(creds, 5))
    assert parse(body).findtext(f".//{q('ResponseCode')}") == "I0"
    record = lab.inventory[esme].record()
    assert record["DeviceStatus"] == SmiStatus.COMMISSIONED.duis
    assert (record["ImportMPxN"], record["ExportMPAN"]) == (IMPORT, EXPORT)


def test_the_mpxns_of_8_6_and_6_23_are_carried() -> None:
    raw = request_xml(
        f"<sr:ServiceOptIn><sr:DeviceID>{METER}</sr:DeviceID><sr:DeviceType>ESME</sr:DeviceType>"
        f"<sr:MPxNs><sr:ImportMPxN>{IMPORT}</sr:ImportMPxN>"
        f"<sr:SecondaryImportMPAN>{SECONDARY}</sr:SecondaryImportMPAN>"
        f"<sr:ExportMPAN>{EXPORT}</sr:ExportMPAN></sr:MPxNs>"
        "<sr:OptInDate>2026-01-01</sr:OptInDate></sr:ServiceOptIn>",
        "8.6",
        BOXED_DCC,
        command_variant=8,
    )
    t = transform(read_request(parse(raw)), device_type=None, dcc_ids=[BOXED_DCC], non_device=True)
    assert t.unmapped == []
    assert (t.params["import_mpxn"], t.params["export_mpan"]) == (IMPORT, EXPORT)
    assert t.params["secondary_import_mpan"] == SECONDARY  # text: a leading 0 would stay
    cos = request_xml(
        f"<sr:UpdateSecurityCredentialsCoS><sr:ImportMPxN>{EXPORT}</sr:ImportMPxN>"
        "</sr:UpdateSecurityCredentialsCoS>",
        "6.23",
    )
    t = transform(read_request(parse(cos)), device_type="ESME")
    assert t.unmapped == [] and t.params["import_mpxn"] == EXPORT


async def test_6_23_checks_the_import_mpxn_and_never_writes_it(
    lab_server: tuple[Lab, DuisServer],
) -> None:
    lab, _server = lab_server
    assert lab.dcc is not None
    esme = Eui64(METER)
    lab.inventory.set_mpxns(esme, {"ImportMPxN": IMPORT})
    refused = await lab.dcc.request(
        "6.23", as_user="supplier", target=esme, params={"import_mpxn": EXPORT}
    )
    assert refused.reason == "MPXN_MISMATCH", refused.detail
    assert refused.command is None
    assert lab.inventory[esme].record()["ImportMPxN"] == IMPORT
    # the meter's own MPxN passes the check (whatever else the DCC then decides)
    matching = await lab.dcc.request(
        "6.23", as_user="supplier", target=esme, params={"import_mpxn": IMPORT}
    )
    assert matching.reason != "MPXN_MISMATCH"


def _update_mpxn(creds: XmlCredentials, counter: int, device: str, mpxn: str) -> bytes:
    body = (
        f"<sr:UpdateInventory><sr:DeviceID>{device}</sr:DeviceID><sr:UpdateMPxN>{mpxn}"
        "</sr:UpdateMPxN></sr:UpdateInventory>"
    )
    raw = request_xml(body, "8.4", DCC, counter=counter, command_variant=8)
    return sign(etree.fromstring(raw), creds.users[bytes(Eui64(SUPPLIER))])


async def test_update_inventory_changes_one_mpxn_of_a_meter(
    lab_server: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    lab, server = lab_server
    esme = Eui64(METER)
    lab.inventory.set_mpxns(esme, {"ImportMPxN": IMPORT, "ExportMPAN": EXPORT})
    mpxn = f"<sr:SecondaryImportMPAN>{SECONDARY}</sr:SecondaryImportMPAN>"
    _status, body = server.receive("D", _update_mpxn(creds, 6, METER, mpxn))
    assert parse(body).findtext(f".//{q('ResponseCode')}") == "I0"
    record = lab.inventory[esme].record()
    assert (record["ImportMPxN"], record["SecondaryImportMPAN"], record["ExportMPAN"]) == (
        IMPORT,
        SECONDARY,
        EXPORT,
    )
    assert record["DeviceStatus"] == SmiStatus.COMMISSIONED.duis  # no status change
    _status, body = server.receive("D", _update_mpxn(creds, 7, PPMID, mpxn))
    assert parse(body).findtext(f".//{q('ResponseCode')}") == "E11"  # not a meter
    assert "SecondaryImportMPAN" not in lab.inventory[Eui64(PPMID)].record()
