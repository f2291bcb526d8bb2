"""Command-line entry points of the DCC layer: catalogue, eligibility, requests."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hil.dcc.catalogue import Role, format_duration, load_catalogue
from hil.dcc.eligibility import check, subject_from_flags
from hil.dcc.inventory import DeviceKind, SmiStatus
from hil.dcc.values import values_text
from hil.report.table import format_table, terminal_width

if TYPE_CHECKING:
    from hil.dcc.requestfile import RunReport
    from hil.dcc.requests import Result

ROLE_CHOICES = [r.value for r in Role] + [r.short for r in Role]
DEVICE_CHOICES = [k.value for k in DeviceKind]
STATUS_CHOICES = [s.value for s in SmiStatus]


def _role(value: str | None) -> Role | None:
    if value is None:
        return None
    try:
        return Role.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("catalogue")
@click.option(
    "--role", help="only the variants this role may use (name or IS/ES/GS/ED/GT/RSA/OU/LC)"
)
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def catalogue_command(role: str | None, as_json: bool) -> None:
    """List the service catalogue: roles, target response times, flags."""
    wanted = _role(role)
    variants = [v for v in load_catalogue() if wanted is None or wanted in v.roles]
    if as_json:
        data = [
            {
                "service_reference": v.reference,
                "variant": v.variant,
                "name": v.name,
                "roles": sorted(r.value for r in v.roles),
                "smets2_target_s": None
                if v.smets2_target is None
                else v.smets2_target.total_seconds(),
                "smets1_target_s": None
                if v.smets1_target is None
                else v.smets1_target.total_seconds(),
                "non_device": v.non_device,
                "smets2_only": v.smets2_only,
                "role_only": v.role_only,
                "notes": v.notes,
            }
            for v in variants
        ]
        click.echo(json.dumps(data, indent=2))
        return
    rows = [
        [
            v.variant,
            v.name,
            " ".join(sorted(r.short for r in v.roles)) or "(not used)",
            format_duration(v.smets2_target),
            format_duration(v.smets1_target),
            ("non-device " if v.non_device else "") + ("SMETS2+ only" if v.smets2_only else ""),
        ]
        for v in variants
    ]
    headers = ["variant", "name", "roles", "SMETS2+", "SMETS1", "flags"]
    click.echo(format_table(headers, rows, width=terminal_width(), shrink=[1]))
    click.echo(f"\n{len(variants)} variants")


@click.command("eligibility")
@click.option("--variant", required=True, help="service reference variant, e.g. 4.1.1")
@click.option("--role", "role_name", required=True, help="user role (name or short code)")
@click.option(
    "--device-type", required=True, type=click.Choice(DEVICE_CHOICES, case_sensitive=False)
)
@click.option("--status", required=True, type=click.Choice(STATUS_CHOICES, case_sensitive=False))
@click.option("--smets1", is_flag=True, help="the device is a SMETS1 device")
@click.option("--responsible", is_flag=True, help="the user is the device's Responsible Supplier")
@click.option("--json", "as_json", is_flag=True, help='print {"eligible": ..., "reason": ...}')
def eligibility_command(
    variant: str,
    role_name: str,
    device_type: str,
    status: str,
    smets1: bool,
    responsible: bool,
    as_json: bool,
) -> None:
    """Ask the eligibility rules directly (network operators and agents count as registered).

    Exit status 0 when the request is eligible, 1 when it is refused.
    """
    role = _role(role_name)
    assert role is not None
    subject = subject_from_flags(
        role,
        DeviceKind.parse(device_type),
        SmiStatus.parse(status),
        smets1=smets1,
        responsible=responsible,
    )
    decision = check(variant, role, subject)
    if as_json:
        click.echo(json.dumps(decision.as_dict()))
    else:
        verdict = "eligible" if decision.eligible else f"refused ({decision.reason})"
        click.echo(f"{verdict}: {decision.detail}")
    if not decision.eligible:
        click.echo(f"smets-hil: failed: refused ({decision.reason})", err=True)
        sys.exit(1)


def result_rows(report: RunReport) -> list[list[str]]:
    rows = []
    for r in report.all_results:
        timing = r.timing
        measured = timing.measured if timing is not None else None
        target = timing.target if timing is not None else None
        rows.append(
            [
                r.request.label or r.request_id,
                r.variant,
                r.request.user.name,
                r.request.category.value,
                r.status.value,
                r.reason if not r.ok else (r.use_case or "DCC"),
                "-" if measured is None else f"{measured * 1000:.1f} ms",
                _seconds_text(target),
                _detail(r),
            ]
        )
    return rows


def _detail(r: Result) -> str:
    """A refusal's or failure's reason, else the response's values, else its outcome."""
    summary = r.outcome.summary if r.outcome else ""
    return r.detail or values_text(r.values) or summary


RESULT_HEADERS = [
    "request",
    "variant",
    "user",
    "category",
    "status",
    "reason / use case",
    "time",
    "target",
    "detail",
]


def variant_rows(report: RunReport) -> list[list[str]]:
    return [
        [
            s.variant,
            str(s.count),
            f"{s.p50 * 1000:.1f}",
            f"{s.p95 * 1000:.1f}",
            f"{s.max * 1000:.1f}",
            _seconds_text(s.target),
            str(s.breaches),
        ]
        for s in report.dcc.timings.per_variant()
    ]


#: The free-text columns of RESULT_HEADERS (request name, detail): cut to fit a terminal.
RESULT_SHRINK = (0, 8)

VARIANT_HEADERS = ["variant", "count", "p50 ms", "p95 ms", "max ms", "target", "breaches"]


def _seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size and value % size == 0 and not (unit == "d" and value == 86400):
            return f"{value / size:g} {unit}"
    return f"{value:g} s"


@click.command("requests")
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(exists=True, dir_okay=False),
    help="lab file to run the requests on (default: the request file's 'lab:' key)",
)
@click.option("--json", "as_json", is_flag=True, help="results and response times as JSON")
def requests_command(request_file: str, lab_file: str | None, as_json: bool) -> None:
    """Run a YAML file of service requests against a lab; report results and response times.

    Exit status 1 when an `expect:` in the file does not hold or the lab cannot run
    (a lab file that does not load, a HAN link or broker that cannot be reached).
    """
    from hil.dcc.lab import LabError
    from hil.dcc.requestfile import RequestFileError, run_file

    lab = _check_files(request_file, lab_file)
    try:
        report = asyncio.run(run_file(request_file, lab_file))
    except (LabError, RequestFileError) as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:  # a value in the lab file its loader let through (a link URL)
        raise click.ClickException(f"{lab}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=_json_default))
    else:
        click.echo(
            format_table(
                RESULT_HEADERS, result_rows(report), width=terminal_width(), shrink=RESULT_SHRINK
            )
        )
        click.echo("")
        click.echo(format_table(VARIANT_HEADERS, variant_rows(report)))
        for failure in report.failed_expectations:
            click.echo(f"EXPECTATION FAILED: {failure}", err=True)
    if not report.ok:
        sys.exit(1)


def _check_files(path: str, lab_file: str | None) -> Path | str:
    """Load the request file before the lab starts; returns the lab's path.

    Both loaders (hil.files) report every fault of a file, encoding and shape
    included, as one line naming the file and line.
    """
    from hil.dcc.requestfile import RequestFile, RequestFileError

    try:
        request_file = RequestFile.load(path)
    except RequestFileError as exc:
        raise click.ClickException(str(exc)) from None
    lab = lab_file or request_file.lab
    return path if lab is None else lab


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
