"""Plain-text tables for terminal summaries (demo, CLI listings)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

GAP = "  "
ELLIPSIS = "…"
MIN_SHRUNK = 10  # a shrunk column keeps at least this many characters (or its header's)


def plural(count: int, singular: str, many: str | None = None) -> str:
    """ "1 device alert", "2 device alerts": counts in summaries read as English."""
    return f"{count} {singular if count == 1 else many or singular + 's'}"


def terminal_width() -> int | None:
    """Columns of the terminal the output goes to; None for a file or pipe (nothing is cut)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    width: int | None = None,
    shrink: Sequence[int] = (),
) -> str:
    """Columns as wide as their widest cell; with `width`, the `shrink` columns give way.

    Only the named columns (free text such as names and details) are cut, widest
    first, each cut cell ending in an ellipsis; the table may still be wider than
    `width` when those columns reach their minimum.
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if width is not None:
        _fit(widths, [len(h) for h in headers], width, shrink)
    lines = []
    for n, row in enumerate(cells):
        clipped = (_clip(cell, w) for cell, w in zip(row, widths, strict=True))
        lines.append(GAP.join(cell.ljust(w) for cell, w in zip(clipped, widths, strict=True)))
        lines[-1] = lines[-1].rstrip()
        if n == 0:
            lines.append(GAP.join("-" * w for w in widths))
    return "\n".join(lines)


def _fit(widths: list[int], headers: list[int], width: int, shrink: Sequence[int]) -> None:
    floors = {i: max(headers[i], MIN_SHRUNK) for i in shrink}
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    while excess > 0:
        candidates = [i for i in shrink if widths[i] > floors[i]]
        if not candidates:
            return
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1


def _clip(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 1] + ELLIPSIS
