"""Replay protection: per remote party, the highest originator counter accepted.

GBCS requires a device to accept a command only when its counter is strictly
greater than the last one accepted from the same remote party. The guard checks
before execution and records after successful authentication, so a forged
command cannot advance the counter.
"""

from __future__ import annotations

from emulator.gbcs.eui import Eui64


class ReplayGuard:
    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}

    def is_fresh(self, party: Eui64, counter: int) -> bool:
        return counter > self._last.get(bytes(party), -1)

    def accept(self, party: Eui64, counter: int) -> None:
        key = bytes(party)
        if counter > self._last.get(key, -1):
            self._last[key] = counter

    def last(self, party: Eui64) -> int | None:
        return self._last.get(bytes(party))

    def to_json(self) -> dict[str, int]:
        return {Eui64(k).compact: v for k, v in self._last.items()}

    def load_json(self, data: dict[str, int]) -> None:
        self._last = {bytes(Eui64(k)): int(v) for k, v in data.items()}
