"""UTRNs as a supplier makes them, for scenarios and tests (GBCS section 14).

The supplier signs a top-up for one meter with its prepayment key-agreement key
and a counter that only grows (`counters`: the next step per meter, shared with
the DCC's own 2.2 top-ups so the two never reuse a counter). For error cases a
scenario can ask for a UTRN that is wrong in one known way: made with an old
counter, made for another meter, a bad check digit, or a bad MAC. These are
causes; the meter's answer is what the scenario checks.
"""

from __future__ import annotations

from collections.abc import MutableMapping
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
