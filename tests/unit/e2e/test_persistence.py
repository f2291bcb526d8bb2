"""A device process killed with SIGKILL while commands flow restarts where it was.

The ESME runs as its own process (`smets-hil device esme --link PTY --state FILE`)
on the slave side of a pty; the hub runs here on the master side. The state file
is written after every message (temporary file, fsync, rename), so whatever
moment the kill lands on, the restarted meter has its registers, its logs and its
replay counters: a command accepted before the kill stays refused after it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from board_support import until_listening
from e2e_support import (
    ANSWER,
    SILENCE,
    action_results,
    check_response,
    decrypted,
    supplier_security,
)

from emulator.clock import RealClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.esme import CONTROL_DISCONNECTED, EVENT_SUPPLY_DISABLED, Esme
from emulator.devices.logs import OUT_OF_ORDER
from emulator.devices.runner import load_state, save_state
from emulator.gbcs.dlms.apdu import AccessResponse
from emulator.gbcs.dlms.axdr import Enum
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.han.link import open_link
from emulator.han.serial import pty_pair
from emulator.hub import Hub, ResponseTimeout
from emulator.premises import Premises
from hil.dcc.commands import Sender

#: A cold Python start with cryptography takes about 0.2 s here; CI machines are slower.
STARTUP = 10.0
#: Import energy the meter starts with (Wh), so "does not go backwards" can fail.
SEEDED_IMPORT_WH = 5000.0


async def start_device(eui: Eui64, tty: str, state: Path) -> asyncio.subprocess.Process:
    """`smets-hil device esme` on `tty`; returns once it says it is listening."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "hil.cli", "device", "esme"),
        *("--eui", str(eui), "--link", tty, "--state", str(state)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await until_listening(process, [], timeout=STARTUP)
        return process
    except BaseException:
        await stop(process)
        raise


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
    await process.wait()
    if process.stdout is not None:
        await process.stdout.read()  # to EOF, so the pipe transport closes


@pytest.fixture
async def devices() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Device processes a test starts; whatever is left is killed and reaped."""
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        await stop(process)


def saved(state: Path) -> dict[str, Any]:
    """The state file as the device left it: always one whole JSON document."""
    return load_state(state)


def supply_control(response: GbcsMessage, command: GbcsMessage, sender: Sender) -> int:
    tree = check_response(response, command, sender.security).tree
    assert isinstance(tree, AccessResponse)
    (value,) = tree.data
    assert isinstance(value, Enum)
    return value.value


async def test_device_process_keeps_state_across_sigkill(
    tmp_path: Path, devices: list[asyncio.subprocess.Process]
) -> None:
    # The lab's premises for its CHF (which admits the ESME) and the seed of the meter.
    premises = Premises.build(devices=((DeviceType.ESME, 0xA0),), clock=RealClock())
    meter = premises.device(DeviceType.ESME)
    assert isinstance(meter, Esme)
    eui = meter.eui
    meter.meter.import_wh = SEEDED_IMPORT_WH
    meter.meter.advance(meter.clock.now())
    state = tmp_path / "esme.json"
    save_state(meter, state)
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))

    async def send(variant: str) -> tuple[GbcsMessage, GbcsMessage]:
        command = supplier.command(variant, eui)
        return command, decode_message(await hub.send(command.encode(), timeout=ANSWER))

    with pty_pair() as pty:
        link = open_link(pty.master_url)
        async with link, Hub(premises.chf, link, premises.clock, gpf=premises.gpf) as hub:
            devices.append(await start_device(eui, pty.slave_path, state))

            disable = supplier.command("7.2", eui)
            response = decode_message(await hub.send(disable.encode(), timeout=ANSWER))
            assert response.signature
            assert action_results(check_response(response, disable, supplier.security)) == [0]

            # Reads flow back to back; the kill lands while one is on its way.
            answered = 0
            three = asyncio.Event()

            async def flow() -> None:
                nonlocal answered
                while True:
                    command, response = await send("4.1.1" if answered % 2 else "7.4")
                    check_response(response, command, supplier.security)
                    answered += 1
                    if answered == 3:
                        three.set()

            flowing = asyncio.create_task(flow())
            await asyncio.wait_for(three.wait(), ANSWER)
            devices[0].send_signal(signal.SIGKILL)
            assert await devices[0].wait() == -signal.SIGKILL
            assert not flowing.done(), "the flow stopped before the kill"
            flowing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await flowing

            at_kill = saved(state)
            assert at_kill["meter"]["supply_enabled"] is False
            assert at_kill["meter"]["import_wh"] >= SEEDED_IMPORT_WH
            assert [e["code"] for e in at_kill["event_log"]] == [EVENT_SUPPLY_DISABLED]
            last_accepted = at_kill["replay"][supplier.party.compact]
            assert last_accepted >= disable.counter + 3

            # While it is dead, nothing answers.
            with pytest.raises(ResponseTimeout):
                await hub.send(supplier.command("7.4", eui).encode(), timeout=SILENCE)

            devices.append(await start_device(eui, pty.slave_path, state))

            # The disable accepted before the kill is a replay for the restarted meter.
            with pytest.raises(ResponseTimeout):
                await hub.send(disable.encode(), timeout=SILENCE)

            # Fresh commands are accepted, and the supply is still off.
            command, response = await send("7.4")
            assert supply_control(response, command, supplier) == CONTROL_DISCONNECTED
            command, response = await send("4.1.1")
            check_response(response, command, supplier.security)
            assert decrypted(response, supplier.security).decrypted_dlms

            after = saved(state)
            assert after["meter"]["supply_enabled"] is False
            assert after["meter"]["import_wh"] >= at_kill["meter"]["import_wh"]
            assert after["event_log"] == at_kill["event_log"], "event log entries were lost"
            assert [e["code"] for e in after["security_log"]] == [OUT_OF_ORDER]
            assert f"replayed counter {disable.counter}" in after["security_log"][0]["detail"]
            assert after["replay"][supplier.party.compact] == command.counter > last_accepted
