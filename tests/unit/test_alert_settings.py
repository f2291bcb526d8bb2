"""The ESME alert-settings strings (ECS25): where an alert's bit is, what a Set changes."""

from __future__ import annotations

import pytest

from emulator.gbcs import alert_settings as s


def test_an_alerts_bit_counts_from_the_last_bit_by_its_codes_low_byte() -> None:
    assert s.position(0x810D) == 242
    assert s.position(0x81C6) == 57
    assert s.position(0x8014) == 235
    string = s.encode({0x810D: True, 0x810E: False})
    assert string[:32] == (3 << 13).to_bytes(32, "big")
    assert string[32:] == (1 << 13).to_bytes(32, "big")
    assert s.decode(string) == {0x810D: True, 0x810E: False}


def test_a_set_changes_only_the_masked_alerts() -> None:
    current = s.ALL_ENABLED
    after = s.apply(current, s.encode({0x8154: False, 0x8161: True}))
    assert not s.enabled(after, 0x8154)
    assert s.enabled(after, 0x8161) and s.enabled(after, 0x8155)
    again = s.apply(after, s.encode({0x8154: True}))
    assert again == s.ALL_ENABLED


def test_alerts_no_ecs25_object_configures_are_refused() -> None:
    assert s.role_of(0x8F01) is None
    with pytest.raises(s.AlertSettingsError, match="0x8F01"):
        s.encode({0x8F01: True})
    with pytest.raises(s.AlertSettingsError):
        s.decode(b"\x00" * 32)
