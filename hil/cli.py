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
from emulator.pki.folder import parse_key_file_name
from emulator.pki.open import open_keystore
from hil.boundary import EUI64, EXIT_FAILED, PROG, Cli
from hil.corpus import HexError, hex_problem, parse_hex, read_hex_file


def _security(keys: str | None, acb: Eui64) -> MessageSecurity | None:
    if keys is None:
        return None
    path = Path(keys)
    if path.is_dir():
        _check_key_folder(path)
    try:
        return MessageSecurity(open_keystore(path), acb)
    except (OSError, UnicodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # A ZAZ1 file that is not JSON of the expected shape fails anywhere in its loader.
        raise click.BadParameter(f"{keys}: not a key store: {exc}", param_hint="--keys") from None


def _check_key_folder(folder: Path) -> None:
    """A folder without key files, or with one that is not PEM, is the wrong folder.

    Keys load lazily (a run needs a few of hundreds), so a corrupt file would
    otherwise only show as "not checked" on the messages that need it.
    """
    files = [p for p in sorted(folder.iterdir()) if parse_key_file_name(p.name)]
    if not files:
        raise click.BadParameter(
            f"{folder}: no key files (<eui>-ds.pem, <eui>-ka.key, ...) in this folder",
            param_hint="--keys",
        )
    for file in files:
        with file.open("rb") as fh:
            head = fh.read(4096)
        if b"-----BEGIN " not in head:
            raise click.BadParameter(f"{file}: not a PEM file", param_hint="--keys")


def _read_message(value: str, hint: str = "HEX_OR_FILE") -> bytes:
    """A HEX_OR_FILE value: a file holding hex, or hex itself; errors name `hint`."""
    try:
        path = Path(value)
        is_file = len(value) < 4096 and path.is_file()  # a long argument is hex
    except (OSError, ValueError):  # too long a name, or a NUL byte in it
        is_file = False
    if not is_file:
        problem = hex_problem(value)
        if problem is not None:
            raise click.BadParameter(f"not a file and {problem}", param_hint=hint)
        return parse_hex(value, hint)
    try:
        return read_hex_file(path)
    except (HexError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


@click.group(cls=Cli)
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
    "--acb",
    type=EUI64,
    default=str(DEFAULT_ACB),
    show_default=True,
    help="Access Control Broker EUI-64.",
)
@click.option(
    "--command",
    "command",
    metavar="HEX_OR_FILE",
    help="The command a response answers: names the items of a DLMS response.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def gbcs_decode(
    hex_or_file: str, keys: str | None, acb: Eui64, command: str | None, as_json: bool
) -> None:
    """Print the decoded tree of one message, its named values, and whether signature and
    MAC verify.

    Exit status 1 when anything checked fails (parse, re-encoding, signature,
    MAC, payload, decryption), 2 when the input is not a message in hex.
    """
    sent = None if command is None else _read_message(command, "--command")
    result = inspect_message(_read_message(hex_or_file), _security(keys, acb), sent)
    data = result.to_json()
    if as_json:
        _emit(data)
    else:
        for line in render_text({k: v for k, v in data.items() if k != "values"}):
            click.echo(line)
        if data.get("values"):
            click.echo("values:")
            for value in data["values"]:
                where = f"  ({value['source']})" if value.get("source") else ""
                click.echo(f"  {value['name']}: {value['text']}{where}")
        sec = data.get("security")
        if sec is not None:
            click.echo(
                f"signature: {_verdict(sec['signature_valid'])}   mac: {_verdict(sec['mac_valid'])}"
            )
        elif keys is None:
            click.echo("signature/mac: not checked (give --keys)")
    if result.failures:
        stages = ", ".join(sorted({stage for stage, _ in result.failures}))
        click.echo(f"{PROG}: failed: {stages}", err=True)
        sys.exit(EXIT_FAILED)


def _verdict(value: bool | None) -> str:
    return {None: "absent or not checked", True: "valid", False: "INVALID"}[value]


@gbcs.command("corpus")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--keys", type=click.Path(exists=True), help="Key store: RTDS-layout folder or ZAZ1 JSON."
)
@click.option(
    "--acb",
    type=EUI64,
    default=str(DEFAULT_ACB),
    show_default=True,
    help="Access Control Broker EUI-64.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def gbcs_corpus(folder: str, keys: str | None, acb: Eui64, as_json: bool) -> None:
    """Parse, re-encode, verify and decode every *.HEX file under FOLDER.

    Exit status 1 when a file fails a stage or the folder holds no *.HEX file.
    """
    from hil.corpus import run_corpus

    report = run_corpus(Path(folder), _security(keys, acb)).to_json()
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_corpus(report)
    if report["total"] == 0:
        click.echo(f"{PROG}: failed: no *.HEX files under {folder}", err=True)
        sys.exit(EXIT_FAILED)
    if report["failures"]:
        click.echo(f"{PROG}: failed: {len(report['failures'])} failures", err=True)
        sys.exit(EXIT_FAILED)


def _print_corpus(report: dict[str, Any]) -> None:
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
@click.option(
    "--export-keys",
    type=click.Path(file_okay=False),
    help="Write a keystore (RTDS layout) that verifies and decrypts every dumped response.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--min-matched",
    type=click.IntRange(min=1),
    help="Pass when at least this many commands match (default: every command must match).",
)
def conformance(
    folder: str,
    keys: str,
    dump: str | None,
    export_keys: str | None,
    as_json: bool,
    min_matched: int | None,
) -> None:
    """Replay every *_COMMAND_GBCS.HEX to an emulated device and compare the responses.

    Exit status 1 when a command mismatches or has no reference response (or
    fewer than --min-matched match) or FOLDER holds no command.
    """
    from hil.conformance import export_keys as write_keys
    from hil.conformance import run_conformance

    _check_key_folder(Path(keys))
    report = run_conformance(Path(folder), Path(keys), Path(dump) if dump else None).to_json()
    if export_keys:
        report["keys_exported"] = len(write_keys(Path(keys), Path(export_keys)))
    if as_json:
        click.echo(json.dumps(report))
    else:
        for key in (
            "use_cases_total",
            "use_cases_matched",
            "commands_total",
            "commands_matched",
            "commands_without_reference",
        ):
            click.echo(f"{key:>26}: {report[key]}")
        if export_keys:
            click.echo(f"wrote {report['keys_exported']} key files to {export_keys}")
        for item in report["mismatches"]:
            click.echo(f"  MISMATCH {item['file']}: {item['reason']}")
        for name in report["without_reference"]:
            click.echo(f"  NO REFERENCE {name}")
    total, matched = report["commands_total"], report["commands_matched"]
    if total == 0:
        click.echo(f"{PROG}: failed: no *_COMMAND_GBCS.HEX under {folder}", err=True)
        sys.exit(EXIT_FAILED)
    needed = total if min_matched is None else min_matched
    if matched < needed:
        click.echo(
            f"{PROG}: failed: {matched} of {total} commands matched, {needed} needed", err=True
        )
        sys.exit(EXIT_FAILED)


@main.command()
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
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(dir_okay=False),
    help="Be this lab's device of --eui (its seed, hub, GPF, registered users' keys).",
)
@click.option(
    "--format",
    "line_format",
    type=click.Choice(["envelope", "gfi"]),
    default="envelope",
    show_default=True,
    help="What the port carries: HAN envelopes in frames, or GFI text lines (docs/hardware.md).",
)
@click.option(
    "--console",
    "console_path",
    type=click.Path(dir_okay=False),
    help="Serve the board's debug console on this Unix socket (set its clock, its load).",
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
    lab_file: str | None,
    line_format: str,
    console_path: str | None,
) -> None:
    """Run one emulated device on a link until interrupted (Ctrl-C, SIGTERM).

    Bad input or a lost link: one line on stderr, exit status 1.
    """
    import asyncio

    from hil.boundary import fail
    from hil.errors import HilError
    from hil.standalone import run_device

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
                    lab_file,
                    line_format,
                    console_path,
                )
            )
    except (HilError, EmulatorError) as exc:
        fail(exc)


@main.command("board-console")
@click.argument("socket_path", type=click.Path(dir_okay=False))
@click.argument("command", nargs=-1, required=True)
def board_console(socket_path: str, command: tuple[str, ...]) -> None:
    """Send one command to an emulated board's debug console (hil/board_console.py).

    What a bench hook runs, e.g. `smets-hil board-console /tmp/esme.sock clock
    2026-01-02T00:00:00Z`. Prints the answer; a refusal is one line, exit 1.
    """
    import asyncio

    from hil.board_console import send_command
    from hil.boundary import fail
    from hil.errors import HilError

    try:
        click.echo(asyncio.run(send_command(socket_path, " ".join(command))))
    except HilError as exc:
        fail(exc)


@main.group()
def wire() -> None:
    """The HAN wire protocol on a real port (docs/wire-protocol.md)."""


@wire.command("check")
@click.option("--link", "link_url", required=True, help="Port of the device: tty, socket://, ...")
@click.option("--eui", default="00-DB-12-34-56-78-90-A0", show_default=True, help="The device.")
@click.option("--hub", "hub_eui", default="00-DB-12-34-56-78-90-A2", show_default=True)
@click.option("--seed", default="smets-hil-lab", show_default=True, help="Lab PKI seed.")
@click.option("--reply-within", type=float, default=2.0, show_default=True, help="Seconds.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds.")
@click.option(
    "--join-wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait first for the JOIN of a device started unjoined.",
)
@click.option("--install-code", help="The device's install code (hex), to check its JOIN proof.")
def wire_check(
    link_url: str,
    eui: str,
    hub_eui: str,
    seed: str,
    reply_within: float,
    timeout: float,
    join_wait: float,
    install_code: str | None,
) -> None:
    """Exercise a device shim on a port; one line per finding, exit 1 if any failed."""
    import asyncio

    from hil.boundary import fail
    from hil.errors import HilError
    from hil.wire import check_device, failed

    code = None
    if install_code is not None:
        try:
            code = bytes.fromhex(install_code)
        except ValueError:
            fail(f"--install-code {install_code!r}: not hex")
    try:
        findings = asyncio.run(
            check_device(
                link_url,
                eui,
                hub=hub_eui,
                seed=seed,
                reply_within=reply_within,
                timeout=timeout,
                install_code=code,
                join_wait=join_wait,
            )
        )
    except (HilError, EmulatorError) as exc:
        fail(exc)
    for finding in findings:
        click.echo(finding.line())
    if failed(findings):
        sys.exit(1)


@main.group()
def pki() -> None:
    """The lab's test PKI (every certificate marked TEST)."""


@pki.command("export")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--seed", default="smets-hil-lab", show_default=True, help="Lab PKI seed.")
@click.option(
    "--device",
    "device_euis",
    type=EUI64,
    multiple=True,
    help="Also export keys for this device EUI-64 (repeatable).",
)
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Export this lab's PKI: its users, their parties and its devices (seed from the file).",
)
@click.option("--no-private", is_flag=True, help="Certificates only, no private keys.")
def pki_export(
    folder: str, seed: str, device_euis: tuple[Eui64, ...], lab_file: str | None, no_private: bool
) -> None:
    """Write certificates and keys as <eui>-ds.pem, <eui>-ka.key, ... (the RTDS keystore naming)."""
    from emulator.premises import DEFAULT_DEVICES, device_eui, lab_pki

    if lab_file is not None:
        from hil.dcc.lab import Lab

        the_pki = Lab.load(lab_file).pki
    else:
        the_pki, _ = lab_pki(seed)
        for spec in (*DEFAULT_DEVICES, ("CHF", 0xA2), ("GPF", 0xA3)):
            the_pki.device(device_eui(0x00DB123456789000, spec[1]), str(spec[0]))
    for eui in device_euis:
        the_pki.device(eui, "device")
    try:
        written = the_pki.export(folder, include_private=not no_private)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {exc.filename or folder}: {exc.strerror}"
        ) from None
    click.echo(f"wrote {len(written)} files to {folder}")


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="out",
    show_default=True,
    help="Where the scenario report (report.html, junit.xml, record.json) goes.",
)
def demo(out: str) -> None:
    """Run the demo lab (what `make demo` runs).

    A premises of emulated devices answers a batch of service requests through
    the DCC layer (results, refusals with reasons, response times); a scenario
    pack runs on the same lab (reads, a critical command, a HAN link going down
    and recovering, a lossy HAN) and its report is written to --out; then the
    codec decodes and verifies messages built with the test PKI and, when
    SMETS_HIL_RTDS or ../shared/rtds holds them, a few reference messages.
    Exit status 1 when a request does not end as the request file expects or a
    scenario fails.
    """
    from hil.demo import run

    sys.exit(run(click.echo, Path(out)))


def _register_dcc_commands() -> None:
    from hil.dcc.cli import catalogue_command, eligibility_command, requests_command

    main.add_command(catalogue_command)
    main.add_command(eligibility_command)
    main.add_command(requests_command)


from hil.duis.cli import duis_group  # noqa: E402 (a command group of its own module)
from hil.firmware import firmware_group  # noqa: E402 (a command group of its own module)
from hil.fleet.cli import fleet_group  # noqa: E402 (a command group of its own module)
from hil.live.cli import lab_group  # noqa: E402 (a command group of its own module)
from hil.scenario.cli import run_command  # noqa: E402 (a command of its own module)
from hil.send import send_command  # noqa: E402 (a command of its own module)

_register_dcc_commands()
main.add_command(send_command)
main.add_command(lab_group)
main.add_command(run_command)
main.add_command(firmware_group)
main.add_command(duis_group)
main.add_command(fleet_group)

if __name__ == "__main__":
    main()
