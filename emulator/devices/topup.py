"""UTRN top-ups shared by the electricity and gas meters (GBCS section 14).

A device rebuilds the token's full counter from the last one it accepted,
checks the GMAC with the supplier's prepayment key-agreement key, refuses a
counter it has already used (or one older than every counter in its full UTRN
counter cache), then credits the balance. A UTRN comes from the DCC (CS01a/b), is
typed on the meter's keypad, or is relayed by a PPMID (PECS01/PCS01).

Every refusal is raised as an event with the GBCS code for its reason; the
PTUT names no device, so a UTRN made for another meter fails its GMAC here
exactly like a forged one:

    check digit or format wrong        0x8F64 UTRN not for this Device        security log
    GMAC wrong (forged, other meter)   0x8F63 UTRN not Authentic              security log
    counter used or older than cache   0x8F51 Duplicate UTRN entered          security log
    value above the maximum credit     0x8F5B UTRN exceeds Maximum Credit     event log
    balance above the maximum balance  0x8F47 ... exceed Maximum Meter Balance event log

The last two are the metering engine's own refusals: the token is genuine, so
they are not security events, and its counter is not consumed (the credit was
never given: the same UTRN is accepted once the balance has room for it).

An accepted top-up is an event too (0x810E Credit Added Locally when typed or
relayed; our 0x00D2 when applied remotely), and a supply the meter disabled for
lack of credit is armed when the balance is positive again (`supply.after_credit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from emulator.devices import prepay_bridge, supply
from emulator.devices.anchors import AnchorRole
from emulator.errors import SecurityError, UtrnError
from emulator.gbcs import utrn
from emulator.metering.prepay import MAX_BALANCE_EXCEEDED, MAX_CREDIT_EXCEEDED
from emulator.pki.keystore import KeyUsage

# ZCL consumer top-up result types (ZSE prepayment cluster)
ACCEPTED, REJECTED_INVALID, REJECTED_DUPLICATE, REJECTED_ERROR = 0, 1, 2, 3
REJECTED_MAX_CREDIT, REJECTED_TOO_LARGE = 4, 6  # "Max Credit Reached", "Top Up Value Too Large"
#: Counters a meter remembers (GBCS UTRN counter cache); until it is full the
#: empty slots count as counter 0, so any fresh counter is above the lowest.
COUNTER_CACHE = 10

Source = Literal["remote", "meter", "ppmid"]
#: Refusals the metering engine makes (and alerts) itself, with their ZSE result type: a
#: top-up above the maximum credit (ZSE maximum credit per top-up) is too large, one that
#: would take the balance above the maximum meter balance (ZSE maximum credit level)
#: reaches the maximum credit.
ENGINE_REFUSALS = {
    MAX_CREDIT_EXCEEDED: REJECTED_TOO_LARGE,
    MAX_BALANCE_EXCEEDED: REJECTED_MAX_CREDIT,
}


@dataclass(frozen=True, slots=True)
class TopUpOutcome:
    result: int  # ZSE result type (ACCEPTED, REJECTED_*)
    pence: int
    reason: int | None = None  # the GBCS event code of a refusal
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.result == ACCEPTED


def _refuse(device: Any, result: int, reason: int, detail: str) -> TopUpOutcome:
    if reason not in ENGINE_REFUSALS:
        device.security_log.record(device.clock.now(), reason, f"UTRN rejected: {detail}")
    if reason in ENGINE_REFUSALS and supply.engine_alerts(device.meter):
        # The engine queued the event: logged and sent now, not at the next catch-up.
        prepay_bridge.emit_meter_alerts(device)
    else:
        supply.raise_alert(device, reason, f"UTRN rejected: {detail}")
    return TopUpOutcome(result, 0, reason, detail)


def offer_utrn(device: Any, code: bytes | str, source: Source = "remote") -> TopUpOutcome:
    """Apply a UTRN to `device` (an ESME or GSME): credit it once, or refuse it with why."""
    supplier = device.anchors.get(AnchorRole.SUPPLIER)
    try:
        text = code if isinstance(code, str) else code.decode("ascii")
        parsed = utrn.parse_utrn(text)
    except (UtrnError, UnicodeDecodeError) as exc:
        return _refuse(device, REJECTED_INVALID, supply.UTRN_NOT_FOR_DEVICE, str(exc))
    used: list[int] = list(getattr(device, "utrn_counters", []))
    try:
        if supplier is None:
            raise UtrnError("no supplier trust anchor")
        z = device.security.shared_secret(
            supplier.eui, device.eui, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT
        )  # the supplier cell's prepayment key, through DeviceKeys
        candidates = utrn.counter_candidates(parsed.counter_bits, max(used, default=0))
        ptut, _ = utrn.verify_utrn(text, z, supplier.eui, device.eui, candidates)
    except (UtrnError, SecurityError) as exc:
        return _refuse(device, REJECTED_INVALID, supply.UTRN_NOT_AUTHENTIC, str(exc))
    if ptut.counter in used:
        return _refuse(device, REJECTED_DUPLICATE, supply.DUPLICATE_UTRN, "UTRN already used")
    if len(used) >= COUNTER_CACHE and ptut.counter < min(used):
        return _refuse(
            device, REJECTED_DUPLICATE, supply.DUPLICATE_UTRN, "UTRN counter older than the cache"
        )
    device.catch_up()
    refused = device.meter.top_up(ptut.pence)  # the engine's limits: maximum credit, balance
    if isinstance(refused, int) and refused != ACCEPTED:
        result = ENGINE_REFUSALS.get(refused, REJECTED_ERROR)
        return _refuse(device, result, refused, f"meter refused {ptut.pence} pence")
    device.utrn_counters = sorted([*used, ptut.counter])[-COUNTER_CACHE:]
    log_top_up = getattr(device, "log_top_up", None)
    if callable(log_top_up):
        log_top_up(text, ptut.pence)
    code_added = supply.CREDIT_ADDED_REMOTELY if source == "remote" else supply.CREDIT_ADDED_LOCALLY
    supply.raise_alert(device, code_added, f"top-up of {ptut.pence} pence accepted ({source})")
    supply.after_credit(device)
    return TopUpOutcome(ACCEPTED, ptut.pence)


#: The top-up value and credit remaining of a refused Consumer Top Up Response:
#: 0xFFFFFFFF (-1 in the signed 32-bit fields), as in the reference CS01b ERROR
#: response. A refused token credited nothing, and the answer does not disclose the
#: balance to whoever offered a token the meter would not take.
NOT_STATED = -1
S32_MIN, S32_MAX = -(2**31), 2**31 - 1


def top_up_response(outcome: TopUpOutcome, balance: int, source: int) -> dict[str, int]:
    """The Consumer Top Up Response fields for `outcome`: one rule for CS01b from the
    DCC and a PPMID's top-up over the HAN."""
    accepted = outcome.accepted
    return {
        "result_type": outcome.result,
        "top_up_value": outcome.pence if accepted else NOT_STATED,
        "source_of_top_up": source,
        "credit_remaining": max(S32_MIN, min(S32_MAX, balance)) if accepted else NOT_STATED,
    }


def apply_utrn(device: Any, code: bytes, source: Source = "remote") -> tuple[int, int]:
    """(result type, value in pence) for a UTRN offered to `device`."""
    outcome = offer_utrn(device, code, source)
    return outcome.result, outcome.pence


class ConsumerControls:
    """What the consumer does at a meter, or asks of it from the PPMID over the HAN.

    Mixed into the ESME and GSME; the device keeps `meter`, `armed`,
    `supply_alerts` and its logs (emulator/devices/supply.py).
    """

    @property
    def supply_state(self) -> str:
        """ "enabled", "armed" or "disabled" (what a scenario asserts)."""
        return supply.state(self)

    @property
    def alert_codes(self) -> list[int]:
        """The supply and top-up alerts raised, oldest first (GBCS codes)."""
        device: Any = self
        return [a.code for a in device.supply_alerts]

    @property
    def last_alert(self) -> int | None:
        codes = self.alert_codes
        return codes[-1] if codes else None

    def press_button(self) -> bool:
        """The supply button: closes an armed load switch or opens an armed valve."""
        device: Any = self
        device.catch_up()
        return supply.consumer_enable(device, "the meter")

    def request_enable(self) -> bool:
        """PECS03 from the PPMID: the same as the button, asked over the HAN."""
        device: Any = self
        device.catch_up()
        return supply.consumer_enable(device, "the PPMID")

    def enter_utrn(self, code: str, source: Source = "meter") -> TopUpOutcome:
        """A UTRN typed on the meter's keypad (or relayed by the PPMID: PECS01/PCS01)."""
        device: Any = self
        return offer_utrn(device, code, source)

    def serve_zse(self, source: Any, payload: bytes) -> Any:
        """A ZSE frame from a HAN peer (the PPMID's requests over the HAN): a `ZseAnswer`."""
        from emulator.devices.han_consumer import serve_consumer

        return serve_consumer(self, source, payload)

    def activate_emergency_credit(self, where: str = "the meter") -> bool:
        """The consumer takes emergency credit (at the meter, or PECS02/PCS02).

        Whether it is available is the metering engine's rule (its
        `activate_emergency_credit` when it has one); here the request reaches
        the meter, and a supply disabled for lack of credit is armed once
        emergency credit is active.
        """
        device: Any = self
        device.catch_up()
        engine = getattr(device.meter, "activate_emergency_credit", None)
        if callable(engine):
            engine()
        else:
            device.meter.emergency_credit_active = True
        if not device.meter.emergency_credit_active:
            device.event_log.record(
                device.clock.now(), supply.NOT_ACTIONED, f"emergency credit refused ({where})"
            )
            return False
        supply.raise_alert(
            device,
            supply.EMERGENCY_CREDIT_ACTIVATED,
            f"emergency credit activated at {where}",
            engine=supply.engine_alerts(device.meter),
        )
        supply.after_credit(device, by_emergency_credit=True)
        return True
