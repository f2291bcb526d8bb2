"""Issue 15: an installer's 8.14.x report on a hub (install type, location, obstruction
checks, fault reason, ...) is kept whole in the hub's inventory record."""

from __future__ import annotations

from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.duis.transform import transform
from hil.duis.xml import read_request

DCC_ID = [Eui64("90-B3-D5-1F-30-00-00-02")]
NO_WAN = {
    "CHFInstallType": "CHF Install - no SM WAN",
    "MPxN": "1000999888",
    "AerialInstall": "true",
    "CHFLocation": "Basement or Cellar",
    "PremiseType": "Low Rise Apartment (MDU <= 5 floors)",
    "MetalObstructionCheck": "false",
    "ConnectivityObstructionCheck": "false",
    "SharedObstructionCheck": "false",
}


def _request(variant: str, hub: str, choice: str, fields: dict[str, str]) -> etree._Element:
    values = "".join(f"<sr:{k}>{v.replace('<', '&lt;')}</sr:{k}>" for k, v in fields.items())
    return etree.fromstring(
        f"""<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
        schemaVersion="5.4"><sr:Header>
        <sr:RequestID>90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1</sr:RequestID>
        <sr:CommandVariant>8</sr:CommandVariant><sr:ServiceReference>8.14</sr:ServiceReference>
        <sr:ServiceReferenceVariant>{variant}</sr:ServiceReferenceVariant></sr:Header><sr:Body>
        <sr:{choice}><sr:DeviceID>{hub}</sr:DeviceID>{values}</sr:{choice}>
        </sr:Body></sr:Request>""".encode()
    )


async def test_the_install_and_return_reports_stay_on_the_hub(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    chf = lab.eui("CHF")
    hub = "-".join(f"{b:02X}" for b in bytes(chf))
    t = transform(
        read_request(_request("8.14.2", hub, "CHFInstallSuccessNoSMWAN", NO_WAN)),
        device_type=None,
        dcc_ids=DCC_ID,
        non_device=True,
    )
    assert t.unmapped == [] and t.params["hub_report"] == NO_WAN
    returned = {"CHFNoFaultReturnType": "No Fault Return (general)"}
    back = await dcc.request(
        "8.14.4", as_user="supplier", target=chf, params={"hub_report": returned}
    )
    assert back.ok, back.detail
    installed = await dcc.request("8.14.2", as_user="supplier", target=chf, params=t.params)
    assert installed.ok, installed.detail
    record = lab.inventory[chf]
    assert record.status == SmiStatus.INSTALLED_NOT_COMMISSIONED
    assert record.hub_reports == [("8.14.4", returned), ("8.14.2", NO_WAN)]
    # 8.2 answers with DSPInventory fields only: the reports are not among them
    assert not set(NO_WAN) & set(record.record())


async def test_a_report_that_is_not_names_and_text_is_refused(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    chf = lab.eui("CHF")
    refused = await dcc.request(
        "8.14.4", as_user="supplier", target=chf, params={"hub_report": {"AerialInstall": True}}
    )
    assert refused.refused and refused.reason == "INVALID_PARAMETERS"
    assert lab.inventory[chf].hub_reports == [] and lab.inventory[chf].status != SmiStatus.WITHDRAWN
