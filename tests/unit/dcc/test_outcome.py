"""What an outcome says for each payload family, on responses shaped as the RTDS ones.

The ASN.1 shapes are those of the reference success and error responses (CS06
11.3, CS07 8.9, CS02c 6.17, CS02a/f, CS02b, CS03, CS04, CS08, GCS28, GCS59);
each failing one must come back not ok with the device's code.
"""

from __future__ import annotations

import datetime as _dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.gbcs import builder
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerOctetString,
    DerSequence,
    DerString,
    decode_der,
)
from emulator.gbcs.dlms.apdu import AccessResponse, ResponseSpec, SpecKind
from emulator.gbcs.dlms.axdr import NullData
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.payload import PayloadTree
from emulator.gbcs.zcl.gbz import CONTROL_LAST, GbzComponent, GbzPayload, ZclFrame
from hil.dcc.outcome import Outcome, summarise

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
METER = Eui64("00-DB-12-34-56-78-90-A0")
VERSION = DerOctetString(bytes.fromhex("0123abce"))
TIME = DerString(0x18, b"20150101000000Z")
CELL = DerSequence([DerInteger(2), DerBitString(3, b"\x08")])
IDS = [DerOctetString(bytes(8))] * 4


def _summary(message_code: int, payload: PayloadTree) -> Outcome:
    command = builder.command(message_code, 1, SUPPLIER, METER, b"\x05\x00")
    response: GbcsMessage = builder.response(command, payload)
    return summarise(response)


def _replacements(*statuses: int) -> Der:
    outcomes = [DerSequence([CELL, DerEnumerated(s), *IDS]) for s in statuses]
    execution = DerSequence(
        [
            DerInteger(1003),
            DerInteger(2),
            DerSequence([DerSequence([DerInteger(2), DerInteger(0)])]),
            DerSequence(outcomes),
        ]
    )
    return DerSequence([DerNull(), execution])


def _csr() -> Der:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(key, hashes.SHA256())
    )
    return decode_der(csr.public_bytes(serialization.Encoding.DER))


def _certificate() -> Der:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "meter")])
    start = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return decode_der(cert.public_bytes(serialization.Encoding.DER))


# (message code, response payload, ok, device code)
ASN1_CASES = {
    "CS06 success": (0x0012, DerSequence([DerInteger(0), VERSION]), True, None),
    "CS06 no image": (0x0012, DerSequence([DerInteger(1), VERSION]), False, 1),
    "CS07 success": (0x0013, DerSequence([DerInteger(0), DerSequence([])]), True, None),
    "CS07 read failure": (0x0013, DerSequence([DerInteger(1)]), False, 1),
    "CS02c certification request": (0x000A, _csr(), True, None),
    "CS02c CR production failed": (0x000A, DerInteger(3), False, 3),
    "CS02d wrong key usage": (0x000B, DerInteger(3), False, 3),
    "CS02e certificate": (0x000C, _certificate(), True, None),
    "CS02e no certificate": (0x000C, DerInteger(2), False, 2),
    "CS03A1 incompatible": (0x000D, DerInteger(3), False, 3),
    "CS03B success": (0x000E, DerInteger(0), True, None),
    "CS03C certificate": (0x00AF, DerInteger(11), False, 11),
    "CS04AC not in log": (0x000F, DerInteger(1), False, 1),
    "CS08 success": (0x0129, DerSequence([VERSION, DerInteger(0)]), True, None),
    "CS08 read failure": (0x0129, DerSequence([DerOctetString(bytes(4)), DerInteger(1)]), False, 1),
    "GCS28 unreliable": (0x007F, DerSequence([TIME, DerInteger(2)]), False, 2),
    "GCS28 reliable": (0x007F, DerSequence([TIME, DerInteger(0)]), True, None),
    "GCS59 one refused": (
        0x008C,
        DerSequence(
            [
                DerSequence(
                    [
                        DerSequence(
                            [DerSequence([DerOctetString(bytes(8)), DerInteger(5)]), DerInteger(0)]
                        ),
                        DerSequence(
                            [DerSequence([DerOctetString(bytes(8)), DerInteger(6)]), DerInteger(4)]
                        ),
                    ]
                )
            ]
        ),
        False,
        4,
    ),
    "CS02a one role not applicable": (
        0x0008,
        DerSequence(
            [
                DerSequence([DerInteger(3), DerEnumerated(0), DerInteger(0), DerSequence([])]),
                DerSequence([DerInteger(6), DerEnumerated(25)]),
            ]
        ),
        False,
        25,
    ),
    "CS02f all reported": (
        0x011B,
        DerSequence(
            [DerSequence([DerInteger(2), DerEnumerated(0), DerInteger(0), DerSequence([])])]
        ),
        True,
        None,
    ),
    "CS02b one cell not replaced": (0x0102, _replacements(0, 10, 0), False, 10),
    "CS02b all replaced": (0x0103, _replacements(0, 0), True, None),
    "CS02g error form": (0x0125, DerInteger(1), False, 1),
    "CS06 shape not a result": (0x0012, DerOctetString(b"\x00"), False, None),
    "unknown ASN.1 use case": (0x0128, DerSequence([DerInteger(0)]), False, None),
}


@pytest.mark.parametrize("case", ASN1_CASES, ids=str)
def test_asn1_responses_report_the_device_code(case: str) -> None:
    message_code, payload, ok, code = ASN1_CASES[case]
    outcome = _summary(message_code, payload)
    assert outcome.ok is ok, outcome.summary
    assert outcome.device_code == code
    assert (outcome.failures == 0) is ok


@pytest.mark.parametrize(
    ("code", "payload"), [(0x0012, DerNull()), (0x0102, DerSequence([DerNull()]))]
)
def test_a_future_dated_acknowledgement_is_a_deferred_success(code: int, payload: Der) -> None:
    outcome = _summary(code, payload)
    assert outcome.ok and outcome.deferred
    assert "future execution" in outcome.summary


def test_a_dlms_failure_carries_the_first_failing_result() -> None:
    results = [ResponseSpec(SpecKind.GET, 0), ResponseSpec(SpecKind.GET, 11)]
    outcome = _summary(0x0026, AccessResponse(1, [NullData(), NullData()], results))
    assert not outcome.ok and outcome.failures == 1 and outcome.device_code == 11


def _zcl(name: str, command_id: int, fields: dict[str, int], last: bool = False) -> GbzComponent:
    frame = ZclFrame(0x09 if name != "default_response" else 0x08, 0, command_id, fields, name=name)
    return GbzComponent(CONTROL_LAST if last else 0, 0x0705, frame)


def test_zcl_not_found_is_no_data_and_other_statuses_fail() -> None:
    found_nothing = GbzPayload(
        [
            _zcl("default_response", 0x0B, {"command_id": 7, "status": 0x8B}),
            _zcl("default_response", 0x0B, {"command_id": 7, "status": 0x8B}, last=True),
        ]
    )
    outcome = _summary(0x00C3, found_nothing)
    assert outcome.ok and outcome.not_found == 2 and outcome.device_code is None
    broken = GbzPayload(
        [
            _zcl("default_response", 0x0B, {"command_id": 7, "status": 0x8B}),
            _zcl("default_response", 0x0B, {"command_id": 7, "status": 0xC0}, last=True),
        ]
    )
    outcome = _summary(0x00C3, broken)
    assert not outcome.ok and outcome.device_code == 0xC0


@pytest.mark.parametrize(("result", "ok"), [(0x00, True), (0x10, True), (0x02, False)])
def test_a_refused_zcl_top_up_fails(result: int, ok: bool) -> None:
    fields = {
        "result_type": result,
        "top_up_value": 0,
        "source_of_top_up": 0,
        "credit_remaining": 0,
    }
    outcome = _summary(0x0097, GbzPayload([_zcl("consumer_top_up_response", 0x03, fields, True)]))
    assert outcome.ok is ok
    assert outcome.device_code == (None if ok else result)
