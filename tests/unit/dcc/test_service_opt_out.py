"""8.5 Service Opt Out and 8.6 Service Opt In on a virtual lab: the opt-out is
future-dated only, replaces the ACB credential and withdraws the meter; a withdrawn
meter takes no device service; opt-in gives the DCC's credentials and returns the
meter to its status before the withdrawal."""

from __future__ import annotations

import datetime as _dt

from cryptography.hazmat.primitives import serialization
from lab_support import dcc_of

from emulator.gbcs.asn1 import DerConstructed, decode_der
from emulator.gbcs.frame import decode_message
from emulator.pki.keystore import KeyUsage
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus
from hil.dcc.timing import Category


def _acb_der(lab: Lab, usage: KeyUsage) -> bytes:
    dcc = dcc_of(lab)
    return dcc.keystore.certificate(dcc.acb, usage).public_bytes(serialization.Encoding.DER)


async def _opt_out(lab: Lab, **params: object):  # type: ignore[no-untyped-def]
    dcc = dcc_of(lab)
    when = lab.clock.now() + _dt.timedelta(minutes=10)
    result = await dcc.request(
        "8.5", as_user="supplier", target=lab.eui("ESME"), execute_at=when, params=params
    )
    assert result.status == RequestStatus.ACKNOWLEDGED, result.detail
    assert result.command is None  # the DCC holds it: the command carries no time
    lab.advance(11 * 60)
    await result.wait(10)
    return result


async def test_opt_out_on_demand_is_refused(lab: Lab) -> None:
    result = await dcc_of(lab).request("8.5", as_user="supplier", target=lab.eui("ESME"))
    assert result.reason == "CATEGORY_NOT_AVAILABLE"
    assert lab.inventory[lab.eui("ESME")].status == SmiStatus.COMMISSIONED


async def test_opt_out_replaces_the_acb_credential_then_withdraws(lab: Lab) -> None:
    esme = lab.eui("ESME")
    dcc = dcc_of(lab)
    held = await dcc.request(
        "4.1.1",
        as_user="dno",
        target=esme,
        execute_at=lab.clock.now() + _dt.timedelta(hours=2),
    )
    ka = _acb_der(lab, KeyUsage.KEY_AGREEMENT)
    result = await _opt_out(lab, floor_seq_number=7, certificates=[ka])
    assert result.ok, result.detail
    assert result.use_case == "CS02bACBByACB"
    assert result.request.category == Category.FUTURE_DATED
    assert result.timing is not None and result.timing.target == 24 * 3600
    command = decode_message(result.command or b"")
    body = decode_der(command.payload)
    assert isinstance(body, DerConstructed)
    control, replacements = body.items[0], body.items[1]
    assert isinstance(control, DerConstructed) and isinstance(replacements, DerConstructed)
    assert control.items[-1].encode()[-1] == 7  # the ACB floor sequence number
    assert ka in replacements.encode()
    device = lab.inventory[esme]
    assert device.status == SmiStatus.WITHDRAWN
    assert lab.inventory.before_withdrawal[bytes(esme)] == SmiStatus.COMMISSIONED
    assert lab.inventory.history[-1].cause == "8.5 service opt out"
    assert held.status == RequestStatus.CANCELLED and held.reason == "DEVICE_WITHDRAWN"
    refused = await dcc.request("4.1.1", as_user="supplier", target=esme)
    assert refused.reason == "STATUS_NOT_ELIGIBLE"


async def test_opt_in_restores_the_status_and_gives_the_dcc_credentials(lab: Lab) -> None:
    esme = lab.eui("ESME")
    assert (await _opt_out(lab)).ok
    today = lab.clock.now().date().isoformat()
    opt_in = await dcc_of(lab).request(
        "8.6",
        as_user="supplier",
        target=esme,
        params={"device": str(esme), "device_type": "ESME", "opt_in_date": today},
    )
    assert opt_in.ok, opt_in.detail
    assert lab.inventory[esme].status == SmiStatus.COMMISSIONED
    data = opt_in.data
    assert isinstance(data, dict)
    assert data["restored"] == "commissioned"
    assert data["key_agreement"] == _acb_der(lab, KeyUsage.KEY_AGREEMENT)
    assert bytes(esme) not in lab.inventory.before_withdrawal
    again = await dcc_of(lab).request("4.1.1", as_user="supplier", target=esme)
    assert again.ok, again.detail


async def test_opt_in_from_a_later_date_waits_for_it(lab: Lab) -> None:
    esme = lab.eui("ESME")
    assert (await _opt_out(lab)).ok
    tomorrow = lab.clock.now().date() + _dt.timedelta(days=1)
    opt_in = await dcc_of(lab).request(
        "8.6", as_user="supplier", target=esme, params={"opt_in_date": tomorrow.isoformat()}
    )
    assert opt_in.ok and opt_in.data["restored"] is None
    assert lab.inventory[esme].status == SmiStatus.WITHDRAWN
    lab.advance(86400)
    assert lab.inventory[esme].status == SmiStatus.COMMISSIONED


async def test_opt_in_refusals(lab: Lab) -> None:
    dcc = dcc_of(lab)
    unknown = await dcc.request("8.6", as_user="supplier", target="00-11-22-33-44-55-66-77")
    assert unknown.reason == "DEVICE_NOT_IN_INVENTORY"
    esme = lab.eui("ESME")
    wrong = await dcc.request(
        "8.6", as_user="supplier", target=esme, params={"device_type": "GSME"}
    )
    assert wrong.reason == "INVALID_PARAMETERS"
    stranger = await dcc.request("8.6", as_user="dno", target=esme)
    assert stranger.reason == "ROLE_NOT_ELIGIBLE"
    # a meter that was never withdrawn keeps its status; the credentials still come
    fine = await dcc.request("8.6", as_user="supplier", target=esme)
    assert fine.ok and lab.inventory[esme].status == SmiStatus.COMMISSIONED
