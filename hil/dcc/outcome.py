"""What a device's answer says: success or failure, in a line a tester can read.

The DCC passes the device's response on to the user untouched; this summary is
for reports and assertions. A DLMS response fails if any item's result is not
success; a GBZ response fails on a ZCL default response or attribute status
that is not SUCCESS; encrypted parts are counted, not opened (only the user
holds the key).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.errors import GbcsError
from emulator.gbcs.dlms.apdu import AccessResponse, DataNotification
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.payload import PayloadKind, decode_message_payload
from emulator.gbcs.zcl.gbz import GbzPayload


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    summary: str
    items: int = 0
    failures: int = 0
    encrypted: int = 0


def _zcl_failures(payload: GbzPayload) -> tuple[int, int, int]:
    items = failures = encrypted = 0
    for component in payload.components:
        frame = component.frame
        if frame.fields is None:
            encrypted += 1
            items += 1
            continue
        records = frame.fields.get("records")
        if isinstance(records, list):
            for record in records:
                items += 1
                if isinstance(record, dict) and record.get("status", 0) != 0:
                    failures += 1
        else:
            items += 1
            if frame.name == "default_response" and frame.fields.get("status", 0) != 0:
                failures += 1
    return items, failures, encrypted


def summarise(msg: GbcsMessage) -> Outcome:
    use_case = lookup(msg.message_code).use_case or f"0x{msg.message_code:04X}"
    try:
        decoded = decode_message_payload(msg)
    except GbcsError as exc:
        return Outcome(False, f"{use_case}: undecodable payload ({exc})")
    tree = decoded.tree
    if decoded.kind == PayloadKind.DLMS and isinstance(tree, AccessResponse):
        bad = [r.result_name for r in tree.results if not r.ok]
        n = len(tree.results)
        text = f"{use_case}: {n - len(bad)}/{n} items succeeded"
        if bad:
            text += " (" + ", ".join(sorted(set(bad))) + ")"
        return Outcome(not bad, text, n, len(bad), decoded.encrypted_parts)
    if decoded.kind == PayloadKind.DLMS and isinstance(tree, DataNotification):
        return Outcome(True, f"{use_case}: data notification", 1, 0, decoded.encrypted_parts)
    if isinstance(tree, GbzPayload):
        items, failures, encrypted = _zcl_failures(tree)
        text = f"{use_case}: {items - failures}/{items} ZCL items succeeded"
        if encrypted:
            text += f", {encrypted} encrypted for the user"
        return Outcome(failures == 0, text, items, failures, encrypted)
    return Outcome(True, f"{use_case}: {decoded.kind.value} response", 1, 0, 0)
