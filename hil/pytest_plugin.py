"""pytest plugin: the lab as fixtures, and YAML scenario files as test items.

Registered as the `smets-hil` `pytest11` entry point, so a project that installs
smets-hil gets `--hil-lab`, the `lab`/`dcc`/`hub`/`device`/`user`/`clock`/`faults`
fixtures and scenario collection without a conftest. docs/pytest-plugin.md is
the user's guide.

Why the choices:
- A fresh lab per test (function scope): a test that leaves a meter in an odd
  state, a fault still active or a queued command cannot leak into the next one,
  and a test's verdict does not depend on the order xdist hands tests out.
- Under pytest-xdist each worker renames its labs and their links
  (`memory://demo-lab` -> `memory://demo-lab-gw0`, MQTT topic level likewise),
  so workers sharing one broker never hear each other's devices.
- A scenario item runs exactly what `smets-hil run` runs (`run_scenario` on a
  lab started from the same file with the same seed), so both give one verdict.
  Its failure text is the record's failing step (`file:line: step ...`), not a
  Python traceback: a scenario failure is a finding about the device, not a bug
  in the harness.
- `hil.scenario` and `hil.faults` are imported when first used, so the plugin
  loads (and the fixtures work) in any pytest run of any project, even one that
  never touches scenarios.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import importlib
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import pytest

from hil.errors import HilError
from hil.fixtures import FIXTURES

if TYPE_CHECKING:  # the lab, the DCC and the record are imported when a test needs them
    from emulator.clock import Clock
    from emulator.devices.base import Device
    from emulator.hub import Hub
    from hil.dcc.lab import Lab
    from hil.dcc.service import Dcc
    from hil.dcc.users import User
    from hil.scenario.record import ScenarioRecord, StepRecord

ENV_LAB = "SMETS_HIL_LAB"
#: `hil.dcc.lab.LABS` and `DEFAULT_LAB`, spelled here so that loading the plugin (in
#: every pytest run of a project with smets-hil installed) does not import the lab.
LABS = FIXTURES / "labs"
DEFAULT_LAB = LABS / "demo.yaml"

#: A YAML file is a scenario file when one of these is a top-level key (column 0).
SCENARIO_KEYS = ("scenario", "scenarios", "steps")
_SCENARIO_KEY = re.compile(rf"^(?:{'|'.join(SCENARIO_KEYS)})[ \t]*:", re.MULTILINE)
#: ... or when its name says so, whatever it holds.
SCENARIO_SUFFIXES = (".scenario.yaml", ".scenario.yml")

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(func: _F) -> _F:
    """An async fixture that works in pytest-asyncio's strict and auto modes alike.

    pytest-asyncio is imported here, not at the top: the plugin loads in every pytest
    run of a project that installs smets-hil, with or without it.
    """
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-asyncio is in the dev extra
        return cast(_F, pytest.fixture(func))
    return cast(_F, pytest_asyncio.fixture(func))


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HilSettings:
    """What the command line (or the environment) chose for this session."""

    lab: Path | None  # --hil-lab or SMETS_HIL_LAB; None: the scenario's own lab, else the demo
    seed: int | None
    record_dir: Path | None
    worker: str | None  # the pytest-xdist worker id ("gw0"), None without xdist

    def lab_for(self, scenario: Any = None) -> Path:
        """The lab a test runs on: the one chosen here, else the scenario's, else the demo."""
        if self.lab is not None:
            return self.lab
        named = getattr(scenario, "lab", None)
        if named:
            return resolve_lab(str(named), base=_scenario_dir(scenario))
        return DEFAULT_LAB


_SETTINGS = pytest.StashKey[HilSettings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smets-hil", "smets-hil lab and scenarios")
    group.addoption(
        "--hil-lab",
        metavar="LAB",
        default=None,
        help=f"lab file (or a name in hil/fixtures/labs) for the fixtures and scenarios; "
        f"default ${ENV_LAB}, else the scenario's own lab, else the demo lab",
    )
    group.addoption(
        "--hil-seed",
        metavar="N",
        type=int,
        default=None,
        help="seed for scenarios and fault injection (default: each scenario's own)",
    )
    group.addoption(
        "--hil-record",
        metavar="DIR",
        default=None,
        help="write each scenario's test record (JSON) into DIR",
    )


def resolve_lab(value: str, *, base: Path | None = None) -> Path:
    """A lab file from a path (relative to `base`, then the working directory) or a lab name."""
    candidates = []
    path = Path(value)
    if base is not None and not path.is_absolute():
        candidates.append(base / path)
    candidates.append(path)
    if not path.suffix:
        candidates.append(LABS / f"{value}.yaml")
    candidates.append(LABS / path.name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    from hil.dcc.lab import LabError

    known = ", ".join(sorted(p.stem for p in LABS.glob("*.yaml")))
    raise LabError(f"no lab file {value!r} (a path, or a lab name: {known})")


def _scenario_dir(scenario: Any) -> Path | None:
    file = getattr(scenario, "file", None)
    return Path(file).parent if file else None


def pytest_configure(config: pytest.Config) -> None:
    raw = config.getoption("--hil-lab") or os.environ.get(ENV_LAB) or None
    try:
        lab = resolve_lab(raw) if raw else None
    except HilError as exc:
        raise pytest.UsageError(f"--hil-lab: {exc}") from None
    record = config.getoption("--hil-record")
    record_dir = Path(record).resolve() if record else None
    if record_dir is not None:
        record_dir.mkdir(parents=True, exist_ok=True)
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    worker = workerinput.get("workerid") or None  # not the env: pytester runs inherit it
    config.stash[_SETTINGS] = HilSettings(lab, config.getoption("--hil-seed"), record_dir, worker)


def settings(config: pytest.Config) -> HilSettings:
    return config.stash[_SETTINGS]


def pytest_report_header(config: pytest.Config) -> str:
    s = settings(config)
    lab = s.lab if s.lab is not None else f"each scenario's own, else {DEFAULT_LAB}"
    return f"smets-hil: lab {lab}, seed {s.seed if s.seed is not None else 'default'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Suite-level JUnit properties, written once by the process that writes the XML."""
    config = session.config
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller writes the JUnit file
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest moved it
        return
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    for name, value in _suite_properties(settings(config)):
        xml.add_global_property(name, value)


def _suite_properties(s: HilSettings) -> list[tuple[str, str]]:
    return [
        ("hil.tool", _tool()),
        ("hil.lab", str(s.lab) if s.lab is not None else "per scenario"),
        ("hil.seed", "default" if s.seed is None else str(s.seed)),
        ("hil.record_dir", str(s.record_dir) if s.record_dir is not None else ""),
    ]


def _tool() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"smets-hil {version('smets-hil')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "smets-hil"


# -- labs, one namespace per xdist worker --------------------------------------------------------


def namespaced_link(url: str, worker: str | None) -> str:
    """The lab's link URL with the worker's suffix, where a suffix makes it a separate HAN.

    `memory://NAME` and the MQTT topic level of `mqtt://host/NAME` get `-gw0`; the
    embedded broker's topic level comes from the lab name (renamed too). Serial
    ports and sockets name one physical thing: they are left as they are.
    """
    from hil.dcc.lab import EMBEDDED_MQTT

    if worker is None or url == EMBEDDED_MQTT:
        return url
    scheme, sep, _ = url.partition("://")
    if not sep:
        return url
    if scheme.lower() == "memory":
        return f"{url}-{worker}"
    if scheme.lower() == "mqtt":
        parts = urlsplit(url)
        from emulator.han.mqtt import DEFAULT_LAB as MQTT_LAB

        level = parts.path.strip("/") or MQTT_LAB
        return urlunsplit(parts._replace(path=f"/{level}-{worker}"))
    return url


def load_lab(path: str | Path = DEFAULT_LAB, *, worker: str | None = None) -> Lab:
    """A lab from its file, renamed and relinked into the worker's namespace."""
    from hil.dcc.lab import Lab, LabSpec

    spec = LabSpec.from_file(path)
    if worker is not None:
        spec.name = f"{spec.name}-{worker}"
        spec.link = namespaced_link(spec.link, worker)
    return Lab.build(spec)


# -- fixtures ------------------------------------------------------------------------------------

_LookupT = TypeVar("_LookupT")


class UnknownName(HilError, KeyError):
    """A device or user the lab does not have; a KeyError too, so `in` and `.get` work."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Lookup(Mapping[str, _LookupT]):
    """By name: `device("ESME")` and `device["ESME"]` are the same thing."""

    def __call__(self, name: str) -> _LookupT:
        return self[name]


class Devices(_Lookup["Device"]):
    """The lab's emulated devices by alias (`ESME`, `1 Lab Street/GSME`, a name, an EUI-64)."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab

    def __getitem__(self, name: str) -> Device:
        from hil.dcc.lab import LabError

        try:
            device = self._lab.device(name)
        except LabError as exc:
            raise UnknownName(str(exc)) from None
        if device is None:
            raise UnknownName(f"device {name!r} is on the inventory only, not emulated")
        return device

    def __iter__(self) -> Iterator[str]:
        return (n for n in self._lab.names if self._lab.device(n) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Users(_Lookup["User"]):
    """The lab's DCC users by name (`supplier`, `dno`, ...)."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab

    def __getitem__(self, name: str) -> User:
        user = self._lab.users.get(name)
        if user is None:
            known = ", ".join(u.name for u in self._lab.users)
            raise UnknownName(f"no user {name!r} in the lab (known: {known})")
        return user

    def __iter__(self) -> Iterator[str]:
        return (u.name for u in self._lab.users)

    def __len__(self) -> int:
        return len(self._lab.users)


@pytest.fixture
def hil_settings(request: pytest.FixtureRequest) -> HilSettings:
    """The session's `--hil-*` choices (lab, seed, record directory, xdist worker)."""
    return settings(request.config)


@_async_fixture
async def lab(request: pytest.FixtureRequest) -> AsyncIterator[Lab]:
    """A started lab (--hil-lab, else $SMETS_HIL_LAB, else the demo), stopped after the test."""
    s = settings(request.config)
    path = s.lab_for()
    the_lab = load_lab(path, worker=s.worker)
    try:
        await the_lab.start()
        request.node.user_properties.extend(
            [("hil.lab", str(path)), ("hil.link", the_lab.link_url)]
        )
        yield the_lab
    finally:
        await the_lab.stop()


@pytest.fixture
def dcc(lab: Lab) -> Dcc:
    """The lab's DCC: `await dcc.request("4.1.1", as_user="supplier", target="ESME")`."""
    assert lab.dcc is not None, "the lab fixture starts the DCC"
    return lab.dcc


@pytest.fixture
def hub(lab: Lab) -> Hub:
    """The first premises' communications hub."""
    hub = lab.premises[0].hub
    assert hub is not None, "the lab fixture connects the hub"
    return hub


@pytest.fixture
def device(lab: Lab) -> Devices:
    """The lab's devices by name: `device("ESME")` or `device["1 Lab Street/GSME"]`."""
    return Devices(lab)


@pytest.fixture
def user(lab: Lab) -> Users:
    """The lab's users by name: `user("supplier")`."""
    return Users(lab)


@pytest.fixture
def clock(lab: Lab) -> Clock:
    """The lab's clock (virtual for the demo lab: `clock.advance(seconds)`)."""
    return lab.clock


@_async_fixture
async def faults(lab: Lab, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A `hil.faults.FaultInjector` on the lab; every fault is cleared after the test."""
    module = _api("hil.faults", "FaultInjector")
    s = settings(request.config)
    injector = module.FaultInjector(lab, seed=s.seed if s.seed is not None else 0)
    try:
        yield injector
    finally:
        await injector.aclose()
        request.node.user_properties.append(("hil.faults", len(injector.records)))


def _api(module_name: str, *names: str) -> Any:
    """A harness module that may not be installed in this version; its absence is one line."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HilError(f"{module_name} is not available: {exc}") from None
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise HilError(f"{module_name} has no {', '.join(missing)} in this version")
    return module


# -- scenario files ------------------------------------------------------------------------------


def is_scenario_file(path: Path) -> bool:
    """A YAML file with a top-level `scenario:`, `scenarios:` or `steps:` key, or a
    `*.scenario.yaml` name. Lab files (`premises:`) and request files (`requests:`)
    are never collected."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    if path.name.endswith(SCENARIO_SUFFIXES):
        return True
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return _SCENARIO_KEY.search(text) is not None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file: one item per scenario (per cell of a parametrised matrix)."""

    def collect(self) -> Iterable[pytest.Item]:
        try:
            api = _api("hil.scenario", "load_scenarios", "run_scenario")
            scenarios = api.load_scenarios(self.path)
        except HilError as exc:
            raise self.CollectError(str(exc)) from None
        for scenario in scenarios:
            item = ScenarioItem.from_parent(self, name=str(scenario.name), scenario=scenario)
            for tag in _tags(scenario):
                self.config.addinivalue_line("markers", f"{tag}: scenario tag")
                item.add_marker(tag)
            yield item


def _tags(scenario: Any) -> list[str]:
    tags = getattr(scenario, "tags", None) or getattr(scenario, "markers", None) or []
    return [str(t) for t in tags if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(t))]


class ScenarioFailed(Exception):
    """A scenario whose record says fail or error; the message is the whole report."""


class ScenarioItem(pytest.Item):
    """A scenario run on a fresh lab, exactly as `smets-hil run` runs it."""

    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.record: ScenarioRecord | None = None
        self.record_path: Path | None = None

    def runtest(self) -> None:
        from hil.scenario.record import RunRecord, Verdict

        s = settings(self.config)
        path = s.lab_for(self.scenario)
        record = asyncio.run(run_on_fresh_lab(self.scenario, path, seed=s.seed, worker=s.worker))
        self.record = record
        if s.record_dir is not None:
            self.record_path = s.record_dir / f"{_file_name(self.nodeid)}.json"
            RunRecord(
                tool=_tool(),
                started_at=_dt.datetime.now(_dt.UTC).isoformat(),
                scenarios=[record],
            ).dump(self.record_path)
        self.user_properties.extend(self._properties(record))
        if record.verdict == Verdict.SKIP:
            pytest.skip(record.steps[-1].message if record.steps else "skipped")
        if not record.passed:
            shown = _shown(record.file or getattr(self.scenario, "file", None), self.config)
            raise ScenarioFailed(failure_text(record, self.scenario, self.record_path, file=shown))

    def _properties(self, record: ScenarioRecord) -> list[tuple[str, object]]:
        props: list[tuple[str, object]] = [
            ("hil.scenario", record.name),
            ("hil.file", record.file or getattr(self.scenario, "file", "") or ""),
            ("hil.lab", record.lab),
            ("hil.seed", "" if record.seed is None else record.seed),
            ("hil.verdict", record.verdict.value),
            ("hil.steps", len(record.steps)),
        ]
        step = failing_step(record)
        if step is not None:
            props.append(("hil.failed_step", f"{step.name} (line {step.line})"))
        if self.record_path is not None:
            props.append(("hil.record", str(self.record_path)))
        return props

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, HilError):  # a lab that cannot load or start: one line
            return f"{self.path}: {type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        line = getattr(self.scenario, "line", None)
        return (
            self.path,
            (line - 1 if isinstance(line, int) and line > 0 else None),
            (f"scenario: {self.name}"),
        )


def _shown(file: str | None, config: pytest.Config) -> str | None:
    """A scenario file as the user typed it: relative to where pytest was started."""
    if not file:
        return None
    try:
        return str(Path(file).resolve().relative_to(config.invocation_params.dir.resolve()))
    except ValueError:
        return file


def _file_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", nodeid).strip("_")[:200] or "scenario"


async def run_on_fresh_lab(
    scenario: Any, lab_path: Path, *, seed: int | None = None, worker: str | None = None
) -> ScenarioRecord:
    """Start the lab, run the scenario, stop the lab (even when the run raises)."""
    api = _api("hil.scenario", "run_scenario")
    the_lab = load_lab(lab_path, worker=worker)
    try:
        await the_lab.start()
        record: ScenarioRecord = await api.run_scenario(scenario, the_lab, seed=seed)
        return record
    finally:
        await the_lab.stop()


def failing_step(record: ScenarioRecord) -> StepRecord | None:
    from hil.scenario.record import Verdict

    for step in record.steps:
        if step.verdict in (Verdict.FAIL, Verdict.ERROR):
            return step
    return None


def failure_text(
    record: ScenarioRecord,
    scenario: Any = None,
    record_path: Path | None = None,
    *,
    file: str | None = None,
) -> str:
    """`file:line: step 'name' (kind) fail: why`, then what else in the record failed."""
    from hil.scenario.record import Verdict

    file = file or record.file or getattr(scenario, "file", None) or "<python scenario>"
    step = failing_step(record)
    if step is not None:
        line = step.line if step.line is not None else getattr(scenario, "line", None)
        where = f"{file}:{line}" if line is not None else file
        lines = [f"{where}: step {step.name!r} ({step.kind}) {step.verdict}: {step.message}"]
    else:
        line = getattr(scenario, "line", None)
        where = f"{file}:{line}" if line is not None else file
        lines = [f"{where}: scenario {record.name!r} {record.verdict} (no step failed)"]
    for m in record.measurements:
        if m.verdict in (Verdict.FAIL, Verdict.ERROR):
            unit = f" {m.unit}" if m.unit else ""
            lines.append(f"  measurement {m.name} = {m.value}{unit}: {m.validator} {m.verdict}")
    seed = "default" if record.seed is None else record.seed
    lines.append(f"  lab: {record.lab}, seed: {seed}")
    if record_path is not None:
        lines.append(f"  record: {record_path}")
    return "\n".join(lines)
