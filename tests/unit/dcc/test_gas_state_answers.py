"""The gas meter answers reads from its state: what GCS20 configured, what GCS01a published.

Both go through the DCC layer as a user would send them: a write, then the read
that must reflect it (not a constant the meter always gives).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from lab_support import dcc_of

from emulator.devices.base import DeviceType
from emulator.devices.gsme import Gsme
from emulator.devices.zcl_model import PREPAYMENT
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.gbcs.zcl.gbz import GbzPayload
from hil.dcc.lab import Lab
from hil.dcc.requests import Result


def _answers(result: Result, name: str) -> list[dict[str, Any]]:
    assert result.ok, f"{result.reason}: {result.detail}"
    tree = decode_message_payload(decode_message(result.response or b"")).tree
    assert isinstance(tree, GbzPayload)
    return [c.frame.fields or {} for c in tree.components if c.frame.name == name]


async def _event_configuration(lab: Lab, event_id: int) -> dict[int, int]:
    read = await dcc_of(lab).request(
        "6.2.10", as_user="supplier", target=lab.eui("GSME"), params={"event_id": event_id}
    )
    (report,) = _answers(read, "report_event_configuration")
    return {e["event_id"]: e["event_configuration"] for e in report["events"]}


async def test_read_event_configuration_returns_what_gcs20_set(lab: Lab) -> None:
    dcc = dcc_of(lab)
    before = await _event_configuration(lab, 0x81AA)
    for setting in (0x4B, 0x08):
        configured = await dcc.request(
            "6.22",
            as_user="supplier",
            target=lab.eui("GSME"),
            params={
                "event_configuration": setting,
                "configuration_control": 0,
                "payload": {"number_of_events": 2, "event_ids": [0x81AA, 0x81AB]},
            },
        )
        assert configured.ok, configured.detail
        assert await _event_configuration(lab, 0x81AA) == {0x81AA: setting}
        group = await _event_configuration(lab, 0x81FF)  # the whole 0x81 group
        assert group[0x81AA] == group[0x81AB] == setting
        assert all(e & 0xFF00 == 0x8100 for e in group)
    assert before == {0x81AA: 0x03}  # never configured: the default


async def _current_price(lab: Lab) -> dict[str, Any]:
    read = await dcc_of(lab).request("4.11.1", as_user="supplier", target=lab.eui("GSME"))
    (price,) = _answers(read, "publish_price")
    return price


async def test_current_price_reflects_the_published_tariff(lab: Lab) -> None:
    dcc = dcc_of(lab)
    for tier, trailing, prices in (
        (3, 0x30, (1111, 2222, 3333, 4444)),
        (2, 0x50, (50, 60, 70, 80)),
    ):
        published = await dcc.request(
            "1.1.1",
            as_user="supplier",
            target=lab.eui("GSME"),
            params={
                "currency": 978,
                "price_trailing_digit": trailing,
                "number_of_price_tiers_in_use": 4,
                "sub_payload_control": 1,  # TOU: one price per tier
                "entries": [{"tier_block_id": t + 1, "price": p} for t, p in enumerate(prices)],
                "schedule_entries": [{"start_time": 0, "tier_or_action": tier}],  # all day
            },
        )
        assert published.ok, f"{published.reason}: {published.detail}"
        price = await _current_price(lab)
        assert price["price"] == prices[tier - 1]
        assert price["price_trailing_digit_and_tier"] == trailing | tier
        assert price["number_of_price_tiers_and_register_tier"] == 0x40 | tier
        assert price["currency"] == 978


async def test_debts_are_held_by_type_and_snapshotted(lab: Lab) -> None:
    """GCS04 adds to debt #1, #2 and #3; the accumulated debt and the next daily
    prepayment snapshot hold what was set, not zeros."""
    gsme = lab.premises[0].device(DeviceType.GSME)
    assert isinstance(gsme, Gsme)
    changed = await dcc_of(lab).request(
        "2.3",
        as_user="supplier",
        target=gsme.eui,
        params={"values": {"0.debt_amount": 500, "1.debt_amount": 200, "2.debt_amount": 50}},
    )
    assert changed.ok, f"{changed.reason}: {changed.detail}"
    assert gsme.debt_amounts() == [500, 200, 50]
    assert gsme.attribute_value(PREPAYMENT, 0x0005, 0x2B) == 750  # accumulated debt
    midnight = (lab.clock.now() + _dt.timedelta(days=1)).replace(hour=0, minute=0, second=0)
    lab.advance((midnight - lab.clock.now()).total_seconds() + 60)
    gsme.catch_up()
    snapshot = gsme.zcl.prepay_snapshots[-1]
    assert snapshot["debts"] == [500, 200, 50]
    assert snapshot["emergency"] == int(gsme.meter.emergency_credit_balance)  # not the limit
    assert gsme.meter.emergency_credit_limit > 0 == snapshot["emergency"]


async def test_a_tariff_change_enters_the_billing_data_log(lab: Lab) -> None:
    """GCS15b reads the snapshots a change of tariff or mode triggered: none before the
    first change (every item NOT_FOUND: no data, still a success), one pair after it."""
    dcc = dcc_of(lab)
    gsme = lab.eui("GSME")
    empty = await dcc.request("4.4.2", as_user="supplier", target=gsme)
    assert empty.ok and empty.outcome is not None
    assert empty.outcome.not_found == empty.outcome.items > 0
    published = await dcc.request("1.1.1", as_user="supplier", target=gsme)
    assert published.ok, f"{published.reason}: {published.detail}"
    read = await dcc.request("4.4.2", as_user="supplier", target=gsme)
    assert read.ok and read.outcome is not None
    assert read.outcome.not_found == empty.outcome.not_found - 2  # a meter and a prepay entry
