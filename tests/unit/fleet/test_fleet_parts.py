"""The fleet's pieces without a broker: mix files, shards, seeds, snapshots, reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.han.memory import MemoryMedium
from emulator.premises import lab_pki
from hil.fleet.coordinator import percentiles
from hil.fleet.mix import KINDS, Mix, MixFileError
from hil.fleet.protocol import FleetError, Shard
from hil.fleet.report import render_html
from hil.fleet.traffic import FleetPremises, kind_sequence, premises_base

MIX = Mix(rate=10.0, weights={"read": 5, "critical": 1, "top_up": 1, "join": 1, "firmware": 1})


def test_mix_file_errors_name_file_line_and_field() -> None:
    with pytest.raises(MixFileError, match=r"^m.yaml:3: weights.reed: "):
        Mix.from_yaml("rate: 10\nweights:\n  reed: 1\n", "m.yaml")
    with pytest.raises(MixFileError, match=r"^m.yaml:1: rate: "):
        Mix.from_yaml("rate: '10'\nweights: {read: 1}\n", "m.yaml")
    with pytest.raises(MixFileError, match=r"^m.yaml:2: weights: at least one kind"):
        Mix.from_yaml("rate: 10\nweights: {read: 0}\n", "m.yaml")


def test_a_mix_file_keeps_only_weighted_kinds() -> None:
    mix = Mix.from_yaml("rate: 250\ntimeout_s: 3\nweights: {read: 9, join: 1, firmware: 0}\n")
    assert mix == Mix(250.0, {"read": 9, "join": 1}, 3.0, 256)
    assert set(mix.weights) <= set(KINDS)


def test_shards_split_premises_without_overlap() -> None:
    shards = [Shard.parse(f"{k}/3") for k in (1, 2, 3)]
    owned = [s.premises(10) for s in shards]
    assert sorted(i for o in owned for i in o) == list(range(10))
    assert owned[0] == [0, 3, 6, 9]
    for bad in ("0/2", "3/2", "1-2", "x"):
        with pytest.raises(FleetError):
            Shard.parse(bad)


def test_the_same_seed_gives_the_same_requests_per_premises() -> None:
    first = kind_sequence("s1", 7, MIX, 200)
    assert first == kind_sequence("s1", 7, MIX, 200)
    assert first != kind_sequence("s2", 7, MIX, 200)
    assert first != kind_sequence("s1", 8, MIX, 200)
    assert set(first) == set(MIX.weights)


def test_premises_never_share_addresses() -> None:
    assert premises_base(0) != premises_base(1)
    assert premises_base(1) - premises_base(0) == 0x100  # the suffix octet stays free


async def _requests(p: FleetPremises, n: int) -> list[bool]:
    async with p.premises:
        hub = await p.premises.connect(MemoryMedium().url, state_dir=p.state_dir)
        return [(await p.request(hub, MIX)).ok for _ in range(n)]


async def test_a_snapshot_resumes_counters_devices_and_the_request_sequence(
    tmp_path: Path,
) -> None:
    pki = lab_pki()
    first = FleetPremises.build(3, "seed", MIX, pki, tmp_path)
    assert await _requests(first, 6) == [True] * 6
    first.snapshot()
    assert (tmp_path / "p00004" / "dcc.json").exists()
    resumed = FleetPremises.build(3, "seed", MIX, pki, tmp_path)
    assert resumed.sender.counter == first.sender.counter
    assert await _requests(resumed, 4) == [True] * 4
    # The resumed premises continues the seeded sequence where the first stopped.
    assert first.kinds + resumed.kinds == kind_sequence("seed", 3, MIX, 10)


async def test_without_the_dcc_snapshot_the_restored_meter_refuses_replayed_counters(
    tmp_path: Path,
) -> None:
    pki = lab_pki()
    first = FleetPremises.build(3, "seed", MIX, pki, tmp_path)
    assert await _requests(first, 3) == [True] * 3
    fresh = FleetPremises.build(3, "seed", MIX, pki, tmp_path)  # no dcc.json written
    assert await _requests(fresh, 1) == [False]


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"p50": 51.0, "p95": 96.0, "p99": 100.0, "max": 100.0}
    assert percentiles([])["p99"] is None


def test_the_html_report_escapes_what_it_shows() -> None:
    report = {
        "run": "<script>x</script>",
        "started": "now",
        "verdict": "failed",
        "config": {"premises": 1, "workers": 1, "seed": "<b>", "mix": {"rate": 1}},
        "latency_ms": percentiles([]),
        "requests": {"sent": 1, "ok": 0, "failed": 1},
        "throughput_per_s": 0,
        "cpu_ms_per_request": None,
        "peak_rss_kb_per_premises": None,
        "setup_s": 1,
        "traffic_s": 1,
        "workers": {},
        "failures": {"<img src=x>": 1},
        "kinds": {},
        "lost_premises": ["p00001"],
        "premises": {},
    }
    page = render_html(report)
    assert "<script>x" not in page and "<img src=x>" not in page
    assert "&lt;img src=x&gt;" in page and "p00001" in page
    assert "broker outages" not in page
    report["broker_outages"] = {
        "coordinator": {"reconnects": 1},
        "worker_control_reconnects": 2,
        "mux_reconnects": 0,
        "link_reconnects": 8,
        "any": True,
    }
    page = render_html(report)
    assert "reconnects: coordinator 1, worker control 2, shared (mux) 0, device and hub " in page


def test_large_shards_share_one_connection_per_worker_unless_told() -> None:
    from hil.fleet.coordinator import MUX_FROM, FleetConfig
    from hil.fleet.mix import DEFAULT_MIX

    assert FleetConfig(MUX_FROM, 1, DEFAULT_MIX, 1.0).mux is True
    assert FleetConfig(2 * MUX_FROM - 2, 2, DEFAULT_MIX, 1.0).mux is False
    assert FleetConfig(MUX_FROM, 1, DEFAULT_MIX, 1.0, mux=False).mux is False
    assert FleetConfig(4, 2, DEFAULT_MIX, 1.0, mux=True).mux is True
