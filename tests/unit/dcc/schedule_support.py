"""DUIS 5.1 Create Schedule requests for the schedule tests, and what the DUIS layer
makes of them (the DCC layer's 5.1 parameters)."""

from __future__ import annotations

import datetime as _dt

from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.duis.transform import Transformed, transform
from hil.duis.xml import dashed, read_request

DCC_ID = Eui64("90-B3-D5-1F-30-00-00-02")


def create_schedule_xml(
    variant: str,
    device: Eui64,
    start: _dt.date,
    *,
    scheduled: str,
    extra: str = "",
    frequency: str = "Daily",
    user: str = "90-B3-D5-1F-30-01-00-00",
) -> etree._Element:
    """A signed-less 5.1 request; `extra` goes between ScheduleStartDate and the
    service reference (ScheduleEndDate, ScheduleExecutionStartTime,
    KAPublicSecurityCredential, in the schema's order)."""
    reference = ".".join(variant.split(".")[:2])
    return etree.fromstring(
        f"""<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
        schemaVersion="5.4"><sr:Header>
        <sr:RequestID>{user}:{dashed(DCC_ID)}:1</sr:RequestID>
        <sr:CommandVariant>8</sr:CommandVariant><sr:ServiceReference>5.1</sr:ServiceReference>
        <sr:ServiceReferenceVariant>5.1</sr:ServiceReferenceVariant></sr:Header><sr:Body>
        <sr:CreateSchedule><sr:ScheduleFrequency>{frequency}</sr:ScheduleFrequency>
        <sr:ScheduleStartDate>{start.isoformat()}</sr:ScheduleStartDate>{extra}
        <sr:DSPScheduledServiceReference>{reference}</sr:DSPScheduledServiceReference>
        <sr:DSPScheduledServiceReferenceVariant>{variant}</sr:DSPScheduledServiceReferenceVariant>
        <sr:DeviceID>{dashed(device)}</sr:DeviceID>{scheduled}</sr:CreateSchedule>
        </sr:Body></sr:Request>""".encode()
    )


def transformed(root: etree._Element) -> Transformed:
    return transform(read_request(root), device_type=None, dcc_ids=[DCC_ID], non_device=True)
