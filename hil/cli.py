"""The `smets-hil` command line: click parses, the library acts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from emulator.errors import EmulatorError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.inspection import inspect_message
from emulator.gbcs.security import DEFAULT_ACB, MessageSecurity
from emulator.gbcs.tree import render_text
from emulator.pki.open import open_keystore


def _security(keys: str | None, acb: str) -> MessageSecurity | None:
    if keys is None:
        return None
    try:
        return MessageSecurity(open_keystore(keys), Eui64(acb))
    except (FileNotFoundError, EmulatorError) as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None


def _read_message(value: str) -> bytes:
    text = value
    if len(value) < 4096:  # a long argument is hex, and too long to be a file name
        try:
            path = Path(value)
            if path.is_file():
                text = path.read_text()
        except OSError:
            pass
    cleaned = "".join(text.split()).replace("-", "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise click.BadParameter(
            "not a file and not hexadecimal", param_hint="HEX_OR_FILE"
        ) from None


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


@click.group()
@click.version_option(package_name="smets-hil")
def main() -> None:
    """GB smart-metering emulator and hardware-in-the-loop harness."""


@main.group()
def gbcs() -> None:
    """Decode, verify and measure GBCS messages."""


@gbcs.command("decode")
@click.argument("hex_or_file")
@click.option(
    "--keys", type=click.Path(exists=True), help="Key store: RTDS-layout folder or ZAZ1 JSON."
)
@click.option(
    "--acb", default=str(DEFAULT_ACB), show_default=True, help="Access Control Broker EUI-64."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def gbcs_decode(hex_or_file: str, keys: str | None, acb: str, as_json: bool) -> None:
    """Print the decoded tree of one message and whether signature and MAC verify."""
    result = inspect_message(_read_message(hex_or_file), _security(keys, acb))
    data = result.to_json()
    if as_json:
        _emit(data)
    else:
        for line in render_text(data):
            click.echo(line)
        sec = data.get("security")
        if sec is not None:
            click.echo(
                f"signature: {_verdict(sec['signature_valid'])}   mac: {_verdict(sec['mac_valid'])}"
            )
        elif keys is None:
            click.echo("signature/mac: not checked (give --keys)")
    if result.message is None:
        sys.exit(2)


def _verdict(value: bool | None) -> str:
    return {None: "absent or not checked", True: "valid", False: "INVALID"}[value]


@gbcs.command("corpus")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--keys", type=click.Path(exists=True), help="Key store: RTDS-layout folder or ZAZ1 JSON."
)
@click.option(
    "--acb", default=str(DEFAULT_ACB), show_default=True, help="Access Control Broker EUI-64."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def gbcs_corpus(folder: str, keys: str | None, acb: str, as_json: bool) -> None:
    """Parse, re-encode, verify and decode every *.HEX file under FOLDER."""
    from hil.corpus import run_corpus

    report = run_corpus(Path(folder), _security(keys, acb)).to_json()
    if as_json:
        click.echo(json.dumps(report))
        return
    for key in (
        "total",
        "parsed",
        "reencoded_identical",
        "signatures_checked",
        "signatures_valid",
        "macs_checked",
        "macs_valid",
        "payloads_decoded",
    ):
        click.echo(f"{key:>22}: {report[key]}")
    for item in report["not_checked"]:
        click.echo(f"  not checked: {item['file']}: {item['reason']}")
    for item in report["failures"]:
        click.echo(f"  FAILED {item['stage']}: {item['file']}: {item['error']}")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--keys",
    type=click.Path(exists=True, file_okay=False),
    required=True,
    help="The reference keystore folder (remote party keys, device certificates).",
)
@click.option(
    "--dump", type=click.Path(file_okay=False), help="Write our responses here as .HEX files."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def conformance(folder: str, keys: str, dump: str | None, as_json: bool) -> None:
    """Replay every *_COMMAND_GBCS.HEX to an emulated device and compare the responses."""
    from hil.conformance import run_conformance

    report = run_conformance(Path(folder), Path(keys), Path(dump) if dump else None).to_json()
    if as_json:
        click.echo(json.dumps(report))
        return
    for key in ("use_cases_total", "use_cases_matched", "commands_total", "commands_matched"):
        click.echo(f"{key:>18}: {report[key]}")
    for item in report["mismatches"]:
        click.echo(f"  MISMATCH {item['file']}: {item['reason']}")


@main.command()
def demo() -> None:
    """Show the codec at work on built and reference messages (what `make demo` runs)."""
    from hil.demo import run

    sys.exit(run(click.echo))


if __name__ == "__main__":
    main()
