"""The replay answers a case with the device variant the reference lab used for it."""

from __future__ import annotations

from emulator.gbcs.eui import Eui64
from hil.conformance import Lab

ESME = Eui64("00-DB-12-34-56-78-90-A0")
GSME = Eui64("00-DB-12-34-56-78-90-A1")


def test_twin_cases_go_to_a_twin_esme_and_the_others_to_the_lab_default() -> None:
    lab = Lab.load()
    assert lab.variant("ECS21a_4.6.1_TWIN_SUCCESS", ESME) == "twin"
    assert lab.variant("ECS02_1.6_FUTURE_DATED_TWIN_SUCCESS", ESME) == "twin"
    assert lab.variant("ECS21a_4.6.1_SINGLE_SUCCESS", ESME) is None
    assert lab.variant("ECS21a_4.6.1_TWIN_SUCCESS", GSME) is None
    assert lab.variant("ECS17b_4.1.1_TWINS", ESME) is None  # a marker is a whole name part
