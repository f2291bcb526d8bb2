"""Running one emulated device as its own process (`smets-hil device`).

The device gets its keys from the lab PKI seed and trusts the lab parties, like
the devices of `emulator.premises`; with a state file it resumes where it was
(registers, logs, replay counters) and saves after every message.

Start-up is checked before anything touches the link or the state file: EUIs,
the link URL and the state file must all be good, or the process stops with one
line and the file as it was. The device then opens its link already bound to
its own address (subscribed on MQTT, with its last will set) and only then says
"listening on": a command sent after that line is queued on the link, not lost.
A link lost while running (broker gone, pty peer closed) is an error, never a
clean exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.errors import EmulatorError, LinkClosed
from emulator.gbcs.eui import Eui64
from emulator.han.link import scheme_of
from hil.errors import HilError

if TYPE_CHECKING:  # the device models load when a device starts, not with the CLI
    from emulator.devices.base import Device
    from emulator.devices.runner import DeviceRunner
    from emulator.han.link import Link


class StartupError(HilError):
    """Bad input found before the device touched its link or its state file."""


def parse_eui(option: str, text: str) -> Eui64:
    try:
        return Eui64(text)
    except EmulatorError:
        raise StartupError(f"{option}: {text!r} is not an EUI-64 (16 hex digits)") from None


def check_link_url(url: str) -> None:
    """A standalone process needs a link another process can reach."""
    if scheme_of(url) == "memory":
        raise StartupError(
            f"--link {url}: memory:// exists only inside one process; "
            "use a serial port, a pty, socket://host:port or mqtt://host:port/LAB"
        )


def build_device(
    device_type: str,
    eui: str,
    seed: str,
    state_file: str | None,
    options: Mapping[str, Any] | None = None,
) -> tuple[Device, Path | None, bool]:
    """The device, its state path, and whether it resumed from that file."""
    from emulator.clock import RealClock
    from emulator.devices.anchors import AnchorRole
    from emulator.devices.factory import create_device
    from emulator.premises import lab_pki, provision

    address = parse_eui("--eui", eui)
    the_pki, parties = lab_pki(seed)
    acb = parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
    try:
        device = create_device(device_type, address, RealClock(), acb=acb, **(options or {}))
    except (TypeError, ValueError) as exc:
        raise StartupError(f"{device_type}: {exc}") from None
    provision(device, the_pki, parties)
    path, resumed = _resume(device, state_file)
    return device, path, resumed


def _resume(device: Device, state_file: str | None) -> tuple[Path | None, bool]:
    """The device's state path, and whether the device resumed from it (it exists)."""
    from emulator.devices.runner import check_state_path, restore_state

    path = Path(state_file) if state_file else None
    if path is None:
        return None, False
    check_state_path(path)
    if not path.exists():
        return path, False
    restore_state(device, path)
    return path, True


def device_from_lab(
    device_type: str, eui: str, lab_file: str, state_file: str | None
) -> tuple[Device, Eui64, Eui64, Path | None, bool]:
    """The lab's own device of that EUI, built as the lab builds it, with its hub and GPF.

    What an external device needs to pass the lab's scenarios: the lab's keys,
    the anchors of the users registered at its premises, its variant and its
    history. A virtual lab's device gets its own virtual clock at the lab's start.
    """
    from hil.dcc.inventory import DeviceKind
    from hil.dcc.lab import Lab, LabSpec

    address = parse_eui("--eui", eui)
    spec = LabSpec.from_file(lab_file)
    for premises in spec.premises:
        for d in premises.devices:
            if Eui64(premises.base | d.suffix) == address and not d.kind.hub:
                if d.kind != DeviceKind.parse(device_type):
                    raise StartupError(
                        f"--lab {lab_file}: {address} is a {d.kind}, not {device_type}"
                    )
                d.external = None  # here it is the emulated one
    lab = Lab.build(spec)
    for built in lab.premises:
        device = built.devices.get(bytes(address))
        if device is not None:
            path, resumed = _resume(device, state_file)
            return device, built.chf.eui, built.gpf.eui, path, resumed
    raise StartupError(f"--lab {lab_file}: no emulated device {address} in the lab")


async def run_device(
    device_type: str,
    eui: str,
    link_url: str,
    hub_eui: str,
    gpf_eui: str,
    state_file: str | None,
    seed: str,
    echo: Callable[[str], None] = print,
    options: Mapping[str, Any] | None = None,
    lab_file: str | None = None,
    line_format: str = "envelope",
    console_path: str | None = None,
) -> None:
    """Run until interrupted or SIGTERM; raise `HilError`/`EmulatorError` on failure.

    `options` go to the device type's constructor (an ESME's variant, auxiliary).
    With `lab_file` the device, its hub and its GPF are the lab's (seed and
    registration from the file). `line_format` "gfi" speaks GFI lines on the
    port instead of envelopes (emulator/han/gfi.py). `console_path` serves the
    board's debug console there (hil/board_console.py) for the bench hooks.
    """
    from emulator.devices.runner import DeviceRunner
    from emulator.han.link import open_link

    check_link_url(link_url)
    if lab_file is not None:
        device, hub, gpf, path, resumed = device_from_lab(device_type, eui, lab_file, state_file)
    else:
        hub = parse_eui("--hub", hub_eui)
        gpf = parse_eui("--gpf", gpf_eui)
        device, path, resumed = build_device(device_type, eui, seed, state_file, options)
    if line_format == "gfi":
        from emulator.han.gfi import GfiLink

        link: Link = GfiLink(link_url, local=[device.eui], hub=hub)
    else:
        link = open_link(link_url, local=[device.eui])
    corrupt = CorruptInput(str(device), link_url, echo)
    link.on_error = corrupt
    # SIGTERM from here on is a clean stop, even one that lands before "listening on".
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with link:
            runner = DeviceRunner(device, link, hub, state_file=path, gpf=gpf)
            runner.save()
            service = Service(runner, link)
            console = None
            if console_path is not None:
                from hil.board_console import BoardConsole

                console = BoardConsole(runner, console_path, service)
                await console.start()
            try:
                if resumed:
                    echo(f"{device} resumed from {path}")
                if console is not None:
                    echo(f"{device} console on {console_path}")
                echo(f"{device} listening on {link_url}")
                await _serve_until_stopped(runner, link, stop, service)
            finally:
                if console is not None:
                    await console.stop()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        corrupt.summary()
    await asyncio.sleep(0)


class CorruptInput:
    """Says what the link threw away (bad CRC, line noise, not an envelope).

    The link counts such input and skips it; a device on a bench has no other
    place to say so. One line at the 1st, 10th, 100th ... (a noisy line cannot
    flood the terminal), and the total at the end if it was not the last shown.
    """

    def __init__(self, device: str, url: str, echo: Callable[[str], None]) -> None:
        self.device = device
        self.url = url
        self.echo = echo
        self.count = 0
        self.shown = 0

    def __call__(self, exc: Exception, raw: bytes) -> None:
        self.count += 1
        if self.count == 10 ** (len(str(self.count)) - 1):
            self.shown = self.count
            self.echo(
                f"{self.device} dropped input on {self.url} that is not an envelope: {exc}"
                f" ({self.count} so far)"
            )

    def summary(self) -> None:
        if self.count != self.shown:
            self.echo(f"{self.device} dropped {self.count} inputs in all on {self.url}")


class Service:
    """The device's serving task, which the board console may stop and start again.

    A JOIN from the console (a button on a board, a power-up after a HAN reset)
    reads the JOIN answer from the link itself, so serving stops for it first.
    """

    def __init__(self, runner: DeviceRunner, link: Link) -> None:
        self.runner = runner
        self.link = link
        self.paused = False
        self.resumed = asyncio.Event()
        self.work = self._start()

    def _start(self) -> asyncio.Future[None]:
        if hasattr(self.runner.device, "next_wake"):
            # Asleep, it reads nothing, so it watches its link to notice a loss before waking.
            return asyncio.ensure_future(_sleepy(self.runner, self.link))
        return asyncio.ensure_future(self.runner.serve())

    async def pause(self) -> None:
        self.paused = True
        self.resumed.clear()
        self.work.cancel()
        await asyncio.wait({self.work})

    def resume(self) -> None:
        self.work = self._start()
        self.paused = False
        self.resumed.set()


async def _serve_until_stopped(
    runner: DeviceRunner, link: Link, stop: asyncio.Event, service: Service | None = None
) -> None:
    """Serve until `stop` (SIGTERM: the link says goodbye) or until the link is lost."""
    service = service or Service(runner, link)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            work = service.work
            both: set[asyncio.Future[Any]] = {work, stopping}
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            if stopping.done() or not (service.paused or work is not service.work):
                break
            if service.paused:  # the console stopped it for a moment
                resumed = asyncio.ensure_future(service.resumed.wait())
                either: set[asyncio.Future[Any]] = {resumed, stopping}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                resumed.cancel()
    finally:
        for task in (service.work, stopping):
            task.cancel()
        last: set[asyncio.Future[Any]] = {service.work, stopping}
        await asyncio.wait(last)
    work = service.work
    if work.cancelled():
        return
    error = work.exception()
    if isinstance(error, LinkClosed):
        raise HilError(f"{runner.device} lost its link: {error}") from error
    if error is not None:
        raise error
    if not stop.is_set():
        raise HilError(f"{runner.device} stopped serving: its link {link.url} was closed")


#: How often a sleeping device looks at its link (seconds).
LINK_CHECK = 0.5


async def _sleepy(runner: DeviceRunner, link: Link) -> None:
    """Wake on schedule; end with `LinkClosed` as soon as the link is lost, awake or not."""
    waking = asyncio.ensure_future(runner.run_sleepy())
    try:
        while not waking.done():
            lost = link.lost
            if lost is not None:
                raise LinkClosed(f"{link.url}: {lost}")
            await asyncio.wait({waking}, timeout=LINK_CHECK)
        await waking  # its own error (a loss seen while awake) or its end
    finally:
        waking.cancel()
        await asyncio.wait({waking})
