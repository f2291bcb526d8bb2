"""Issue 15: a 12.2 pre-notification's manufacturer, model, SMETS/CHTS version,
firmware version and ESME variant reach the DCC's inventory (a "B" variant is a
twin-element ESME), and an 11.1 device list naming the target alone is carried as the target."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from duis_support import request_xml

from emulator.gbcs.eui import Eui64
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.duis.server import BOXED_DCC
from hil.duis.transform import Transformed, transform
from hil.duis.xml import parse, read_request

NEW_METER = "00-DB-12-34-56-78-90-B0"


def _t(body: str, variant: str) -> Transformed:
    raw = request_xml(body, variant, BOXED_DCC, counter=5, command_variant=8)
    request = read_request(parse(raw))
    return transform(request, device_type=None, dcc_ids=[BOXED_DCC], non_device=True)


def _prenotification(variant: str) -> str:
    return (
        f"<sr:DevicePrenotification><sr:DeviceID>{NEW_METER}</sr:DeviceID>"
        "<sr:DeviceManufacturer>AB01</sr:DeviceManufacturer>"
        "<sr:DeviceModel>010A030B</sr:DeviceModel><sr:DeviceType>ESME</sr:DeviceType>"
        "<sr:SMETSCHTSVersion>SMETS V1.58</sr:SMETSCHTSVersion>"
        "<sr:FirmwareVersion>0002012F</sr:FirmwareVersion>"
        f"<sr:ESMEVariant>{variant}</sr:ESMEVariant></sr:DevicePrenotification>"
    )


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    the_lab = Lab.load(DEFAULT_LAB)
    async with the_lab:
        yield the_lab


@pytest.mark.parametrize(("variant", "elements"), [("BD", 2), ("AD", 1), ("C", 1)])
async def test_the_prenotified_esme_is_on_the_inventory_as_notified(
    lab: Lab, variant: str, elements: int
) -> None:
    t = _t(_prenotification(variant), "12.2")
    assert t.unmapped == []
    assert lab.dcc is not None
    result = await lab.dcc.request("12.2", as_user="supplier", params=t.params)
    assert result.ok, result.detail
    device = lab.inventory[Eui64(NEW_METER)]
    assert device.elements == elements
    record = device.record()
    assert (record["DeviceManufacturer"], record["DeviceModel"]) == ("AB01", "010A030B")
    assert record["DeviceFirmwareVersion"] == "0002012F"
    assert record["SMETSCHTSVersion"] == "SMETS V1.58"  # as notified, not the lab's default


def test_a_device_list_naming_the_target_alone_is_carried() -> None:
    hash_ = "AA" * 32
    one = _t(
        f"<sr:UpdateFirmware><sr:DeviceIDList>{NEW_METER}</sr:DeviceIDList>"
        f"<sr:FirmwareImage>AAAA</sr:FirmwareImage><sr:FirmwareHash>{hash_}</sr:FirmwareHash>"
        "</sr:UpdateFirmware>",
        "11.1",
    )
    assert one.target is not None and bytes(one.target) == bytes(Eui64(NEW_METER))
    assert not [u for u in one.unmapped if u.startswith("DeviceIDList")]
    two = _t(
        f"<sr:UpdateFirmware><sr:DeviceIDList>{NEW_METER} 00-DB-12-34-56-78-90-B1"
        "</sr:DeviceIDList></sr:UpdateFirmware>",
        "11.1",
    )
    assert [u for u in two.unmapped if u.startswith("DeviceIDList")]  # the second device
