"""Critical requests still go through the user's signature now that routes take
their criticality from the codec's table (including codes the table used to leave
open: ECS08, ECS30, ECS47, ECS46c)."""

from __future__ import annotations

import pytest

from emulator.gbcs.frame import decode_message
from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus


@pytest.mark.parametrize(
    ("variant", "option", "use_case"),
    [("2.1", "ECS08", "ECS08"), ("6.8", "ECS30", "ECS30"), ("7.5", None, "ECS47Activate")],
)
async def test_critical_request_is_signed_by_the_user_before_it_goes_out(
    lab: Lab, variant: str, option: str | None, use_case: str
) -> None:
    dcc = lab.dcc
    assert dcc is not None
    result = dcc.submit(variant, as_user="supplier", target=lab.eui("ESME"), option=option)
    assert result.status == RequestStatus.AWAITING_SIGNATURE, result.detail
    assert result.precommand is not None and result.precommand.is_precommand
    dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.use_case == use_case
    command = decode_message(result.command or b"")
    assert command.is_signed and command.is_maced


async def test_non_critical_request_needs_no_signature(lab: Lab) -> None:
    dcc = lab.dcc
    assert dcc is not None
    result = await dcc.request("4.18", as_user="supplier", target=lab.eui("GSME"))
    assert result.precommand is None
    assert result.ok, result.detail
    assert result.use_case == "GCS60a"
    command = decode_message(result.command or b"")
    assert not command.is_signed and command.is_maced
