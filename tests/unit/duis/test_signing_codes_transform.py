"""DUIS pieces without the shared schema: XML signatures, test-only credentials,
the response-code table and the body -> parameter transform."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from duis_support import DCC, SUPPLIER, request_xml
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.duis import codes
from hil.duis.signing import (
    Credential,
    SigningError,
    XmlCredentials,
    make_credential,
    sign,
    signer_of,
    verify,
)
from hil.duis.transform import transform
from hil.duis.xml import parse, read_request


def test_signature_round_trip_and_tamper() -> None:
    cred = make_credential(SUPPLIER)
    signed = sign(parse(request_xml("<sr:ReadInstantaneousImportRegisters/>", "4.1.1")), cred)
    root = parse(signed)
    assert signer_of(root) == (cred.issuer, cred.serial)
    verify(root, cred)
    tampered = parse(signed.replace(b":7<", b":8<"))
    with pytest.raises(SigningError, match="does not verify"):
        verify(tampered, cred)
    with pytest.raises(SigningError):
        verify(root, make_credential(SUPPLIER))  # another key, same user


def _production_certificate() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Z2 Production CA")])
    now = _dt.datetime(2024, 1, 1, tzinfo=_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=10))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def test_production_credentials_refused(tmp_path: Path) -> None:
    cert, key = _production_certificate()
    with pytest.raises(SigningError, match="not a test certificate"):
        XmlCredentials().add_user(Credential(Eui64(SUPPLIER), cert, key))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    store = {
        "90b3d51f30010000": {
            "digitalSignature": {
                "7": {"certificate": pem, "privateKey": key_pem, "role": 135, "name": "xml-sign"}
            }
        }
    }
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(store))
    with pytest.raises(SigningError, match="not a test certificate"):
        XmlCredentials.from_zaz1(path)


def test_zaz1_shaped_store_loads_user_and_dcc_keys(tmp_path: Path) -> None:
    def entry(cred: Credential, role: int) -> dict[str, object]:
        assert cred.private_key is not None
        return {
            "certificate": cred.certificate.public_bytes(serialization.Encoding.PEM).decode(),
            "privateKey": cred.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "role": role,
            "name": "xml-sign",
        }

    user, dcc = make_credential(SUPPLIER), make_credential(DCC)
    store = {
        "90b3d51f30010000": {"digitalSignature": {"1": entry(user, 135), "2": entry(user, 2)}},
        "90b3d51f30000002": {"digitalSignature": {"3": entry(dcc, 137)}},
    }
    path = tmp_path / "zaz1.json"
    path.write_text(json.dumps(store))
    loaded = XmlCredentials.from_zaz1(path)
    assert loaded.dcc is not None and loaded.dcc.serial == dcc.serial
    found = loaded.by_issuer_serial(user.issuer.replace(",", ", "), user.serial)
    assert found is not None and bytes(found.eui) == bytes(Eui64(SUPPLIER))


SUPPLIER2 = "90-B3-D5-1F-30-03-00-00"


def _zaz1_like(eui: str, serial: int, *, named: bool = True, days: int = 3650) -> Credential:
    """A ZAZ1-shaped GBCS signer: the EUI-64 as a BIT STRING uniqueIdentifier, Z1 CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    unique_id = x509.NameAttribute(
        x509.ObjectIdentifier("2.5.4.45"), b"\x00" + bytes(Eui64(eui)), _type=_ASN1Type.BitString
    )
    role = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "02")
    subject = x509.Name([role, unique_id] if named else [role])
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Z1"),
        ]
    )
    now = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return Credential(Eui64(eui), cert, key, 2)


def _entry(cred: Credential, role: int, name: str) -> dict[str, object]:
    assert cred.private_key is not None
    return {
        "certificate": cred.certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "privateKey": cred.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "role": role,
        "name": name,
    }


def _store(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "zaz1.json"
    path.write_text(json.dumps(data))
    return path


def test_zaz1_store_loads_the_gbcs_signers_of_boxeds_signing_tool(tmp_path: Path) -> None:
    """DCC Boxed's signing tool signs supplier2's requests with its GBCS digital-signing
    key (`Z1-supplier2-ds`), so the server holds that key for supplier2, and the load
    controller's (`Z1-loadController-ds`, given on the tool's command line); other GBCS
    keys stay out, and a user's XML key wins over a tool key."""
    supplier2 = _zaz1_like(SUPPLIER2, 11)
    other_gbcs = _zaz1_like(SUPPLIER2, 12)
    xml_user, tool_named = make_credential(SUPPLIER), _zaz1_like(SUPPLIER, 13)
    unlisted = _zaz1_like("90-B3-D5-1F-30-01-00-08", 14)
    load_controller = _zaz1_like("90-B3-D5-1F-30-01-00-08", 16)
    path = _store(
        tmp_path,
        {
            "90b3d51f30030000": {
                "digitalSignature": {
                    "12": _entry(other_gbcs, 2, "Z1b-supplier2-ds"),
                    "11": _entry(supplier2, 2, "Z1-supplier2-ds"),
                },
                "keyAgreement": {"15": _entry(other_gbcs, 2, "Z1-supplier2-ka")},
            },
            "90b3d51f30010000": {
                "digitalSignature": {
                    "13": _entry(tool_named, 2, "Z1-supplier2-ds"),
                    "1": _entry(xml_user, 135, "xml-sign-90B3D51F30010000-ds"),
                }
            },
            "90b3d51f30010008": {
                "digitalSignature": {
                    "14": _entry(unlisted, 8, "Z1-lc-ds"),
                    "16": _entry(load_controller, 8, "Z1-loadController-ds"),
                },
                "keyAgreement": {"17": _entry(unlisted, 8, "Z1-loadController-ka")},
            },
            "90b3d51f30000002": {"digitalSignature": {"3": _entry(make_credential(DCC), 137, "d")}},
        },
    )
    loaded = XmlCredentials.from_zaz1(path)
    held = loaded.user(Eui64(SUPPLIER2))
    assert held is not None and held.serial == 11 and held.role == 2
    assert held.private_key is not None  # the lab signs supplier2's requests with it
    assert loaded.by_issuer_serial("CN=Z1, OU=07", 12) is None
    found = loaded.user(Eui64(SUPPLIER))
    assert found is not None and found.serial == xml_user.serial and found.role == 135
    controller = loaded.user(Eui64("90-B3-D5-1F-30-01-00-08"))
    assert controller is not None and controller.serial == 16 and controller.role == 8
    assert loaded.by_issuer_serial("CN=Z1, OU=07", 14) is None
    # what the tool's key signs verifies against the record, for supplier2 only
    root = parse(sign(parse(request_xml("<sr:ReadInstantaneousImportRegisters/>", "4.1.1")), held))
    assert signer_of(root) == (held.issuer, 11)
    verify(root, held)


def test_expired_test_certificate_still_verifies() -> None:
    """ZAZ1's GBCS signing certificates in Boxed's tool's list expired in 2025; the tool
    checks signatures against the public key only, so the server does too (the wall
    clock decides nothing), while another key still fails."""
    expired = _zaz1_like(SUPPLIER2, 21, days=30)  # valid in January 2020 only
    root = parse(
        sign(parse(request_xml("<sr:ReadInstantaneousImportRegisters/>", "4.1.1")), expired)
    )
    verify(root, expired)
    with pytest.raises(SigningError, match="does not verify"):
        verify(root, _zaz1_like(SUPPLIER2, 21, days=30))


def test_zaz1_signer_for_another_eui_refused(tmp_path: Path) -> None:
    """A key is trusted for the EUI-64 its certificate names: a supplier2-ds
    certificate filed under another user's ID would let it sign as that user."""
    path = _store(
        tmp_path,
        {
            "90b3d51f30010000": {
                "digitalSignature": {"11": _entry(_zaz1_like(SUPPLIER2, 11), 2, "Z1-supplier2-ds")}
            },
            "90b3d51f30000002": {"digitalSignature": {"3": _entry(make_credential(DCC), 137, "d")}},
        },
    )
    with pytest.raises(SigningError) as caught:
        XmlCredentials.from_zaz1(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 90b3d51f30010000: digitalSignature 11 (Z1-supplier2-ds)")
    assert f"names {SUPPLIER2}, not {SUPPLIER}" in message
    anonymous = _zaz1_like(SUPPLIER2, 12, named=False)
    with pytest.raises(SigningError, match=f"user {SUPPLIER2}: certificate names no EUI-64"):
        XmlCredentials().add_user(anonymous)


def test_codes_are_duis_codes() -> None:
    for reason, code in codes.DUIS_CODES.items():
        assert re.fullmatch(r"I0|I99|E\d{1,4}", code), reason
    assert codes.duis_code("DEVICE_NOT_IN_INVENTORY") == "E19"
    assert codes.duis_code("something new") == codes.OTHER
    # 'Not used' (a catalogue row with no role): no User Role may send it, as ineligible
    assert codes.duis_code("SERVICE_NOT_USED") == codes.duis_code("ROLE_NOT_ELIGIBLE") == "E2"
    # a withdrawn meter (8.5) is refused or its held requests cancelled: a status code
    assert codes.duis_code("DEVICE_WITHDRAWN") == codes.duis_code("STATUS_NOT_ELIGIBLE") == "E5"
    # an image not on the CPL: the firmware variant's warning code, E100 elsewhere
    assert codes.duis_code("FIRMWARE_NOT_ON_CPL", "11.1") == "W110101"
    assert codes.duis_code("FIRMWARE_NOT_ON_CPL", "11.4") == "W110401"
    assert codes.duis_code("FIRMWARE_NOT_ON_CPL") == codes.OTHER
    for (_reason, variant), code in codes.VARIANT_CODES.items():
        assert re.fullmatch(r"[EW]\d{6}", code) and code[1:5] == "".join(
            f"{int(part):02d}" for part in variant.split(".")[:2]
        )


def test_transform_carries_body_values() -> None:
    body = "<sr:UpdateMeterBalance><sr:PrepaymentMode><sr:AdjustMeterBalance>1234"
    body += "</sr:AdjustMeterBalance></sr:PrepaymentMode></sr:UpdateMeterBalance>"
    t = transform(read_request(parse(request_xml(body))), device_type="ESME")
    assert t.params == {"amount": 1234} and t.unmapped == []
    assert t.target == Eui64("00-DB-12-34-56-78-90-A0")


def test_transform_non_device_takes_the_body_device_and_lists_the_rest() -> None:
    body = "<sr:DecommissionDevice><sr:DeviceID>00-DB-12-34-56-78-90-A0</sr:DeviceID>"
    body += "</sr:DecommissionDevice>"
    dcc = "90-B3-D5-1F-30-00-00-02"
    request = read_request(parse(request_xml(body, "8.3", dcc)))
    t = transform(request, device_type=None, dcc_ids=[Eui64(dcc)], non_device=True)
    assert t.target == Eui64("00-DB-12-34-56-78-90-A0")
    assert t.params == {"device": "00-DB-12-34-56-78-90-A0"}
    odd = "<sr:UpdateMeterBalance><sr:Colour>blue</sr:Colour></sr:UpdateMeterBalance>"
    t = transform(read_request(parse(request_xml(odd))), device_type="ESME")
    assert t.unmapped == ["Colour=blue"]


def test_transform_carries_urp_credentials_as_bytes() -> None:
    """4.14 / 4.17 URP: the key agreement certificate goes to the DCC as DER bytes."""
    window = _leaf("StartDateTime", "2026-01-04T00:00:00Z")
    window += _leaf("EndDateTime", "2026-01-05T00:00:00Z")
    der = b"\x30\x03\x02\x01\x07"
    body = _body(
        "ReadPrepaymentDailyReadLog",
        _leaf("ReadLogPeriod", window)
        + _leaf("KAPublicSecurityCredentials", base64.b64encode(der).decode()),
    )
    t = transform(read_request(parse(request_xml(body, "4.14"))), device_type="ESME")
    assert t.params["ka_certificate"] == der
    assert not [u for u in t.unmapped if "KAPublic" in u]


def _body(service: str, inner: str) -> str:
    return f"<sr:{service}>{inner}</sr:{service}>"


def _leaf(name: str, text: str) -> str:
    return f"<sr:{name}>{text}</sr:{name}>"


def test_transform_carries_decimals_lists_windows_and_per_device_names() -> None:
    gas = _body(
        "UpdateDeviceConfigurationGasConversion",
        _leaf("CalorificValue", "40.0") + _leaf("ConversionFactor", "1.02264"),
    )
    t = transform(read_request(parse(request_xml(gas, "6.6"))), device_type="GSME")
    assert t.unmapped == []
    assert t.params["conversion_factor"] == 102264
    assert t.params["conversion_factor_trailing_digit"] == 5 << 4
    assert (t.params["calorific_value"], t.params["calorific_value_trailing_digit"]) == (400, 16)
    flow = _body(
        "UpdateDeviceConfigurationGasFlow",
        _leaf("UncontrolledGasFlowRateDecimal", "6.1680") + _leaf("SupplyTamperState", "Unchanged"),
    )
    t = transform(read_request(parse(request_xml(flow, "6.7"))), device_type="GSME")
    assert t.params["uncontrolled_flow_threshold"] == 61680
    assert (t.params["multiplier"], t.params["divisor"]) == (1, 10_000)
    assert t.params["supply_tamper_state"] == 3 and t.unmapped == []
    power = _body(
        "UpdateDeviceConfigurationInstantaneousPowerThreshold",
        _leaf("LowMediumPowerThreshold", "2300") + _leaf("MediumHighPowerThreshold", "4600"),
    )
    t = transform(read_request(parse(request_xml(power, "6.12"))), device_type="ESME")
    assert t.params == {"thresholds": [2300, 4600]}
    clock = _body(
        "SynchroniseClock",
        _leaf("CurrentDateTime", "2026-12-01T12:00:00.00Z") + _leaf("TolerancePeriod", "60"),
    )
    t = transform(read_request(parse(request_xml(clock, "6.11"))), device_type="ESME")
    assert t.params["valid_from"] == _dt.datetime(2026, 12, 1, 12, tzinfo=_dt.UTC)
    assert t.params["valid_to"] - t.params["valid_from"] == _dt.timedelta(seconds=60)
    name = _body(
        "UpdateSupplierName",
        _leaf("SupplierName", "E-ON") + _leaf("SupplierTelephoneNumber", "0333 202 4650"),
    )
    esme = transform(read_request(parse(request_xml(name, "3.4"))), device_type="ESME")
    assert esme.params == {"supplier_name": "E-ON", "supplier_telephone": "0333 202 4650"}
    gsme = transform(read_request(parse(request_xml(name, "3.4"))), device_type="GSME")
    assert gsme.params["proposed_provider_name"] == "E-ON" and gsme.unmapped == []


def test_transform_does_not_map_a_nested_field_by_its_name() -> None:
    """A day profile's StartTime is not the command's start_time."""
    nested = _body(
        "UpdatePrepayConfigGas",
        "<sr:Calendar><sr:Day><sr:Entry>"
        + _leaf("StartTime", "00:00:00.00Z")
        + "</sr:Entry></sr:Day></sr:Calendar>",
    )
    t = transform(read_request(parse(request_xml(nested, "2.1"))), device_type="GSME")
    assert "start_time" not in t.params
    assert t.unmapped == ["Calendar/Day/Entry/StartTime=00:00:00.00Z"]


def test_cancellation_marker() -> None:
    body = "<sr:UpdateMeterBalance><sr:ExecutionDateTime>3000-12-31T00:00:00Z"
    body += "</sr:ExecutionDateTime></sr:UpdateMeterBalance>"
    t = transform(read_request(parse(request_xml(body))), device_type="ESME")
    assert t.execute_at is None


def test_parser_refuses_entities() -> None:
    evil = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    root = parse(evil)
    assert "root:" not in (etree.tostring(root).decode())
