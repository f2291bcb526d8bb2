"""UTRNs as a supplier makes them, for scenarios and tests (GBCS section 14).

The supplier signs a top-up for one meter with its prepayment key-agreement key
and a counter that only grows (`counters`: the next step per meter, shared with
the DCC's own 2.2 top-ups so the two never reuse a counter). For error cases a
scenario can ask for a UTRN that is wrong in one known way: made with an old
counter, made for another meter, a bad check digit, or a bad MAC. These are
causes; the meter's answer is what the scenario checks.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Literal

from emulator.errors import EmulatorError
from emulator.gbcs import utrn
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.pki.keystore import KeyStore, KeyUsage
from hil.errors import HilError

Tamper = Literal["check_digit", "mac"]


class UtrnIssueError(HilError):
    """The harness cannot make the UTRN asked for (no key, amount out of range)."""


class UtrnCounterFileError(HilError):
    """The file of UTRN counters kept for devices under test cannot be read or written."""


#: Where the UTRN counters of devices under test are kept (`utrn_counter_file`).
STATE_ENV = "SMETS_HIL_STATE_DIR"
COUNTER_FILE = "utrn-counters.json"


def utrn_counter_file() -> Path:
    """`$SMETS_HIL_STATE_DIR`, else `$XDG_STATE_HOME/smets-hil`, else `~/.local/state/smets-hil`."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit) / COUNTER_FILE
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "smets-hil" / COUNTER_FILE


class KeptUtrnCounters(MutableMapping[bytes, int]):
    """The supplier's UTRN counter steps per device; those of devices under test kept in a file.

    A board remembers the UTRN counters it accepted, across runs, and refuses an
    old one as a duplicate; every run of a lab starts its counters at 1. Unlike
    an originator counter, a UTRN counter cannot simply jump ahead from the wall
    clock: only its bits 41..32 travel in the 20 digits, and a device rebuilds the
    rest from the highest counter it accepted, so it takes only the next few
    hundred steps (`emulator.gbcs.utrn.counter_candidates`, up to 2047 above the
    last) and a fresh device only steps 1 to 1024. A supplier therefore remembers
    the last step per meter, as this does for `kept` devices: read at the start,
    written at every step (a run that stops half-way has still counted what it
    issued). Other devices (emulated ones) count from 1 in every run, as before.
    """

    def __init__(self, path: Path, kept: Iterable[bytes]) -> None:
        self.path = path
        self.kept = frozenset(bytes(k) for k in kept)
        self._steps: dict[bytes, int] = {}
        saved = self._read()
        for key in self.kept:
            if key in saved:
                self._steps[key] = saved[key]

    def _read(self) -> dict[bytes, int]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeError) as exc:
            raise UtrnCounterFileError(f"{self.path}: cannot read: {exc}") from None
        try:
            data = json.loads(text)
            steps = {bytes.fromhex(k): int(v) for k, v in dict(data).items()}
        except (ValueError, TypeError) as exc:
            raise UtrnCounterFileError(
                f"{self.path}: not a UTRN counter file ({exc}); move it away to start again"
            ) from None
        return steps

    def _write(self, key: bytes, step: int) -> None:
        """Merge this step into the file (the higher one wins: another run may have counted on)."""
        saved = self._read()
        saved[key] = max(step, saved.get(key, 0))
        data = {k.hex(): v for k, v in sorted(saved.items())}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".utrn-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1)
                out.write("\n")
            os.replace(temp, self.path)
        except OSError as exc:
            raise UtrnCounterFileError(f"{self.path}: cannot write: {exc}") from None

    def __getitem__(self, key: bytes) -> int:
        return self._steps[key]

    def __setitem__(self, key: bytes, step: int) -> None:
        self._steps[key] = step
        if key in self.kept:
            self._write(key, step)

    def __delitem__(self, key: bytes) -> None:
        del self._steps[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)


def issue_utrn(
    keystore: KeyStore,
    supplier: Eui64,
    meter: Eui64,
    pence: int,
    counters: MutableMapping[bytes, int],
    *,
    counter: int | None = None,
) -> str:
    """A valid UTRN worth `pence` for `meter`; the next counter step unless `counter` is given.

    A given counter (an old one, to test a refusal) does not move the supplier's
    counter back.
    """
    if not 0 <= pence <= utrn.MAX_VALUE:
        raise UtrnIssueError(f"a UTRN carries 0..{utrn.MAX_VALUE} pence, not {pence}")
    key = bytes(meter)
    if counter is None:
        counter = counters.get(key, 0) + 1
        counters[key] = counter
    elif counter < 1:
        raise UtrnIssueError(f"a UTRN counter is a positive integer, not {counter}")
    else:
        counters[key] = max(counters.get(key, 0), counter)
    try:
        z = MessageSecurity(keystore).shared_secret(
            supplier, meter, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT
        )
    except EmulatorError as exc:
        raise UtrnIssueError(f"no UTRN for {meter}: {exc}") from None
    return utrn.generate_utrn(z, supplier, meter, counter << utrn.COUNTER_BITS_SHIFT, pence)


def tamper(text: str, how: Tamper) -> str:
    """The UTRN with a wrong check digit, or with a wrong MAC and a right check digit."""
    if how == "check_digit":
        return text[:19] + str((int(text[19]) + 1) % 10)
    ptut = (int(text[:19]) - utrn.PPTD_OFFSET) ^ 1  # the lowest MAC bit flipped
    pptd = str(ptut + utrn.PPTD_OFFSET)
    return pptd + utrn.check_digit(pptd)
