"""11.1 sends the OTA Upgrade Image through the hub, 11.3 activates it, 11.2 reads the result."""

from __future__ import annotations

import asyncio
import datetime as _dt
from pathlib import Path

import pytest
from lab_support import dcc_of

from emulator.devices.credentials import (
    ALERT_FUTURE_FAILURE,
    ALERT_FUTURE_SUCCESS,
    CS09,
    FIRMWARE_ACTIVATION_ALERT,
    FIRMWARE_VERIFICATION_FAILED,
    FIRMWARE_VERIFICATION_SUCCESSFUL,
    FIRMWARE_VERSION_CHANGED,
)
from emulator.gbcs import ota
from emulator.gbcs.asn1 import DerConstructed, DerInteger
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.han.envelope import EnvelopeKind
from emulator.hub_ota import Outcome
from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus
from hil.faults import FaultInjector
from hil.firmware import build_image, lab_supplier

IMAGES = Path(__file__).resolve().parents[3] / "firmware_images"


def _listed(lab: Lab, data: bytes) -> bytes:
    """Put a test's own OTA image on the lab's CPL (as its manufacturer would have)."""
    cpl = dcc_of(lab).cpl
    assert cpl is not None
    signed = ota.decode_header(data).image_type != 4
    cpl.add("smets-hil virtual", ota.decode_image(data, signed=signed).manufacturer_image_hash)
    return data


async def _outcome(lab: Lab) -> Outcome:
    """Wait for the hub to report the transfer to the ESME (its CCS08 outcome)."""
    hub = lab.premises[0].hub
    assert hub is not None
    target = bytes(lab.eui("ESME"))
    for _ in range(400):
        done = [outcome for eui, outcome in hub.ota.outcomes if eui == target]
        if done:
            return done[-1]
        await asyncio.sleep(0.005)
    raise AssertionError("the transfer did not end")


async def _update(lab: Lab, name: str) -> str:
    data = (IMAGES / name).read_bytes()
    result = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": data.hex()}
    )
    assert result.ok, result.detail
    assert await _outcome(lab) == Outcome.TRANSFER_SUCCEEDED
    return ota.decode_image(data).manufacturer_image_hash.hex()


async def _version(lab: Lab) -> str:
    read = await dcc_of(lab).request("11.2", as_user="supplier", target=lab.eui("ESME"))
    assert read.ok
    [version] = read.values
    return str(version.value)


async def test_update_activate_read(lab: Lab) -> None:
    digest = await _update(lab, "esme.ota")
    esme = lab.device("ESME")
    assert esme is not None
    assert esme.held_image == (IMAGES / "esme.ota").read_bytes()  # the real OTA file
    assert esme.pending_image_version == "01000001"  # from the OTA header
    assert await _version(lab) == "01000000"
    done = await dcc_of(lab).request(
        "11.3", as_user="supplier", target=lab.eui("ESME"), params={"image_hash": digest}
    )
    assert done.ok, done.detail
    assert await _version(lab) == "01000001"


async def test_a_corrupted_image_is_refused_by_the_device(lab: Lab) -> None:
    """The supplier names the hash of the image it built; the device holds a corrupted copy."""
    await _update(lab, "esme-corrupted.ota")
    built_hash = ota.image_hash(
        f"smets-hil test firmware for ESME, version {0x01000002:08X}\n".encode()
    )
    failed = await dcc_of(lab).request(
        "11.3", as_user="supplier", target=lab.eui("ESME"), params={"image_hash": built_hash.hex()}
    )
    assert failed.status == RequestStatus.FAILED
    assert failed.outcome is not None and failed.outcome.device_code == 2
    esme = lab.device("ESME")
    assert esme is not None and FIRMWARE_VERIFICATION_FAILED in esme.event_log.codes()
    assert await _version(lab) == "01000000"


async def test_a_bad_signature_is_refused_by_the_device(lab: Lab) -> None:
    digest = await _update(lab, "esme-bad-signature.ota")
    failed = await dcc_of(lab).request(
        "11.3", as_user="supplier", target=lab.eui("ESME"), params={"image_hash": digest}
    )
    assert failed.status == RequestStatus.FAILED
    assert failed.outcome is not None and failed.outcome.device_code == 3
    assert await _version(lab) == "01000000"


async def test_a_broken_ota_file_is_refused_by_11_1(lab: Lab) -> None:
    data = (IMAGES / "esme.ota").read_bytes()[:-5]
    result = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": data.hex()}
    )
    assert result.status == RequestStatus.FAILED and result.reason == "INVALID_PARAMETERS"
    assert "OTA image" in (result.detail or "")


async def test_the_gsme_gets_its_image_over_its_wake_ups(lab: Lab) -> None:
    data = (IMAGES / "gsme.ota").read_bytes()
    result = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("GSME"), params={"image": data.hex()}
    )
    assert result.ok, result.detail
    hub = lab.premises[0].hub
    assert hub is not None
    target = bytes(lab.eui("GSME"))
    for _ in range(400):
        if any(eui == target for eui, _ in hub.ota.outcomes):
            break
        await asyncio.sleep(0.01)
    assert (target, Outcome.TRANSFER_SUCCEEDED) in hub.ota.outcomes
    gsme = lab.device("GSME")
    assert gsme is not None and gsme.held_image == data


async def test_a_transfer_outlives_a_link_down_fault(lab: Lab) -> None:
    """hil/faults link_down on the ESME: the hub offers again on its clock until it passes."""
    signer, _ = lab_supplier()
    data = build_image(
        bytes(range(256)) * 20, manufacturer=1, image_type=1, version=0x01000005, signer=signer,
        hardware=(1, 1),
    )  # fmt: skip
    _listed(lab, data)
    hub = lab.premises[0].hub
    assert hub is not None
    async with FaultInjector(lab, seed=7) as faults:
        handle = faults.inject({"kind": "link_down", "target": "ESME", "for": "12s"})
        result = await dcc_of(lab).request(
            "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": data.hex()}
        )
        assert result.ok, result.detail
        await asyncio.sleep(0.05)
        assert not hub.ota.outcomes and handle.counters["dropped"] >= 1
        await lab.run_for(20)
        assert await _outcome(lab) == Outcome.TRANSFER_SUCCEEDED
    esme = lab.device("ESME")
    assert esme is not None and esme.held_image == data


# -- every device type ------------------------------------------------------------------------


async def _deliver(lab: Lab, name: str, image: str) -> bytes:
    """11.1 (11.4 for the PPMID) to `name`; wait (moving virtual time over a sleepy
    meter's wake-ups) for CCS08.

    The hub's own image (CS05a) needs no HAN transfer: the CHF holds it at once.
    """
    data = (IMAGES / image).read_bytes()
    variant = "11.4" if name == "PPMID" else "11.1"
    result = await dcc_of(lab).request(
        variant, as_user="supplier", target=lab.eui(name), params={"image": data.hex()}
    )
    assert result.ok, result.detail
    hub = lab.premises[0].hub
    assert hub is not None
    target = bytes(lab.eui(name))
    if name == "CHF":
        assert result.data["use_case"] == "CS05a"
        device = lab.device(name)
        assert device is not None and device.held_image == data
        return ota.decode_image(data).manufacturer_image_hash
    for _ in range(200):
        if any(eui == target for eui, _ in hub.ota.outcomes):
            break
        await lab.run_for(300)
    assert (target, Outcome.TRANSFER_SUCCEEDED) in hub.ota.outcomes
    return ota.decode_image(data, signed=ota.signed_for(name)).manufacturer_image_hash


@pytest.mark.parametrize(("name", "image"), [("GSME", "gsme.ota"), ("CHF", "chf.ota")])
async def test_cs06_activates_on_the_gsme_and_the_hub(lab: Lab, name: str, image: str) -> None:
    """11.3 routes to CS06 on the GSME and the CHF; 11.2 (GCS38, ECS52) reads the new version."""
    digest = await _deliver(lab, name, image)
    device = lab.device(name)
    assert device is not None and device.firmware_version == "01000000"
    done = await dcc_of(lab).request(
        "11.3", as_user="supplier", target=lab.eui(name), params={"image_hash": digest}
    )
    assert done.ok, done.detail
    read = await dcc_of(lab).request("11.2", as_user="supplier", target=lab.eui(name))
    assert read.ok, read.detail
    assert str(read.values[0].value) == "01000001"
    codes = device.event_log.codes()
    assert FIRMWARE_VERIFICATION_SUCCESSFUL in codes and FIRMWARE_VERSION_CHANGED in codes


async def test_the_ppmid_activates_on_receipt_and_raises_cs09(lab: Lab) -> None:
    """CS05c: no CS06 for the PPMID; it activates the checked image and tells the ACB."""
    await _deliver(lab, "PPMID", "ppmid.ota")
    ppmid = lab.device("PPMID")
    assert ppmid is not None and ppmid.firmware_version == "01000001"
    for _ in range(100):
        if any(a.message_code == CS09 for a in dcc_of(lab).alerts):
            break
        await asyncio.sleep(0.01)
    assert any(a.message_code == CS09 and a.device == lab.eui("PPMID") for a in dcc_of(lab).alerts)
    read = await dcc_of(lab).request("11.2", as_user="supplier", target=lab.eui("PPMID"))
    assert read.ok and str(read.values[0].value) == "01000001"
    refused = await dcc_of(lab).request(
        "11.3", as_user="supplier", target=lab.eui("PPMID"), params={"image_hash": "00" * 32}
    )
    assert refused.status == RequestStatus.REFUSED


async def test_11_4_is_the_ppmid_s_update_and_only_the_ppmid_s(lab: Lab) -> None:
    """11.4 carries a PPMID image (CS05c); 11.1 does not serve a PPMID, 11.4 no meter."""
    ppmid_image = (IMAGES / "ppmid.ota").read_bytes().hex()
    esme_image = (IMAGES / "esme.ota").read_bytes().hex()
    via_11_1 = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("PPMID"), params={"image": ppmid_image}
    )
    assert via_11_1.status == RequestStatus.REFUSED
    assert via_11_1.reason == "DEVICE_TYPE_NOT_APPLICABLE"
    to_meter = await dcc_of(lab).request(
        "11.4", as_user="supplier", target=lab.eui("ESME"), params={"image": esme_image}
    )
    assert to_meter.status == RequestStatus.REFUSED
    assert to_meter.reason == "DEVICE_TYPE_NOT_APPLICABLE"
    by_operator = await dcc_of(lab).request(
        "11.4", as_user="dno", target=lab.eui("PPMID"), params={"image": ppmid_image}
    )
    assert by_operator.status == RequestStatus.REFUSED
    assert by_operator.reason == "ROLE_NOT_ELIGIBLE"
    sent = await dcc_of(lab).request(
        "11.4", as_user="supplier", target=lab.eui("PPMID"), params={"image": ppmid_image}
    )
    assert sent.ok, sent.detail
    assert sent.data["use_case"] == "CS05c"


async def test_future_dated_activation_runs_at_its_time(lab: Lab) -> None:
    digest = await _deliver(lab, "ESME", "esme.ota")
    esme = lab.device("ESME")
    assert esme is not None
    when = lab.clock.now() + _dt.timedelta(hours=2)
    queued = await dcc_of(lab).request(
        "11.3",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"image_hash": digest, "execution_time": when},
    )
    assert queued.ok, queued.detail
    await lab.run_for(3600)
    assert esme.firmware_version == "01000000"  # not yet: the old image runs
    assert esme.running_image is None
    await lab.run_for(2 * 3600)
    assert esme.firmware_version == "01000001"


async def test_a_cancelled_future_dated_activation_never_runs(lab: Lab) -> None:
    digest = await _deliver(lab, "ESME", "esme.ota")
    esme = lab.device("ESME")
    assert esme is not None
    when = lab.clock.now() + _dt.timedelta(hours=2)
    dcc = dcc_of(lab)
    queued = await dcc.request(
        "11.3",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"image_hash": digest, "execution_time": when},
    )
    assert queued.ok, queued.detail
    await lab.run_for(600)
    assert esme.firmware_activation is not None and esme.firmware_activation.at == when
    cancelled = await dcc.request(
        "11.3",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"image_hash": digest, "cancel": True},
    )
    assert cancelled.ok, cancelled.detail
    assert esme.firmware_activation is None
    await lab.run_for(4 * 3600)
    assert esme.firmware_version == "01000000"
    assert FIRMWARE_VERSION_CHANGED not in esme.event_log.codes()


def _outcome_alerts(lab: Lab, name: str) -> list[int]:
    """Alert codes of the future-dated CS06 outcomes (0x00CA) `name` raised."""
    found = []
    for alert in dcc_of(lab).alerts:
        if alert.message_code == FIRMWARE_ACTIVATION_ALERT and alert.device == lab.eui(name):
            tree = decode_message_payload(decode_message(alert.raw)).tree
            assert isinstance(tree, DerConstructed) and isinstance(tree.items[0], DerInteger)
            found.append(tree.items[0].value)
    return found


async def test_a_future_dated_activation_sent_before_the_transfer_ends(lab: Lab) -> None:
    """GBCS: a future-dated CS06 names the image by its hash; the device looks for the
    image when the time comes, not when the command arrives. The GSME takes a
    3-wake-up image; the activation is sent at once, for four hours later."""
    signer, _ = lab_supplier()
    body = bytes(i * 7 % 251 for i in range(9 * 1024))
    data = build_image(
        body, manufacturer=1, image_type=2, version=0x01000007, signer=signer, hardware=(1, 1)
    )
    _listed(lab, data)
    result = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("GSME"), params={"image": data.hex()}
    )
    assert result.ok, result.detail
    gsme = lab.device("GSME")
    assert gsme is not None
    when = lab.clock.now().replace(microsecond=0) + _dt.timedelta(hours=4)
    queued = await dcc_of(lab).request(
        "11.3",
        as_user="supplier",
        target=lab.eui("GSME"),
        params={"image_hash": ota.image_hash(body).hex(), "execution_time": when},
    )
    assert queued.ok, queued.detail
    assert gsme.held_image is None  # not there yet when the CS06 arrived
    hub = lab.premises[0].hub
    assert hub is not None
    for _ in range(100):
        if hub.ota.outcomes:
            break
        await lab.run_for(600)
        await asyncio.sleep(0.02)  # each wake-up listens for real time
    assert hub.ota.outcomes == [(bytes(gsme.eui), Outcome.TRANSFER_SUCCEEDED)]
    assert gsme.firmware_version == "01000000" and lab.clock.now() < when
    await lab.run_for((when - lab.clock.now()).total_seconds() + 60)
    assert gsme.firmware_version == "01000007"
    for _ in range(100):
        if _outcome_alerts(lab, "GSME"):
            break
        await asyncio.sleep(0.01)
    assert _outcome_alerts(lab, "GSME") == [ALERT_FUTURE_SUCCESS]


async def test_a_future_dated_activation_whose_image_never_came_fails(lab: Lab) -> None:
    """The other order: the activation time comes while the transfer is still stalled.
    The device fails it with the GBCS reason (CS06 code 1, no image held), logs
    0x8F1C and tells the originator (0x00CA, 8F67); the old firmware runs on."""
    esme = lab.device("ESME")
    hub = lab.premises[0].hub
    assert esme is not None and hub is not None
    hub.ota.retry = 0  # no re-offer: the transfer waits
    hub.link.manipulator = lambda raw: [] if raw[1] == EnvelopeKind.OTA_BLOCK else [raw]
    data = (IMAGES / "esme.ota").read_bytes()
    result = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": data.hex()}
    )
    assert result.ok, result.detail
    when = lab.clock.now().replace(microsecond=0) + _dt.timedelta(hours=1)
    digest = ota.decode_image(data).manufacturer_image_hash.hex()
    queued = await dcc_of(lab).request(
        "11.3",
        as_user="supplier",
        target=lab.eui("ESME"),
        params={"image_hash": digest, "execution_time": when},
    )
    assert queued.ok, queued.detail
    await lab.run_for(2 * 3600)
    for _ in range(100):
        if _outcome_alerts(lab, "ESME"):
            break
        await asyncio.sleep(0.01)
    assert _outcome_alerts(lab, "ESME") == [ALERT_FUTURE_FAILURE]
    assert esme.firmware_version == "01000000" and esme.held_image is None
    assert FIRMWARE_VERIFICATION_FAILED in esme.event_log.codes()


async def test_an_image_not_on_the_cpl_is_refused_by_the_dcc(lab: Lab) -> None:
    """DCC: the manufacturer image hash must be on the CPL for the target's model."""
    signer, _ = lab_supplier()
    data = build_image(
        b"not listed", manufacturer=1, image_type=1, version=0x01000009, signer=signer,
        hardware=(1, 1),
    )  # fmt: skip
    refused = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": data.hex()}
    )
    assert refused.status == RequestStatus.FAILED and refused.reason == "FIRMWARE_NOT_ON_CPL"
    digest = ota.decode_image(data).manufacturer_image_hash.hex().upper()
    assert digest in (refused.detail or "") and "smets-hil virtual" in (refused.detail or "")
    hub = lab.premises[0].hub
    assert hub is not None and not hub.ota.transfers and not hub.ota.outcomes
    _listed(lab, data)  # listed: the same request goes through
    sent = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("ESME"), params={"image": data.hex()}
    )
    assert sent.ok, sent.detail
    assert await _outcome(lab) == Outcome.TRANSFER_SUCCEEDED


async def test_an_image_of_another_image_type_is_discarded_by_the_hub(lab: Lab) -> None:
    """An ESME image (image type 1) for the GSME (2): the hub moves nothing and reports
    CCS08 image discarded (response code 1); the meter holds nothing."""
    data = (IMAGES / "esme.ota").read_bytes()
    sent = await dcc_of(lab).request(
        "11.1", as_user="supplier", target=lab.eui("GSME"), params={"image": data.hex()}
    )
    assert sent.ok, sent.detail  # on the CPL for the model: the DCC sends it on
    hub = lab.premises[0].hub
    assert hub is not None
    target = bytes(lab.eui("GSME"))
    assert hub.ota.outcomes == [(target, Outcome.DISCARDED)]
    assert not hub.ota.transfers and not [t for t, _ in hub.ota.sent if t == target]
    gsme = lab.device("GSME")
    assert gsme is not None and gsme.held_image is None


async def test_the_hub_does_not_check_the_supplier_signature(lab: Lab) -> None:
    """CCS08 has no outcome for a signature (the reference use case names discarded,
    hardware mismatch, transfer failed, succeeded): the device checks it before it
    activates. A badly signed image is moved (transfer succeeded), refused at CS06."""
    digest = await _update(lab, "esme-bad-signature.ota")
    esme = lab.device("ESME")
    assert esme is not None and esme.held_image is not None
    failed = await dcc_of(lab).request(
        "11.3", as_user="supplier", target=lab.eui("ESME"), params={"image_hash": digest}
    )
    assert failed.outcome is not None and failed.outcome.device_code == 3
