"""The money rule: integers only, in the meter's minor unit (pence).

The meter holds balances, debts and charges in whole pence (the minor unit of
GBP, what the meter displays and what UTRNs carry). DUIS states amounts in
millipence (1000 = 1p): an amount converts exactly when it is a whole number of
pence and is refused otherwise, never rounded. Prices stay finer than a penny
(millipence per kWh, millipence per day for the standing charge): what they
accrue is kept exactly as a remainder below one penny and charged as soon as it
reaches a whole penny, so no fraction of a penny is ever lost or invented.
"""

from __future__ import annotations

from emulator.errors import EmulatorError

MILLIPENCE_PER_PENNY = 1000
#: Sub-penny accumulators count micro-pence: a price in millipence per kWh times
#: an energy in Wh is exactly that many micro-pence.
MICROPENCE_PER_PENNY = 1_000_000
SECONDS_PER_DAY = 86_400


class MeteringError(EmulatorError, ValueError):
    """A metering or prepayment input the meter cannot take (bad amount, bad tariff)."""


def pence_from_millipence(millipence: int) -> int:
    """A DUIS amount in millipence as meter pence, exactly or not at all."""
    pence, rest = divmod(int(millipence), MILLIPENCE_PER_PENNY)
    if rest:
        raise MeteringError(
            f"{millipence} millipence is not a whole number of pence; the meter holds whole pence"
        )
    return pence


def millipence_from_pence(pence: int) -> int:
    return int(pence) * MILLIPENCE_PER_PENNY
