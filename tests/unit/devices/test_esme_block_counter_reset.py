"""ECS05 (reset the tariff block counter matrix now) executes script 99 of the
tariffication script table `0-0:10.0.100.255` (the public RTDS 4.5.0 ECS05 command);
the ESME resets its engine's block counter matrix and block period energy there.
The other scripts of that table (the calendar's tier scripts) reset nothing."""

from __future__ import annotations

import datetime as _dt

from devices_support import Lab, action, build_lab, dlms_command, results, send

from emulator.gbcs.dlms.axdr import LongUnsigned

ECS05 = 0x001D


def _consumed() -> Lab:
    lab = build_lab()
    esme = lab.esme
    esme.catch_up()
    esme.meter.block_reset_schedule = ()  # nothing else ends the block period
    esme.meter.billing_schedule = ()
    lab.advance(_dt.timedelta(hours=5))
    esme.catch_up()
    assert sum(esme.meter.block_counter_wh) == esme.meter.import_wh > 0
    return lab


def test_ecs05_resets_the_block_counter_matrix() -> None:
    lab = _consumed()
    esme = lab.esme
    imported = esme.meter.import_wh
    response = send(esme, lab.supplier.command("1.7", esme.eui))
    assert results(response) == [0]
    assert sum(esme.meter.block_counter_wh) == 0
    assert esme.meter.primary.period_ws == 0
    assert sum(esme.meter.tier_block_wh) == esme.meter.import_wh == imported  # kept
    lab.advance(_dt.timedelta(hours=1))
    esme.catch_up()
    assert sum(esme.meter.block_counter_wh) == esme.meter.import_wh - imported > 0


def test_a_tier_script_is_no_block_counter_reset() -> None:
    lab = _consumed()
    esme = lab.esme
    spec = action(9, "0-0:10.0.100.255", 1, LongUnsigned(1))
    command = dlms_command(lab.supplier, esme, ECS05, spec, critical=True)
    send(esme, command)
    assert sum(esme.meter.block_counter_wh) == esme.meter.import_wh > 0
