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
