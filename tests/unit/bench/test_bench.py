"""hil/bench.py alone: hooks and the offline route, without a device process."""

from __future__ import annotations

import pytest

from emulator.errors import LinkClosed
from emulator.gbcs.eui import Eui64
from hil.bench import BenchError, BenchHooks, ExternalDevice, OfflineLink, describe, run_hook

EUI = Eui64("00-DB-12-34-56-78-90-A0")


async def test_a_hook_sees_the_device_and_its_output_is_returned() -> None:
    out = await run_hook("ESME", EUI, "reset", 'echo "$SMETS_DEVICE $SMETS_EUI"', 5.0)
    assert out == "ESME 00-DB-12-34-56-78-90-A0"


async def test_a_failing_hook_is_one_line_with_its_last_output() -> None:
    with pytest.raises(BenchError) as caught:
        await run_hook("ESME", EUI, "power_cycle", "echo one; echo relay jammed >&2; exit 4", 5.0)
    text = str(caught.value)
    command = "'echo one; echo relay jammed >&2; exit 4'"
    assert text == f"ESME: power_cycle hook {command} exited with 4: relay jammed"
    assert "\n" not in text


async def test_a_hook_that_hangs_is_killed_at_its_timeout() -> None:
    with pytest.raises(BenchError, match=r"took over 0\.2 s"):
        await run_hook("ESME", EUI, "reset", "sleep 30", 0.2)


async def test_power_cycle_without_a_hook_says_so() -> None:
    device = ExternalDevice("ESME", EUI, "serial:///dev/null")
    with pytest.raises(BenchError, match="has no power_cycle hook"):
        await device.power_cycle()


async def test_the_offline_route_fails_at_once_with_the_reason() -> None:
    link = OfflineLink("serial:///dev/ttyUSB0", "ESME is offline: end of stream")
    with pytest.raises(LinkClosed, match="ESME is offline: end of stream"):
        await link.send_raw(b"x")


def test_describe_lists_the_hooks_given() -> None:
    assert describe(BenchHooks()) == "no hooks"
    assert describe(BenchHooks(reset="a b", console="c")) == "reset='a b' console=c"
