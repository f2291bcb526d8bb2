"""The evidence for the ESME alert-settings bit table (`emulator.gbcs.alert_settings`).

GBCS's table of alert-setting bits is not public; the rule (an alert's bit, counted
from the string's last bit, is its code's low byte) is derived from the RTDS:
- ECS25a2, ECS25a3 and ECS25b3: the template becomes the reference command bit for bit;
- ECS25a and ECS25b: the reference agrees on every code both hold; the reference was
  not made from today's template (ECS25a's sets four alerts where the template names
  three, so no one-bit-per-alert table could give it);
- ECS25r1 / ECS25r2: every bit the meter reports set decodes to an alert DUIS lists for
  that object's role, and none falls outside.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from emulator.gbcs import alert_settings
from emulator.gbcs.dlms.axdr import BitString
from hil.duis.transform import transform
from hil.duis.xml import parse, read_request

ALERT = re.compile(r"x([0-9A-F]{4})")
#: What the two references hold that the templates do not: the codes set only in the
#: reference, and the template's codes absent from it (both poly-phase alerts).
REFERENCE_ONLY = {"ECS25a": {0x81C4: False, 0x81C5: False}, "ECS25b": {}}
TEMPLATE_ONLY = {"ECS25a": {0x81B7}, "ECS25b": {0x8003}}


def _string(hex_text: str, bits: int) -> bytes:
    """The first bit string of `bits` bits in a hex message."""
    tag = f"0482{bits:04X}"
    at = hex_text.index(tag) + len(tag)
    return bytes.fromhex(hex_text[at : at + bits // 4])


def _reference(rtds: Path, use_case: str) -> bytes:
    path = rtds / f"6.22_{use_case}" / f"{use_case}_6.22_SUCCESS_COMMAND_GBCS.HEX"
    return _string(path.read_text().strip(), 512)


def _settings(duis_dir: Path, use_case: str) -> dict[int, bool]:
    root = etree.parse(str(duis_dir / "templates" / f"{use_case}_6.22_SUCCESS_REQUEST_DUIS.XML"))
    found: dict[int, bool] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and (m := ALERT.fullmatch(etree.QName(el).localname)):
            found[int(m.group(1), 16)] = el.text == "Enable"
    return found


def _transformed(duis_dir: Path, use_case: str) -> bytes:
    path = duis_dir / "templates" / f"{use_case}_6.22_SUCCESS_REQUEST_DUIS.XML"
    t = transform(read_request(parse(path.read_bytes())), device_type="ESME")
    value = t.params["values"]["0"]
    assert isinstance(value, BitString) and value.bits == 512 and t.unmapped == []
    return value.value


@pytest.mark.parametrize("use_case", ["ECS25a2", "ECS25a3", "ECS25b3"])
def test_the_template_becomes_the_reference_alert_string(
    use_case: str, rtds_messages: Path, duis_dir: Path
) -> None:
    assert _transformed(duis_dir, use_case) == _reference(rtds_messages, use_case)


@pytest.mark.parametrize("use_case", ["ECS25a", "ECS25b"])
def test_the_other_references_agree_on_every_code_both_hold(
    use_case: str, rtds_messages: Path, duis_dir: Path
) -> None:
    ours = _settings(duis_dir, use_case)
    theirs = alert_settings.decode(_reference(rtds_messages, use_case))
    if use_case == "ECS25b":  # decode names codes 0x81xx; these are the operator's
        theirs = {code & ~0x0100: on for code, on in theirs.items()}
    shared = set(ours) & set(theirs)
    assert shared and {c: ours[c] for c in shared} == {c: theirs[c] for c in shared}
    assert {c: theirs[c] for c in set(theirs) - shared} == REFERENCE_ONLY[use_case]
    assert set(ours) - shared == TEMPLATE_ONLY[use_case]
    assert _transformed(duis_dir, use_case) == alert_settings.encode(ours)


def _listed(duis_dir: Path, type_names: tuple[str, ...]) -> set[int]:
    schema = etree.parse(str(duis_dir / "schema" / "DUIS Schema V5.4.xsd"))
    codes: set[int] = set()
    for name in type_names:
        (t,) = schema.xpath(f"//*[local-name()='complexType'][@name='{name}']")
        for el in t.iter():
            if isinstance(el.tag, str) and (m := ALERT.fullmatch(el.get("name", ""))):
                codes.add(int(m.group(1), 16))
    return codes


@pytest.mark.parametrize(
    ("use_case", "role", "types"),
    [
        ("ECS25r1", 0x81, ("SupplierESMECommon", "SupplierESMEPolyPhase")),
        (
            "ECS25r2",
            0x80,
            (
                "NetworkOperatorESMECommon",
                "NetworkOperatorESMESinglePhase",
                "NetworkOperatorESMEPolyPhase",
            ),
        ),
    ],
)
def test_every_alert_the_meter_reports_is_one_duis_lists_for_the_role(
    use_case: str, role: int, types: tuple[str, ...], rtds_messages: Path, duis_dir: Path
) -> None:
    path = rtds_messages / f"6.2.10_{use_case}" / f"{use_case}_6.2.10_SUCCESS_RESPONSE_GBCS.HEX"
    text = path.read_text().strip()
    strings = [bytes.fromhex(text[m.end() : m.end() + 64]) for m in re.finditer("04820100", text)]
    listed = _listed(duis_dir, types)
    reported: set[int] = set()
    for string in strings:
        value = int.from_bytes(string, "big")
        reported |= {role << 8 | i for i in range(256) if value >> i & 1}
    assert reported and reported <= listed
    if use_case == "ECS25r1":
        assert len(reported) == 42  # 33 sent, 38 logged: no chance fit of 256 bits
