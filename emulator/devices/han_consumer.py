"""The consumer's requests from a PPMID to its meter as ZSE frames over the HAN.

A PPMID and its meter in one process call each other (`Ppmid.enter_utrn` and
friends); a meter on another link (a board under test, or our meter in another
process) is reached over the HAN instead, the way a real PPMID does it, with the
ZSE commands of emulator/han/zse.py. This module is both ends of that exchange,
without I/O: what the PPMID sends and how it reads the answer, and what the meter
does with a frame. The meter acts exactly as for the in-process request (the
same `offer_utrn`, `activate_emergency_credit`, `request_enable`: the same
refusals, event log entries and alerts).

A meter acts only for a PPMID paired with it (its HAN pairings, CS03). Anything
else is refused, written to its security log and answered with a ZCL Default
Response when the frame says enough to address one:

    reason        security log                 ZCL status
    garbled       0x8F1E malformed command     none (too short to answer)
    unexpected    0x8F60 unexpected command    none (an answer nobody asked for)
    not_paired    0x8F53 unauthorised          NOT_AUTHORIZED 0x7E
    unsupported   0x8F85 command not supported UNSUP_CLUSTER_COMMAND 0x81
    malformed     0x8F1E malformed command     MALFORMED_COMMAND 0x80
    invalid       0x8F1E malformed command     INVALID_FIELD 0x85
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.devices.base import DeviceType
from emulator.devices.logs import (
    COMMAND_NOT_SUPPORTED,
    MALFORMED_COMMAND,
    OUT_OF_ORDER,
    UNAUTHORISED,
)
from emulator.devices.topup import (
    ACCEPTED,
    REJECTED_ERROR,
    TopUpOutcome,
    offer_utrn,
    top_up_response,
)
from emulator.errors import GbcsDecodeError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.zcl.clusters import Cluster
from emulator.gbcs.zcl.gbz import FC_TO_CLIENT
from emulator.han.zse import (
    DEFAULT_RESPONSE,
    ZseMessage,
    default_response,
    peek_header,
    request,
    response,
)

#: ZSE "originating device" of a Consumer Top Up / emergency credit request: an IHD
#: (a PPMID is one); 0x00 would be the energy service interface, 0x01 the meter.
ORIGINATING_IHD = 0x02
#: Metering Local Change Supply, proposed supply status: supply ON (0x01 is OFF/ARMED).
SUPPLY_ON = 0x02
#: GBCS device-log type number of a PPMID in a meter's HAN pairings (CS03).
PPMID_PAIRING = 5
#: ZCL statuses this exchange uses.
SUCCESS, FAILURE, NOT_AUTHORIZED = 0x00, 0x01, 0x7E
MALFORMED, UNSUPPORTED, INVALID_FIELD = 0x80, 0x81, 0x85
#: Seconds between 1970-01-01 and the ZigBee epoch 2000-01-01 (UTC).
ZIGBEE_EPOCH = 946_684_800

PREPAYMENT, METERING = int(Cluster.PREPAYMENT), int(Cluster.METERING)


# -- the PPMID's side ------------------------------------------------------------------------


def top_up_request(sequence: int, code: str) -> ZseMessage:
    """Consumer Top Up: the UTRN as the consumer typed it (20 ASCII digits)."""
    return request(
        PREPAYMENT,
        sequence,
        "consumer_top_up",
        originating_device=ORIGINATING_IHD,
        top_up_code=code.encode("ascii", "replace"),
    )


def emergency_credit_request(sequence: int, now: _dt.datetime) -> ZseMessage:
    """Select Available Emergency Credit, stamped with the PPMID's time."""
    return request(
        PREPAYMENT,
        sequence,
        "select_available_emergency_credit",
        command_issue_date_time=max(0, int(now.timestamp()) - ZIGBEE_EPOCH),
        originating_device=ORIGINATING_IHD,
    )


def enable_request(sequence: int) -> ZseMessage:
    """Local Change Supply to ON: the consumer's supply enable (PECS03)."""
    return request(METERING, sequence, "local_change_supply", proposed_supply_status=SUPPLY_ON)


def top_up_outcome(answer: ZseMessage | None) -> TopUpOutcome:
    """What a Consumer Top Up Response says; no answer, or a Default Response, is a
    refusal with the reason unknown here (the meter's alert carries it to the DCC)."""
    if answer is None:
        return TopUpOutcome(REJECTED_ERROR, 0, None, "no answer from the meter over the HAN")
    fields = answer.frame.fields or {}
    if answer.name == "consumer_top_up_response":
        result = int(fields["result_type"])
        pence = int(fields["top_up_value"]) if result == ACCEPTED else 0  # a refusal: 0xFFFFFFFF
        return TopUpOutcome(result, pence)
    return TopUpOutcome(REJECTED_ERROR, 0, None, f"the meter answered {_status_text(answer)}")


def actioned(answer: ZseMessage | None) -> bool:
    """Whether a Default Response says the request was carried out."""
    if answer is None or answer.frame.command_id != DEFAULT_RESPONSE or answer.frame.fields is None:
        return False
    return int(answer.frame.fields["status"]) == SUCCESS


def _status_text(answer: ZseMessage) -> str:
    fields = answer.frame.fields or {}
    if answer.frame.command_id == DEFAULT_RESPONSE and "status" in fields:
        return f"ZCL status 0x{int(fields['status']):02X}"
    return answer.name or f"command 0x{answer.frame.command_id:02X}"


# -- the meter's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZseAnswer:
    """What the meter sends back (None: nothing can be addressed) and, for a refused
    frame, the reason it is counted under."""

    reply: ZseMessage | None
    refused: str | None = None


def _refuse(device: Any, code: int, detail: str) -> None:
    device.security_log.record(device.clock.now(), code, detail)


def serve_consumer(device: Any, source: Eui64, raw: bytes) -> ZseAnswer:
    """A meter (ESME, GSME) takes a ZSE frame from `source` and answers it."""
    header = peek_header(raw)
    if header is None:
        _refuse(device, MALFORMED_COMMAND, f"ZSE frame from {source} cut short: {raw.hex()}")
        return ZseAnswer(None, "garbled")
    if header.frame_control & FC_TO_CLIENT:
        _refuse(device, OUT_OF_ORDER, f"ZSE answer from {source} that nothing asked for")
        return ZseAnswer(None, "unexpected")

    def refuse(status: int, reason: str, code: int, detail: str) -> ZseAnswer:
        _refuse(device, code, f"ZSE command 0x{header.command_id:02X} from {source}: {detail}")
        reply = default_response(header.cluster, header.sequence, header.command_id, status)
        return ZseAnswer(reply, reason)

    if device.han_pairings.get(bytes(source)) != PPMID_PAIRING:
        return refuse(NOT_AUTHORIZED, "not_paired", UNAUTHORISED, "not a PPMID paired with it")
    if not header.known:
        where = f"cluster 0x{header.cluster:04X}"
        return refuse(UNSUPPORTED, "unsupported", COMMAND_NOT_SUPPORTED, f"unknown in {where}")
    try:
        message = ZseMessage.decode(raw)
    except GbcsDecodeError as exc:
        return refuse(MALFORMED, "malformed", MALFORMED_COMMAND, str(exc))
    handler = _HANDLERS.get((message.cluster, message.name))
    if handler is None or (
        message.cluster == METERING and device.device_type != DeviceType.ESME
    ):  # a gas valve opens only at the meter
        return refuse(
            UNSUPPORTED, "unsupported", COMMAND_NOT_SUPPORTED, f"{message.name} not served"
        )
    return handler(device, message)


def _top_up(device: Any, message: ZseMessage) -> ZseAnswer:
    fields = message.frame.fields or {}
    outcome = offer_utrn(device, fields["top_up_code"] or b"", "ppmid")
    answer = top_up_response(outcome, int(device.meter.balance), int(fields["originating_device"]))
    return ZseAnswer(
        response(PREPAYMENT, message.frame.sequence, "consumer_top_up_response", **answer)
    )


def _done(message: ZseMessage, done: bool) -> ZseAnswer:
    status = SUCCESS if done else FAILURE
    frame = message.frame
    return ZseAnswer(default_response(message.cluster, frame.sequence, frame.command_id, status))


def _emergency_credit(device: Any, message: ZseMessage) -> ZseAnswer:
    return _done(message, bool(device.activate_emergency_credit("the PPMID")))


def _enable(device: Any, message: ZseMessage) -> ZseAnswer:
    fields = message.frame.fields or {}
    if int(fields["proposed_supply_status"]) != SUPPLY_ON:
        _refuse(device, MALFORMED_COMMAND, "ZSE local change supply: only ON is taken from a PPMID")
        frame = message.frame
        reply = default_response(message.cluster, frame.sequence, frame.command_id, INVALID_FIELD)
        return ZseAnswer(reply, "invalid")
    return _done(message, bool(device.request_enable()))


_HANDLERS: dict[tuple[int, str], Callable[[Any, ZseMessage], ZseAnswer]] = {
    (PREPAYMENT, "consumer_top_up"): _top_up,
    (PREPAYMENT, "select_available_emergency_credit"): _emergency_credit,
    (METERING, "local_change_supply"): _enable,
}
