"""A whole premises end to end, over every link type: WAN command in, protected answer out.

Each test runs four times (`rig`): the ESME in-process on the memory medium, on a
real pty pair, over MQTT through amqtt, and over MQTT through mosquitto. The
supplier's side (`Sender` holding only the supplier's and the ACB's private keys
and the devices' certificates) builds, signs and MACs every command and checks
every answer with those keys.
"""

from __future__ import annotations

import os

import pytest
from e2e_support import (
    ANSWER,
    ENVELOPE_HEADER,
    SILENCE,
    Rig,
    action_results,
    check_response,
    decrypted,
    flip,
    garbage_to,
    once,
)

from emulator.devices.esme import CONTROL_CONNECTED, CONTROL_DISCONNECTED, EVENT_SUPPLY_DISABLED
from emulator.devices.logs import MALFORMED_COMMAND, OUT_OF_ORDER
from emulator.gbcs.dlms.apdu import AccessResponse
from emulator.gbcs.dlms.axdr import Enum, Structure
from emulator.gbcs.frame import decode_message
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.framing import FLAG, crc16, stuff
from emulator.han.link import Link
from emulator.hub import ResponseTimeout

SUCCESS = 0


def esme_route(rig: Rig) -> Link:
    """The hub's link that carries commands to the ESME."""
    return rig.hub.routes.get(bytes(rig.esme.eui), rig.hub.link)


def supply_control(tree: AccessResponse) -> int:
    (value,) = tree.data
    assert isinstance(value, Enum)
    return value.value


# -- (a) a sensitive read ---------------------------------------------------------------------


async def test_read_import_registers_is_maced_and_encrypted(rig: Rig) -> None:
    command, response = await rig.send("4.1.1")
    assert response.mac is not None and not response.signature
    check_response(response, command, rig.security)
    payload = decrypted(response, rig.security)
    assert payload.decrypted_dlms, "decrypted sensitive data is empty"
    (registers,) = payload.decrypted_dlms
    assert isinstance(registers, Structure) and registers.items

    # The MAC really covers the answer: one flipped payload byte no longer verifies.
    raw = bytearray(response.encode())
    raw[len(raw) - 20] ^= 0x01
    assert rig.security.verify(decode_message(bytes(raw))).mac is False


# -- (b) a critical command --------------------------------------------------------------------


async def test_disable_supply_is_signed_and_opens_the_load_switch(rig: Rig) -> None:
    meter = rig.esme.meter
    assert meter.supply_enabled
    assert EVENT_SUPPLY_DISABLED not in rig.esme.event_log.codes()

    command, response = await rig.send("7.2")
    assert command.signature, "7.2 is critical: the supplier signs it"
    assert response.signature, "a critical command's response is signed"
    assert rig.security.verify(response).signature is True
    assert action_results(check_response(response, command, rig.security)) == [SUCCESS]

    assert rig.esme.meter.supply_enabled is False
    (entry,) = [e for e in rig.esme.event_log if e.code == EVENT_SUPPLY_DISABLED]
    assert entry.time == rig.esme.clock.now()

    # The meter reports it over the link too (7.4 Read Supply Status).
    command, response = await rig.send("7.4")
    tree = check_response(response, command, rig.security).tree
    assert isinstance(tree, AccessResponse)
    assert supply_control(tree) == CONTROL_DISCONNECTED


# -- (c) replay ------------------------------------------------------------------------------


async def test_replayed_command_is_refused_and_logged(rig: Rig) -> None:
    disable = rig.supplier.command("7.2", rig.esme.eui).encode()
    await rig.hub.send(disable, timeout=ANSWER)
    await rig.send("7.1")  # enable again
    assert rig.esme.meter.supply_enabled
    accepted = rig.esme.commands_accepted

    with pytest.raises(ResponseTimeout):
        await rig.hub.send(disable, timeout=SILENCE)

    # Fresh commands still work, and the answer proves the replay was handled before it.
    command, response = await rig.send("7.4")
    tree = check_response(response, command, rig.security).tree
    assert isinstance(tree, AccessResponse)
    assert supply_control(tree) == CONTROL_CONNECTED, "the replayed disable was executed"
    assert rig.esme.meter.supply_enabled
    assert rig.esme.commands_accepted == accepted + 1
    assert rig.esme.security_log.codes() == [OUT_OF_ORDER]
    (entry,) = rig.esme.security_log
    assert f"replayed counter {decode_message(disable).counter}" in entry.detail


# -- (d) corruption on the link --------------------------------------------------------------


async def test_corrupted_envelope_is_dropped_by_the_link(rig: Rig) -> None:
    """A broken envelope header never reaches the GBCS layer; the next command works."""
    counters = rig.runner.link.counters
    route = esme_route(rig)
    command, response = await rig.send("4.1.1")  # a good frame before the bad ones
    check_response(response, command, rig.security)
    corrupted_before = counters.corrupted
    if rig.pty is not None:
        # Line noise, then a whole frame whose CRC does not match, straight onto the wire.
        lost = rig.supplier.command("4.1.1", rig.esme.eui).encode()
        body = Envelope(rig.premises.chf.eui, rig.esme.eui, EnvelopeKind.GBCS, lost, 7).encode()
        bad_crc = (crc16(body) ^ 0x5A5A).to_bytes(2, "big")
        os.write(rig.pty.master_fd, b"\x13\x37 line noise \x00\xff" + bytes([FLAG]))
        os.write(rig.pty.master_fd, bytes([FLAG]) + stuff(body + bad_crc) + bytes([FLAG]))
        # The command in the bad frame was never seen: the same bytes are accepted now.
        response = decode_message(await rig.hub.send(lost, timeout=ANSWER))
        check_response(response, decode_message(lost), rig.security)
    else:
        for fault in (flip(0), garbage_to(rig.esme.eui)):  # version byte; junk on its topic
            route.manipulator = once(fault)
            with pytest.raises(ResponseTimeout):
                await rig.hub.send(
                    rig.supplier.command("4.1.1", rig.esme.eui).encode(), timeout=SILENCE
                )
        route.manipulator = None

    command, response = await rig.send("4.1.1")
    check_response(response, command, rig.security)
    assert counters.corrupted == corrupted_before + 2
    assert rig.esme.security_log.codes() == [], "corrupt input reached the device"


async def test_corrupted_gbcs_frame_is_logged_as_malformed(rig: Rig) -> None:
    """An intact envelope carrying a broken GBCS frame: the device logs 0x8F1E."""
    route = esme_route(rig)
    route.manipulator = once(flip(ENVELOPE_HEADER))  # the general-ciphering tag
    with pytest.raises(ResponseTimeout):
        await rig.hub.send(rig.supplier.command("4.1.1", rig.esme.eui).encode(), timeout=SILENCE)
    route.manipulator = None

    command, response = await rig.send("4.1.1")
    check_response(response, command, rig.security)
    assert rig.esme.security_log.codes() == [MALFORMED_COMMAND]
    assert rig.runner.link.counters.corrupted == 0
    assert rig.esme.commands_rejected == 1
