"""A change of supplier on the ESME (CS02b by the change of supplier party, service
6.23) closes the outgoing supplier's billing data: the engine takes a billing
snapshot and the change triggered billing data log `0-0:98.1.2` (ECS20b) a row, as
the GSME's change triggered log takes a change of supplier entry (ZSE cause 0x2000,
one of the causes the reference GCS15b read asks for)."""

from __future__ import annotations

import datetime as _dt

from devices_support import START, build_lab, send, zigbee

from emulator.devices.anchors import AnchorRole
from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import Structure

CHANGE_TRIGGERED_LOG = bytes(Obis("0-0:98.1.2.255"))


def test_change_of_supplier_takes_a_billing_row() -> None:
    lab = build_lab()
    esme = lab.esme
    esme.catch_up()  # the meter runs from START
    lab.advance(_dt.timedelta(hours=3))
    rows = list(esme.profiles.get(CHANGE_TRIGGERED_LOG, []))
    cos = lab.senders[AnchorRole.TRANSITIONAL_COS]
    send(esme, cos.command("6.23", esme.eui))  # CS02bSupplierByTransCoS
    now = START + _dt.timedelta(hours=3)
    (snapshot,) = esme.meter.billing_snapshots
    assert (snapshot["cause"], snapshot["time"]) == ("supplier", now.isoformat())
    after = esme.profiles[CHANGE_TRIGGERED_LOG]
    assert len(after) == len(rows) + 1
    row = after[-1]
    assert isinstance(row, Structure)
    assert row.items[0].value == zigbee(now)  # type: ignore[attr-defined]
    assert row.items[1].value == esme.meter.import_wh > 0  # type: ignore[attr-defined]


def test_a_supplier_renewing_its_own_credentials_is_no_change() -> None:
    lab = build_lab()
    esme = lab.esme
    send(esme, lab.supplier.command("6.15.1", esme.eui))  # CS02bSupplierBySupplier, same party
    assert not esme.meter.billing_snapshots
    assert not esme.profiles.get(CHANGE_TRIGGERED_LOG)
