"""Join rules on the device (GBCS CS03/CS04): method B takes a Type 2 device on an
ESME or GSME, and a device's log changes only when the command authenticates."""

from __future__ import annotations

import pytest
from devices_support import Lab, build_lab, der, der_command, send

from emulator.gbcs.asn1 import Der, DerInteger, DerOctetString, DerSequence
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message

CS03A1, CS03B, CS04AC, CS04B = 0x000D, 0x000E, 0x000F, 0x0010
TYPE2, PPMID, GPF = 6, 5, 3
CAD = Eui64("00-DB-12-34-56-78-90-A8")


@pytest.fixture
def lab() -> Lab:
    return build_lab()


def _join(method: int, eui: Eui64, device_type: int) -> Der:
    return DerSequence([DerInteger(method), DerOctetString(bytes(eui)), DerInteger(device_type)])


def test_an_esme_pairs_and_unpairs_a_type2_device_by_method_b(lab: Lab) -> None:
    esme = lab.esme
    join = der_command(lab.supplier, esme, CS03B, _join(2, CAD, TYPE2))
    assert der(send(esme, join)) == DerInteger(0)
    assert esme.han_pairings == {bytes(CAD): TYPE2}
    unjoin = der_command(lab.supplier, esme, CS04B, DerOctetString(bytes(CAD)))
    assert der(send(esme, unjoin)) == DerInteger(0)
    assert esme.han_pairings == {}


@pytest.mark.parametrize("partner_type", [PPMID, GPF])
def test_method_b_on_an_esme_refuses_a_device_that_is_not_type2(
    lab: Lab, partner_type: int
) -> None:
    join = der_command(lab.supplier, lab.esme, CS03B, _join(2, CAD, partner_type))
    assert der(send(lab.esme, join)) == DerInteger(2)  # invalid join method
    assert lab.esme.han_pairings == {}


def test_a_gas_meter_takes_its_gpf_and_a_type2_device_by_method_b(lab: Lab) -> None:
    gsme = lab.gsme
    gpf = lab.premises.gpf.eui
    for eui, kind in ((gpf, GPF), (CAD, TYPE2)):
        join = der_command(lab.supplier, gsme, CS03B, _join(2, eui, kind))
        assert der(send(gsme, join)) == DerInteger(0)
    assert gsme.han_pairings == {bytes(gpf): GPF, bytes(CAD): TYPE2}


@pytest.mark.parametrize("where", ["mac", "signature"])
def test_a_join_that_does_not_authenticate_leaves_the_log(lab: Lab, where: str) -> None:
    esme = lab.esme
    join = der_command(lab.supplier, esme, CS03A1, _join(0, CAD, PPMID), critical=True)
    encoded = join.encode()
    decoded = decode_message(encoded)
    assert decoded.mac is not None and decoded.signature
    raw = bytearray(encoded)
    if where == "signature":
        raw[encoded.index(decoded.signature) + 10] ^= 0x01
    else:
        raw[encoded.rindex(decoded.mac) + 3] ^= 0x01
    outputs = esme.receive(bytes(raw))
    assert esme.han_pairings == {}
    assert esme.commands_accepted == 0 and esme.commands_rejected == 1
    assert all(not getattr(o, "response", False) for o in outputs)
