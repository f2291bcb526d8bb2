"""The values a service response carries, as the user sees them.

DUIS hands the user the device's response with its values decoded; here the DCC
names them (`emulator.gbcs.values`) from the command it sent and the response it
got. Sensitive data is encrypted for the user, not for the DCC: in the lab the
DCC holds every user's keys (test PKI), so it opens them as the user would;
without the user's private key they stay "encrypted for the user".
"""

from __future__ import annotations

from emulator.errors import EmulatorError, GbcsError
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.values import NamedValue, message_values

__all__ = ["NamedValue", "response_values", "values_text"]


def response_values(
    security: MessageSecurity | None, command: bytes | None, response: bytes
) -> list[NamedValue]:
    """Named values of a device's response to `command` (never raises)."""
    try:
        msg = decode_message(response)
    except GbcsError as exc:
        return [NamedValue("response", status=f"undecodable: {exc}")]
    sent: GbcsMessage | None = None
    if command is not None:
        try:
            sent = decode_message(command)
        except GbcsError:
            sent = None
    return message_values(msg, command=sent, key=_user_key(security, msg))


def _user_key(security: MessageSecurity | None, msg: GbcsMessage) -> bytes | None:
    """The sensitive-data key of the response, when it has encrypted parts and we hold it."""
    if security is None:
        return None
    try:
        if decode_message_payload(msg).encrypted_parts == 0:
            return None
        return security.sensitive_data_key(msg)
    except EmulatorError:
        return None


def values_text(values: list[NamedValue], limit: int = 4) -> str:
    """A one-line summary for tables: `Active import energy 12.345 kWh; ...`."""
    shown = [f"{v.name} {v.text}" for v in values[:limit]]
    if len(values) > limit:
        shown.append(f"+{len(values) - limit} more")
    return "; ".join(shown)
