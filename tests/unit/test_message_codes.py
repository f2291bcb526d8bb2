"""Criticality has one source of truth: the codec's message-code table.

The devices' use-case table and the DCC's routes used to state it themselves and
disagreed with the codec's table on 31 codes (the codec had "unknown" where the
reference messages show a signature or only a MAC). Now both derive it, and a
row that states something else stops the import.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.devices.usecases import USE_CASES
from emulator.gbcs.message_codes import MESSAGE_CODES, MessageCodeMismatch, derived_critical
from hil.dcc.routes import ROUTES

#: Codes with a MAC form and a signature form: the variant decides.
TWO_FORM = {0x0008, 0x011B}


def test_every_use_case_a_device_takes_has_the_codecs_criticality() -> None:
    for code, use_case in USE_CASES.items():
        expected = MESSAGE_CODES[code].critical
        assert use_case.critical == expected, use_case.name
        if code not in TWO_FORM:
            assert expected is not None, f"0x{code:04X} {use_case.name} has no criticality"


def test_every_route_has_the_codecs_criticality() -> None:
    for route in ROUTES:
        expected = MESSAGE_CODES[route.message_code].critical
        if route.message_code in TWO_FORM:
            assert expected is None
            assert route.critical == route.use_case.endswith("Signature"), route.use_case
        else:
            assert route.critical == expected, route.use_case


@pytest.mark.parametrize(
    ("code", "critical"),
    [
        (0x001F, True),  # ECS08: the reference command is signed
        (0x0055, True),  # ECS47 activate/deactivate/reset
        (0x000C, True),  # CS02e: GBCS says "variant", the command is signed
        (0x0102, True),  # CS02b supplier by supplier
        (0x0104, False),  # CS02b ACB by ACB: MAC only
        (0x0007, False),  # CS01a: non-critical, with UTRN protection of its own
        (0x009B, False),  # PCS01, PPMID to GSME: MAC only
        (0x012A, False),  # GCS60a: SME.C.NC
        (0x00CC, True),  # future-dated outcome alerts are signed
        (0x1001, False),  # generic non-critical alert
    ],
)
def test_criticality_follows_the_references(code: int, critical: bool) -> None:
    assert MESSAGE_CODES[code].critical is critical


def test_a_row_that_disagrees_is_refused() -> None:
    with pytest.raises(MessageCodeMismatch, match="ECS08"):
        derived_critical(0x001F, "ECS08", False)
    with pytest.raises(MessageCodeMismatch, match="not in MESSAGE_CODES"):
        derived_critical(0x7FFF, "XCS01")
    with pytest.raises(MessageCodeMismatch, match="is ECS08"):
        derived_critical(0x001F, "ECS07")
    assert derived_critical(0x0008, "CS02aSignature", True) is True
    assert derived_critical(0x0008, "CS02aMAC") is None


def test_a_route_of_a_two_form_code_must_say_which_form() -> None:
    from hil.dcc import routes

    with pytest.raises(MessageCodeMismatch, match="must say"):
        routes._r("6.24.1", "CS02aMAC", 0x0008, "ESME")
    assert routes._r("6.24.1", "CS02aMAC", 0x0008, "ESME", critical=False)[0].critical is False


def test_a_disagreement_stops_the_import() -> None:
    """The check runs while the derived tables are built, not only in a test."""
    script = (
        "import dataclasses\n"
        "from emulator.gbcs import message_codes as m\n"
        "m.MESSAGE_CODES[0x001F] = dataclasses.replace(m.MESSAGE_CODES[0x001F], use_case='X')\n"
        "try:\n"
        "    import emulator.devices.usecases\n"
        "except m.MessageCodeMismatch as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.startswith("refused: ECS08"), out.stdout + out.stderr
