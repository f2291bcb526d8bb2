"""`smets-hil device` and `smets-hil send` as separate processes, on real brokers and ptys.

What a bench sees from a device process: its MQTT status follows its life (the
broker's last will says ``offline`` when it is killed), a link lost under it
ends it with an error instead of a silent exit 0, a command sent as soon as it
says anything is answered, and `smets-hil send` drives it from the shell as the
docs/cli.md example shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from e2e_support import ANSWER, SILENCE, check_response, supplier_security

from emulator.clock import RealClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import DeviceType
from emulator.devices.runner import save_state
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.han.broker import EmbeddedBroker, MosquittoBroker
from emulator.han.link import open_link
from emulator.han.mqtt import status_topic
from emulator.han.serial import pty_pair
from emulator.hub import Hub
from emulator.premises import Premises
from hil.dcc.commands import Sender

Broker = EmbeddedBroker | MosquittoBroker

ESME = Eui64("00-DB-12-34-56-78-90-A0")
GSME = Eui64("00-DB-12-34-56-78-90-A1")
#: A cold Python start with cryptography takes about 0.5 s here; CI machines are slower.
STARTUP = 15.0
#: Keep-alive of the device under test: short, so a silent death would still be seen soon.
KEEPALIVE = 1
DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
DOC_URL = "mqtt://127.0.0.1:1883/bench"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hil.cli", *args]


async def spawn(*args: str, pass_fds: tuple[int, ...] = ()) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *cli(*args),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        pass_fds=pass_fds,
    )


async def first_line(process: asyncio.subprocess.Process, wanted: str = "") -> str:
    """The first stdout line containing `wanted`; fails if the process ends first."""
    assert process.stdout is not None and process.stderr is not None
    async with asyncio.timeout(STARTUP):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                error = (await process.stderr.read()).decode()
                raise AssertionError(f"device exited before {wanted!r}: {error}")
            if wanted in line:
                return line


async def start_device(*args: str, kind: str = "esme") -> asyncio.subprocess.Process:
    eui = ESME if kind == "esme" else GSME
    process = await spawn("device", kind, "--eui", str(eui), *args)
    try:
        await first_line(process, "listening on")
    except BaseException:
        await reap(process)
        raise
    return process


async def reap(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Kill if still running; the exit status and everything it wrote to stderr."""
    if process.returncode is None:
        process.kill()
    code = await process.wait()
    assert process.stdout is not None and process.stderr is not None
    await process.stdout.read()
    return code, (await process.stderr.read()).decode()


async def exit_of(process: asyncio.subprocess.Process, within: float) -> tuple[int, str]:
    """Wait for the process to end on its own; fail if it does not in time."""
    try:
        await asyncio.wait_for(process.wait(), within)
    except TimeoutError:
        raise AssertionError(f"the device still runs {within} s later") from None
    return await reap(process)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("smets-hil: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
async def devices() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Processes a test starts; whatever is left is killed and reaped."""
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        await reap(process)


def lab_url(broker: Broker) -> tuple[str, str]:
    lab = f"sa{secrets.token_hex(4)}"
    return lab, broker.url_for(lab)


async def next_status(watcher: aiomqtt.Client, within: float) -> bytes:
    async with asyncio.timeout(within):
        async for message in watcher.messages:
            assert isinstance(message.payload, bytes)
            return message.payload
    raise AssertionError("status subscription ended")


# -- link supervision ---------------------------------------------------------------------


async def test_sigkilled_device_is_shown_offline_by_its_last_will(
    broker: Broker, devices: list[asyncio.subprocess.Process]
) -> None:
    lab, url = lab_url(broker)
    async with aiomqtt.Client(broker.host, broker.port) as watcher:
        await watcher.subscribe(status_topic(lab, ESME), qos=1)
        devices.append(await start_device("--link", f"{url}?keepalive={KEEPALIVE}"))
        assert await next_status(watcher, STARTUP) == b"online"

        devices[0].send_signal(signal.SIGKILL)
        assert await devices[0].wait() == -signal.SIGKILL
        killed = asyncio.get_running_loop().time()
        # The broker sees the socket close at once; a silent link would take 1.5 keep-alives.
        assert await next_status(watcher, 1.5 * KEEPALIVE + 1.0) == b"offline"
        assert asyncio.get_running_loop().time() - killed <= 1.5 * KEEPALIVE + 1.0


async def test_sigterm_stops_the_device_cleanly_and_it_says_offline(
    broker: Broker, devices: list[asyncio.subprocess.Process]
) -> None:
    lab, url = lab_url(broker)
    async with aiomqtt.Client(broker.host, broker.port) as watcher:
        await watcher.subscribe(status_topic(lab, ESME), qos=1)
        devices.append(await start_device("--link", url))
        assert await next_status(watcher, STARTUP) == b"online"
        devices[0].send_signal(signal.SIGTERM)
        code, stderr = await exit_of(devices[0], STARTUP)
        assert (code, stderr) == (0, "")
        assert await next_status(watcher, ANSWER) == b"offline"


@pytest.mark.parametrize("kind", ["esme", "gsme"])
async def test_device_exits_with_an_error_when_the_broker_dies(
    broker: Broker, devices: list[asyncio.subprocess.Process], kind: str
) -> None:
    """The gas meter sleeps (30 min between wake-ups): it must notice all the same."""
    _, url = lab_url(broker)
    devices.append(await start_device("--link", f"{url}?keepalive={KEEPALIVE}", kind=kind))
    # Bounded: amqtt's shutdown waits for a client that stays connected (a device that
    # does not notice), which is a failure to report, not a hang.
    await asyncio.wait_for(broker.__aexit__(None, None, None), STARTUP)
    code, stderr = await exit_of(devices[0], 1.5 * KEEPALIVE + STARTUP)
    assert code == 1
    assert "lost its link" in one_error_line(stderr)


@pytest.mark.parametrize("kind", ["esme", "gsme"])
async def test_device_exits_with_an_error_when_the_pty_peer_closes(
    devices: list[asyncio.subprocess.Process], kind: str
) -> None:
    with pty_pair() as pty:
        devices.append(await start_device("--link", pty.slave_path, kind=kind))
        os.close(pty.master_fd)
        pty.master_fd = -1
        code, stderr = await exit_of(devices[0], STARTUP)
    assert code == 1
    assert "lost its link" in one_error_line(stderr)


# -- nothing lost at start-up ---------------------------------------------------------------


@pytest.fixture
def premises() -> Premises:
    return Premises.build(devices=((DeviceType.ESME, 0xA0),), clock=RealClock())


async def _answered_right_after_first_line(
    premises: Premises, hub_url: str, device_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "esme.json"
    save_state(premises.device(DeviceType.ESME), state)
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    link = open_link(hub_url)
    async with link, Hub(premises.chf, link, premises.clock, gpf=premises.gpf) as hub:
        process = await spawn(
            "device", "esme", "--eui", str(ESME), "--link", device_url, "--state", str(state)
        )
        try:
            # Whatever it says first ("resumed from"), a command sent then is answered.
            assert "resumed from" in await first_line(process)
            command = supplier.command("4.1.1", ESME)
            response = decode_message(await hub.send(command.encode(), timeout=ANSWER))
            check_response(response, command, supplier.security)
        finally:
            await reap(process)


async def test_command_sent_at_the_first_line_is_answered_over_mqtt(
    broker: Broker, premises: Premises, tmp_path: Path
) -> None:
    _, url = lab_url(broker)
    await _answered_right_after_first_line(premises, url, url, tmp_path)


async def test_command_sent_at_the_first_line_is_answered_over_a_pty(
    premises: Premises, tmp_path: Path
) -> None:
    with pty_pair() as pty:
        await _answered_right_after_first_line(premises, pty.master_url, pty.slave_path, tmp_path)


# -- smets-hil send -------------------------------------------------------------------------


def doc_example() -> tuple[str, str, str, str]:
    """From docs/cli.md: the device command, its line, the send command and its first line."""
    section = DOC.read_text().split("## `smets-hil send VARIANT", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    device_at = next(i for i, line in enumerate(block) if line.startswith("$ smets-hil device"))
    send_at = next(i for i, line in enumerate(block) if line.startswith("$ smets-hil send"))
    device = block[device_at][2:].removesuffix("&").strip()
    return device, block[device_at + 1], block[send_at][2:], block[send_at + 1]


async def test_send_example_in_the_docs_runs(
    broker: Broker, devices: list[asyncio.subprocess.Process]
) -> None:
    device, device_says, send, send_says = doc_example()
    _, url = lab_url(broker)
    device_args = shlex.split(device.replace(DOC_URL, url))
    assert device_args[0] == "smets-hil"
    process = await spawn(*device_args[1:])
    devices.append(process)
    assert await first_line(process) == device_says.replace(DOC_URL, url) + "\n"

    send_args = shlex.split(send.replace(DOC_URL, url))
    sender = await spawn(*send_args[1:])
    out, err = await asyncio.wait_for(sender.communicate(), STARTUP)
    assert sender.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == send_says
    assert any("use_case=ECS17b" in line for line in lines)
    assert "mac_valid=True" in out.decode()


async def test_send_raw_command_then_its_replay_gets_no_answer(
    broker: Broker, premises: Premises, devices: list[asyncio.subprocess.Process]
) -> None:
    _, url = lab_url(broker)
    devices.append(await start_device("--link", url))
    supplier = Sender(premises.parties[AnchorRole.SUPPLIER].eui, supplier_security(premises))
    command = supplier.command("4.1.1", ESME).encode().hex()

    first = await spawn("send", "--raw", command, "--link", url)
    out, err = await asyncio.wait_for(first.communicate(), STARTUP)
    assert first.returncode == 0, err.decode()
    assert out.decode().startswith("ECS17b: 1/1 items succeeded")

    # The device refuses a replayed counter without a word: nothing answers in time.
    again = await spawn("send", "--raw", command, "--link", url, "--timeout", str(SILENCE))
    out, err = await asyncio.wait_for(again.communicate(), STARTUP)
    assert again.returncode == 3, err.decode()
    assert out.decode().startswith("NO_RESPONSE")


async def test_send_refused_request_exits_1(
    broker: Broker, devices: list[asyncio.subprocess.Process]
) -> None:
    _, url = lab_url(broker)
    devices.append(await start_device("--link", url))
    sender = await spawn("send", "4.1.1", "--to", "ESME", "--user", "energy-app", "--link", url)
    out, err = await asyncio.wait_for(sender.communicate(), STARTUP)
    assert sender.returncode == 1, err.decode()
    assert re.match(r"4\.1\.1 refused: ROLE_NOT_ELIGIBLE", out.decode())


async def test_send_over_a_pty(devices: list[asyncio.subprocess.Process]) -> None:
    """The device on the pty's slave, `send` on its master (handed over as fd://N)."""
    with pty_pair() as pty:
        devices.append(await start_device("--link", pty.slave_path))
        sender = await spawn(
            *("send", "7.4", "--to", "ESME", "--user", "supplier"),
            *("--link", pty.master_url, "--json"),
            pass_fds=(pty.master_fd,),
        )
        out, err = await asyncio.wait_for(sender.communicate(), STARTUP)
    assert sender.returncode == 0, err.decode()
    answer = json.loads(out)
    assert answer["ok"] is True
    assert answer["result"]["status"] == "completed"
    assert answer["decoded"]["frame"]["use_case"] == "ECS45"
