"""Change of supplier: on the day of the change the outgoing supplier may still read
the daily read log (4.14, SEC services schedule notes); the device trusts the new
supplier now, so the ACB sends the command for it as an unknown remote party."""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.pki.keystore import KeyUsage
from hil.dcc.lab import DEFAULT_LAB, Lab

RIVAL = Eui64("90-B3-D5-1F-30-01-00-10")
SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")


@pytest.fixture
async def changed(tmp_path: Path) -> AsyncIterator[Lab]:
    """The demo lab, its import supply taken over from the rival on the lab's first day."""
    text = DEFAULT_LAB.read_text()
    anchor = "      agents: {electricity: [meter-operator], gas: [meter-operator]}\n"
    assert anchor in text
    text = text.replace(
        anchor,
        anchor + "      change_of_supplier: {date: 2026-01-05, import_supplier: rival-supplier}\n",
    )
    path = tmp_path / "changed.yaml"
    path.write_text(text)
    lab = Lab.load(path)
    async with lab:
        yield lab


def _window() -> dict[str, _dt.datetime]:
    start = _dt.datetime(2026, 1, 4, tzinfo=_dt.UTC)
    return {"from": start, "to": start + _dt.timedelta(days=1)}


async def test_outgoing_supplier_reads_through_the_acb(changed: Lab) -> None:
    assert changed.dcc is not None
    esme = changed.eui("ESME")
    result = await changed.dcc.request(
        "4.14", as_user="rival-supplier", target=esme, params=_window()
    )
    assert result.ok, (result.reason, result.detail)
    assert result.command is not None
    sent = decode_message(result.command)
    assert bytes(sent.originator) == bytes(changed.dcc.acb)
    assert bytes(sent.header.other.supplementary_remote_party_id or b"") == bytes(RIVAL)
    # the registered supplier still sends its own
    own = await changed.dcc.request("4.14", as_user="supplier", target=esme, params=_window())
    assert own.ok and own.command is not None
    assert bytes(decode_message(own.command).originator) == bytes(SUPPLIER)


async def test_outgoing_supplier_not_eligible_after_the_change(changed: Lab) -> None:
    assert changed.dcc is not None
    await changed.run_for(int(_dt.timedelta(days=2).total_seconds()))
    result = await changed.dcc.request(
        "4.14", as_user="rival-supplier", target=changed.eui("ESME"), params=_window()
    )
    assert result.refused and result.reason == "NOT_RESPONSIBLE_SUPPLIER"


def _ka_der(lab: Lab, user: Eui64) -> bytes:
    assert lab.dcc is not None
    cert = lab.dcc.keystore.certificate(user, KeyUsage.KEY_AGREEMENT)
    return cert.public_bytes(serialization.Encoding.DER)


async def test_urp_credentials_make_the_acb_send_with_that_certificate(changed: Lab) -> None:
    """DUIS URP credentials (4.14 / 4.17 `KAPublicSecurityCredentials`): the requester's
    own key agreement certificate, sent by the ACB with the command (RTDS GCS16b URP)."""
    assert changed.dcc is not None
    der = _ka_der(changed, SUPPLIER)
    params = {**_window(), "ka_certificate": der}
    result = await changed.dcc.request(
        "4.14", as_user="supplier", target=changed.eui("ESME"), params=params
    )
    assert result.ok, (result.reason, result.detail)
    assert result.command is not None
    other = decode_message(result.command).header.other
    assert bytes(other.supplementary_remote_party_id or b"") == bytes(SUPPLIER)
    assert other.supplementary_ka_certificate == der


async def test_urp_credentials_of_another_party_refused(changed: Lab) -> None:
    assert changed.dcc is not None
    params = {**_window(), "ka_certificate": _ka_der(changed, RIVAL)}
    result = await changed.dcc.request(
        "4.14", as_user="supplier", target=changed.eui("ESME"), params=params
    )
    assert result.refused and result.reason == "INVALID_PARAMETERS"
    assert "not the requester" in result.detail
