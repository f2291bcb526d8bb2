"""The reconnect loop both fleet connections share: bounded attempts give up and say so,
unbounded ones try on past the delay list, and an old connection's late loss is ignored."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from emulator.errors import LinkClosed
from emulator.han.broker import RestartableBroker
from hil.fleet import wire
from hil.fleet.redial import Redialing


class _Probe(Redialing):
    """A `Redialing` that records what its hooks were asked to do."""

    def __init__(self, broker: str, attempts: int | None) -> None:
        super().__init__(
            broker,
            "probe",
            "probe",
            will=None,
            keepalive=5,
            timeout=2.0,
            attempts=attempts,
            delays=(0.01, 0.05),
        )
        self.restored = 0
        self.resumed: list[wire.LeanClient] = []
        self.gave_up: list[BaseException] = []

    def _deliver(self, topic: str, payload: bytes, retain: bool) -> None:
        pass

    async def _restore(self, client: wire.LeanClient) -> None:
        self.restored += 1

    async def _resumed(self, client: wire.LeanClient) -> None:
        self.resumed.append(client)

    def _gave_up(self, cause: BaseException) -> None:
        self.gave_up.append(cause)


async def _until(condition: Callable[[], object], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def test_bounded_attempts_give_up_and_later_publishes_fail(
    restartable: RestartableBroker,
) -> None:
    probe = _Probe(restartable.url, attempts=3)
    await probe.open()
    try:
        await restartable.stop()
        await _until(lambda: probe.gave_up, 5.0)
        assert probe.reconnects == 0 and probe.restored == 1 and not probe.resumed
        assert not probe.connected
        with pytest.raises(LinkClosed, match="closed"):
            await probe._publish("t/x", b"1", 1, False, None)
    finally:
        await probe.close()


async def test_unbounded_attempts_outlast_the_delay_list(restartable: RestartableBroker) -> None:
    probe = _Probe(restartable.url, attempts=None)
    await probe.open()
    try:
        await restartable.stop()
        await asyncio.sleep(0.6)  # many more attempts than the two delays
        assert not probe.gave_up and not probe.connected
        await restartable.start()
        await _until(lambda: probe.reconnects == 1, 5.0)
        assert probe.restored == 2 and probe.resumed == [probe._client]
        assert probe.down_s >= 0.5
        await probe._publish("t/x", b"1", 1, False, 1.0)
    finally:
        await probe.close()


async def test_an_earlier_connections_late_loss_starts_no_second_reconnect(
    restartable: RestartableBroker,
) -> None:
    probe = _Probe(restartable.url, attempts=None)
    await probe.open()
    try:
        current = probe._client
        probe._lost(probe._generation - 1, ConnectionResetError("old socket"))
        assert probe._client is current and probe._reconnecting is None
    finally:
        await probe.close()
