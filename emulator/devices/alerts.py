"""Alert payloads devices raise (GBCS 7.2.x alert formats).

DLMS devices send a data-notification whose body is a structure starting with
the alert code (long-unsigned) and the time (date-time as an octet string);
GBZ devices send a GBZ alert header (alert code, ZigBee time). The invoke id
repeats the low 24 bits of the device's alert counter.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from emulator.clock import to_zigbee_time
from emulator.gbcs.dlms.apdu import DataNotification, invoke_id_for
from emulator.gbcs.dlms.axdr import Data, LongUnsigned, OctetString, Structure
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.zcl.gbz import GbzAlert

if TYPE_CHECKING:
    from emulator.devices.base import Device

COMMAND_NOT_SUPPORTED = 0x8F85


def dlms_time(when: _dt.datetime) -> OctetString:
    return OctetString(DlmsDateTime.from_datetime(when).encode())


def dlms_alert(counter: int, alert_code: int, when: _dt.datetime, *extra: Data) -> DataNotification:
    body = Structure([LongUnsigned(alert_code), dlms_time(when), *extra])
    return DataNotification(invoke_id_for(counter), body)


def gbz_alert(alert_code: int, when: _dt.datetime) -> GbzAlert:
    return GbzAlert(alert_code, to_zigbee_time(when), 0, None, body_kind="none")


def command_not_supported_payload(
    device: Device, msg: GbcsMessage, counter: int
) -> DataNotification | GbzAlert:
    """Alert 0x8F85 naming the refused command by message code and counter."""
    when = device.clock.now()
    if device.speaks == "gbz":
        return gbz_alert(COMMAND_NOT_SUPPORTED, when)
    detail = msg.message_code.to_bytes(2, "big") + msg.counter.to_bytes(8, "big")
    return dlms_alert(counter, COMMAND_NOT_SUPPORTED, when, OctetString(detail))
