"""SMETS1 devices as their profiles make them: the same command, different quirks."""

from __future__ import annotations

import dataclasses
import datetime as _dt

from emulator.clock import VirtualClock
from emulator.devices.smets1.meters import Smets1Meter, Smets1Ppmid, make_device
from emulator.devices.smets1.profile import FLAGS, Behaviour, DelaySpec, Limits, Smets1Profile
from emulator.devices.smets1.protocol import VendorCommand
from emulator.gbcs.eui import Eui64
from hil.dcc.smets1 import device_time

SECURE = Smets1Profile(
    "secure", "v", "m", frozenset(), flags=FLAGS, limits=Limits(non_disablement_scripts_per_day=3)
)
PLAIN = Smets1Profile("plain", "v", "m", frozenset(), time_base="utc", money_resolution_mp=10)
ESME = Eui64("00-DB-12-34-56-78-90-A0")


def _meter(profile: Smets1Profile, clock: VirtualClock | None = None) -> Smets1Meter:
    device = make_device("ESME", ESME, profile, clock or VirtualClock())
    assert isinstance(device, Smets1Meter)
    return device


def _run(device: Smets1Meter | Smets1Ppmid, cmd: str, **args: object) -> tuple[str, str]:
    reply = device.execute(VendorCommand(1, ESME.compact, cmd, dict(args)))
    return reply.status, reply.code


def test_credit_mode_prepay_configuration_depends_on_the_model() -> None:
    secure, plain = _meter(SECURE), _meter(PLAIN)
    assert _run(secure, "set_prepay_config", config={"ec_limit_units": 9}) == (
        "rejected",
        "CREDIT_MODE",
    )
    assert secure.ec_limit_units == 500
    assert _run(plain, "set_prepay_config", config={"ec_limit_units": 9}) == ("ok", "OK")
    assert plain.ec_limit_units == 9


def test_emergency_credit_failure_is_reported_or_hidden() -> None:
    secure, plain = _meter(SECURE), _meter(PLAIN)
    assert _run(secure, "activate_ec") == ("failed", "EC_ACTIVATION_FAILED")
    assert _run(plain, "activate_ec") == ("ok", "OK")  # the quirk: "done", yet nothing happened
    assert not secure.ec_active and not plain.ec_active


def test_standing_charge_while_debt_collection_is_suspended() -> None:
    clock = VirtualClock()
    secure = _meter(SECURE, clock)
    other = _meter(dataclasses.replace(SECURE, flags=frozenset()), clock)
    for meter in (secure, other):
        meter.payment_mode, meter.debt_units, meter.debt_recovery_units_per_day = (
            "prepayment",
            100,
            48,
        )
        meter.supply_enabled = False
    clock.advance(86_400)
    for meter in (secure, other):
        meter.catch_up()
        assert meter.debt_units == 100
    assert secure.standing_charge_collected_units == 24
    assert other.standing_charge_collected_units == 0


def test_local_time_and_dst_flag_round_trip_across_both_changes() -> None:
    for utc in (
        "2026-03-29T00:59:59",
        "2026-03-29T01:00:00",
        "2026-10-25T00:30:00",
        "2026-10-25T01:30:00",
    ):
        when = _dt.datetime.fromisoformat(utc).replace(tzinfo=_dt.UTC)
        meter = _meter(SECURE, VirtualClock(when))
        assert device_time(meter.local_time, meter.dst, SECURE) == when
    autumn = _meter(SECURE, VirtualClock(_dt.datetime(2026, 10, 25, 0, 30, tzinfo=_dt.UTC)))
    later = _meter(SECURE, VirtualClock(_dt.datetime(2026, 10, 25, 1, 30, tzinfo=_dt.UTC)))
    assert autumn.local_time == later.local_time == "2026-10-25T01:30:00"  # the same wall time
    assert (autumn.dst, later.dst) == (True, False)


def test_ppmid_firmware_only_through_the_hub_on_the_secure_cohort() -> None:
    ppmid = make_device("PPMID", ESME, SECURE, VirtualClock())
    assert isinstance(ppmid, Smets1Ppmid)
    assert _run(ppmid, "load_firmware", image_hash="ab", version="01000002") == (
        "rejected",
        "HUB_REGIME_ONLY",
    )
    assert ppmid.pending_images == {}


def test_the_delay_is_fixed_or_drawn_from_a_seeded_range() -> None:
    assert DelaySpec(3, 3).draw(DelaySpec(3, 3).generator("x")) == 3
    spec = DelaySpec(2, 12)
    first = [spec.draw(spec.generator("seed")) for _ in range(1)]
    draws = [spec.draw(rng) for rng in [spec.generator("seed")] for _ in range(20)]
    assert draws[0] == first[0]  # the same seed, the same delays
    assert all(2 <= d <= 12 for d in draws) and len(set(draws)) > 1
    assert Behaviour.VARIABLE_ON_DEMAND_DELAY in dataclasses.replace(SECURE, delay=spec).behaviours
