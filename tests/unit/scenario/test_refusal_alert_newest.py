"""Which board alert gives a refused UTRN its reason (external meters over the HAN)."""

from __future__ import annotations

import asyncio

from hil.scenario.runner import newest_refusal_alert

OLD, OURS, OTHER = 0x8F5B, 0x8F47, 0x00D2
CODES = frozenset({OLD, OURS})


async def _arrive(
    alerts: list[tuple[bytes, str, int]], after: float, entry: tuple[bytes, str, int]
) -> None:
    await asyncio.sleep(after)
    alerts.append(entry)


async def test_an_earlier_steps_late_alert_does_not_win() -> None:
    """The previous step's refusal alert lands after this step's mark, then this step's."""
    alerts: list[tuple[bytes, str, int]] = [(b"", "ESME", OLD)]  # before the mark
    since = len(alerts)
    late = asyncio.ensure_future(_arrive(alerts, 0.05, (b"", "ESME", OLD)))
    ours = asyncio.ensure_future(_arrive(alerts, 0.15, (b"", "ESME", OURS)))
    code = await newest_refusal_alert(alerts, since, "ESME", CODES, wait=2.0, settle=0.3)
    await asyncio.gather(late, ours)
    assert code == OURS


async def test_other_devices_and_codes_are_ignored() -> None:
    alerts: list[tuple[bytes, str, int]] = []
    feed = asyncio.ensure_future(_arrive(alerts, 0.02, (b"", "ESME", OURS)))
    other = asyncio.ensure_future(_arrive(alerts, 0.06, (b"", "GSME", OLD)))
    code = await newest_refusal_alert(alerts, 0, "ESME", CODES, wait=2.0, settle=0.2)
    await asyncio.gather(feed, other)
    assert code == OURS
    alerts.append((b"", "ESME", OTHER))
    assert await newest_refusal_alert(alerts, 1, "ESME", CODES, wait=0.1, settle=0.05) is None
