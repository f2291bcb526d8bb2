"""Cancellations lost the way Python 3.11's `wait_for` loses them do not hang a premises.

The join hang of docs/testing.md "Known hang": a serve task that loses its
cancellation (inside aiomqtt, while it sends a JOIN) goes on joining and waits for
the lab's clock, which the scenario waiting for that task never moves; a command's
sender cancelled as the response arrives carries on.
"""

from __future__ import annotations

import asyncio

from e2e_support import supplier_security

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.premises import Premises
from hil.dcc.commands import Sender

#: Only a guard against a regression hanging the suite: the handshake takes milliseconds.
GUARD_S = 20.0


async def test_han_join_ends_a_serve_task_that_survives_its_cancellation(
    premises: Premises,
) -> None:
    esme = next(d for d in premises.devices.values() if d.device_type == DeviceType.ESME)
    name = f"device[{esme.eui}]"
    old = next(t for t in premises.tasks if t.get_name() == name)
    old.cancel()
    await asyncio.gather(old, return_exceptions=True)
    premises.tasks.remove(old)
    lost = asyncio.Event()

    async def serve_losing_one_cancellation() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            lost.set()  # as if swallowed mid-JOIN: it goes on, waiting for the lab clock
        await asyncio.Event().wait()

    premises.tasks.append(asyncio.create_task(serve_losing_one_cancellation(), name=name))
    await asyncio.sleep(0)
    joining = asyncio.ensure_future(premises.han_join(esme.eui))
    await asyncio.wait({joining}, timeout=GUARD_S)
    assert lost.is_set()
    assert joining.done(), "han_join still waits for the old serve task"
    assert joining.result() is True
    assert [t.get_name() for t in premises.tasks].count(name) == 1


async def test_a_command_cancelled_as_its_response_arrives_is_cancelled(
    premises: Premises,
) -> None:
    hub = premises.hub
    assert hub is not None
    esme = next(d for d in premises.devices.values() if d.device_type == DeviceType.ESME)
    serving = next(t for t in premises.tasks if t.get_name() == f"device[{esme.eui}]")
    serving.cancel()  # the test answers in the ESME's place, at the moment it chooses
    await asyncio.gather(serving, return_exceptions=True)
    premises.tasks.remove(serving)
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    sending = asyncio.ensure_future(
        hub.send(supplier.command("4.1.1", esme.eui).encode(), timeout=GUARD_S)
    )
    for _ in range(100):
        if hub._pending:
            break
        await asyncio.sleep(0.01)
    (pending,) = hub._pending.values()
    pending.future.set_result(b"the response")  # the response and the cancellation together
    sending.cancel()
    await asyncio.wait({sending}, timeout=GUARD_S)
    assert sending.cancelled(), "hub.send returned as if it had not been cancelled"
