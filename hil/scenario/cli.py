"""`smets-hil run`: scenarios on a lab, a live progress display, records and reports.

Every output is written from the run record (`hil.scenario.record`): the JSON
is the record itself; JUnit and HTML come from `hil.report` writers.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from rich.markup import escape

from hil.boundary import EXIT_FAILED, fail
from hil.dcc.lab import DEFAULT_LAB, Lab, LabError
from hil.files import FileFormatError
from hil.scenario.model import Scenario, ScenarioError, check_scenario, load_scenarios
from hil.scenario.record import RunRecord
from hil.scenario.runner import run_scenarios

EXIT_USAGE = 2


# -- -k EXPR ------------------------------------------------------------------------------------


def select(scenarios: list[Scenario], expression: str) -> list[Scenario]:
    """pytest-like `-k`: words match a scenario's name or tags (substring), with and/or/not."""
    tokens: list[str] = re.findall(r"\(|\)|[^\s()]+", expression)
    if not tokens:
        return scenarios

    def matches(s: Scenario) -> bool:
        pos = 0

        def peek() -> str | None:
            return tokens[pos] if pos < len(tokens) else None

        def take() -> str:
            nonlocal pos
            if pos >= len(tokens):
                raise click.BadParameter(f"incomplete expression {expression!r}", param_hint="-k")
            pos += 1
            return str(tokens[pos - 1])

        def expr() -> bool:
            value = term()
            while peek() == "or":
                take()
                value = term() or value
            return value

        def term() -> bool:
            value = factor()
            while peek() == "and":
                take()
                value = factor() and value
            return value

        def factor() -> bool:
            token = take()
            if token == "not":
                return not factor()
            if token == "(":
                value = expr()
                if take() != ")":
                    raise click.BadParameter(f"missing ')' in {expression!r}", param_hint="-k")
                return value
            if token in ("and", "or", ")"):
                raise click.BadParameter(f"unexpected {token!r} in {expression!r}", param_hint="-k")
            word = token.casefold()
            return word in s.name.casefold() or any(word in t.casefold() for t in s.tags)

        value = expr()
        if pos != len(tokens):
            raise click.BadParameter(
                f"unexpected {tokens[pos]!r} in {expression!r}", param_hint="-k"
            )
        return value

    return [s for s in scenarios if matches(s)]


# -- progress --------------------------------------------------------------------------------------


class Progress:
    """One line per scenario: verdict, name, current step, virtual and real elapsed time."""

    def __init__(self, scenarios: list[Scenario], enabled: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.rows: dict[str, dict[str, Any]] = {
            s.name: {"state": "waiting", "step": "", "v0": None, "virtual": "", "t0": None}
            for s in scenarios
        }
        self.live: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, refresh_per_second=8)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(None, None, None)

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        row = self.rows.setdefault(data["scenario"], {"state": "", "step": "", "v0": None})
        if kind == "scenario_started":
            row.update(state="running", v0=data.get("virtual"), t0=time.perf_counter())
        elif kind == "step_started":
            row.update(step=data["step"], virtual=data.get("virtual", ""))
        elif kind == "scenario_ended":
            row.update(state=data["verdict"], step="", t1=time.perf_counter())
            if not self.enabled:
                self.console.print(f"{data['verdict'].upper():5} {escape(data['scenario'])}")
        if self.live is not None:
            self.live.update(self._table())

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(show_header=True, box=None, pad_edge=False)
        table.add_column("", no_wrap=True)
        table.add_column("scenario", no_wrap=True, overflow="ellipsis", ratio=2)
        table.add_column("step", no_wrap=True, overflow="ellipsis", ratio=2)
        table.add_column("virtual", no_wrap=True, justify="right")
        table.add_column("real", no_wrap=True, justify="right")
        styles = {"pass": "green", "fail": "red", "error": "red", "skip": "yellow"}
        for name, row in self.rows.items():
            state = row["state"]
            real = ""
            if row.get("t0") is not None:
                real = f"{row.get('t1', time.perf_counter()) - row['t0']:.1f}s"
            virtual = _virtual_elapsed(row.get("v0"), row.get("virtual"))
            table.add_row(
                f"[{styles.get(state, 'cyan')}]{state.upper()}[/]",
                escape(name),
                escape(row["step"]),
                virtual,
                real,
            )
        return table


def _virtual_elapsed(start: str | None, now: str | None) -> str:
    import datetime as _dt

    if not start or not now:
        return ""
    seconds = (_dt.datetime.fromisoformat(now) - _dt.datetime.fromisoformat(start)).total_seconds()
    if seconds >= 3600:
        return f"+{seconds / 3600:.1f}h"
    return f"+{seconds:.0f}s"


@click.command("run")
@click.argument(
    "scenario_files",
    metavar="SCENARIO...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False),
)
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(dir_okay=False),
    help="lab file (default: the scenario's lab, else the demo lab)",
)
@click.option("--junit", type=click.Path(dir_okay=False), help="write a JUnit XML report")
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False), help="write the run record as JSON"
)
@click.option("--html", type=click.Path(dir_okay=False), help="write an HTML report")
@click.option("-k", "keyword", help="only scenarios whose name or tags match (and/or/not)")
@click.option(
    "--seed", type=int, help="seed for fault injection and randomness (same seed, same record)"
)
@click.option(
    "--no-prompt", is_flag=True, help="skip operator prompts (SKIP verdict); also when CI is set"
)
@click.option(
    "--attach",
    is_flag=True,
    help="run on the lab `smets-hil lab up` is running (its control socket), not a fresh one",
)
@click.option(
    "--link",
    help="replace the lab's HAN link (mqtt-embedded, mqtt://host:port/lab, ...)",
)
def run_command(
    scenario_files: tuple[str, ...],
    lab_file: str | None,
    junit: str | None,
    json_file: str | None,
    html: str | None,
    keyword: str | None,
    seed: int | None,
    no_prompt: bool,
    attach: bool,
    link: str | None,
) -> None:
    """Run scenario files (YAML or Python) on a lab; exit 0 only when every one passed."""
    if attach:
        from hil.live.control import attach_run

        sys.exit(attach_run(scenario_files, echo=click.echo))
    from hil.report.console import summary_text  # the writers load plotting: only when run
    from hil.report.html import write_html
    from hil.report.junit import write_junit
    from hil.report.table import terminal_width

    _check_usage(link, {"--json": json_file, "--junit": junit, "--html": html})
    writers: list[tuple[Callable[[RunRecord, str], None], str]] = []
    if junit is not None:
        writers.append((write_junit, junit))
    if html is not None:
        writers.append((write_html, html))
    scenarios: list[Scenario] = []
    try:
        for file in scenario_files:
            scenarios += load_scenarios(file)
    except FileFormatError as exc:
        fail(str(exc))
    if keyword:
        scenarios = select(scenarios, keyword)
        if not scenarios:
            fail(f"-k {keyword!r}: no scenario matches", EXIT_USAGE)
    labs: dict[str, Lab] = {}
    try:
        for s in scenarios:
            path = str(lab_file or s.lab or DEFAULT_LAB)
            if path not in labs:
                labs[path] = Lab.load(path, link=link)
            check_scenario(s, labs[path])
    except (LabError, ScenarioError) as exc:
        fail(str(exc))
    labs.clear()
    progress = Progress(scenarios, enabled=True)
    with progress:
        record = asyncio.run(
            run_scenarios(
                scenarios,
                lab=lab_file,
                seed=seed,
                on_event=progress.on_event,
                interactive=False if no_prompt else None,
                link=link,
            )
        )
    if json_file is not None:
        try:
            record.dump(json_file)
        except OSError as exc:
            fail(f"--json: cannot write {json_file}: {exc.strerror}")
    for write, path in writers:
        try:
            write(record, path)
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror}")
    click.echo(summary_text(record, width=terminal_width()))
    sys.exit(0 if record.passed else EXIT_FAILED)


__all__ = ["run_command", "select"]


def _check_usage(link: str | None, outputs: dict[str, str | None]) -> None:
    """Refuse, before anything runs, a link no backend opens and a report with no folder.

    Both used to surface only later: the link as an ERROR per scenario, the report
    after every scenario had run.
    """
    from pathlib import Path

    from emulator.errors import LinkError
    from emulator.han.link import backend, scheme_of

    if link is not None and link != "mqtt-embedded":
        try:
            backend(scheme_of(link))
        except LinkError as exc:
            fail(f"--link {link}: {exc}", EXIT_USAGE)
    for option, out in outputs.items():
        if out is not None and not Path(out).absolute().parent.is_dir():
            fail(f"{option} {out}: no folder {Path(out).absolute().parent}", EXIT_USAGE)
