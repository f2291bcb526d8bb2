"""Supply control shared by the ESME (load switch) and GSME (valve).

A meter's supply is in one of three states: enabled, disabled, or armed (disabled,
waiting for the consumer to enable it at the meter or from the PPMID). Every change
is written to the event log with its GBCS code and kept as an alert in
`device.supply_alerts`, so a scenario (or a test) can see what the meter told and
why, whichever path changed it: a remote command, a top-up, emergency credit, the
consumer's button, or the meter running out of credit.

Only a supply the meter disabled for lack of credit is armed by credit coming
back (a top-up, emergency credit); one the supplier opened remotely stays open
until the supplier arms or closes it. The device keeps `armed` and
`disabled_by_command` (off because a command opened it, not for credit, whoever
disabled it for credit: the metering engine or `watch`). Of the meter this module
uses `supply_enabled`, `balance`, `emergency_credit_active`, and, when the
metering engine has them, `available_credit` and `config.disablement_threshold`.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# GBCS alert / event codes (emulator/gbcs/alert_codes.py names them).
SUPPLY_ARMED = 0x8F32
ARMED_BY_EMERGENCY_CREDIT = 0x8168  # Supply Disabled then Armed - Activate Emergency Credit
CREDIT_BELOW_DISABLEMENT = 0x8F0F  # Credit Below Disablement Threshold (prepayment mode)
CREDIT_ADDED_LOCALLY = 0x810E
EMERGENCY_CREDIT_ACTIVATED = 0x81AB
NOT_ACTIONED = 0x8162  # User Interface Command Input but not Successfully Actioned
DUPLICATE_UTRN = 0x8F51
UTRN_NOT_AUTHENTIC = 0x8F63
UTRN_NOT_FOR_DEVICE = 0x8F64
# Load switch / valve opened and closed: GBCS gives these no alert code in our
# reference material; these are ours (docs/devices.md), as before.
SUPPLY_DISABLED, SUPPLY_ENABLED = 0x00D0, 0x00D1
# Top-up accepted remotely (no GBCS alert code either; ours, docs/devices.md).
CREDIT_ADDED_REMOTELY = 0x00D2
# An ESME auxiliary load control switch turned on and off by the boost (ours too).
ALCS_ON, ALCS_OFF = 0x00D3, 0x00D4
OURS = frozenset({SUPPLY_DISABLED, SUPPLY_ENABLED, CREDIT_ADDED_REMOTELY, ALCS_ON, ALCS_OFF})

#: How many alerts a device keeps for inspection (oldest dropped first, counted).
ALERTS_KEPT = 100
GENERIC_NON_CRITICAL_ALERT = 0x1001  # GNCA: the message that carries a device alert code


@dataclass(frozen=True, slots=True)
class SupplyAlert:
    time: _dt.datetime
    code: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "code": self.code, "detail": self.detail}


def raise_alert(
    device: Any,
    code: int,
    detail: str,
    *,
    engine: bool = False,
    at: _dt.datetime | None = None,
) -> None:
    """Keep an alert the device raised, log it, and send a GBCS alert code to the access
    control broker (GNCA, 0x1001); codes of our own stay in the device.

    `engine`: the metering engine raises this one as an event, and its events come
    through here once (`prepay_bridge.emit_meter_alerts`), so nothing is done now:
    one alert per happening, never two.
    """
    if engine:
        return
    now = at or device.clock.now()
    if _allowed(device, code, logged=True):
        device.event_log.record(now, code, detail)
    if code not in OURS and _allowed(device, code, logged=False):
        _send(device, code, now)
    alerts: list[SupplyAlert] = device.supply_alerts
    alerts.append(SupplyAlert(now, code, detail))
    if len(alerts) > ALERTS_KEPT:
        device.supply_alerts_dropped += len(alerts) - ALERTS_KEPT
        del alerts[:-ALERTS_KEPT]
    log.info("%s: alert 0x%04X %s", device.eui, code, detail)


def _allowed(device: Any, code: int, *, logged: bool) -> bool:
    """The device's alert settings (an ESME's ECS25), for devices that have them."""
    check = getattr(device, "alert_enabled", None)
    return True if check is None else bool(check(code, logged=logged))


def _send(device: Any, code: int, now: _dt.datetime) -> None:
    from emulator.devices.alerts import dlms_alert, gbz_alert

    payload: Any
    if device.speaks == "gbz":
        payload = gbz_alert(code, now)
    else:
        payload = dlms_alert(device.alert_counter + 1, code, now)
    device.emit_alert(GENERIC_NON_CRITICAL_ALERT, device.security.acb, payload, critical=False)


def engine_alerts(meter: Any) -> bool:
    """Whether the metering engine raises the credit alerts itself (it keeps events): credit
    exhausted, armed by credit or emergency credit, emergency credit activated, maximum
    credit or balance exceeded."""
    return hasattr(meter, "take_events")


def state(device: Any) -> str:
    """ "enabled", "armed" or "disabled"."""
    if device.meter.supply_enabled:
        return "enabled"
    return "armed" if device.armed else "disabled"


def credit_available(meter: Any) -> bool:
    """Whether the meter has credit to supply on: above its disablement threshold when the
    engine says what that is, else a positive balance or emergency credit in use."""
    available = getattr(meter, "available_credit", None)
    if isinstance(available, int):
        config = getattr(meter, "config", None)
        return available > int(getattr(config, "disablement_threshold", 0))
    return bool(meter.balance > 0 or meter.emergency_credit_active)


def disable(device: Any, cause: str) -> None:
    """A command (ECS43, GCS32) opens the switch or closes the valve."""
    device.meter.supply_enabled = False
    device.armed = False
    device.disabled_by_command = True
    raise_alert(device, SUPPLY_DISABLED, f"supply disabled: {cause}")


def enable(device: Any, cause: str) -> None:
    device.meter.supply_enabled = True
    device.armed = False
    device.disabled_by_command = False
    raise_alert(device, SUPPLY_ENABLED, f"supply enabled: {cause}")


def arm(device: Any, cause: str, code: int = SUPPLY_ARMED, *, engine: bool = False) -> bool:
    """Arm a disabled supply; False (and nothing changes) if it is enabled already."""
    if device.meter.supply_enabled:
        return False
    device.armed = True
    device.disabled_by_command = False
    raise_alert(device, code, f"supply armed: {cause}", engine=engine)
    return True


def consumer_enable(device: Any, where: str) -> bool:
    """The consumer asks for supply (the meter's button or PECS03): only an armed supply
    closes; otherwise nothing happens, and that is logged too."""
    if not device.armed or device.meter.supply_enabled:
        device.event_log.record(
            device.clock.now(), NOT_ACTIONED, f"enable requested at {where}: supply not armed"
        )
        return False
    device.meter.advance(device.clock.now())
    enable(device, f"by the consumer at {where}")
    return True


def watch(device: Any, was_enabled: bool) -> None:
    """After the meter has advanced: note a disablement the meter made for lack of credit,
    and arm a supply disabled for credit that has credit again, whatever brought it
    (a balance adjustment, a change to credit mode: paths this module does not see)."""
    if was_enabled and not device.meter.supply_enabled:
        device.armed = False
        device.disabled_by_command = False
        engine = engine_alerts(device.meter)
        raise_alert(device, CREDIT_BELOW_DISABLEMENT, "credit exhausted", engine=engine)
        raise_alert(device, SUPPLY_DISABLED, "supply disabled: insufficient credit")
    after_credit(device)


def after_credit(device: Any, *, by_emergency_credit: bool = False) -> None:
    """Credit was added (top-up, adjustment) or emergency credit activated: a supply the
    meter disabled for lack of credit is armed when there is credit to supply on again."""
    if device.meter.supply_enabled or device.armed or device.disabled_by_command:
        return
    if not credit_available(device.meter):
        return
    engine = engine_alerts(device.meter)
    if by_emergency_credit:
        arm(device, "emergency credit activated", ARMED_BY_EMERGENCY_CREDIT, engine=engine)
    else:
        arm(device, "credit restored", engine=engine)


def alerts_to_json(device: Any) -> list[dict[str, Any]]:
    return [a.to_json() for a in device.supply_alerts]


def alerts_from_json(items: list[dict[str, Any]]) -> list[SupplyAlert]:
    return [
        SupplyAlert(_dt.datetime.fromisoformat(a["time"]), int(a["code"]), str(a["detail"]))
        for a in items
    ]
