"""The `smets-hil` command line: click parses, the library acts."""

from __future__ import annotations

import contextlib
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
from hil.standalone import OneLineCommand


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


@main.command(cls=OneLineCommand)
@click.argument(
    "device_type", type=click.Choice(["esme", "gsme", "chf", "gpf", "ppmid", "ihd", "hcalcs"])
)
@click.option("--eui", required=True, help="EUI-64 of the device, e.g. 00-DB-12-34-56-78-90-A0.")
@click.option(
    "--link",
    "link_url",
    required=True,
    help="Serial port or pyserial URL (socket://, rfc2217://), mqtt://host:port/LAB.",
)
@click.option(
    "--hub",
    "hub_eui",
    default="00-DB-12-34-56-78-90-A2",
    show_default=True,
    help="EUI-64 of the hub (CHF).",
)
@click.option(
    "--gpf",
    "gpf_eui",
    default="00-DB-12-34-56-78-90-A3",
    show_default=True,
    help="EUI-64 of the GPF (gas mirror).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    help="Save state here after every message; resume from it.",
)
@click.option(
    "--seed",
    default="smets-hil-lab",
    show_default=True,
    help="Lab PKI seed (keys of the device and the lab parties).",
)
@click.option(
    "--variant",
    type=click.Choice(["any", "single", "twin", "polyphase"]),
    help="ESME only: which use cases the meter implements (default: any, all of them).",
)
@click.option(
    "--no-auxiliary",
    is_flag=True,
    help="ESME only: no auxiliary load control switches (their use cases unsupported).",
)
def device(
    device_type: str,
    eui: str,
    link_url: str,
    hub_eui: str,
    gpf_eui: str,
    state_file: str | None,
    seed: str,
    variant: str | None,
    no_auxiliary: bool,
) -> None:
    """Run one emulated device on a link until interrupted (Ctrl-C, SIGTERM).

    Bad input or a lost link: one line on stderr, exit status 1.
    """
    import asyncio

    from hil.errors import HilError
    from hil.standalone import fail, run_device

    options: dict[str, Any] = {}
    if variant is not None or no_auxiliary:
        if device_type != "esme":
            fail("--variant and --no-auxiliary are for an ESME")
        options = {"variant": variant or "any", "auxiliary": not no_auxiliary}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_device(
                    device_type,
                    eui,
                    link_url,
                    hub_eui,
                    gpf_eui,
                    state_file,
                    seed,
                    click.echo,
                    options,
                )
            )
    except (HilError, EmulatorError) as exc:
        fail(exc)


@main.group()
def pki() -> None:
    """The lab's test PKI (every certificate marked TEST)."""


@pki.command("export")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--seed", default="smets-hil-lab", show_default=True, help="Lab PKI seed.")
@click.option(
    "--device",
    "device_euis",
    multiple=True,
    help="Also export keys for this device EUI-64 (repeatable).",
)
@click.option("--no-private", is_flag=True, help="Certificates only, no private keys.")
def pki_export(folder: str, seed: str, device_euis: tuple[str, ...], no_private: bool) -> None:
    """Write certificates and keys as <eui>-ds.pem, <eui>-ka.key, ... (the RTDS keystore naming)."""
    from emulator.premises import DEFAULT_DEVICES, device_eui, lab_pki

    the_pki, _ = lab_pki(seed)
    for spec in (*DEFAULT_DEVICES, ("CHF", 0xA2), ("GPF", 0xA3)):
        the_pki.device(device_eui(0x00DB123456789000, spec[1]), str(spec[0]))
    for text in device_euis:
        the_pki.device(Eui64(text), "device")
    written = the_pki.export(folder, include_private=not no_private)
    click.echo(f"wrote {len(written)} files to {folder}")


@main.command()
def demo() -> None:
    """Show the codec at work on built and reference messages (what `make demo` runs)."""
    from hil.demo import run

    sys.exit(run(click.echo))


def _register_dcc_commands() -> None:
    from hil.dcc.cli import catalogue_command, eligibility_command, requests_command

    main.add_command(catalogue_command)
    main.add_command(eligibility_command)
    main.add_command(requests_command)


from hil.send import send_command  # noqa: E402 (a command of its own module)

_register_dcc_commands()
main.add_command(send_command)

if __name__ == "__main__":
    main()
