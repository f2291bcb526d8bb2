"""The sleepy gas meter end to end over the memory medium: queued in the hub until it
wakes, answered when it does, and mirrored to the GPF so reads need not wait."""

from __future__ import annotations

import asyncio
from typing import Any

from e2e_support import ANSWER, SILENCE, check_response, decrypted, supplier_security

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.gsme import Gsme
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import DecodedPayload
from emulator.gbcs.zcl.gbz import GbzPayload
from emulator.hub import Hub
from emulator.premises import Premises
from hil.dcc.commands import Sender

CURRENT_SUMMATION_DELIVERED = 0x0000


def summation(payload: DecodedPayload) -> int:
    """Current Summation Delivered from a decrypted metering read-attributes response."""
    tree = payload.tree
    assert isinstance(tree, GbzPayload)
    (component,) = tree.components
    fields = component.frame.fields
    assert fields is not None
    records = {r["attribute_id"]: r for r in fields["records"]}
    record = records[CURRENT_SUMMATION_DELIVERED]
    assert record["status"] == 0
    value: int = record["value"].value
    return value


async def read_gas(hub: Hub, supplier: Sender, target: Eui64) -> int:
    command = supplier.command("4.1.1-gas", target)
    response = decode_message(await hub.send(command.encode(), timeout=ANSWER))
    check_response(response, command, supplier.security)
    assert response.originator == target
    return summation(decrypted(response, supplier.security))


async def test_sleepy_gsme_answers_when_it_wakes_and_the_gpf_mirrors_it(
    premises: Premises,
) -> None:
    hub = premises.hub
    assert hub is not None
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    gsme = premises.device(DeviceType.GSME)
    assert isinstance(gsme, Gsme)
    gpf = premises.gpf
    gsme.meter.import_wh = 4321.0

    # The GPF answers at once, from an empty mirror: it has not heard from the meter yet.
    assert gpf.syncs == 0
    assert await read_gas(hub, supplier, gpf.eui) == 0

    # A command for the sleeping meter waits in the hub, not on the link.
    pending = asyncio.create_task(read_gas(hub, supplier, gsme.eui))
    done, _ = await asyncio.wait({pending}, timeout=SILENCE)
    assert not done, "a sleeping GSME answered"
    assert hub.counters.queued == 1
    assert gsme.commands_accepted == 0

    synced = asyncio.Event()
    sync = gpf.sync

    def sync_and_tell(mirror: dict[str, Any]) -> None:
        sync(mirror)
        synced.set()

    gpf.sync = sync_and_tell  # type: ignore[method-assign]

    runner = premises.runner_for(gsme.eui)
    assert await runner.wake(listen=0.1) == 1
    assert await asyncio.wait_for(pending, ANSWER) == 4321
    assert gsme.commands_accepted == 1

    await asyncio.wait_for(synced.wait(), ANSWER)
    assert gpf.syncs == 1
    assert gpf.mirror_data["summation"] == 4321
    # Reads of the GPF are now answered from the mirror, while the meter sleeps again.
    assert await read_gas(hub, supplier, gpf.eui) == 4321
    assert gsme.commands_accepted == 1

    # Asleep again: the next command for the meter is queued once more.
    again = asyncio.create_task(read_gas(hub, supplier, gsme.eui))
    done, _ = await asyncio.wait({again}, timeout=SILENCE)
    assert not done
    assert hub.counters.queued == 2
    gsme.meter.import_wh = 5000.0
    assert await runner.wake(listen=0.1) == 1
    assert await asyncio.wait_for(again, ANSWER) == 5000
