"""Plots for the HTML report, drawn with matplotlib and returned as inline SVG text.

No pyplot (no global figure state, no GUI backend): each plot is a `Figure`
saved to SVG in memory. Text stays text (`svg.fonttype: none`, the viewer's
sans-serif font, nothing to download) and is never parsed as mathtext, so a
`$` in a series name is just a dollar. Each figure gets its own id salt so
several SVGs can share one HTML page without clashing ids.
"""

from __future__ import annotations

import datetime as _dt
import io
import itertools
import math
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from hil.report.common import parse_time
from hil.scenario.record import (
    PREPAYMENT_SUFFIX,
    FaultRecord,
    ResponseTimeRecord,
    ScenarioRecord,
)

PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#cf222e"
POINT_COLOUR = "#0969da"
FAULT_COLOUR = "#cf222e"
SERIES_COLOURS = ["#0969da", "#8250df", "#1a7f37", "#bc4c00", "#bf3989", "#116329", "#953800"]

_STYLE: Any = {  # Any: matplotlib types rc keys as a Literal union
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "date.epoch": "1970-01-01T00:00:00",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8c959f",
    "axes.grid": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.frameon": False,
}
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)  # matplotlib's default date.epoch
_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.S)


def _num(moment: _dt.datetime) -> float:
    """matplotlib's date number (days since its 1970 epoch), typed."""
    return (moment - _EPOCH).total_seconds() / 86400


def _label(text: str) -> str:
    """matplotlib hides labels that start with an underscore; keep them visible."""
    return "\u200b" + text if text.startswith("_") else text


def _svg(fig: Figure, salt: str) -> str:
    buffer = io.StringIO()
    style: Any = {**_STYLE, "svg.hashsalt": salt}
    with matplotlib.rc_context(style):
        fig.savefig(
            buffer,
            format="svg",
            bbox_inches="tight",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return _XML_HEAD.sub("", buffer.getvalue(), count=1)


def _plain_number(value: float, _position: int | None = None) -> str:
    """Tick labels without mathtext (which is off): 0.1, 1, 10, 1e+04 as 10000."""
    return f"{value:,.10g}"


def response_times_svg(records: Sequence[ResponseTimeRecord], salt: str) -> str:
    """Each variant a row: every measured time a dot, the catalogue target a red bar."""
    variants = sorted({r.variant for r in records})
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(10, 0.6 * len(variants) + 1.3))
        ax = fig.add_subplot()
        positive = [r.measured_s for r in records if r.measured_s > 0]
        targets = [r.target_s for r in records if r.target_s]
        span = [*positive, *(t for t in targets if t)]
        if span and max(span) / max(min(span), 1e-9) > 50:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(_plain_number))
        else:
            ax.set_xlim(left=0, right=max(span, default=1) * 1.08)
        for row, variant in enumerate(variants):
            mine = [r for r in records if r.variant == variant]
            values = [r.measured_s for r in mine]
            if len(values) >= 4:
                ax.boxplot(
                    values,
                    positions=[row],
                    orientation="horizontal",
                    widths=0.5,
                    showfliers=False,
                    patch_artist=True,
                    boxprops={"facecolor": "#ddf4ff", "edgecolor": "#54aeff"},
                    medianprops={"color": POINT_COLOUR},
                    whiskerprops={"color": "#54aeff"},
                    capprops={"color": "#54aeff"},
                )
            for n, r in enumerate(mine):
                jitter = ((n * 0.618) % 1 - 0.5) * 0.3  # deterministic spread, no randomness
                colour = POINT_COLOUR if r.ok else FAIL_COLOUR
                ax.plot(r.measured_s, row + jitter, "o", ms=4, color=colour, alpha=0.8, zorder=3)
            for target in sorted({r.target_s for r in mine if r.target_s is not None}):
                ax.plot(
                    [target, target], [row - 0.38, row + 0.38], color=FAIL_COLOUR, lw=2.2, zorder=4
                )
                ax.annotate(
                    f"target {target:g} s",
                    (target, row + 0.38),
                    xytext=(3, 0),
                    textcoords="offset points",
                    color=FAIL_COLOUR,
                    fontsize=8,
                    va="bottom",
                )
        ax.set_yticks(range(len(variants)), [_label(v) for v in variants])
        ax.set_ylim(-0.7, len(variants) - 0.3)
        ax.invert_yaxis()
        ax.set_xlabel("response time (s)")
        ax.grid(axis="y", visible=False)
        ax.set_title("Response times by service variant against the catalogue target")
        return _svg(fig, salt)


def series_svg(scenario: ScenarioRecord, salt: str) -> str | None:
    """Values over virtual time, one panel per unit, faults as shaded spans."""
    by_unit: dict[str, list[tuple[str, list[tuple[_dt.datetime, float]]]]] = {}
    for name, points in scenario.series.items():
        if name.endswith(PREPAYMENT_SUFFIX):
            continue  # prepayment_svg draws them
        finite = _finite(points)
        if finite:
            by_unit.setdefault(scenario.series_units.get(name, ""), []).append((name, finite))
    if not by_unit:
        return None
    start, end = parse_time(scenario.started.virtual), parse_time(scenario.ended.virtual)
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(10, 2.6 * len(by_unit) + 0.5))
        axes = fig.subplots(len(by_unit), 1, sharex=True, squeeze=False)[:, 0]
        colour = 0
        for ax, (unit, series) in zip(axes, sorted(by_unit.items()), strict=True):
            for name, values in series:
                xs = [_num(t) for t, _ in values]
                ys = [v for _, v in values]
                ax.plot(
                    xs,
                    ys,
                    drawstyle="steps-post",
                    lw=1.6,
                    color=SERIES_COLOURS[colour % len(SERIES_COLOURS)],
                    label=_label(name),
                    marker="." if len(values) < 40 else None,
                )
                colour += 1
            _fault_spans(ax, scenario.faults, end)
            ax.set_ylabel(_label(unit) if unit else "value")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        if start is not None and end is not None and end > start:
            axes[-1].set_xlim(_num(start), _num(end))
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        axes[-1].set_xlabel("virtual time (UTC)")
        axes[0].set_title("Values over virtual time (shaded: faults)")
        return _svg(fig, salt)


def _finite(points: Sequence[tuple[str, float]]) -> list[tuple[_dt.datetime, float]]:
    parsed = [(t, v) for t, v in ((parse_time(t), v) for t, v in points) if t is not None]
    return [(t, float(v)) for t, v in parsed if isinstance(v, int | float) and math.isfinite(v)]


def prepayment_svg(scenario: ScenarioRecord, salt: str) -> str | None:
    """Each meter's balance and debt (pence) over virtual time, and its supply below.

    Spans where a meter's supply was disabled are shaded on the money panel, so a
    disconnection lines up with the balance that caused it.
    """
    money: list[tuple[str, list[tuple[_dt.datetime, float]]]] = []
    supply: list[tuple[str, list[tuple[_dt.datetime, float]]]] = []
    for name, points in sorted(scenario.series.items()):
        if not name.endswith(PREPAYMENT_SUFFIX):
            continue
        values = _finite(points)
        label = name.removesuffix(PREPAYMENT_SUFFIX)
        if values:
            (supply if label.endswith(" supply") else money).append((label, values))
    if not money:
        return None
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(10, 4.6))
        top, bottom = fig.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, squeeze=True
        )
        for n, (label, values) in enumerate(money):
            top.plot(
                [_num(t) for t, _ in values],
                [v for _, v in values],
                drawstyle="steps-post",
                lw=1.6,
                ls="--" if label.endswith(" debt") else "-",
                color=SERIES_COLOURS[n % len(SERIES_COLOURS)],
                label=_label(label),
            )
        top.axhline(0, color="#8c959f", lw=0.8)
        for n, (label, values) in enumerate(supply):
            xs = [_num(t) for t, _ in values]
            bottom.plot(
                xs,
                [v for _, v in values],
                drawstyle="steps-post",
                lw=1.6,
                color=SERIES_COLOURS[n % len(SERIES_COLOURS)],
                label=_label(label),
            )
            for (t0, v0), (t1, _) in itertools.pairwise(values):
                if v0 == 0.0:
                    top.axvspan(_num(t0), _num(t1), color=FAIL_COLOUR, alpha=0.08, lw=0)
        top.set_ylabel("pence")
        top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        top.set_title("Prepayment: balance and debt over virtual time (shaded: supply disabled)")
        bottom.set_yticks([0.0, 0.5, 1.0], ["disabled", "armed", "enabled"])
        bottom.set_ylim(-0.15, 1.15)
        if supply:
            bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        bottom.set_xlabel("virtual time (UTC)")
        return _svg(fig, salt)


def _fault_spans(ax: Any, faults: Sequence[FaultRecord], end: _dt.datetime | None) -> None:
    for fault in faults:
        begin = parse_time(fault.started.virtual)
        stop = parse_time(fault.ended.virtual) if fault.ended else end
        if begin is None:
            continue
        left = _num(begin)
        right = _num(stop) if stop is not None and stop > begin else left
        if right - left < 1e-6:
            ax.axvline(left, color=FAULT_COLOUR, lw=1, ls="--", alpha=0.7)
        else:
            ax.axvspan(left, right, color=FAULT_COLOUR, alpha=0.10, lw=0)
        ax.annotate(
            _label(fault.name),
            (left, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            color=FAULT_COLOUR,
            fontsize=7.5,
            va="top",
        )
