"""Faults on a running virtual lab: each kind has an effect a test can see.

Causes only: a fault spoils a MAC, drops an envelope or switches a meter off;
what the device logs and what the DCC reports are the device's and the DCC's own
doing, checked here.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from collections.abc import AsyncIterator

import pytest
from lab_support import dcc_of, esme_of, settle

from emulator.clock import RealClock
from emulator.devices.base import POWER_RESTORED, Device
from emulator.devices.logs import AUTHENTICATION_FAILURE, OUT_OF_ORDER, UNAUTHORISED
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.dcc.requests import RequestStatus, Result
from hil.faults import FaultInjector, FaultSpecError
from hil.scenario.record import FaultRecord

#: Real seconds the DCC waits for an answer in these tests: a dropped command costs this,
#: and an answer on a loaded machine must still come well within it.
RESPONSE_TIMEOUT = 0.5


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    the_lab = Lab.load(DEFAULT_LAB)
    async with the_lab:
        dcc_of(the_lab).response_timeout = RESPONSE_TIMEOUT
        yield the_lab


@pytest.fixture
async def faults(lab: Lab) -> AsyncIterator[FaultInjector]:
    injector = FaultInjector(lab, seed=7)
    yield injector
    await injector.aclose()


async def _read(lab: Lab) -> Result:
    return await dcc_of(lab).request(
        "4.1.1", as_user="supplier", target=lab.eui("ESME"), timeout=10
    )


def _security_codes(device: Device, since: int) -> list[int]:
    return [entry.code for entry in list(device.security_log)[since:]]


# -- the acceptance run: drops and jitter, same seed same story ------------------------------


async def _run_with_faults(seed: int) -> tuple[list[tuple[str, str, str]], list[dict[str, object]]]:
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        dcc = dcc_of(lab)
        dcc.response_timeout = RESPONSE_TIMEOUT
        injector = FaultInjector(lab, seed=seed)
        injector.inject({"kind": "drop", "rate": 0.1, "target": "all"})
        injector.inject({"kind": "latency", "jitter": "200ms", "target": "all"})
        outcomes = []
        for i in range(50):
            variant = "7.2" if i % 5 == 4 else "4.1.1"  # reads and a critical command
            result = await dcc.request(variant, as_user="supplier", target=lab.eui("ESME"))
            assert result.status in (RequestStatus.COMPLETED, RequestStatus.FAILED), result.status
            assert result.reason, "a failed request names its reason"
            outcomes.append((variant, str(result.status), result.reason))
        await injector.aclose()
        return outcomes, [dict(r.detail) for r in injector.records]


async def test_drops_and_jitter_end_every_request_and_repeat_under_the_same_seed() -> None:
    async with asyncio.timeout(120):
        first = await _run_with_faults(seed=11)
        again = await _run_with_faults(seed=11)
        other = await _run_with_faults(seed=12)
    outcomes, counters = first
    reasons = {reason for _, _, reason in outcomes}
    assert "NO_RESPONSE" in reasons and "I0" in reasons  # some lost, most answered
    assert sum(r == "I0" for _, _, r in outcomes) > 25
    drop, latency = counters
    assert drop["dropped"] and 0.02 < drop["dropped"] / drop["seen"] < 0.25  # type: ignore[operator]
    assert latency["delayed"] == latency["seen"] and latency["delay_s"] > 0  # type: ignore[operator]
    assert again == first  # the same seed: the same outcomes and the same counters
    assert other != first


# -- spec errors that need the lab -----------------------------------------------------------


async def test_an_unknown_target_device_is_a_spec_error(faults: FaultInjector) -> None:
    with pytest.raises(FaultSpecError, match=r"^fault\.target: 'WSME' is neither a device"):
        faults.inject({"kind": "drop", "target": "WSME"})
    with pytest.raises(FaultSpecError, match=r"^fault\.device: no device 'WSME'"):
        faults.inject({"kind": "power_cycle", "device": "WSME"})
    with pytest.raises(FaultSpecError, match=r"^fault\.device: 'CHF' is not an emulated device"):
        faults.inject({"kind": "power_cycle", "device": "CHF"})
    with pytest.raises(FaultSpecError, match=r"^fault\.target: no link 'memory://nowhere'"):
        faults.inject({"kind": "drop", "target": "memory://nowhere"})
    assert faults.records == []


# -- message faults: the device refuses and logs ---------------------------------------------


async def test_a_bad_mac_is_refused_and_logged_by_the_device(
    lab: Lab, faults: FaultInjector
) -> None:
    esme = esme_of(lab)
    before, accepted = len(esme.security_log), esme.commands_accepted
    handle = faults.inject({"kind": "bad_mac", "target": "ESME", "count": 1})
    failed = await _read(lab)
    assert failed.status == RequestStatus.FAILED and failed.reason == "NO_RESPONSE"
    assert _security_codes(esme, before) == [AUTHENTICATION_FAILURE]
    assert "MAC" in list(esme.security_log)[-1].detail
    assert esme.commands_accepted == accepted
    assert handle.counters["altered"] == 1 and not handle.active  # count: 1 cleared it
    assert handle.record.ended is not None
    assert (await _read(lab)).ok


async def test_a_bad_signature_is_refused(lab: Lab, faults: FaultInjector) -> None:
    esme = esme_of(lab)
    before = len(esme.security_log)
    faults.inject({"kind": "bad_signature", "target": "command"})
    result = await dcc_of(lab).request("7.2", as_user="supplier", target=lab.eui("ESME"))
    assert result.status == RequestStatus.FAILED and result.reason == "NO_RESPONSE"
    assert _security_codes(esme, before) == [AUTHENTICATION_FAILURE]
    assert "signature" in list(esme.security_log)[-1].detail


async def test_a_stale_counter_is_refused_as_a_replay(lab: Lab, faults: FaultInjector) -> None:
    esme = esme_of(lab)
    handle = faults.inject({"kind": "stale_counter", "target": "ESME", "rate": 0.0})
    assert (await _read(lab)).ok  # rate 0: seen, remembered, passed on
    faults.clear(handle)
    before = len(esme.security_log)
    faults.inject({"kind": "stale_counter", "target": "ESME"})
    # the first command this fault sees has no earlier one: it goes out with counter 0
    result = await _read(lab)
    assert result.status == RequestStatus.FAILED
    assert _security_codes(esme, before) == [OUT_OF_ORDER]
    assert "replayed counter 0" in list(esme.security_log)[-1].detail


async def test_a_wrong_recipient_is_refused(lab: Lab, faults: FaultInjector) -> None:
    esme = esme_of(lab)
    before = len(esme.security_log)
    faults.inject({"kind": "wrong_recipient", "target": "ESME"})
    assert (await _read(lab)).reason == "NO_RESPONSE"
    assert _security_codes(esme, before) == [UNAUTHORISED]
    assert "not this device" in list(esme.security_log)[-1].detail


# -- link faults -------------------------------------------------------------------------------


async def test_link_down_fails_requests_in_its_window_then_clears(
    lab: Lab, faults: FaultInjector
) -> None:
    handle = faults.inject({"kind": "link_down", "target": "ESME", "for": "30s"})
    async with asyncio.timeout(30):
        during = [await _read(lab) for _ in range(3)]
        assert [r.reason for r in during] == ["NO_RESPONSE"] * 3
        assert handle.active and handle.counters["dropped"] == 3
        await lab.run_for(31)
        assert handle not in faults.active and handle.record.ended is not None
        after = [await _read(lab) for _ in range(3)]
    assert all(r.ok for r in after)
    assert handle.counters["dropped"] == 3


async def test_latency_costs_virtual_time_not_real_time(lab: Lab, faults: FaultInjector) -> None:
    faults.inject({"kind": "latency", "delay": "2s", "target": "all"})
    start = lab.clock.now()
    result = await _read(lab)
    assert result.ok
    # command out and response back: two delayed envelopes, 4 virtual seconds
    assert lab.clock.now() - start >= _dt.timedelta(seconds=4)
    # HAN time: measured by the hub, left out of the SMETS2+ response time (SEC H3.15)
    assert result.timing is not None and result.timing.han >= 4.0


async def test_a_duplicated_command_is_refused_as_a_replay(lab: Lab, faults: FaultInjector) -> None:
    esme = esme_of(lab)
    before = len(esme.security_log)
    hub = lab.premises[0].hub
    assert hub is not None
    faults.inject({"kind": "duplicate", "target": "command"})
    assert (await _read(lab)).ok  # the first copy is answered
    assert _security_codes(esme, before) == [OUT_OF_ORDER]  # the second is a replay


async def test_corrupt_truncate_and_split_frames_are_counted_by_the_receiver(
    lab: Lab, faults: FaultInjector
) -> None:
    runner = lab.premises[0].runner_for(lab.eui("ESME"))
    esme = esme_of(lab)
    medium = getattr(runner.link, "medium", None)

    def noise() -> int:
        lost = medium.undeliverable if medium is not None else 0  # a spoilt address
        return runner.link.counters.corrupted + runner.link.counters.dropped + lost

    for spec in (
        {"kind": "corrupt", "target": "command", "bytes": 4, "count": 1},
        {"kind": "truncate", "target": "command", "keep": 20, "count": 1},
        {"kind": "split", "target": "command", "at": 30, "count": 1},
    ):
        before, accepted = noise(), esme.commands_accepted
        security = len(esme.security_log)
        faults.inject(spec)
        result = await _read(lab)
        assert result.reason == "NO_RESPONSE", spec
        # what reached the ESME was noise or a refused message, never a command run
        refused = len(esme.security_log) - security
        assert noise() > before or refused, spec
        assert esme.commands_accepted == accepted, spec


async def test_a_command_split_into_gbt_blocks_is_joined_and_answered(
    lab: Lab, faults: FaultInjector
) -> None:
    handle = faults.inject({"kind": "split", "mode": "gbt", "block_size": 40, "target": "command"})
    runner = lab.premises[0].runner_for(lab.eui("ESME"))
    handled = runner.handled
    result = await _read(lab)
    assert result.ok, result.detail
    assert handle.counters["split"] == 1
    assert runner.handled == handled + 1 and runner.gbt_dropped == 0


async def test_reordered_envelopes_swap_places(lab: Lab, faults: FaultInjector) -> None:
    handle = faults.inject({"kind": "reorder", "target": "command", "window": "5s"})
    dcc = dcc_of(lab)
    first = dcc.submit("4.1.1", as_user="supplier", target=lab.eui("ESME"))
    second = dcc.submit("4.1.1", as_user="supplier", target=lab.eui("ESME"))
    await first.wait(10)
    await second.wait(10)
    assert handle.counters["reordered"] >= 1
    # the later counter reached the meter first, so the earlier one is now a replay
    assert {first.reason, second.reason} == {"I0", "NO_RESPONSE"}
    assert first.reason == "NO_RESPONSE"


# -- device faults -----------------------------------------------------------------------------


async def test_a_power_cycle_keeps_registers_and_counters_and_misses_commands(
    lab: Lab, faults: FaultInjector
) -> None:
    esme = esme_of(lab)
    assert (await _read(lab)).ok
    meter, replay = esme.meter.to_json(), esme.replay.to_json()
    accepted = esme.commands_accepted
    handle = faults.inject({"kind": "power_cycle", "device": "ESME", "off_for": "60s"})
    missed = await _read(lab)
    assert missed.reason == "NO_RESPONSE"
    assert esme.commands_accepted == accepted and handle.counters["missed"] >= 1
    await lab.run_for(61)
    assert not handle.active and handle.counters["restarts"] == 1
    assert esme.replay.to_json() == replay and esme.meter.to_json() == meter
    assert list(esme.event_log)[-1].code == POWER_RESTORED
    assert (await _read(lab)).ok
    assert esme.commands_accepted == accepted + 1


async def test_a_clock_jump_moves_the_device_clock(lab: Lab, faults: FaultInjector) -> None:
    esme = esme_of(lab)
    handle = faults.inject({"kind": "clock_jump", "device": "ESME", "by": "-2h"})
    assert esme.now() == lab.clock.now() - _dt.timedelta(hours=2)
    before = len(esme.security_log)
    faults.inject({"kind": "bad_mac", "target": "ESME", "count": 1})
    await _read(lab)
    assert list(esme.security_log)[before].time == lab.clock.now() - _dt.timedelta(hours=2)
    faults.clear(handle)
    assert esme.now() == lab.clock.now()


async def test_clock_drift_grows_with_time(lab: Lab, faults: FaultInjector) -> None:
    esme = esme_of(lab)
    faults.inject({"kind": "clock_drift", "device": "ESME", "ppm": 1000.0})
    await lab.run_for(1000)
    skew = (esme.now() - lab.clock.now()).total_seconds()
    assert skew == pytest.approx(1.0, abs=1e-3)


# -- alert faults ------------------------------------------------------------------------------


async def _future_dated(lab: Lab, when: _dt.datetime | None = None) -> Result:
    dcc = dcc_of(lab)
    when = when or lab.clock.now() + _dt.timedelta(hours=1)
    result = dcc.submit(
        "1.2.1", as_user="supplier", target=lab.eui("ESME"), params={"execution_time": when}
    )
    dcc.signed_precommand(result.request_id, dcc.sign_as_user(result))
    await result.wait(10)
    assert result.ok, result.detail
    return result


async def test_a_lost_alert_never_reaches_the_dcc_and_is_counted(
    lab: Lab, faults: FaultInjector
) -> None:
    handle = faults.inject({"kind": "lost_alert", "target": "ESME"})
    result = await _future_dated(lab)
    await lab.run_for(2 * 3600)
    await settle(20)
    assert [a for a in dcc_of(lab).alerts if a.request_id == result.request_id] == []
    assert handle.counters["lost"] >= 1
    hub = lab.premises[0].hub
    assert hub is not None and hub.counters.alerts == 0


async def test_a_late_alert_arrives_after_its_delay(lab: Lab, faults: FaultInjector) -> None:
    handle = faults.inject({"kind": "late_alert", "target": "alert", "delay": "10m"})
    when = lab.clock.now() + _dt.timedelta(hours=1)
    result = await _future_dated(lab, when)
    await lab.run_for(3600 + 60)
    await settle(20)
    mine = [a for a in dcc_of(lab).alerts if a.request_id == result.request_id]
    assert mine == [] and handle.counters["delayed"] >= 1
    await lab.run_for(600)
    await settle(20)
    mine = [a for a in dcc_of(lab).alerts if a.request_id == result.request_id]
    assert mine and mine[0].received >= when + _dt.timedelta(minutes=10)


# -- records and clean-up ----------------------------------------------------------------------


async def test_records_carry_counters_and_aclose_restores_the_lab(lab: Lab) -> None:
    seen: list[FaultRecord] = []
    injector = FaultInjector(lab, seed=1, on_record=seen.append)
    links = [link for p in lab.premises for link in p.links]
    originals = [link.manipulator for link in links]
    injector.inject({"kind": "drop", "rate": 0.5, "target": "ESME"}, name="flaky ESME")
    injector.inject({"kind": "lost_alert"})
    injector.inject({"kind": "clock_jump", "device": "ESME", "by": "1h"})
    for _ in range(4):
        await _read(lab)
    assert [r.name for r in seen] == ["flaky ESME", "lost alert", "clock jump ESME +3600s"]
    assert seen == injector.records
    assert seen[0].target == "ESME" and seen[0].detail["kind"] == "drop"
    assert seen[0].detail["seen"] >= 4 and "dropped" in seen[0].detail
    await injector.aclose()
    assert all(r.ended is not None for r in injector.records)
    assert [link.manipulator for link in links] == originals
    hub = lab.premises[0].hub
    assert hub is not None and hub.alert_filter is None
    assert esme_of(lab).now() == lab.clock.now()
    assert (await _read(lab)).ok
    with pytest.raises(FaultSpecError):
        injector.inject({"kind": "drop"})


async def test_stacked_clock_faults_unwind_to_the_lab_clock(lab: Lab) -> None:
    esme = esme_of(lab)
    original = esme.clock
    async with FaultInjector(lab) as faults:
        faults.inject({"kind": "clock_jump", "device": "ESME", "by": "1h"})
        faults.inject({"kind": "clock_drift", "device": "ESME", "ppm": 500.0})
        faults.inject({"kind": "clock_jump", "device": "ESME", "by": "-30m"})
        assert esme.now() == lab.clock.now() + _dt.timedelta(minutes=30)
    assert esme.clock is original


async def test_a_response_split_into_gbt_blocks_is_joined_by_the_hub(
    lab: Lab, faults: FaultInjector
) -> None:
    handle = faults.inject({"kind": "split", "mode": "gbt", "block_size": 16, "target": "response"})
    result = await _read(lab)
    assert result.ok, result.detail
    assert handle.counters["split"] == 1
    hub = lab.premises[0].hub
    assert hub is not None and hub.drops == {}


async def test_latency_on_a_real_clock_waits_real_time() -> None:
    lab = Lab.load(DEFAULT_LAB, clock=RealClock())
    async with lab, FaultInjector(lab, seed=3) as faults, asyncio.timeout(20):
        faults.inject({"kind": "latency", "delay": "100ms", "target": "ESME"})
        started = time.perf_counter()
        result = await _read(lab)
        assert result.ok, result.detail
        assert time.perf_counter() - started >= 0.2  # command and response, 100 ms each
