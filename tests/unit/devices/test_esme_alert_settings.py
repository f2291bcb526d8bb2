"""The ESME honours its ECS25 alert settings: an alert disabled is not sent, an event
whose logging is disabled is not logged, and ECS25r1 reads the settings back."""

from __future__ import annotations

import pytest
from devices_support import Lab, access_response, build_lab, dlms_command, get, results, send, set_

from emulator.devices import supply
from emulator.devices.base import Outbound
from emulator.gbcs import alert_settings
from emulator.gbcs.dlms.axdr import BitString

CODE = supply.CREDIT_ADDED_LOCALLY  # 0x810E, an alert the supplier configures


@pytest.fixture
def lab() -> Lab:
    return build_lab()


def _set(lab: Lab, message_code: int, obis: str, settings: dict[int, bool]) -> None:
    value = BitString(512, alert_settings.encode(settings))
    command = dlms_command(lab.supplier, lab.esme, message_code, set_(1, obis, 2, value))
    assert results(send(lab.esme, command)) == [0]


def _raise(lab: Lab) -> list[Outbound]:
    sent: list[Outbound] = []
    lab.esme.on_alert = sent.append
    supply.raise_alert(lab.esme, CODE, "credit added")
    return sent


def test_a_disabled_alert_is_logged_but_not_sent_until_enabled_again(lab: Lab) -> None:
    assert len(_raise(lab)) == 1
    _set(lab, 0x00AC, "0-30:97.98.11.255", {CODE: False})  # ECS25a
    before = len(lab.esme.event_log.codes())
    assert _raise(lab) == []
    assert lab.esme.event_log.codes()[before:] == [CODE]
    _set(lab, 0x00AC, "0-30:97.98.11.255", {CODE: True})
    assert len(_raise(lab)) == 1


def test_an_event_whose_logging_is_disabled_is_not_logged(lab: Lab) -> None:
    _set(lab, 0x00EC, "0-30:97.98.14.255", {CODE: False})  # ECS25a3
    before = len(lab.esme.event_log.codes())
    assert len(_raise(lab)) == 1  # the WAN alert setting is another object
    assert lab.esme.event_log.codes()[before:] == []


def test_the_settings_read_back(lab: Lab) -> None:
    _set(lab, 0x00AC, "0-30:97.98.11.255", {CODE: False, 0x810D: True})
    command = dlms_command(lab.supplier, lab.esme, 0x00EE, get(1, "0-30:97.98.15.255", 2))
    (value,) = access_response(send(lab.esme, command)).data
    assert isinstance(value, BitString) and value.bits == 256
    assert not alert_settings.enabled(value.value, CODE)
    assert alert_settings.enabled(value.value, 0x810D)
    assert int.from_bytes(value.value, "big") == (1 << 256) - 1 - (1 << 0x0E)  # only 0x810E off
