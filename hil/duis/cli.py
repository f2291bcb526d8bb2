"""`smets-hil duis serve`: a lab behind DCC Boxed's DUIS interface, until Ctrl-C.

Where the credentials and the schema are (neither ships with the package): the
ZAZ1 JSON key store from `--keys` or SMETS_HIL_ZAZ1, the DUIS v5.4 schema folder
from `--schema` or SMETS_HIL_DUIS_SCHEMA; both default to the shared reference
folder beside the checkout (`../shared/...`). Responses and alerts go to
`--response-url` or SMETS_HIL_DUIS_RESPONSE_URL (`lab up --duis` reads only the
variable). As Boxed keeps a response address per user, `--response-url
USER=URL` (repeatable; USER an EUI-64 such as 90-B3-D5-1F-30-01-00-00) sends that
user's responses and alerts elsewhere; a bare URL is everyone else's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hil.boundary import EXIT_USAGE, fail

if TYPE_CHECKING:
    from hil.dcc.lab import Lab
    from hil.duis.server import DuisServer

DEFAULT_KEYS = Path("..") / "shared" / "reference" / "dccboxed_zaz1_keystore.json"
DEFAULT_SCHEMA = Path("..") / "shared" / "duis" / "schema"


def keys_path(given: str | None = None) -> Path:
    return Path(given or os.environ.get("SMETS_HIL_ZAZ1") or DEFAULT_KEYS)


def schema_path(given: str | None = None) -> Path:
    return Path(given or os.environ.get("SMETS_HIL_DUIS_SCHEMA") or DEFAULT_SCHEMA)


def response_addresses(given: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """(default URL, {user EUI-64: URL}) from `--response-url` values.

    Raises ValueError naming the bad value: a user that is not an EUI-64, or a URL
    that is not http(s).
    """
    from emulator.gbcs.eui import Eui64
    from hil.duis.xml import dashed

    default: str | None = None
    per_user: dict[str, str] = {}
    for value in given:
        user, sep, url = value.partition("=")
        if not sep:
            user, url = "", value
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--response-url {value!r}: not an http(s) URL")
        if not user:
            default = url
            continue
        try:
            per_user[dashed(Eui64(user))] = url
        except ValueError:
            raise ValueError(f"--response-url {value!r}: {user!r} is not an EUI-64") from None
    return default, per_user


def server_for(
    lab: Lab,
    *,
    keys: str | None = None,
    schema: str | None = None,
    response_url: str | None = None,
    response_urls: dict[str, str] | None = None,
    lab_keys: str | None = None,
) -> DuisServer:
    """A DUIS server in front of a started lab (raises HilError with a one-line reason).

    `lab_keys`: a folder where lab users without a ZAZ1 XML key get test credentials."""
    from hil.duis.server import DuisServer
    from hil.duis.signing import XmlCredentials, issue_lab_credentials
    from hil.duis.xml import load_schema

    if lab.dcc is None:
        raise RuntimeError("start the lab before its DUIS server")
    store = XmlCredentials.from_zaz1(keys_path(keys))
    if lab_keys is not None:
        ids = [eui for user in lab.dcc.users for eui in user.ids.values()]
        for eui in issue_lab_credentials(store, ids, lab_keys):
            click.echo(f"lab test XML credential for {eui} in {lab_keys}")
    return DuisServer(
        lab.dcc,
        store,
        load_schema(schema_path(schema)),
        response_url=response_url or os.environ.get("SMETS_HIL_DUIS_RESPONSE_URL"),
        response_urls=response_urls,
    )


@click.group("duis")
def duis_group() -> None:
    """DUIS over HTTP, as DCC Boxed serves it (docs/duis.md)."""


@duis_group.command("serve")
@click.option("--lab", "lab_file", metavar="LAB", help="lab file (default: labs/boxed.yaml)")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8079,
    show_default=True,
    help="DCC Boxed's DUIS port",
)
@click.option(
    "--keys", metavar="JSON", help="ZAZ1 key store (default: SMETS_HIL_ZAZ1 or ../shared)"
)
@click.option("--schema", metavar="DIR", help="DUIS v5.4 schema folder")
@click.option(
    "--response-url",
    "response_url",
    metavar="[USER=]URL",
    multiple=True,
    help="where responses and alerts are POSTed; USER=URL for one user (repeatable)",
)
@click.option(
    "--lab-keys",
    metavar="DIR",
    help="issue lab test XML credentials for users ZAZ1 has no key for, written to DIR",
)
@click.option("--clock", type=click.Choice(["real", "virtual"]), default="real", show_default=True)
def serve_command(
    lab_file: str | None,
    host: str,
    port: int,
    keys: str | None,
    schema: str | None,
    response_url: tuple[str, ...],
    lab_keys: str | None,
    clock: str,
) -> None:
    """Start a lab and serve DUIS in front of it until Ctrl-C or SIGTERM."""
    from emulator.errors import EmulatorError
    from hil.dcc.lab import Lab, LabSpec
    from hil.duis.server import DUIS_LAB
    from hil.errors import HilError

    try:
        default_url, per_user = response_addresses(response_url)
    except ValueError as exc:
        fail(f"duis serve: {exc}", EXIT_USAGE)
    if lab_keys is not None and Path(lab_keys).exists() and not Path(lab_keys).is_dir():
        fail(f"duis serve: --lab-keys {lab_keys}: a file, not a folder", EXIT_USAGE)

    async def run() -> None:
        spec = LabSpec.from_file(Path(lab_file) if lab_file else DUIS_LAB)
        spec.virtual = clock == "virtual"
        lab = Lab.build(spec)
        async with lab:
            server = server_for(
                lab,
                keys=keys,
                schema=schema,
                response_url=default_url,
                response_urls=per_user,
                lab_keys=lab_keys,
            )
            url = await server.start(host, port)
            print(f"DUIS for {spec.name} at {url}/api/v1/serviceS|T|D", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                await server.stop()

    try:
        asyncio.run(run())
    except (HilError, EmulatorError, OSError, ValueError) as exc:
        fail(f"duis serve: {exc}")
    sys.exit(0)
