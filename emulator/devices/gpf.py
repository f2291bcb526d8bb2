"""GPF: the gas proxy function inside the communications hub.

It answers reads for the gas meter from its mirror while the meter sleeps, and
refreshes the mirror whenever the meter wakes and pushes its data (`sync`). It
shares the ZCL server with the GSME; live values come from the mirror instead of
a meter.

Mirror data arrives over the HAN and is checked before it is taken: a mirror of
the wrong shape is refused whole (`MirrorError`; the hub counts and logs it), an
attribute entry the GPF cannot read is skipped, counted in
`mirror_values_dropped` and logged.

The GPF Device Log (its HAN pairings: CS03B/CS04B joins, the GCS59 restore)
is backed up to the ACB: every change raises the GCS62 alert (0x00B2, alert
code 0x8071) carrying the whole log.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from emulator.clock import Clock
from emulator.devices.base import DeviceType, Outbound
from emulator.devices.credentials import GENERALIZED_TIME
from emulator.devices.zcl_device import ZclDevice
from emulator.devices.zcl_model import METERING, PREPAYMENT
from emulator.errors import EmulatorError
from emulator.gbcs.asn1 import DerInteger, DerOctetString, DerSequence, DerString

log = logging.getLogger(__name__)

_COUNTS = ("time", "summation", "credit", "debt")
GCS62 = 0x00B2
ALERT_GPF_DEVICE_LOG_CHANGED = 0x8071


class MirrorError(EmulatorError, ValueError):
    """Mirror data the GPF cannot take; it keeps the mirror it had."""


class Gpf(ZclDevice):
    device_type: ClassVar[DeviceType] = DeviceType.GPF

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self.mirror_data: dict[str, Any] = {}
        self.syncs = 0
        self.mirror_values_dropped = 0

    def _receive(self, raw: bytes) -> list[Outbound]:
        before = dict(self.han_pairings)
        out = super()._receive(raw)
        if self.han_pairings != before:
            self.log_changed()  # delivered through on_alert, as every alert
        return out

    def log_changed(self) -> Outbound:
        """GCS62: the GPF Device Log as it is now, to the ACB."""
        body = DerSequence(
            [
                DerInteger(ALERT_GPF_DEVICE_LOG_CHANGED),
                DerString(GENERALIZED_TIME, self.clock.now().strftime("%Y%m%d%H%M%SZ").encode()),
                DerSequence(
                    [
                        DerSequence([DerOctetString(eui), DerInteger(kind)])
                        for eui, kind in self.han_pairings.items()
                    ]
                ),
            ]
        )
        return self.emit_alert(GCS62, self.security.acb, body, critical=False)

    def sync(self, mirror: Any) -> None:
        """Take the data a waking GSME pushed (checked: see the module docstring)."""
        if not isinstance(mirror, dict):
            raise MirrorError(f"mirror is a {type(mirror).__name__}, not an object")
        for name in _COUNTS:
            if name in mirror and not _is_count(mirror[name]):
                raise MirrorError(f"mirror {name} is {mirror[name]!r}, not a whole number")
        tiers = mirror.get("tiers", [])
        if not isinstance(tiers, list) or not all(_is_count(t) for t in tiers):
            raise MirrorError(f"mirror tiers are {tiers!r}, not a list of whole numbers")
        values, octets = mirror.get("values", {}), mirror.get("octets", {})
        for name, part in (("values", values), ("octets", octets)):
            if not isinstance(part, dict):
                raise MirrorError(f"mirror {name} are a {type(part).__name__}, not an object")
        taken: dict[tuple[int, int], Any] = {}
        for key, value in [*values.items(), *((k, _octets(v)) for k, v in octets.items())]:
            attribute = _attribute(key)
            if attribute is None or value is None:
                self.mirror_values_dropped += 1
                log.warning("GPF %s dropped mirror value %r: %r", self.eui, key, value)
                continue
            taken[attribute] = value
        self.mirror_data = dict(mirror)
        self.syncs += 1
        self.zcl.values.update(taken)

    def live_value(self, cluster: int, attribute_id: int) -> Any | None:
        """Values the meter reported in its last mirror.

        Before the first mirror the GPF knows nothing of the meter: it answers
        zeros of the attribute types rather than anything of its own.
        """
        m = self.mirror_data
        if not m:
            return None
        if cluster == METERING and attribute_id == 0x0000:
            return m.get("summation", 0)
        if cluster == METERING and 0x0100 <= attribute_id <= 0x0106 and attribute_id % 2 == 0:
            tiers = m.get("tiers", [])
            index = (attribute_id - 0x0100) // 2
            return tiers[index] if index < len(tiers) else 0
        if cluster == PREPAYMENT and attribute_id == 0x0001:
            return m.get("credit", 0)
        if cluster == PREPAYMENT and attribute_id == 0x0005:
            return m.get("debt", 0)
        return None

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state["mirror"] = self.mirror_data
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.mirror_data = dict(state.get("mirror", {}))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _octets(value: Any) -> bytes | None:
    """An octet-string attribute from its hex form, or None."""
    try:
        return bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _attribute(key: Any) -> tuple[int, int] | None:
    """(cluster, attribute) from a mirror key "cccc:aaaa" (hex), or None."""
    parts = key.split(":") if isinstance(key, str) else []
    if len(parts) != 2:
        return None
    try:
        cluster, attribute = (int(part, 16) for part in parts)
    except ValueError:
        return None
    if not (0 <= cluster <= 0xFFFF and 0 <= attribute <= 0xFFFF):
        return None
    return cluster, attribute
