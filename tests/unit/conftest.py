"""Shared fixtures of the unit suite.

One deterministic test PKI for the whole session (seed "unit"): a supplier, the
Access Control Broker and one device, plus the `MessageSecurity` that signs and
MACs with them, and the broker that restart drills restart. Nothing here reads
files outside the repository, and no test writes the user's state directory: the
UTRN counters a lab with a device under test keeps (hil/utrn.py) go to a folder
of the test's own.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from broker_support import skip_without_mosquitto

from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.han.broker import RestartableBroker
from emulator.pki.testpki import Party, RemotePartyRole, TestPki

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
ACB = Eui64("90-B3-D5-1F-30-00-00-02")
DEVICE = Eui64("00-DB-12-34-56-78-90-A0")
_STATE = itertools.count(1)


@pytest.fixture(scope="session")
def _state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(autouse=True)
def _own_state_dir(_state_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own (not yet made) state folder: a board's kept UTRN counters
    do not leak from one test into the next, nor into ~/.local/state."""
    from hil.utrn import STATE_ENV

    monkeypatch.setenv(STATE_ENV, str(_state_root / str(next(_STATE))))


@pytest.fixture(scope="session")
def pki() -> TestPki:
    pki = TestPki(seed="unit")
    pki.remote_party(SUPPLIER, RemotePartyRole.SUPPLIER, "unit supplier")
    pki.remote_party(ACB, RemotePartyRole.ACCESS_CONTROL_BROKER, "unit ACB")
    pki.device(DEVICE, "unit ESME")
    return pki


@pytest.fixture(scope="session")
def supplier(pki: TestPki) -> Party:
    return pki.parties[bytes(SUPPLIER)]


@pytest.fixture(scope="session")
def acb(pki: TestPki) -> Party:
    return pki.parties[bytes(ACB)]


@pytest.fixture(scope="session")
def device(pki: TestPki) -> Party:
    return pki.parties[bytes(DEVICE)]


@pytest.fixture(scope="session")
def security(pki: TestPki) -> MessageSecurity:
    return MessageSecurity(pki.keystore, acb=ACB)


class Hang(Exception):
    """Raised by `time_limit` when the guarded code runs too long."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def time_limit() -> Callable[[float], contextlib.AbstractContextManager[None]]:
    """Context manager factory: raise `Hang` if the block runs longer than N seconds.

    Guards decoder calls that are known to loop forever on some inputs, so a
    regression fails the test instead of stalling the suite.
    """
    return _time_limit


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def restartable(request: pytest.FixtureRequest) -> AsyncIterator[RestartableBroker]:
    """A broker the test can restart on the same port (the HAN links' and the fleet's
    reconnect tests): amqtt, and mosquitto where installed."""
    if request.param == "mosquitto":
        skip_without_mosquitto(request.config)
    async with RestartableBroker(request.param) as broker:
        yield broker
