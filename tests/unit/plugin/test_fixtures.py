"""The plugin's fixtures as a user's test file sees them (run with pytester).

pytester runs the user's file in a fresh session in a temporary directory: no
project conftest, no pyproject, so pytest-asyncio's mode is whatever the test
sets (strict unless told otherwise).
"""

from __future__ import annotations

import pytest

from hil.pytest_plugin import Devices, UnknownName, Users, load_lab, namespaced_link

pytest_plugins = ["pytester"]


def quick_lab(name: str = "quick lab") -> str:
    """The demo lab without its three days of history: quicker to start."""
    from hil.dcc.lab import DEFAULT_LAB

    text = DEFAULT_LAB.read_text().replace("name: demo lab", f"name: {name}")
    return text.replace("history_days: 3", "history_days: 0")


INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

READ_TEST = """
import pytest

{mark}
async def test_import_registers(lab, dcc, device, user, clock, faults, hub):
    esme = device("ESME")
    esme.meter.import_wh = 12345.0
    assert device["1 Lab Street/ESME"] is esme
    assert hub is lab.premises[0].hub
    assert clock is lab.clock
    faults.inject({{"kind": "latency", "delay": "1s", "target": "ESME"}})
    result = await dcc.request("4.1.1", as_user=user("supplier"), target=esme.eui)
    assert result.ok, (result.reason, result.detail)
    values = {{v.name: v for v in result.values}}
    assert (values["Active import energy"].value, values["Active import energy"].unit) == (
        12345,
        "Wh",
    )
"""


@pytest.mark.parametrize(
    ("mode", "mark"), [("auto", ""), ("strict", "@pytest.mark.asyncio")], ids=["auto", "strict"]
)
def test_a_users_test_reads_registers_through_the_fixtures(
    pytester: pytest.Pytester,
    fake_faults: type,
    lab_events: list[tuple[str, str]],
    mode: str,
    mark: str,
) -> None:
    pytester.makeini(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_user=READ_TEST.format(mark=mark))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    [injector] = fake_faults.instances  # type: ignore[attr-defined]
    assert injector.injected == [{"kind": "latency", "delay": "1s", "target": "ESME"}]
    assert injector.closed
    # faults are cleared before the lab stops, and the lab is stopped
    assert lab_events == [
        ("lab started", "demo lab"),
        ("faults closed", "demo lab"),
        ("lab stopped", "demo lab"),
    ]


def test_the_lab_is_stopped_and_faults_closed_when_the_test_fails(
    pytester: pytest.Pytester, fake_faults: type, lab_events: list[tuple[str, str]]
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_user="""
        async def test_fails(lab, faults):
            faults.inject({"kind": "drop", "rate": 1.0})
            assert lab.spec.name == "not this lab"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert [e for e, _ in lab_events] == ["lab started", "faults closed", "lab stopped"]


def test_each_test_gets_a_fresh_lab(
    pytester: pytest.Pytester, lab_events: list[tuple[str, str]]
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_user="""
        seen = []

        async def test_one(lab, device):
            device("ESME").meter.import_wh = 1.0
            seen.append(lab)

        async def test_two(lab, device):
            assert device("ESME").meter.import_wh != 1.0
            assert lab is not seen[0]
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert [e for e, _ in lab_events] == ["lab started", "lab stopped"] * 2


def test_hil_lab_option_env_fallback_and_bad_lab(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hil.dcc.lab import DEFAULT_LAB

    custom = pytester.path / "my-lab.yaml"
    custom.write_text(quick_lab("my lab"))
    pytester.makeini(INI)
    pytester.makepyfile(
        test_user="""
        import os

        def test_chosen(hil_settings):
            assert str(hil_settings.lab_for()) == os.environ["EXPECT"]
        """
    )
    monkeypatch.delenv("SMETS_HIL_LAB", raising=False)
    monkeypatch.setenv("EXPECT", str(DEFAULT_LAB))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest("-p", "no:cacheprovider", "--hil-lab=demo").assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECT", str(custom))
    pytester.runpytest("-p", "no:cacheprovider", f"--hil-lab={custom}").assert_outcomes(passed=1)
    monkeypatch.setenv("SMETS_HIL_LAB", str(custom))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    # and the lab fixture is that lab
    pytester.makepyfile(
        test_user="async def test_name(lab):\n    assert lab.spec.name == 'my lab'\n"
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

    bad = pytester.runpytest("-p", "no:cacheprovider", "--hil-lab=nowhere.yaml")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: --hil-lab: no lab file 'nowhere.yaml' (a path, or a lab*"])
    assert "Traceback" not in bad.stderr.str()


def test_faults_fixture_gets_the_seed(pytester: pytest.Pytester, fake_faults: type) -> None:
    pytester.makeini(INI)
    quick = pytester.path / "quick.yaml"
    quick.write_text(quick_lab())
    pytester.makepyfile(test_user="async def test_seed(faults):\n    pass\n")
    args = ("-p", "no:cacheprovider", f"--hil-lab={quick}")
    pytester.runpytest(*args, "--hil-seed=42").assert_outcomes(passed=1)
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert [i.seed for i in fake_faults.instances] == [42, 0]  # type: ignore[attr-defined]


def test_faults_fixture_without_the_faults_module_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "hil.faults", None)  # import fails
    pytester.makeini(INI)
    pytester.makepyfile(test_user="async def test_f(faults):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*HilError: hil.faults is not available*"])


async def test_devices_and_users_by_name() -> None:
    the_lab = load_lab()
    devices, users = Devices(the_lab), Users(the_lab)
    assert devices("ESME") is the_lab.device("ESME")
    assert devices["GSME"] is the_lab.device("1 Lab Street/GSME")
    assert "ESME" in devices and "IHD" not in devices and "toaster" not in devices
    assert "ESME" in list(devices) and "CAD" not in list(devices)
    with pytest.raises(UnknownName, match=r"^no device 'toaster' in the lab \(known: "):
        devices("toaster")
    with pytest.raises(UnknownName, match="'IHD' is on the inventory only, not emulated"):
        devices["IHD"]
    assert users("supplier").name == "supplier"
    assert set(users) >= {"supplier", "dno"} and len(users) == len(the_lab.users)
    with pytest.raises(UnknownName, match=r"^no user 'ghost' in the lab \(known: supplier, "):
        users["ghost"]
    assert users.get("ghost") is None


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("memory://demo-lab", "gw1", "memory://demo-lab-gw1"),
        ("memory://demo-lab", None, "memory://demo-lab"),
        ("mqtt://broker:1883/lab1?keepalive=5", "gw0", "mqtt://broker:1883/lab1-gw0?keepalive=5"),
        ("mqtt://broker", "gw3", "mqtt://broker/lab-gw3"),
        ("mqtt-embedded", "gw0", "mqtt-embedded"),
        ("/dev/ttyUSB0", "gw0", "/dev/ttyUSB0"),
        ("socket://localhost:7000", "gw0", "socket://localhost:7000"),
    ],
)
def test_xdist_workers_get_their_own_link(url: str, worker: str | None, expected: str) -> None:
    assert namespaced_link(url, worker) == expected


def test_a_workers_lab_is_renamed() -> None:
    the_lab = load_lab(worker="gw5")
    assert (the_lab.spec.name, the_lab.spec.link) == ("demo lab-gw5", "memory://demo-lab-gw5")


def test_pytest_n_2_gives_each_worker_its_own_lab_namespace(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_user="""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(4))
        async def test_link(lab, n, record_property):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            assert lab.link_url == f"memory://demo-lab-{worker}"
            assert lab.spec.name == f"demo lab-{worker}"
            record_property("worker", worker)
        """
    )
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", f"--junitxml={xml}", timeout=120
    )
    result.assert_outcomes(passed=4)
    text = xml.read_text()
    assert 'name="hil.link" value="memory://demo-lab-gw0"' in text
    assert 'name="hil.link" value="memory://demo-lab-gw1"' in text


def test_the_plugin_loads_without_the_lab() -> None:
    """Every pytest run of a project with smets-hil installed loads the plugin: it must not
    pull in the lab (and the emulator) until a test asks for it."""
    import subprocess
    import sys

    from hil.dcc import lab
    from hil.pytest_plugin import DEFAULT_LAB, LABS

    assert (DEFAULT_LAB, LABS) == (lab.DEFAULT_LAB, lab.LABS)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, hil.pytest_plugin; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'hil.dcc.lab'" not in loaded and "'emulator" not in loaded
    assert "'hil.scenario" not in loaded


def test_a_users_test_with_the_real_fault_injector(pytester: pytest.Pytester) -> None:
    """The same read with the real `hil.faults` (a latency on the ESME): still answered,
    the fault on record, and everything cleared when the test ends."""
    pytester.makeini(INI)
    pytester.makepyfile(
        test_user="""
        from hil.faults import FaultInjector

        async def test_read_with_latency(lab, dcc, device, user, faults):
            assert isinstance(faults, FaultInjector)
            device("ESME").meter.import_wh = 777.0
            faults.inject({"kind": "latency", "delay": "1s", "target": "ESME"})
            result = await dcc.request("4.1.1", as_user=user("supplier"), target=device("ESME").eui)
            assert result.ok, (result.reason, result.detail)
            values = {v.name: v for v in result.values}
            assert values["Active import energy"].value == 777
            assert len(faults.records) == 1
        """
    )
    xml = pytester.path / "junit.xml"
    pytester.runpytest("-p", "no:cacheprovider", f"--junitxml={xml}").assert_outcomes(passed=1)
    assert 'name="hil.faults" value="1"' in xml.read_text()
