"""Joining on the link, over every link type (`rig`: memory, a pty pair, MQTT through
amqtt and through mosquitto): the ESME is taken off the HAN, registered again with
an install code (CCS01 on the CHF) and must join through the handshake before the
supplier's read works; a wrong install code is refused on the link, retried on the
device's clock, and joins once the CHF holds the right one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from e2e_support import Rig, check_response

from emulator.devices.device_log import KEY_INSTALL_CODE
from emulator.han.join import EVENT_JOIN_REFUSED, Refusal, key_hash, with_crc
from emulator.hub import NotAdmitted

CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505")


async def _until(condition: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _restart_unjoined(rig: Rig, device_code: bytes) -> None:
    """The ESME as a new device: off the log, its HAN membership forgotten, serving anew."""
    premises, esme = rig.premises, rig.esme
    [task] = [t for t in premises.tasks if t.get_name() == f"device[{esme.eui}]"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    premises.tasks.remove(task)
    assert premises.chf.remove_device(esme.eui)  # CCS02: never joined, nothing kept
    esme.han.forget()
    esme.han.install_code = device_code
    premises.tasks.append(asyncio.create_task(rig.runner.serve(), name=f"device[{esme.eui}]"))


async def test_a_device_joins_through_the_handshake_then_answers(rig: Rig) -> None:
    chf, esme = rig.premises.chf, rig.esme
    await _restart_unjoined(rig, with_crc(CODE))
    await _until(lambda: rig.runner.last_refusal == Refusal.NOT_IN_LOG, "not in the log")
    assert not esme.han.joined
    assert esme.security_log.codes()[-1] == EVENT_JOIN_REFUSED
    try:
        await rig.send("4.1.1")
        raise AssertionError("a device off the log was carried")
    except NotAdmitted:
        pass

    assert chf.register_device(esme.eui, 0, CODE)  # CCS01, the code without its CRC
    rig.premises.clock.advance(rig.runner.join_policy.wait_after(1))  # the device's retry
    await _until(lambda: esme.han.joined, "the join")
    entry = chf.device_log[bytes(esme.eui)]
    assert entry.link_key == esme.han.link_key
    assert (entry.link_key_hash, entry.key_source) == (
        key_hash(esme.han.link_key),
        KEY_INSTALL_CODE,
    )
    assert rig.hub.joins.accepted == 1

    command, response = await rig.send("4.1.1")
    check_response(response, command, rig.security)


async def test_a_wrong_install_code_is_refused_until_the_log_holds_the_right_one(
    rig: Rig,
) -> None:
    chf, esme, clock = rig.premises.chf, rig.esme, rig.premises.clock
    chf.join_timeout = 3600
    await _restart_unjoined(rig, CODE)
    await _until(lambda: rig.runner.last_refusal == Refusal.NOT_IN_LOG, "not in the log")
    assert chf.register_device(esme.eui, 0, b"\x00" * 16)  # the installer typed it wrong
    clock.advance(rig.runner.join_policy.wait_after(1))  # the device's retry
    await _until(lambda: rig.runner.last_refusal == Refusal.BAD_PROOF, "a wrong-code refusal")
    assert rig.hub.joins.refusals() == {"not_in_log": 1, "bad_proof": 1}
    assert not esme.han.joined and not chf.device_log[bytes(esme.eui)].link_key_hash
    assert "wrong install code" in list(chf.security_log)[-1].detail

    assert chf.remove_device(esme.eui)  # CCS02, then CCS01 with the right code
    assert chf.register_device(esme.eui, 0, CODE)
    for _ in range(3):  # whatever the backoff reached, the next attempt comes within 60 s
        if esme.han.joined:
            break
        clock.advance(60)
        await asyncio.sleep(0.2)
    await _until(lambda: esme.han.joined, "the join with the right code")
    command, response = await rig.send("4.1.1")
    check_response(response, command, rig.security)
