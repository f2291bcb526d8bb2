"""`smets-hil send`: one service request (or one raw GBCS command) to a device on a link.

A bench has a device running on its own (`smets-hil device ...`, or real
hardware behind a serial shim or MQTT) and wants to poke it without writing
Python. This is a lab without emulated devices: `Lab.load` gives the users, the
inventory, the registration data and the hub's CHF and GPF; the lab's own
emulated devices are left out, so the hub forwards to whatever answers on the
link. A service request goes through the DCC exactly as in `smets-hil requests`
(eligibility, routing, signing as the user, the ACB's MAC); a raw command goes
to the hub as it is.

Exit status: 0 when the device answered with success, 1 when the request was
refused, the device answered with a failure or rejected the command, or the
input is bad, 3 when nothing answered within the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from emulator.errors import EmulatorError
from hil.boundary import fail
from hil.errors import HilError
from hil.standalone import check_link_url

if TYPE_CHECKING:  # the DCC and the hub load when the command runs, not with the CLI
    from emulator.gbcs.eui import Eui64
    from emulator.gbcs.security import MessageSecurity
    from emulator.premises import Premises
    from hil.dcc.lab import Lab
    from hil.dcc.requests import Result

#: Exit status when nothing answered within the timeout (1: refused or failed).
NO_ANSWER = 3


class SendError(HilError):
    """Bad input to `send`, found before anything goes on the link."""


@dataclass
class Answer:
    """What came back: the response (if any) and how the request ended."""

    ok: bool
    timed_out: bool
    summary: str
    response: bytes | None = None
    result: Result | None = None


def parse_params(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are YAML scalars, as in a request file (``3`` is a number)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SendError(f"--param {pair!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            params[key.strip()] = value
    return params


def parse_raw(text: str) -> bytes:
    """A raw command: hex on the command line or in a file; it must be a GBCS command."""
    source = text
    if len(text) < 4096:
        with contextlib.suppress(OSError, ValueError):
            path = Path(text)
            if path.is_file():
                source = path.read_bytes().decode("ascii", errors="replace")
    from emulator.errors import GbcsError
    from emulator.gbcs.frame import Cra, decode_message

    cleaned = "".join(source.split()).replace("-", "")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise SendError("--raw: not hexadecimal and not a file of hexadecimal") from None
    try:
        message = decode_message(raw)
    except GbcsError as exc:
        raise SendError(f"--raw: not a GBCS message: {exc}") from None
    if message.cra != Cra.COMMAND:
        raise SendError(f"--raw: a {message.cra.name.lower()}, not a command")
    return raw


def load_lab(lab_file: str | Path | None, link_url: str) -> Lab:
    """The lab (default: the demo lab) on a real clock, its HAN on `link_url`."""
    from emulator.clock import RealClock
    from hil.dcc.lab import DEFAULT_LAB, Lab

    check_link_url(link_url)
    try:
        return Lab.load(lab_file or DEFAULT_LAB, clock=RealClock(), link=link_url)
    except (OSError, ValueError, KeyError, TypeError, EmulatorError, HilError) as exc:
        raise SendError(f"--lab {lab_file}: {exc}") from None


def _premises_for(lab: Lab, eui: Eui64) -> Premises:
    for premises in lab.premises:
        hosted = (bytes(premises.chf.eui), bytes(premises.gpf.eui))
        if bytes(eui) in hosted or premises.chf.admits(eui):
            return premises
    raise SendError(f"{eui} is not in the CHF Device Log of any premises of the lab")


@contextlib.asynccontextmanager
async def hub_on_link(lab: Lab, target: Eui64) -> AsyncIterator[Premises]:
    """Start the lab's DCC and the hub of `target`'s premises, without emulated devices.

    The devices on the link are someone else's (a `smets-hil device` process, a
    device under test); a gas meter among them is registered as sleepy, so the
    hub queues for it until it wakes, as for an emulated one.
    """
    from emulator.clock import RealClock
    from emulator.devices.base import DeviceType
    from hil.dcc.lab import external_counter_offset
    from hil.utrn import KeptUtrnCounters, utrn_counter_file

    premises = _premises_for(lab, target)
    lab.premises = [premises]
    sleepy = [d.eui for d in premises.devices.values() if d.device_type == DeviceType.GSME]
    theirs = [*premises.devices, *lab.externals]  # every device here is on a link
    premises.devices.clear()
    try:
        await lab.start()
        assert premises.hub is not None and lab.dcc is not None
        # Whatever answers may have seen a lab's counters (docs/hardware.md).
        lab.dcc.counter_offset = external_counter_offset(RealClock().now(), lab.clock.now())
        lab.dcc.utrn_counters = KeptUtrnCounters(utrn_counter_file(), theirs)
        for eui in sleepy:
            premises.hub.register_sleepy(eui)
        yield premises
    finally:
        await lab.stop()


async def send_request(
    lab: Lab,
    variant: str,
    target: str,
    user: str,
    *,
    role: str | None = None,
    params: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One on-demand service request through the DCC, waiting at most `timeout` s."""
    from hil.dcc.catalogue import Role, load_catalogue

    if load_catalogue().get(variant.strip()) is None:
        raise SendError(f"unknown service reference variant {variant!r} (see smets-hil catalogue)")
    sender = lab.users.get(user)
    if sender is None:
        known = ", ".join(sorted(u.name for u in lab.users))
        raise SendError(f"--user {user!r}: not a user of the lab (known: {known})")
    try:
        eui = lab.eui(target)
        chosen = Role.parse(role) if role is not None else None
    except (ValueError, EmulatorError) as exc:
        raise SendError(str(exc)) from None
    async with hub_on_link(lab, eui):
        assert lab.dcc is not None
        lab.dcc.response_timeout = timeout
        result = await lab.dcc.request(
            variant, as_user=sender, target=eui, role=chosen, params=params, wait=False
        )
        with contextlib.suppress(TimeoutError):
            await result.wait(timeout + 5.0)  # the DCC itself gives up after `timeout`
        if not result.done:
            summary = f"{result.variant}: no answer within {timeout} s"
            return Answer(False, True, summary, None, result)
    outcome = result.outcome.summary if result.outcome is not None else ""
    summary = f"{result.variant} {result.status.value}"
    if not result.ok:
        summary += f": {result.reason}"
    if result.detail or outcome:
        summary += f" ({result.detail or outcome})"
    return Answer(result.ok, result.reason == "NO_RESPONSE", summary, result.response, result)


async def send_raw(lab: Lab, command: bytes, *, timeout: float = 10.0) -> Answer:
    """A GBCS command as it is, through the hub of its recipient's premises."""
    from emulator.gbcs.frame import decode_message
    from emulator.hub import CommandRejected, HubError, NotAdmitted, ResponseTimeout
    from hil.dcc.outcome import summarise

    message = decode_message(command)
    async with hub_on_link(lab, message.recipient) as premises:
        hub = premises.hub
        assert hub is not None
        try:
            response = await hub.send(command, timeout=timeout)
        except ResponseTimeout as exc:
            return Answer(False, True, f"NO_RESPONSE: {exc}")
        except (NotAdmitted, CommandRejected) as exc:
            return Answer(False, False, f"{type(exc).__name__}: {exc}")
        except (HubError, EmulatorError) as exc:
            return Answer(False, False, f"LINK_ERROR: {exc}")
    outcome = summarise(decode_message(response))
    return Answer(outcome.ok, False, outcome.summary, response)


def lab_security(lab: Lab) -> MessageSecurity:
    """What a lab user holds to check and open a response (the lab keystore, the ACB)."""
    from emulator.devices.anchors import AnchorRole
    from emulator.gbcs.security import MessageSecurity

    acb = lab.premises[0].parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
    return MessageSecurity(lab.pki.keystore, acb)


@click.command("send")
@click.argument("variant", required=False)
@click.option(
    "--link", "link_url", required=True, help="Where the device is: serial port, pty, mqtt://."
)
@click.option("--to", "target", help="Target device: an EUI-64 or a lab name (ESME, GSME, ...).")
@click.option("--user", "user_name", help="The lab user sending the request (e.g. supplier).")
@click.option("--role", help="The user's role, when it has several (name or IS/ES/GS/ED/...).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Request parameter.")
@click.option("--raw", metavar="HEX_OR_FILE", help="Send this GBCS command as is instead.")
@click.option(
    "--lab",
    "lab_file",
    default=None,
    show_default="the demo lab",
    help="Lab file: users, devices, registration (docs/dcc.md).",
)
@click.option("--timeout", type=click.FloatRange(min=0.01), default=10.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def send_command(
    variant: str | None,
    link_url: str,
    target: str | None,
    user_name: str | None,
    role: str | None,
    params: tuple[str, ...],
    raw: str | None,
    lab_file: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Send one service request VARIANT (or --raw command) to a device on a link; print the answer.

    Exit status 0 on success, 1 on a refusal or failure, 3 when nothing answers in time.
    """
    try:
        if (variant is None) == (raw is None):
            raise SendError("give a service reference variant (e.g. 4.1.1) or --raw, not both")
        if raw is not None:
            command = parse_raw(raw)
            lab = load_lab(lab_file, link_url)
            answer = asyncio.run(send_raw(lab, command, timeout=timeout))
        else:
            assert variant is not None
            if target is None or user_name is None:
                raise SendError("a service request needs --to DEVICE and --user NAME")
            request_params = parse_params(params)
            lab = load_lab(lab_file, link_url)
            answer = asyncio.run(
                send_request(
                    lab,
                    variant,
                    target,
                    user_name,
                    role=role,
                    params=request_params,
                    timeout=timeout,
                )
            )
    except (HilError, EmulatorError) as exc:
        fail(exc)
    _print(answer, lab_security(lab), as_json)
    if not answer.ok:
        sys.exit(NO_ANSWER if answer.timed_out else 1)


def _print(answer: Answer, security: MessageSecurity, as_json: bool) -> None:
    from emulator.gbcs.inspection import inspect_message
    from emulator.gbcs.tree import render_text

    decoded = None
    if answer.response is not None:
        decoded = inspect_message(answer.response, security).to_json()
    if as_json:
        data = {
            "ok": answer.ok,
            "summary": answer.summary,
            "result": None if answer.result is None else answer.result.as_dict(),
            "response": None if answer.response is None else answer.response.hex().upper(),
            "decoded": decoded,
        }
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(answer.summary)
    if decoded is not None:
        for line in render_text(decoded):
            click.echo(line)
