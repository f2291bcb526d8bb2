"""Non-device services as DUIS templates send them: schedules by DSP schedule ID or by
device (5.2, 5.3), DeleteDevice of a pending device (8.4)."""

from __future__ import annotations

import datetime as _dt

from lab_support import dcc_of
from lxml import etree

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, GroupingHeader, OtherInformation
from hil.dcc.lab import Lab
from hil.duis.transform import transform
from hil.duis.xml import read_request

NEW_METER = "00-DB-12-34-56-78-90-B0"


async def _schedule(lab: Lab, user: str = "supplier") -> str:
    start = lab.clock.now() + _dt.timedelta(hours=1)
    created = await dcc_of(lab).request(
        "5.1",
        as_user=user,
        target=lab.eui("ESME"),
        params={"variant": "4.1.1", "start": start.isoformat(), "every": "1d"},
    )
    assert created.ok, created.detail
    return str(created.data["schedule_id"])


async def test_schedule_ids_are_duis_schedule_ids(lab: Lab) -> None:
    first, second = await _schedule(lab), await _schedule(lab)
    # DUIS scheduleID is a nonNegativeInteger: a client can only name numeric IDs
    assert first.isdigit() and second.isdigit() and first != second


async def test_read_schedule_by_id_without_a_device(lab: Lab) -> None:
    dcc = dcc_of(lab)
    wanted = await _schedule(lab)
    await _schedule(lab)
    read = await dcc.request("5.2", as_user="supplier", params={"schedule_id": wanted})
    assert read.ok, read.detail
    assert [s["schedule_id"] for s in read.data] == [wanted]
    other = await dcc.request("5.2", as_user="rival-supplier", params={"schedule_id": wanted})
    assert other.refused  # another user's schedule (its device is not theirs either)
    missing = await dcc.request("5.2", as_user="supplier", params={"schedule_id": "999"})
    assert missing.refused  # no such schedule: nothing to read, no device to check


async def test_delete_schedules_by_device(lab: Lab) -> None:
    dcc = dcc_of(lab)
    ids = {await _schedule(lab), await _schedule(lab)}
    deleted = await dcc.request("5.3", as_user="supplier", target=lab.eui("ESME"))
    assert deleted.ok, deleted.detail
    assert set(deleted.data["deleted"]) == ids
    assert dcc.schedules == {}
    lab.advance(3 * 3600)
    assert not [r for r in dcc.results.values() if r.request.variant == "4.1.1"]


async def test_delete_device_takes_a_pending_device_off_the_inventory(lab: Lab) -> None:
    dcc = dcc_of(lab)
    pre = await dcc.request(
        "12.2", as_user="supplier", params={"device": NEW_METER, "device_type": "ESME"}
    )
    assert pre.ok, pre.detail
    by_other = await dcc.request(
        "8.4", as_user="rival-supplier", target=NEW_METER, params={"delete": True}
    )
    assert by_other.refused  # only the user that added a pending device may delete it
    deleted = await dcc.request(
        "8.4", as_user="supplier", target=NEW_METER, params={"delete": True}
    )
    assert deleted.ok, deleted.detail
    assert lab.inventory.get(Eui64(NEW_METER)) is None
    assert [str(d.eui) for _, d in lab.inventory.deleted] == [str(Eui64(NEW_METER))]


async def test_delete_device_refuses_a_commissioned_meter(lab: Lab) -> None:
    dcc = dcc_of(lab)
    refused = await dcc.request(
        "8.4", as_user="supplier", target=lab.eui("ESME"), params={"delete": True}
    )
    assert refused.refused and refused.reason == "STATUS_NOT_ELIGIBLE"
    assert lab.inventory.get(lab.eui("ESME")) is not None


SR = "http://www.dccinterface.co.uk/ServiceUserGateway"


def _duis(variant: str, body: str) -> etree._Element:
    return etree.fromstring(
        f"""<sr:Request xmlns:sr="{SR}" schemaVersion="5.4"><sr:Header>
        <sr:RequestID>90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1</sr:RequestID>
        <sr:CommandVariant>8</sr:CommandVariant><sr:ServiceReference>{variant}
        </sr:ServiceReference><sr:ServiceReferenceVariant>{variant}</sr:ServiceReferenceVariant>
        </sr:Header><sr:Body>{body}</sr:Body></sr:Request>""".encode()
    )


def test_transform_carries_delete_device_and_schedule_date() -> None:
    dcc_id = [Eui64("90-B3-D5-1F-30-00-00-02")]
    delete = _duis(
        "8.4",
        f"<sr:UpdateInventory><sr:DeviceID>{NEW_METER}</sr:DeviceID><sr:DeleteDevice/>"
        "</sr:UpdateInventory>",
    )
    t = transform(read_request(delete), device_type=None, dcc_ids=dcc_id, non_device=True)
    assert t.params == {"device": NEW_METER, "delete": True}
    assert t.target is not None and bytes(t.target) == bytes(Eui64(NEW_METER))
    create = _duis(
        "5.1",
        "<sr:CreateSchedule><sr:ScheduleFrequency>Daily</sr:ScheduleFrequency>"
        "<sr:ScheduleStartDate>2026-01-06</sr:ScheduleStartDate></sr:CreateSchedule>",
    )
    t = transform(read_request(create), device_type=None, dcc_ids=dcc_id, non_device=True)
    assert t.params["start"] == "2026-01-06T00:00:00+00:00" and t.params["every"] == "1d"


def _cs06_response(
    lab: Lab, *, counter: int = 1000, recipient: str = "90-B3-D5-1F-30-01-00-00"
) -> bytes:
    """A device's CS06 (0x0012) response as a user would bring it back from site."""
    header = GroupingHeader(
        Cra.RESPONSE, counter, lab.eui("ESME"), Eui64(recipient), OtherInformation(0x0012)
    )
    return GbcsMessage(header, b"\x30\x00").encode()


async def test_return_local_command_response_checks_and_passes_it_on(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = lab.eui("ESME")
    original = f"90-B3-D5-1F-30-01-00-00:{esme}:1000"
    before = sum(h.counters.commands for h in dcc.hubs.values())
    returned = await dcc.request(
        "8.13",
        as_user="supplier",
        target=esme,
        params={"original_request_id": original, "response": _cs06_response(lab)},
    )
    assert returned.ok, returned.detail
    assert returned.response == _cs06_response(lab)
    assert returned.data == {"original_request_id": original, "message_code": 0x0012}
    assert sum(h.counters.commands for h in dcc.hubs.values()) == before  # nothing sent
    for bad in (
        _cs06_response(lab, counter=999),
        _cs06_response(lab, recipient="90-B3-D5-1F-30-01-00-10"),
        b"\x00not gbcs",
    ):
        refused = await dcc.request(
            "8.13",
            as_user="supplier",
            target=esme,
            params={"original_request_id": original, "response": bad},
        )
        assert refused.refused and refused.reason in (
            "LOCAL_RESPONSE_MISMATCH",
            "INVALID_PARAMETERS",
        )
    not_eligible = await dcc.request(
        "8.13",
        as_user="dno",
        target=esme,
        params={"original_request_id": original, "response": _cs06_response(lab)},
    )
    assert not_eligible.refused and not_eligible.reason == "ROLE_NOT_ELIGIBLE"
