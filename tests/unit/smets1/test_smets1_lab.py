"""SMETS1 premises in lab files, and what the hub and the S1SP do with bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import open_link
from hil.dcc.lab import Lab, LabFileError, LabSpec
from hil.dcc.requests import RequestStatus

LABS = Path(__file__).resolve().parents[3] / "hil" / "fixtures" / "labs"
LAB = (LABS / "smets1-secure.yaml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        (
            "smets1_profile: secure-cohort",
            "smets1_profile: nobody",
            "smets1_profile",
            "no SMETS1 profile 'nobody'",
        ),
        (
            "      - {type: ESME, suffix: A0, status: commissioned}",
            "      - {type: ESME, suffix: A0, status: commissioned}\n"
            "      - {type: GPF, suffix: A3}",
            "devices",
            "a SMETS1 premises has no GPF",
        ),
        (
            "{type: ESME, suffix: A0, status: commissioned}",
            "{type: ESME, suffix: A0, variant: polyphase}",
            "devices[1].variant",
            "SMETS2 ESME",
        ),
    ],
)
def test_lab_file_errors_name_the_field(old: str, new: str, field: str, problem: str) -> None:
    assert old in LAB
    with pytest.raises(LabFileError) as caught:
        LabSpec.from_yaml(LAB.replace(old, new), "lab.yaml")
    assert caught.value.field == f"premises[0].{field}"
    assert problem in caught.value.problem


async def test_the_gas_supplier_tops_up_the_smets1_gas_meter() -> None:
    lab = Lab.load(LABS / "smets1-secure.yaml")
    async with lab:
        assert lab.dcc is not None
        gsme = lab.eui("GSME")
        done = await lab.dcc.request(
            "2.2", as_user="gas-only-supplier", target=gsme, params={"amount_pence": 100}
        )
        assert done.ok, done.detail
        assert lab.device(gsme).balance_pence == 1100.0  # type: ignore[union-attr]
        other = await lab.dcc.request(
            "2.2",
            as_user="supplier",
            target=gsme,
            role="Gas Supplier",
            params={"amount_pence": 100},
        )
        assert other.status == RequestStatus.REFUSED  # not the gas meter's supplier


async def test_the_hub_nacks_and_counts_what_it_cannot_use() -> None:
    lab = Lab.load(LABS / "smets1-secure.yaml")
    async with lab:
        hub = lab.smets1_sites[0]
        link = open_link(f"{lab.link_url}-smets1", local=[Eui64("90-B3-D5-1F-30-FF-00-99")])
        await link.open()
        try:
            me = Eui64("90-B3-D5-1F-30-FF-00-99")
            await link.send(Envelope(me, hub.hub_eui, EnvelopeKind.VENDOR, b"{not json", 5))
            nack = await link.recv(timeout=2)
            assert (nack.kind, nack.sequence) == (EnvelopeKind.NACK, 5)
            assert b"body" in nack.payload
            command = (
                b'{"v": 1, "id": 1, "device": "00db1234567890ee", "cmd": "read_time", "args": {}}'
            )
            await link.send(Envelope(me, hub.hub_eui, EnvelopeKind.VENDOR, command, 6))
            assert (await link.recv(timeout=2)).kind == EnvelopeKind.NACK
            await link.send(Envelope(me, hub.hub_eui, EnvelopeKind.GBCS, b"\xdf", 7))
            await asyncio.sleep(0.01)
        finally:
            await link.close()
        assert hub.hub.drops == {"undecodable": 1, "unknown device": 1, "not a vendor message": 1}


async def _lab_of(profile_name: str) -> Lab:
    text = LAB.replace("smets1_profile: secure-cohort", f"smets1_profile: {profile_name}")
    spec = LabSpec.from_yaml(text.replace("smets1-secure-lab", f"smets1-{profile_name}"), "lab")
    return Lab.build(spec)


@pytest.mark.parametrize(
    ("profile_name", "credit_2_1", "ec", "gas_ppmid_firmware"),
    [
        ("secure-cohort", "DEVICE_REJECTED", "DEVICE_FAILURE", "ROLE_NOT_ELIGIBLE"),
        ("northway-nx1", "I0", "I0", "I0"),  # accepts 2.1 in credit mode, hides the EC failure
        ("lumen-l2", "I0", "DEVICE_FAILURE", "ROLE_NOT_ELIGIBLE"),
    ],
)
async def test_the_same_requests_meet_each_models_quirks(
    profile_name: str, credit_2_1: str, ec: str, gas_ppmid_firmware: str
) -> None:
    """Profiles are data: one lab, three model files, three sets of answers."""
    lab = await _lab_of(profile_name)
    async with lab:
        assert lab.dcc is not None
        esme, ppmid = lab.eui("ESME"), lab.eui("PPMID")
        config = await lab.dcc.request(
            "2.1", as_user="supplier", target=esme, params={"ec_limit_millipence": 700_000}
        )
        activate = await lab.dcc.request("2.5", as_user="supplier", target=esme)
        firmware = await lab.dcc.request(
            "11.1",
            as_user="gas-only-supplier",
            target=ppmid,
            params={"image_hash": "ab" * 32, "version": "01000003"},
        )
        assert (config.reason, activate.reason, firmware.reason) == (
            credit_2_1,
            ec,
            gas_ppmid_firmware,
        ), (config.detail, activate.detail, firmware.detail)
        if firmware.reason == "ROLE_NOT_ELIGIBLE":
            assert "electricity supplier only" in firmware.detail  # the S1SP's rule
        meter = lab.device("ESME")
        assert meter is not None and not meter.ec_active  # type: ignore[attr-defined]
