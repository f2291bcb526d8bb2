"""A `smets-hil device` process says what its link threw away (line noise, bad CRC).

The link counts such input and skips it; without a line from the process a bench
user sees a device that silently ignores what the shim sends.
"""

from __future__ import annotations

import asyncio
import os

from emulator.han.framing import FLAG
from emulator.han.serial import pty_pair
from hil.standalone import CorruptInput, run_device

ESME = "00-DB-12-34-56-78-90-A0"
HUB = "00-DB-12-34-56-78-90-A2"
GPF = "00-DB-12-34-56-78-90-A3"


async def test_noise_on_the_port_is_reported_and_the_total_given_at_the_end() -> None:
    said: list[str] = []
    with pty_pair() as pty:
        url = f"serial://{pty.slave_path}"
        task = asyncio.create_task(
            run_device("esme", ESME, url, HUB, GPF, None, "smets-hil-lab", echo=said.append)
        )
        for _ in range(200):
            if any("listening on" in line for line in said):
                break
            await asyncio.sleep(0.05)
        # Twelve frames of noise, each between flags: twelve inputs that are not envelopes.
        noise = bytes([FLAG]) + b"".join(b"\x01\x02\x03\x04\x05" + bytes([FLAG]) for _ in range(12))
        os.write(pty.master_fd, noise)
        for _ in range(200):
            if sum("not an envelope" in line for line in said) >= 2:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    dropped = [line for line in said if "dropped" in line]
    assert "(1 so far)" in dropped[0] and "(10 so far)" in dropped[1], said
    assert dropped[-1].endswith(f"dropped 12 inputs in all on {url}"), said


def test_lines_at_powers_of_ten_only() -> None:
    said: list[str] = []
    corrupt = CorruptInput("<ESME>", "serial:///dev/x", said.append)
    for _ in range(150):
        corrupt(ValueError("bad CRC"), b"")
    corrupt.summary()
    assert [line.split("(")[-1] for line in said[:3]] == ["1 so far)", "10 so far)", "100 so far)"]
    assert said[3] == "<ESME> dropped 150 inputs in all on serial:///dev/x" and len(said) == 4
