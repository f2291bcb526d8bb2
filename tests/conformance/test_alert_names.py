"""Every reference alert decodes for `named_command`, and every future-dated outcome
alert names a command of its own folder: from the device the command went to, by
its originator counter and (DLMS, GBZ) its message code. This is what the DCC
matches alerts to requests with."""

from __future__ import annotations

from pathlib import Path

from emulator.gbcs.alert_body import named_command
from emulator.gbcs.frame import GbcsMessage, decode_message


def _read(path: Path) -> GbcsMessage:
    return decode_message(bytes.fromhex("".join(path.read_text().split())))


def test_future_dated_alerts_name_their_command(rtds_messages: Path) -> None:
    named = matched = 0
    for folder in sorted(p for p in rtds_messages.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.HEX"))
        commands = [_read(f) for f in files if "_COMMAND_" in f.name]
        for alert_file in (f for f in files if "_ALERT_" in f.name):
            alert = _read(alert_file)
            name = named_command(alert)  # raises if the body does not decode
            if name is None or not commands:
                continue
            named += 1
            hits = [
                c
                for c in commands
                if c.counter == name.counter
                and c.recipient == alert.originator
                and name.message_code in (None, c.message_code)
            ]
            assert hits, f"{alert_file.name} names {name}, which no command of its folder is"
            matched += 1
    assert named == matched >= 40
