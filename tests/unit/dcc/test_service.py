"""The DCC layer end to end on a virtual lab: refusals, critical requests, categories,
cancellations, non-device services, inventory effects and response times."""

from __future__ import annotations

import asyncio
import datetime as _dt

import pytest
from lab_support import dcc_of, device_log_change, settle

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus
from hil.dcc.timing import Category, StartPoint


def _commands(lab: Lab) -> int:
    dcc = dcc_of(lab)
    return sum(h.counters.commands for h in dcc.hubs.values())


async def test_on_demand_read_is_acknowledged_then_answered(lab: Lab) -> None:
    result = await dcc_of(lab).request("4.1.1", as_user="supplier", target=lab.eui("ESME"))
    assert result.ok, result.detail
    assert result.use_case == "ECS17b"
    steps = [step for _, step in result.timeline]
    assert steps.index("acknowledged") < steps.index("command sent (ECS17b)")
    assert steps[-1] == "completed: I0"
    response = decode_message(result.response or b"")
    assert response.counter == decode_message(result.command or b"").counter
    timing = result.timing
    assert timing is not None and timing.start_point == StartPoint.REQUEST_RECEIVED
    assert timing.target == 30.0 and timing.measured is not None and not timing.breach


async def test_critical_request_waits_for_the_signed_precommand(lab: Lab) -> None:
    dcc = dcc_of(lab)
    before = _commands(lab)
    result = dcc.submit("7.2", as_user="supplier", target=lab.eui("ESME"))
    assert result.status == RequestStatus.AWAITING_SIGNATURE
    assert result.precommand is not None and result.precommand.is_precommand
    assert _commands(lab) == before  # nothing goes out unsigned
    dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.ok and result.use_case == "ECS43"
    command = decode_message(result.command or b"")
    assert command.is_signed and command.is_maced
    assert result.timing is not None
    assert result.timing.start_point == StartPoint.SIGNED_PRECOMMAND_RECEIVED
    assert result.timing.precommand is not None and result.timing.precommand < 3.0


async def test_a_changed_precommand_is_refused_and_never_sent(lab: Lab) -> None:
    dcc = dcc_of(lab)
    before = _commands(lab)
    result = dcc.submit("7.2", as_user="supplier", target=lab.eui("ESME"))
    assert result.precommand is not None
    # the user's system changes the payload before signing: the DCC must notice
    tampered = result.precommand
    payload = bytearray(tampered.payload)
    payload[-1] ^= 0x01
    import dataclasses

    changed = dataclasses.replace(tampered, payload=bytes(payload))
    from emulator.gbcs.security import MessageSecurity

    signed = MessageSecurity(lab.pki.keystore).protect(changed, sign=True, mac=False).encode()
    dcc.signed_precommand(result.request_id, signed)
    await result.wait(5)
    assert result.status == RequestStatus.FAILED and result.reason == "PRECOMMAND_MISMATCH"
    assert _commands(lab) == before


async def test_an_unsigned_or_wrongly_signed_precommand_is_refused(lab: Lab) -> None:
    dcc = dcc_of(lab)
    unsigned = dcc.submit("7.2", as_user="supplier", target=lab.eui("ESME"))
    assert unsigned.precommand is not None
    dcc.signed_precommand(unsigned.request_id, unsigned.precommand.encode())
    assert unsigned.reason == "SIGNATURE_INVALID"
    # signed by the rival supplier's key while claiming to be the supplier
    forged = dcc.submit("7.2", as_user="supplier", target=lab.eui("ESME"))
    assert forged.precommand is not None
    from emulator.gbcs.security import MessageSecurity

    rival = lab.user("rival-supplier").ids
    key_owner = next(iter(rival.values()))
    signature = MessageSecurity(lab.pki.keystore).sign(forged.precommand, key_owner)
    header_signed = dataclasses_replace_signature(forged.precommand, signature)
    dcc.signed_precommand(forged.request_id, header_signed)
    assert forged.reason == "SIGNATURE_INVALID"


def dataclasses_replace_signature(message: object, signature: bytes) -> bytes:
    import dataclasses

    return dataclasses.replace(message, signature=signature).encode()  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("variant", "user", "target", "reason"),
    [
        ("7.2", "dno", "ESME", "ROLE_NOT_ELIGIBLE"),
        ("4.1.1", "rival-supplier", "ESME", "NOT_RESPONSIBLE_SUPPLIER"),
        ("4.1.1", "gas-transporter", "ESME", "NOT_REGISTERED_NETWORK_OPERATOR"),
        ("2.2", "meter-operator", "ESME", "ROLE_NOT_ELIGIBLE"),
        ("4.1.1", "supplier", "00-DB-99-99-99-99-99-99", "DEVICE_NOT_IN_INVENTORY"),
        ("4.2", "supplier", "GSME", "DEVICE_TYPE_NOT_APPLICABLE"),
        ("4.8.1", "energy-app", "CAD", "DEVICE_TYPE_NOT_APPLICABLE"),
        ("99.1", "supplier", "ESME", "UNKNOWN_VARIANT"),
    ],
)
async def test_refused_requests_never_reach_a_device(
    lab: Lab, variant: str, user: str, target: str, reason: str
) -> None:
    before = _commands(lab)
    result = await dcc_of(lab).request(variant, as_user=user, target=lab.eui(target))
    assert result.refused and result.reason == reason, result.detail
    assert result.detail
    assert _commands(lab) == before
    assert result.timing is None


async def test_status_rules_use_the_inventory(lab: Lab) -> None:
    dcc = dcc_of(lab)
    lab.inventory.set_status(lab.eui("ESME"), SmiStatus.SUSPENDED, "test")
    refused = await dcc.request("4.1.1", as_user="dno", target=lab.eui("ESME"))
    assert refused.reason == "STATUS_RESPONSIBLE_SUPPLIER_ONLY"
    allowed = await dcc.request("4.1.1", as_user="supplier", target=lab.eui("ESME"))
    assert allowed.ok


async def test_future_dated_request_is_held_until_its_time(lab: Lab) -> None:
    dcc = dcc_of(lab)
    when = lab.clock.now() + _dt.timedelta(minutes=10)
    before = _commands(lab)
    result = await dcc.request("7.4", as_user="supplier", target=lab.eui("ESME"), execute_at=when)
    assert result.status == RequestStatus.ACKNOWLEDGED and result.command is None
    assert _commands(lab) == before
    lab.advance(9 * 60)
    assert result.command is None
    lab.advance(2 * 60)
    await result.wait(10)
    assert result.ok
    assert result.request.category == Category.FUTURE_DATED
    assert result.timing is not None and result.timing.start_point == StartPoint.EXECUTION_TIME
    assert result.timing.target == 24 * 3600


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (_dt.timedelta(0), "EXECUTION_TIME_NOT_IN_FUTURE"),
        (-_dt.timedelta(minutes=1), "EXECUTION_TIME_NOT_IN_FUTURE"),
        (_dt.timedelta(days=30, minutes=1), "EXECUTION_TIME_TOO_FAR"),
    ],
)
async def test_future_dated_time_limits(lab: Lab, offset: _dt.timedelta, reason: str) -> None:
    result = await dcc_of(lab).request(
        "7.4", as_user="supplier", target=lab.eui("ESME"), execute_at=lab.clock.now() + offset
    )
    assert result.reason == reason


async def test_thirty_days_exactly_is_accepted(lab: Lab) -> None:
    result = await dcc_of(lab).request(
        "7.4",
        as_user="supplier",
        target=lab.eui("ESME"),
        execute_at=lab.clock.now() + _dt.timedelta(days=30),
    )
    assert result.status == RequestStatus.ACKNOWLEDGED


async def test_sequenced_request_runs_only_after_its_predecessor_succeeds(lab: Lab) -> None:
    dcc = dcc_of(lab)
    first = dcc.submit("7.4", as_user="supplier", target=lab.eui("ESME"))
    second = await dcc.request(
        "4.1.1", as_user="supplier", target=lab.eui("ESME"), depends_on=first, wait=False
    )
    await second.wait(10)
    assert first.ok and second.ok
    assert second.timing is not None
    assert second.timing.start_point == StartPoint.PREDECESSOR_RESPONSE
    # a predecessor that fails cancels its successor
    failing = dcc.submit("7.2", as_user="supplier", target=lab.eui("ESME"))
    follower = dcc.submit("7.4", as_user="supplier", target=lab.eui("ESME"), depends_on=failing)
    assert failing.precommand is not None
    dcc.signed_precommand(failing.request_id, failing.precommand.encode())  # unsigned
    await follower.wait(10)
    assert follower.status == RequestStatus.CANCELLED and follower.reason == "PREDECESSOR_FAILED"
    assert follower.command is None


async def test_decommissioning_cancels_held_requests_and_tells_the_user(lab: Lab) -> None:
    dcc = dcc_of(lab)
    ppmid = lab.eui("PPMID")
    later = lab.clock.now() + _dt.timedelta(hours=1)
    held = await dcc.request("11.2", as_user="supplier", target=ppmid, execute_at=later)
    assert held.status == RequestStatus.ACKNOWLEDGED
    decommission = await dcc.request("8.3", as_user="supplier", target=ppmid)
    assert decommission.ok, decommission.detail
    assert lab.inventory[ppmid].status == SmiStatus.DECOMMISSIONED
    assert held.status == RequestStatus.CANCELLED and held.reason == "DEVICE_DECOMMISSIONED"
    assert any(rid == held.request_id for _, rid, _ in dcc.notifications)
    lab.advance(2 * 3600)
    assert held.command is None
    again = await dcc.request("11.2", as_user="supplier", target=ppmid)
    assert again.reason == "DEVICE_DECOMMISSIONED"


async def test_withdrawn_model_suspends_and_cancels(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = lab.eui("ESME")
    held = await dcc.request(
        "4.1.1",
        as_user="dno",
        target=esme,
        execute_at=lab.clock.now() + _dt.timedelta(hours=1),
    )
    lab.inventory.withdraw_model("smets-hil virtual")
    assert lab.inventory[esme].status == SmiStatus.SUSPENDED
    assert held.reason == "DEVICE_SUSPENDED"


async def test_change_of_tenancy_cancels_only_other_users_requests(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = lab.eui("ESME")
    later = lab.clock.now() + _dt.timedelta(hours=2)
    app = await dcc.request("4.8.1", as_user="energy-app", target=esme, execute_at=later)
    supplier = await dcc.request("4.1.1", as_user="supplier", target=esme, execute_at=later)
    assert app.status == supplier.status == RequestStatus.ACKNOWLEDGED
    tenancy = await dcc.request("3.2", as_user="supplier", target=esme)
    assert tenancy.ok, tenancy.detail
    assert app.status == RequestStatus.CANCELLED and app.reason == "CHANGE_OF_TENANCY"
    assert supplier.status == RequestStatus.ACKNOWLEDGED


async def test_non_device_services_are_answered_by_the_dcc(lab: Lab) -> None:
    dcc = dcc_of(lab)
    before = _commands(lab)
    new_meter = "00-DB-12-34-56-78-90-B0"
    pre = await dcc.request(
        "12.2",
        as_user="supplier",
        params={"device": new_meter, "device_type": "ESME", "hub": str(lab.eui("CHF"))},
    )
    assert pre.ok and pre.data["DeviceStatus"] == "Pending"
    assert lab.inventory[Eui64(new_meter)].added_by == lab.user("supplier").ids[pre.request.role]
    inventory = await dcc.request("8.2", as_user="energy-app", target=lab.eui("ESME"))
    assert inventory.ok
    ids = {record["DeviceID"] for record in inventory.data}
    assert str(lab.eui("ESME")) in ids and str(lab.eui("CHF")) in ids
    assert str(lab.eui("CAD")) not in ids  # Type 2 devices other than IHDs may be left out
    wan = await dcc.request("12.1", as_user="dno", params={"postcode": "lb11aa"})
    assert wan.ok and wan.data["WANCoverage"] == "Connected"
    assert wan.data["CSPRegion"] == "Central"
    elsewhere = await dcc.request("12.1", as_user="dno", params={"postcode": "ZZ9 9ZZ"})
    assert elsewhere.ok and elsewhere.data["WANCoverage"] == "NotKnown"
    assert _commands(lab) == before
    assert inventory.timing is not None and inventory.timing.measured is not None


async def test_hub_status_updates_move_the_hub_functions(lab: Lab) -> None:
    dcc = dcc_of(lab)
    chf = lab.eui("CHF")
    returned = await dcc.request("8.14.4", as_user="supplier", target=chf)
    assert returned.ok
    assert lab.inventory[chf].status == SmiStatus.WITHDRAWN
    assert lab.inventory[lab.eui("GPF")].status == SmiStatus.WITHDRAWN
    # nobody may act on a withdrawn CHF, but role-only services still work
    read = await dcc.request("6.2.4", as_user="supplier", target=chf)
    assert read.reason == "STATUS_NOT_ELIGIBLE"
    reinstalled = await dcc.request("8.14.1", as_user="supplier", target=chf)
    assert reinstalled.ok and lab.inventory[chf].status == SmiStatus.COMMISSIONED


async def test_adding_a_cad_to_the_hub_whitelists_it(lab: Lab) -> None:
    dcc = dcc_of(lab)
    cad = lab.eui("CAD")
    assert lab.inventory[cad].status == SmiStatus.PENDING
    await device_log_change(lab, "add", cad)
    assert lab.inventory[cad].status == SmiStatus.WHITELISTED
    assert lab.premises[0].chf.admits(cad)
    # the CHF's log changed: its CS14 alert reaches the suppliers of the premises
    await settle(5)
    assert any(a.device == lab.eui("CHF") and "supplier" in a.users for a in dcc.alerts)


async def test_commissioning_needs_a_commissioned_chf(lab: Lab) -> None:
    dcc = dcc_of(lab)
    lab.inventory.set_status(lab.eui("CHF"), SmiStatus.INSTALLED_NOT_COMMISSIONED, "test")
    lab.inventory.set_status(lab.eui("ESME"), SmiStatus.INSTALLED_NOT_COMMISSIONED, "test")
    before = _commands(lab)
    refused = await dcc.request("8.1.1", as_user="supplier", target=lab.eui("ESME"))
    assert refused.reason == "CHF_NOT_COMMISSIONED"
    assert _commands(lab) == before


async def test_schedules_run_reads_at_their_times_and_can_be_deleted(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = lab.eui("ESME")
    start = lab.clock.now() + _dt.timedelta(hours=1)
    created = await dcc.request(
        "5.1",
        as_user="supplier",
        target=esme,
        params={"variant": "4.1.1", "start": start.isoformat(), "every": "1d"},
    )
    assert created.ok, created.detail
    schedule_id = created.data["schedule_id"]
    lab.advance(3600)
    await dcc.drain(10)
    runs = [r for r in dcc.results.values() if r.request.category == Category.SCHEDULED]
    assert len(runs) == 1
    await runs[0].wait(10)
    assert runs[0].ok
    assert runs[0].timing is not None and runs[0].timing.start_point == StartPoint.EXECUTION_TIME
    assert runs[0].timing.target == 24 * 3600
    listed = await dcc.request("5.2", as_user="supplier", target=esme)
    assert [s["schedule_id"] for s in listed.data] == [schedule_id]
    other = await dcc.request("5.3", as_user="rival-supplier", params={"schedule_id": schedule_id})
    assert other.refused
    deleted = await dcc.request("5.3", as_user="supplier", params={"schedule_id": schedule_id})
    assert deleted.ok
    lab.advance(2 * 86400)
    assert len([r for r in dcc.results.values() if r.request.category == Category.SCHEDULED]) == 1


async def test_schedules_only_of_reads_and_for_eligible_users(lab: Lab) -> None:
    dcc = dcc_of(lab)
    start = (lab.clock.now() + _dt.timedelta(hours=1)).isoformat()
    write = await dcc.request(
        "5.1", as_user="supplier", target=lab.eui("ESME"), params={"variant": "7.2", "start": start}
    )
    assert write.reason == "SCHEDULE_NOT_ALLOWED"
    stranger = await dcc.request(
        "5.1",
        as_user="rival-supplier",
        target=lab.eui("ESME"),
        params={"variant": "4.1.1", "start": start},
    )
    assert stranger.reason == "NOT_RESPONSIBLE_SUPPLIER"


async def test_gas_meter_wait_is_han_time_excluded_for_smets2_included_for_smets1(
    lab: Lab,
) -> None:
    dcc = dcc_of(lab)
    gsme = lab.eui("GSME")
    smets2 = await dcc.request("2.2", as_user="supplier", target=gsme, params={"amount_pence": 500})
    assert smets2.ok, smets2.detail
    assert smets2.timing is not None and smets2.timing.measured is not None
    assert smets2.timing.han > 60  # virtual minutes until the meter woke
    assert smets2.timing.measured < 5
    lab.inventory[gsme].smets1 = True
    lab.advance(60)  # the meter went back to sleep
    await asyncio.sleep(0.05)
    smets1 = await dcc.request("2.2", as_user="supplier", target=gsme, params={"amount_pence": 500})
    assert smets1.ok, smets1.detail
    assert smets1.timing is not None and smets1.timing.measured is not None
    assert smets1.timing.measured >= smets1.timing.han > 60
    assert smets1.timing.target == 16.0 and smets1.timing.breach


async def test_two_top_ups_in_a_row_both_credit(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = lab.eui("ESME")
    first = await dcc.request("2.2", as_user="supplier", target=esme, params={"amount_pence": 100})
    second = await dcc.request("2.2", as_user="supplier", target=esme, params={"amount_pence": 100})
    assert first.ok and second.ok, (first.detail, second.detail)


async def test_response_time_report_per_variant(lab: Lab) -> None:
    dcc = dcc_of(lab)
    for _ in range(3):
        await dcc.request("4.1.1", as_user="supplier", target=lab.eui("ESME"))
    await dcc.request("7.4", as_user="supplier", target=lab.eui("ESME"))
    stats = {s.variant: s for s in dcc.timings.per_variant()}
    assert stats["4.1.1"].count == 3 and stats["7.4"].count == 1
    assert stats["4.1.1"].p50 <= stats["4.1.1"].p95 <= stats["4.1.1"].max
    assert stats["4.1.1"].breaches == 0 and stats["4.1.1"].target == 30.0
    report = dcc.timings.as_dict()
    assert {"requests", "variants", "breaches"} <= set(report)


NON_DEVICE_CASES = [
    ("5.1", "supplier", "ESME", {"variant": "4.1.1", "start": "2026-01-05T10:00:00Z"}),
    ("5.2", "supplier", "ESME", {}),
    ("8.2", "energy-app", "ESME", {}),
    ("8.3", "supplier", "PPMID", {}),
    ("8.4", "supplier", "ESME", {"status": "installed-not-commissioned"}),
    ("8.6", "supplier", "ESME", {"device_type": "ESME", "opt_in_date": "2026-01-05"}),
    ("8.14.1", "supplier", "CHF", {}),
    ("8.14.2", "supplier", "CHF", {}),
    ("8.14.3", "meter-operator", "CHF", {}),
    ("8.14.4", "supplier", "CHF", {}),
    ("11.1", "supplier", "ESME", {"image": "0011223344556677", "version": "01000002"}),
    ("11.4", "supplier", "PPMID", {"image": "0011223344556677", "version": "01000002"}),
    ("12.1", "dno", None, {"postcode": "LB1 1AA"}),
    ("12.2", "gas-transporter", None, {"device": "00-DB-12-34-56-78-90-B1", "device_type": "GSME"}),
]


def test_every_non_device_variant_has_a_case() -> None:
    from hil.dcc.catalogue import load_catalogue

    listed = {v.variant for v in load_catalogue() if v.non_device}
    assert listed - {c[0] for c in NON_DEVICE_CASES} == {"5.3"}  # 5.3 needs a schedule: above


@pytest.mark.parametrize(("variant", "user", "target", "params"), NON_DEVICE_CASES)
async def test_non_device_variant_is_answered(
    lab: Lab, variant: str, user: str, target: str | None, params: dict[str, object]
) -> None:
    before = _commands(lab)
    result = await dcc_of(lab).request(
        variant, as_user=user, target=None if target is None else lab.eui(target), params=params
    )
    assert result.ok, f"{result.reason}: {result.detail}"
    assert _commands(lab) == before
    assert result.timing is not None and result.timing.measured is not None


async def test_update_firmware_hands_the_image_to_the_device(lab: Lab) -> None:
    import hashlib

    result = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": "00112233"}
    )
    assert result.ok
    device = lab.device("ESME")
    assert device is not None
    assert device.pending_image_hash == hashlib.sha256(bytes.fromhex("00112233")).digest()
    bad = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image_hash": "abcd"}
    )
    assert bad.status == RequestStatus.FAILED and bad.reason == "INVALID_PARAMETERS"


async def test_device_future_dated_outcome_alert_is_matched_to_its_request(lab: Lab) -> None:
    """11.3 with a device-level execution time: the device answers now, and its
    activation alert later names the command, so the DCC hands it to the request."""
    dcc = dcc_of(lab)
    esme = lab.eui("ESME")
    delivered = await dcc.request(
        "11.1", as_user="supplier", target=esme, params={"image": "0102030405"}
    )
    assert delivered.ok
    image_hash = delivered.data["image_hash"]
    when = lab.clock.now() + _dt.timedelta(hours=1)
    activate = await dcc.request(
        "11.3",
        as_user="supplier",
        target=esme,
        params={"image_hash": image_hash, "execution_time": when},
    )
    assert activate.ok, activate.detail
    assert activate.alerts == []
    await lab.run_for(2 * 3600)
    await settle(5)
    assert len(activate.alerts) == 1
    matched = [a for a in dcc.alerts if a.request_id == activate.request_id]
    assert matched and matched[0].users == ["supplier"]
    device = lab.device("ESME")
    assert device is not None and device.firmware_version == "00000002"


async def test_other_users_sensitive_reads_use_the_certificate_the_acb_forwards(lab: Lab) -> None:
    """An Other User has no anchor cell: the ACB sends for it, naming it and carrying its
    key-agreement certificate, so the meter can encrypt the profile data for it."""
    dcc = dcc_of(lab)
    result = await dcc.request("4.8.1", as_user="energy-app", target=lab.eui("ESME"))
    assert result.ok, result.detail
    command = decode_message(result.command or b"")
    app = lab.user("energy-app").ids
    assert command.originator == dcc.acb
    assert command.header.other.supplementary_remote_party_id == next(iter(app.values()))
    assert command.header.other.supplementary_ka_certificate is not None
    assert decode_message(result.response or b"").recipient == dcc.acb


async def test_the_response_for_an_unknown_remote_party_says_which_key_encrypts(
    lab: Lab,
) -> None:
    """The response repeats the party and its counter and adds the meter's supplementary
    originator counter (GBCS; RTDS GCS16b URP): with them the party, and only it,
    derives the key of the encrypted profile data."""
    from emulator.gbcs.payload import decode_message_payload, try_decrypt
    from emulator.gbcs.security import MessageSecurity

    dcc = dcc_of(lab)
    result = await dcc.request("4.8.1", as_user="energy-app", target=lab.eui("ESME"))
    assert result.ok, result.detail
    command = decode_message(result.command or b"")
    response = decode_message(result.response or b"")
    asked, told = command.header.other, response.header.other
    assert told.supplementary_remote_party_id == asked.supplementary_remote_party_id
    assert told.supplementary_remote_party_counter == asked.supplementary_remote_party_counter
    assert told.supplementary_originator_counter is not None
    assert told.supplementary_ka_certificate is None
    payload = decode_message_payload(response)
    assert payload.encrypted_parts > 0
    assert try_decrypt(payload, MessageSecurity(lab.pki.keystore), response) is None
    assert payload.fully_decrypted


async def test_a_forwarded_certificate_for_someone_else_is_refused(lab: Lab) -> None:
    import dataclasses

    from cryptography.hazmat.primitives import serialization

    from emulator.gbcs import builder
    from emulator.gbcs.frame import OtherInformation
    from emulator.pki.keystore import KeyUsage

    dcc = dcc_of(lab)
    result = await dcc.request("4.8.1", as_user="energy-app", target=lab.eui("ESME"))
    command = decode_message(result.command or b"")
    rival = next(iter(lab.user("rival-supplier").ids.values()))
    wrong = lab.pki.keystore.certificate(rival, KeyUsage.KEY_AGREEMENT)
    other = command.header.other
    forged_other = OtherInformation(
        other.message_code,
        other.supplementary_remote_party_id,
        (other.supplementary_remote_party_counter or 0) + 1,
        None,
        wrong.public_bytes(serialization.Encoding.DER),
    )
    header = dataclasses.replace(
        command.header, other=forged_other, originator_counter=command.counter + 1
    )
    forged = builder.protect(
        dataclasses.replace(command.without_protection(), header=header),
        dcc.security,
        critical=False,
    )
    esme = lab.device("ESME")
    assert esme is not None
    assert esme.receive(forged.encode()) == []
    assert "supplementary certificate names" in list(esme.security_log)[-1].detail


async def test_a_dropped_link_fails_the_request_with_a_clear_reason(lab: Lab) -> None:
    dcc = dcc_of(lab)
    dcc.response_timeout = 2
    for link in lab.premises[0].links:
        await link.close()
    result = await dcc.request("4.1.1", as_user="supplier", target=lab.eui("ESME"), timeout=5)
    assert result.status == RequestStatus.FAILED
    assert result.reason in ("LINK_ERROR", "NO_RESPONSE"), result.detail
    assert result.detail
