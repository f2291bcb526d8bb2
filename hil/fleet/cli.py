"""`smets-hil fleet`: run a fleet of premises across worker processes over a broker.

Exit status: 0 when every request of every premises got its response and no
worker was lost, 1 when a request failed, a worker was lost or the broker
cannot be reached, 2 for a usage error (a bad option or mix file).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from hil.boundary import EXIT_USAGE, fail


@contextlib.asynccontextmanager
async def _broker(spec: str) -> AsyncIterator[str]:
    """``embedded`` (amqtt in this process), ``mosquitto`` (a subprocess) or an mqtt:// URL."""
    from emulator.han.broker import EmbeddedBroker, MosquittoBroker

    if spec == "embedded":
        async with EmbeddedBroker() as embedded:
            yield embedded.url
    elif spec == "mosquitto":
        async with MosquittoBroker() as mosquitto:
            yield mosquitto.url
    else:
        from emulator.han.mqtt import parse_mqtt_url

        parse_mqtt_url(spec)
        yield spec


def _progress(live: Any) -> Any:
    from hil.fleet.coordinator import Coordinator
    from hil.fleet.report import live_table

    last = [0.0]

    def show(c: Coordinator) -> None:
        if live is not None:
            live.update(live_table(c))
            return
        now = time.monotonic()
        if now - last[0] >= 2.0 or c.phase == "done":
            last[0] = now
            sent = sum(s.sent for s in c.shards.values())
            failed = sum(s.failed for s in c.shards.values())
            lost = sum(1 for s in c.shards.values() if s.lost)
            built = sum(s.built for s in c.shards.values())
            click.echo(
                f"fleet {c.phase}: built {built}, sent {sent}, failed {failed}, "
                f"lost workers {lost}, {c.rate():.0f} req/s"
            )

    return show


@click.group("fleet", invoke_without_command=True)
@click.option("--premises", "premises", type=int, help="Premises in the fleet (N).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes (W).")
@click.option(
    "--broker",
    default="embedded",
    show_default=True,
    help="embedded (amqtt here), mosquitto (started here) or mqtt://HOST:PORT.",
)
@click.option("--mix", "mix_file", type=click.Path(dir_okay=False), help="The MIX.yaml file.")
@click.option("--duration", type=float, default=10.0, show_default=True, help="Seconds.")
@click.option("--seed", default="smets-hil-fleet", show_default=True)
@click.option("--run", "run_name", default="fleet", show_default=True, help="Control topic name.")
@click.option("--state-dir", type=click.Path(file_okay=False), help="Snapshot and resume here.")
@click.option(
    "--spawn/--no-spawn",
    default=True,
    help="Start the workers here (default), or wait for `fleet worker` on other machines.",
)
@click.option(
    "--replay",
    "replay_file",
    type=click.Path(dir_okay=False),
    help="Replay this recording to every premises instead of the mix's kinds.",
)
@click.option(
    "--mux/--no-mux",
    default=None,
    help="One broker connection per worker for all its hubs and devices (docs/fleet.md);"
    " default: on from 100 premises per worker.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the JSON report.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML report.")
@click.pass_context
def fleet_group(
    ctx: click.Context,
    premises: int | None,
    workers: int,
    broker: str,
    mix_file: str | None,
    duration: float,
    seed: str,
    run_name: str,
    state_dir: str | None,
    spawn: bool,
    replay_file: str | None,
    mux: bool | None,
    json_out: str | None,
    html_out: str | None,
) -> None:
    """Run N premises (CHF+GPF+ESME+GSME+PPMID each) split across W workers (docs/fleet.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from hil.files import FileFormatError
    from hil.fleet.coordinator import FleetConfig, run_fleet
    from hil.fleet.mix import DEFAULT_MIX, Mix
    from hil.fleet.protocol import FleetError
    from hil.fleet.record import Recording, RecordingError
    from hil.fleet.report import write_html, write_json

    if premises is None:
        raise click.UsageError("--premises is required")
    try:
        mix = DEFAULT_MIX if mix_file is None else Mix.from_file(mix_file)
        config = FleetConfig(
            premises,
            workers,
            mix,
            duration,
            seed=seed,
            run=run_name,
            state_dir=None if state_dir is None else str(Path(state_dir).resolve()),
            replay=None if replay_file is None else Recording.read(replay_file).to_dict(),
            mux=mux,
        )
    except (FileFormatError, FleetError, RecordingError) as exc:
        fail(exc, EXIT_USAGE)

    async def go() -> dict[str, Any]:
        async with _broker(broker) as url:
            live = None
            if sys.stdout.isatty():
                from rich.live import Live

                live = Live(refresh_per_second=4)
            with live if live is not None else contextlib.nullcontext():
                result = await run_fleet(url, config, spawn=spawn, progress=_progress(live))
        return result.to_dict()

    report = asyncio.run(go())
    if json_out:
        write_json(report, json_out)
    if html_out:
        write_html(report, html_out)
    req, lat = report["requests"], report["latency_ms"]
    click.echo(
        f"fleet {report['verdict']}: {req['ok']}/{req['sent']} requests ok, "
        f"{report['throughput_per_s']} req/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms, "
        f"lost premises: {len(report['lost_premises'])}"
    )
    if report["lost_premises"]:
        click.echo("lost: " + ", ".join(report["lost_premises"]))
    if report["broker_outages"]["any"]:
        from hil.fleet.report import outage_line

        click.echo("broker outages: " + outage_line(report["broker_outages"]))
    sys.exit(0 if report["verdict"] == "passed" else 1)


@fleet_group.command("record")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--requests", type=int, default=50, show_default=True)
@click.option("--mix", "mix_file", type=click.Path(dir_okay=False), help="The MIX.yaml file.")
@click.option("--seed", default="smets-hil-fleet", show_default=True)
@click.option("--broker", help="Record a lab's devices on this broker instead (mqtt://...).")
@click.option("--lab", default="lab", show_default=True, help="The lab's topic level.")
@click.option("--device", "devices", multiple=True, help="TYPE=EUI of a device to record.")
@click.option("--seconds", type=float, default=30.0, show_default=True)
def record_command(
    out: str,
    requests: int,
    mix_file: str | None,
    seed: str,
    broker: str | None,
    lab: str,
    devices: tuple[str, ...],
    seconds: float,
) -> None:
    """Record one premises' commands for `fleet --replay` (docs/fleet.md).

    Without --broker, K requests of the mix to an emulated premises; with it,
    what the given devices of a lab on that broker are sent for --seconds.
    """
    from emulator.gbcs.eui import Eui64
    from hil.files import FileFormatError
    from hil.fleet.mix import DEFAULT_MIX, Mix
    from hil.fleet.record import Recording, RecordingError, record_premises, sniff

    if requests < 1:
        raise click.BadParameter("must be at least 1", param_hint="--requests")
    recording: Recording
    if broker is not None:
        wanted: dict[str, bytes] = {}
        for spec in devices:
            kind, _, eui = spec.partition("=")
            try:
                wanted[kind.upper()] = bytes(Eui64(eui))
            except (ValueError, TypeError):
                raise click.BadParameter(
                    f"{spec!r}: expected TYPE=EUI", param_hint="--device"
                ) from None
        if not wanted:
            raise click.BadParameter("give the devices to record", param_hint="--device")
        try:
            recording = asyncio.run(sniff(broker, lab, wanted, seconds))
        except RecordingError as exc:
            fail(exc)
        recording.write(out)
        click.echo(f"recorded {len(recording.commands)} commands to {out}")
        return
    try:
        mix = DEFAULT_MIX if mix_file is None else Mix.from_file(mix_file)
    except FileFormatError as exc:
        fail(exc, EXIT_USAGE)
    recording = asyncio.run(record_premises(mix, seed, requests))
    recording.write(out)
    answered = sum(1 for c in recording.commands if c.response is not None)
    click.echo(f"recorded {len(recording.commands)} commands ({answered} answered) to {out}")


@fleet_group.command("worker")
@click.option("--broker", required=True, help="mqtt://HOST:PORT of the run's broker.")
@click.option("--shard", required=True, help="K/N: this worker is shard K of N (1-based).")
@click.option("--run", "run_name", default="fleet", show_default=True)
@click.option(
    "--device-broker",
    help="Connect the devices here (e.g. another cluster node); hubs stay on --broker.",
)
def worker_command(broker: str, shard: str, run_name: str, device_broker: str | None) -> None:
    """Hold one shard of a fleet's premises (on this or another machine)."""
    from hil.fleet.protocol import FleetError, Shard
    from hil.fleet.worker import run_worker

    try:
        parsed = Shard.parse(shard)
    except FleetError as exc:
        fail(exc, EXIT_USAGE)
    asyncio.run(run_worker(broker, parsed, run_name, device_broker, settle=True))
