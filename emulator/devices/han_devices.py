"""HAN devices that are not meters: PPMID, IHD (Type 2) and HCALCS.

The PPMID is a Type 1 device joined to the ESME and the GSME: it shows their
balance, debt and supply state, and passes the consumer's top-up code, emergency
credit request and supply-enable request to the meter (PECS01-03 to the ESME,
PCS01/PCS02 to the GSME). These are HAN-only use cases that stay inside the
premises: the premises gives the PPMID a way to reach its peers (`connect`), and
a request goes only to a meter the PPMID and the meter are both joined to. As a
remote-party target it answers joins, unjoins and firmware-version reads (ASN.1).
The IHD only reads: it accepts no remote-party command. The HCALCS is a
HAN-connected auxiliary load control switch with the same ASN.1 housekeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from emulator.clock import Clock
from emulator.devices import supply
from emulator.devices.base import Device, DeviceType, Incoming, Reply
from emulator.devices.topup import TopUpOutcome
from emulator.errors import EmulatorError
from emulator.gbcs.asn1 import Der
from emulator.gbcs.eui import Eui64
from emulator.han.zse import ZseMessage

log = logging.getLogger(__name__)

#: GBCS device-log type numbers of the meters a PPMID serves (CS03 joins).
FUEL_TYPE_NUMBERS = {"ESME": 1, "GSME": 0}
#: The HAN use case a PPMID request is, by fuel (GBCS names).
PPMID_USE_CASES = {
    ("ESME", "top_up"): "PECS01",
    ("ESME", "emergency_credit"): "PECS02",
    ("ESME", "enable"): "PECS03",
    ("GSME", "top_up"): "PCS01",
    ("GSME", "emergency_credit"): "PCS02",
}


class HanRequestError(EmulatorError):
    """A PPMID request that cannot reach a meter (not joined, no such use case)."""


class HanDevice(Device):
    speaks = "gbz"

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self.joined_to: set[bytes] = set()
        self.displayed_balance: int | None = None

    def execute(self, incoming: Incoming) -> Reply | None:
        tree = incoming.tree
        if isinstance(tree, Der):
            from emulator.devices.credentials import execute_asn1

            return execute_asn1(self, incoming, tree)
        return None

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state["joined_to"] = sorted(k.hex() for k in self.joined_to)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.joined_to = {bytes.fromhex(k) for k in state.get("joined_to", [])}


class Ppmid(HanDevice):
    device_type: ClassVar[DeviceType] = DeviceType.PPMID

    def image_received(self) -> None:
        """CS05c: a PPMID activates its image once it holds it whole (no CS06) and
        tells the ACB with CS09."""
        from emulator.devices.credentials import activate_on_receipt

        activate_on_receipt(self)

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self._peer: Callable[[bytes], Device | None] = lambda eui: None
        self.display: dict[str, dict[str, Any]] = {}  # fuel -> what the screen shows
        #: ZCL transaction sequence of the ZSE frames it sends over the HAN.
        self.zcl_sequence = 0

    def connect(self, peer: Callable[[bytes], Device | None]) -> None:
        """How this PPMID reaches a device of its premises over the HAN, by EUI-64."""
        self._peer = peer

    def catch_up(self) -> None:
        """A PPMID polls its meters over the HAN: brought up to the clock, its screen is
        what the meters hold now."""
        super().catch_up()
        self.refresh()

    def meter(self, fuel: str) -> Any:
        """The ESME or GSME this PPMID is joined to (and that is joined to it)."""
        number = FUEL_TYPE_NUMBERS.get(fuel)
        if number is None:
            raise HanRequestError(f"a PPMID serves ESME and GSME, not {fuel}")
        for eui, kind in self.han_pairings.items():
            if kind != number:
                continue
            device = self._peer(eui)
            if device is not None and bytes(self.eui) in device.han_pairings:
                return device
        raise HanRequestError(f"PPMID {self.eui} is not joined to a {fuel}")

    def refresh(self, *, catch_up: bool = True) -> dict[str, dict[str, Any]]:
        """Read balance, debt and supply state from every joined meter onto the screen
        (`catch_up=False`: as the meters stand, without bringing them to the clock)."""
        self.display = {}
        for fuel in FUEL_TYPE_NUMBERS:
            try:
                device = self.meter(fuel)
            except HanRequestError:
                continue
            if catch_up:
                device.catch_up()
            m = device.meter
            self.display[fuel] = {
                "balance": m.balance,
                "debt": m.debt,
                "emergency_credit_active": m.emergency_credit_active,
                "supply": supply.state(device),
            }
        if "ESME" in self.display:
            self.displayed_balance = int(self.display["ESME"]["balance"])
        return self.display

    def _relay(self, fuel: str, request: str) -> tuple[Any, str]:
        use_case = PPMID_USE_CASES.get((fuel, request))
        if use_case is None:
            self.event_log.record(self.clock.now(), supply.NOT_ACTIONED, f"{request}: no {fuel}")
            raise HanRequestError(f"a PPMID cannot ask a {fuel} to {request.replace('_', ' ')}")
        try:
            device = self.meter(fuel)
        except HanRequestError as exc:
            self.event_log.record(self.clock.now(), supply.NOT_ACTIONED, f"{use_case}: {exc}")
            raise
        log.info("%s: %s to %s", self.eui, use_case, device.eui)
        return device, use_case

    def enter_utrn(self, code: str, fuel: str = "ESME") -> TopUpOutcome:
        """PECS01 / PCS01: the consumer types a UTRN on the PPMID."""
        device, use_case = self._relay(fuel, "top_up")
        outcome: TopUpOutcome = device.enter_utrn(code, "ppmid")
        self._done(use_case, outcome.accepted)
        return outcome

    def request_emergency_credit(self, fuel: str = "ESME") -> bool:
        """PECS02 / PCS02: the consumer takes emergency credit from the PPMID."""
        device, use_case = self._relay(fuel, "emergency_credit")
        done = bool(device.activate_emergency_credit("the PPMID"))
        self._done(use_case, done)
        return done

    def request_enable(self, fuel: str = "ESME") -> bool:
        """PECS03: enable an armed ESME supply from the PPMID (a gas valve opens only at
        the meter, so there is no gas counterpart)."""
        device, use_case = self._relay(fuel, "enable")
        done = bool(device.request_enable())
        self._done(use_case, done)
        return done

    # -- over the HAN: a meter on another link (emulator/devices/han_consumer.py) -------------
    def han_request(self, fuel: str, request: str, code: str = "") -> tuple[Eui64, ZseMessage, str]:
        """The ZSE frame for `request` ("top_up", "emergency_credit", "enable") to the
        meter of `fuel` this PPMID is paired with, its EUI-64 and the use case. Refused
        as in-process: no such use case, or no meter of that fuel paired."""
        from emulator.devices import han_consumer

        use_case = PPMID_USE_CASES.get((fuel, request))
        if use_case is None:
            self.event_log.record(self.clock.now(), supply.NOT_ACTIONED, f"{request}: no {fuel}")
            raise HanRequestError(f"a PPMID cannot ask a {fuel} to {request.replace('_', ' ')}")
        number = FUEL_TYPE_NUMBERS[fuel]
        paired = [eui for eui, kind in self.han_pairings.items() if kind == number]
        if not paired:
            why = f"PPMID {self.eui} is not joined to a {fuel}"
            self.event_log.record(self.clock.now(), supply.NOT_ACTIONED, f"{use_case}: {why}")
            raise HanRequestError(why)
        self.zcl_sequence = (self.zcl_sequence + 1) & 0xFF
        seq = self.zcl_sequence
        if request == "top_up":
            message = han_consumer.top_up_request(seq, code)
        elif request == "emergency_credit":
            message = han_consumer.emergency_credit_request(seq, self.clock.now())
        else:
            message = han_consumer.enable_request(seq)
        log.info("%s: %s to %s over the HAN", self.eui, use_case, Eui64(paired[0]))
        return Eui64(paired[0]), message, use_case

    def han_top_up(self, use_case: str, answer: ZseMessage | None) -> TopUpOutcome:
        """The meter's answer to a Consumer Top Up sent over the HAN."""
        from emulator.devices.han_consumer import top_up_outcome

        outcome = top_up_outcome(answer)
        self._done(use_case, outcome.accepted)
        return outcome

    def han_actioned(self, use_case: str, answer: ZseMessage | None) -> bool:
        """The meter's Default Response to an emergency credit or enable request."""
        from emulator.devices.han_consumer import actioned

        done = actioned(answer)
        self._done(use_case, done)
        return done

    def _done(self, use_case: str, actioned: bool) -> None:
        code = 0x8161 if actioned else supply.NOT_ACTIONED
        self.event_log.record(self.clock.now(), code, use_case)
        self.refresh()


class Ihd(HanDevice):
    device_type: ClassVar[DeviceType] = DeviceType.IHD


class Hcalcs(HanDevice):
    device_type: ClassVar[DeviceType] = DeviceType.HCALCS


HAN_DEVICES: dict[DeviceType, type[Device]] = {
    DeviceType.PPMID: Ppmid,
    DeviceType.IHD: Ihd,
    DeviceType.HCALCS: Hcalcs,
}
