"""The command pipeline every device runs (emulator/devices/base.py).

Each check stops a bad command with a security-log entry and no output (or, for
an unsupported use case, the ECS100 alert); a good command executes once and its
response is protected as GBCS requires.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import pytest
from devices_support import (
    START,
    Lab,
    action,
    build_lab,
    dlms_command,
    gbz_command,
    get,
    last_security_code,
    read_attributes,
    send,
    tree,
)

from emulator.devices.base import ECS100, Device
from emulator.devices.logs import (
    AUTHENTICATION_FAILURE,
    COMMAND_NOT_SUPPORTED,
    MALFORMED_COMMAND,
    OUT_OF_ORDER,
    UNAUTHORISED,
)
from emulator.devices.usecases import USE_CASES
from emulator.devices.zcl_model import METERING
from emulator.gbcs import builder
from emulator.gbcs.dlms.apdu import AccessRequest, DataNotification, invoke_id_for
from emulator.gbcs.dlms.axdr import LongUnsigned, NullData, OctetString, Structure
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, OtherInformation, decode_message
from emulator.gbcs.zcl.gbz import GbzAlert
from hil.dcc.commands import Built, Sender

ALERT_COMMAND_NOT_SUPPORTED = 0x8F85


@pytest.fixture
def lab() -> Lab:
    return build_lab()


def _flip(raw: bytes, index: int) -> bytes:
    data = bytearray(raw)
    data[index] ^= 0x01
    return bytes(data)


def _assert_refused(device: Device, raw: bytes, code: int) -> None:
    accepted, rejected = device.commands_accepted, device.commands_rejected
    assert device.receive(raw) == []
    assert last_security_code(device) == code
    assert device.commands_accepted == accepted
    assert device.commands_rejected == rejected + 1


# -- 1. the frame decodes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\xdd\x00\x00", b"\xdf\x09\x01" + bytes(5), bytes(range(64))],
    ids=["empty", "one byte", "truncated MAC header", "truncated grouping header", "junk"],
)
def test_malformed_bytes_give_no_output_and_8f1e(lab: Lab, raw: bytes) -> None:
    _assert_refused(lab.esme, raw, MALFORMED_COMMAND)


def test_truncated_valid_command_is_malformed(lab: Lab) -> None:
    raw = lab.supplier.command("7.4", lab.esme.eui).encode()
    _assert_refused(lab.esme, raw[:-20], MALFORMED_COMMAND)


def test_authentic_command_with_undecodable_payload_is_malformed_and_not_counted(
    lab: Lab,
) -> None:
    esme = lab.esme
    lab.supplier.next_counter()
    bad = lab.supplier.protect(Built(0x0052, b"\x01\x09\xff", False), esme.eui)
    _assert_refused(esme, bad.encode(), MALFORMED_COMMAND)
    # the counter of a refused command is not used up: the same counter still works
    lab.supplier.counter = bad.counter - 1
    again = dlms_command(lab.supplier, esme, 0x0052, get(70, "0-0:96.3.10.255", 3))
    assert again.counter == bad.counter
    assert send(esme, again).counter == bad.counter


# -- 2. addressed to this device ---------------------------------------------------------------


def test_command_for_another_device_is_refused(lab: Lab) -> None:
    raw = lab.supplier.command("7.4", lab.gsme.eui).encode()
    _assert_refused(lab.esme, raw, UNAUTHORISED)


# -- 3. the use case is implemented: ECS100 ----------------------------------------------------


@pytest.mark.parametrize("code", [0x006B, 0x7777], ids=["GCS01a (gas only)", "unassigned"])
def test_unknown_message_code_raises_signed_ecs100_alert(lab: Lab, code: int) -> None:
    esme = lab.esme
    command = dlms_command(lab.supplier, esme, code, get(70, "0-0:96.3.10.255", 3))
    out = esme.receive(command.encode())
    assert len(out) == 1
    assert out[0].kind == "alert" and out[0].message_code == ECS100
    assert out[0].destination == lab.supplier.party
    assert out[0].in_reply_to == command.counter
    alert = decode_message(out[0].message)
    assert alert.cra == Cra.ALERT and alert.message_code == 0x0120
    assert alert.originator == esme.eui and alert.recipient == lab.supplier.party
    check = lab.verifier.verify(alert)
    assert check.signature is True and alert.mac is None
    body = tree(alert)
    assert isinstance(body, DataNotification)
    assert isinstance(body.body, Structure)
    code_item, when, detail = body.body.items
    assert code_item == LongUnsigned(ALERT_COMMAND_NOT_SUPPORTED)
    assert isinstance(when, OctetString)
    assert DlmsDateTime.from_bytes(when.value).to_datetime() == START
    assert detail == OctetString(code.to_bytes(2, "big") + command.counter.to_bytes(8, "big"))
    assert last_security_code(esme) == COMMAND_NOT_SUPPORTED
    assert esme.commands_accepted == 0


def test_ecs100_alert_names_the_supplementary_remote_party(lab: Lab) -> None:
    esme = lab.esme
    counter = lab.acb.next_counter()
    spec, argument = get(70, "0-0:96.3.10.255", 3)
    payload = AccessRequest(invoke_id_for(counter), [spec], [argument])
    other = OtherInformation(0x006B, lab.supplier.party, 100000)
    command = builder.command(0x006B, counter, lab.acb.party, esme.eui, payload, other=other)
    command = builder.protect(command, lab.verifier, critical=False)
    (out,) = esme.receive(command.encode())
    alert = decode_message(out.message)
    assert alert.recipient == lab.acb.party
    assert alert.header.other.supplementary_remote_party_id == lab.supplier.party


def test_gas_meter_answers_unknown_code_with_gbz_ecs100_alert(lab: Lab) -> None:
    gsme = lab.gsme
    command = gbz_command(lab.supplier, gsme, 0x0027, read_attributes(METERING, 0x0000))
    out = gsme.receive(command.encode())
    assert [o.kind for o in out] == ["alert"]
    alert = decode_message(out[0].message)
    assert alert.message_code == ECS100
    assert lab.verifier.verify(alert).signature is True
    body = tree(alert)
    assert isinstance(body, GbzAlert) and body.alert_code == ALERT_COMMAND_NOT_SUPPORTED


def test_alert_counters_increase(lab: Lab) -> None:
    esme = lab.esme
    counters = []
    for _ in range(3):
        command = dlms_command(lab.supplier, esme, 0x7777, get(70, "0-0:96.3.10.255", 3))
        counters.append(decode_message(esme.receive(command.encode())[0].message).counter)
    assert counters == sorted(counters) and len(set(counters)) == 3


# -- 4. the originator may send it -------------------------------------------------------------


def test_party_without_role_is_refused_8f53(lab: Lab) -> None:
    # CCS01 (add to the CHF Device Log) is for the ACB only
    raw = lab.supplier.command("8.11-add", lab.chf.eui, device=Eui64(0x1234)).encode()
    assert lab.chf.receive(raw) == []
    assert last_security_code(lab.chf) == UNAUTHORISED
    assert not lab.chf.admits(Eui64(0x1234))


def test_critical_command_from_other_anchor_role_is_refused(lab: Lab) -> None:
    # ECS42 (enable supply) is critical and for the supplier only: the network
    # operator is no "other" party for critical commands
    esme = lab.esme
    esme.meter.supply_enabled = False
    _assert_refused(esme, lab.network_operator.command("7.1", esme.eui).encode(), UNAUTHORISED)
    assert esme.meter.supply_enabled is False


STRANGER = Eui64("90-B3-D5-1F-30-09-00-00")  # no anchor cell, no key the device knows


def test_party_without_a_cell_is_refused_critical_and_supplier_only_use_cases(lab: Lab) -> None:
    esme = lab.esme
    stranger = Sender(STRANGER, lab.verifier)
    esme.meter.supply_enabled = False
    enable = action(9, "0-0:10.0.106.255", 1, LongUnsigned(0x33))
    _assert_refused(esme, dlms_command(stranger, esme, 0x004F, enable).encode(), UNAUTHORISED)
    supply = get(70, "0-0:96.3.10.255", 3)
    _assert_refused(esme, dlms_command(stranger, esme, 0x0024, supply).encode(), UNAUTHORISED)
    assert esme.meter.supply_enabled is False


def test_command_from_unknown_other_party_does_not_raise(lab: Lab) -> None:
    esme = lab.esme
    command = Sender(STRANGER, lab.verifier).command("4.2", esme.eui)  # ECS17a allows "other"
    logged = len(esme.security_log)
    out = esme.receive(command.encode())
    assert out or len(esme.security_log) == logged + 1


def test_network_operator_only_use_case_refuses_supplier(lab: Lab) -> None:
    command = dlms_command(lab.supplier, lab.esme, 0x0045, get(70, "0-0:96.3.10.255", 3))
    _assert_refused(lab.esme, command.encode(), UNAUTHORISED)


def test_non_critical_command_from_other_party_is_authorised(lab: Lab) -> None:
    # ECS17a is for the network operator or "other": the supplier qualifies as other
    assert "supplier" not in USE_CASES[0x0026].originators
    response = send(lab.esme, lab.supplier.command("4.2", lab.esme.eui))
    assert response.message_code == 0x0026


# -- 5. fresh counter --------------------------------------------------------------------------


def test_replayed_counter_is_refused_and_not_executed(lab: Lab) -> None:
    esme = lab.esme
    disable = lab.supplier.command("7.2", esme.eui)
    send(esme, disable)
    assert esme.meter.supply_enabled is False
    send(esme, lab.supplier.command("7.1", esme.eui))
    assert esme.meter.supply_enabled is True
    _assert_refused(esme, disable.encode(), OUT_OF_ORDER)
    assert esme.meter.supply_enabled is True  # the replayed disable did not run


def test_lower_counter_is_refused(lab: Lab) -> None:
    esme = lab.esme
    lab.supplier.counter = 0x5000
    send(esme, lab.supplier.command("7.4", esme.eui))
    lab.supplier.counter = 0x4000
    _assert_refused(esme, lab.supplier.command("7.4", esme.eui).encode(), OUT_OF_ORDER)


def test_counters_are_per_party(lab: Lab) -> None:
    esme = lab.esme
    lab.supplier.counter = 0x5000
    lab.network_operator.counter = 0x10
    send(esme, lab.supplier.command("7.4", esme.eui))
    assert send(esme, lab.network_operator.command("7.4", esme.eui)).counter == 0x11


# -- 6. authentication -------------------------------------------------------------------------


def test_bad_mac_is_refused_8f3d(lab: Lab) -> None:
    raw = lab.supplier.command("7.4", lab.esme.eui).encode()
    _assert_refused(lab.esme, _flip(raw, len(raw) - 1), AUTHENTICATION_FAILURE)


def test_bad_signature_is_refused_8f3d(lab: Lab) -> None:
    esme = lab.esme
    esme.meter.supply_enabled = False
    command = lab.supplier.command("7.1", esme.eui)
    assert command.signature and command.mac is not None
    # corrupt the last byte of r||s, then MAC the corrupted message again so only
    # the signature is wrong
    sig = bytearray(command.signature)
    sig[-1] ^= 0x01
    forged = GbcsMessage(command.header, command.payload, bytes(sig), None)
    forged = lab.verifier.protect(forged, sign=False, mac=True)
    _assert_refused(esme, forged.encode(), AUTHENTICATION_FAILURE)
    assert esme.meter.supply_enabled is False


def test_signature_by_another_party_is_refused(lab: Lab) -> None:
    """A critical command signed by the network operator but claiming the supplier."""
    esme = lab.esme
    command = lab.supplier.command("7.2", esme.eui)
    unsigned = GbcsMessage(command.header, command.payload, b"", None)
    forged = lab.verifier.protect(unsigned, sign=False, mac=True)
    forged.signature = lab.verifier.sign(forged, signer=lab.network_operator.party)
    forged = lab.verifier.protect(forged, sign=False, mac=True)
    _assert_refused(esme, forged.encode(), AUTHENTICATION_FAILURE)
    assert esme.meter.supply_enabled is True


def test_critical_command_without_signature_is_refused_8f3d(lab: Lab) -> None:
    esme = lab.esme
    command = lab.supplier.command("7.2", esme.eui)
    unsigned = GbcsMessage(command.header, command.payload, b"", None)
    maced_only = lab.verifier.protect(unsigned, sign=False, mac=True)
    _assert_refused(esme, maced_only.encode(), AUTHENTICATION_FAILURE)
    assert esme.meter.supply_enabled is True


def test_command_without_mac_is_refused_8f3d(lab: Lab) -> None:
    command = lab.supplier.command("7.4", lab.esme.eui)
    bare = builder.precommand(command)
    bare = GbcsMessage(bare.header, bare.payload, b"", None)
    _assert_refused(lab.esme, bare.encode(), AUTHENTICATION_FAILURE)


def test_forged_command_does_not_use_up_the_counter(lab: Lab) -> None:
    esme = lab.esme
    command = lab.supplier.command("7.4", esme.eui)
    raw = command.encode()
    _assert_refused(esme, _flip(raw, len(raw) - 1), AUTHENTICATION_FAILURE)
    assert send(esme, command).counter == command.counter


# -- accepted commands and their responses -----------------------------------------------------


def test_valid_command_increments_commands_accepted(lab: Lab) -> None:
    esme = lab.esme
    for n in range(1, 4):
        send(esme, lab.supplier.command("7.4", esme.eui))
        assert esme.commands_accepted == n
    assert esme.commands_rejected == 0
    assert len(esme.security_log) == 0


Case = Callable[[Lab], tuple[Device, GbcsMessage]]
CASES: dict[str, Case] = {
    "ECS17a": lambda lab: (lab.esme, lab.supplier.command("4.2", lab.esme.eui)),
    "ECS17b": lambda lab: (lab.esme, lab.supplier.command("4.1.1", lab.esme.eui)),
    "ECS45": lambda lab: (lab.esme, lab.supplier.command("7.4", lab.esme.eui)),
    "ECS42 critical": lambda lab: (lab.esme, lab.supplier.command("7.1", lab.esme.eui)),
    "ECS43 critical": lambda lab: (lab.esme, lab.supplier.command("7.2", lab.esme.eui)),
    "ECS01a critical": lambda lab: (
        lab.esme,
        dlms_command(lab.supplier, lab.esme, 0x0019, get(113, "0-0:19.20.0.255", 7), critical=True),
    ),
    "ECS04a critical": lambda lab: (
        lab.esme,
        dlms_command(lab.supplier, lab.esme, 0x001C, get(1, "0-0:96.1.1.255", 2), critical=True),
    ),
    "GCS13a": lambda lab: (lab.gsme, lab.supplier.command("4.1.1-gas", lab.gsme.eui)),
    "GCS33": lambda lab: (
        lab.gsme,
        gbz_command(lab.supplier, lab.gsme, 0x0082, read_attributes(METERING, 0x0014)),
    ),
    "GCS01a critical": lambda lab: (
        lab.gsme,
        gbz_command(lab.supplier, lab.gsme, 0x006B, read_attributes(METERING, 0), critical=True),
    ),
    "CCS01": lambda lab: (lab.chf, lab.acb.command("8.11-add", lab.chf.eui, device=Eui64(0xB0))),
    "CCS07": lambda lab: (
        lab.chf,
        dlms_command(lab.acb, lab.chf, 0x00FE, action(104, "0-0:30.3.1.255", 4, NullData())),
    ),
}


def test_cases_cover_both_protections_and_both_header_forms() -> None:
    lab = build_lab()
    codes = [case(lab)[1].message_code for case in CASES.values()]
    assert {USE_CASES[c].critical for c in codes} == {True, False}
    assert {USE_CASES[c].response_date_time for c in codes} == {True, False}


@pytest.mark.parametrize("name", list(CASES))
def test_response_header_and_protection(name: str) -> None:
    lab = build_lab()
    lab.advance(_dt.timedelta(minutes=7))
    device, command = CASES[name](lab)
    use_case = USE_CASES[command.message_code]
    response = send(device, command)
    assert response.cra == Cra.RESPONSE
    assert response.counter == command.counter
    assert response.message_code == command.message_code
    assert response.originator == command.recipient
    assert response.recipient == command.originator
    check = lab.verifier.verify(response)
    assert check.ok, check.errors
    if use_case.critical:
        assert check.signature is True and response.mac is None
    else:
        assert check.mac is True and not response.signature
    assert (response.header.date_time is not None) == use_case.response_date_time
    if response.header.date_time is not None:
        assert response.header.date_time.to_datetime() == lab.clock.now()


def test_response_repeats_the_supplementary_remote_party_fields(lab: Lab) -> None:
    """GBCS 4.3: a response to a command the ACB sent for a party names that party and
    its counter, so the party knows the response is for it (RTDS ECS50, CCS01...)."""
    esme = lab.esme
    counter = lab.acb.next_counter()
    spec, argument = get(1, "0-0:42.0.0.255", 2)
    payload = AccessRequest(invoke_id_for(counter), [spec], [argument])
    other = OtherInformation(0x0058, lab.supplier.party, 100000)
    command = builder.command(0x0058, counter, lab.acb.party, esme.eui, payload, other=other)
    command = builder.protect(command, lab.verifier, critical=False)
    (out,) = esme.receive(command.encode())
    response = decode_message(out.message)
    assert response.cra == Cra.RESPONSE
    assert response.header.other == OtherInformation(0x0058, lab.supplier.party, 100000)
    assert lab.verifier.verify(response).mac is True
