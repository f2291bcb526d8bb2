"""Everything a tester wants to know about one message, in one call.

`inspect_message` runs the stages a lab tool runs on captured bytes: frame,
payload, security checks, sensitive-data decryption and a round-trip check, and
records where each failed instead of stopping at the first problem. The CLI's
`gbcs decode` and `gbcs corpus` are thin layers over it.

`to_json` prints names next to the numbers (cluster, attribute, alert code, OBIS
object, message code) and the payload's named values (`emulator.gbcs.values`);
a DLMS response names its items from the command given with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.errors import EmulatorError, GbcsError
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.payload import DecodedPayload, decode_message_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity, VerifyResult
from emulator.gbcs.tree import to_jsonable
from emulator.gbcs.values import message_values, naming


@dataclass(slots=True)
class Inspection:
    raw: bytes
    message: GbcsMessage | None = None
    payload: DecodedPayload | None = None
    verify: VerifyResult | None = None
    reencoded_identical: bool = False
    payload_reencoded_identical: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)  # (stage, error)
    command: bytes | None = None  # the command a response answers, to name its items
    sensitive_key: bytes | None = field(default=None, repr=False)

    @property
    def payload_decoded(self) -> bool:
        """Typed tree, byte-identical re-encoding, every encrypted part opened."""
        return (
            self.payload is not None
            and self.payload_reencoded_identical
            and self.payload.fully_decrypted
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"length": len(self.raw)}
        m = self.message
        if m is not None:
            code = lookup(m.message_code)
            out["frame"] = {
                "cra": m.cra.name.lower(),
                "message_code": f"0x{m.message_code:04X}",
                "use_case": code.use_case,
                "use_case_name": code.name,
                "originator_counter": m.counter,
                "originator": str(m.originator),
                "recipient": str(m.recipient),
                "mac_header": m.is_maced,
                "signature": "absent"
                if m.signature is None
                else ("signed" if m.signature else "empty"),
                "grouping_header": naming(to_jsonable(m.header)),
            }
        if self.payload is not None:
            out["payload"] = {
                "kind": self.payload.kind.value,
                "tree": naming(to_jsonable(self.payload.tree)),
                "encrypted_parts": self.payload.encrypted_parts,
                "decrypted_parts": self.payload.decrypted_parts,
            }
            if self.payload.decrypted_dlms:
                out["payload"]["decrypted"] = to_jsonable(self.payload.decrypted_dlms)
        if m is not None and self.payload is not None and m.cra != Cra.COMMAND:
            out["values"] = [v.as_dict() for v in self._values(m)]
        if self.verify is not None:
            out["security"] = {
                "signature_valid": self.verify.signature,
                "mac_valid": self.verify.mac,
                "notes": self.verify.errors,
            }
        out["reencoded_identical"] = self.reencoded_identical
        out["failures"] = [{"stage": s, "error": e} for s, e in self.failures]
        return out

    def _values(self, msg: GbcsMessage) -> list[Any]:
        command = None
        if self.command is not None:
            try:
                command = decode_message(self.command)
            except GbcsError:
                self.failures.append(("command", "the command given does not decode"))
        try:
            return list(message_values(msg, command=command, key=self.sensitive_key))
        except EmulatorError as exc:  # naming must never hide the decoded tree
            self.failures.append(("values", str(exc)))
            return []


def inspect_message(
    raw: bytes, security: MessageSecurity | None = None, command: bytes | None = None
) -> Inspection:
    result = Inspection(bytes(raw), command=command)
    try:
        msg = decode_message(raw)
    except GbcsError as exc:
        result.failures.append(("parse", str(exc)))
        return result
    result.message = msg
    try:
        result.reencoded_identical = _reencode(msg) == result.raw
        if not result.reencoded_identical:
            result.failures.append(("reencode", "message re-encodes to different bytes"))
    except GbcsError as exc:
        result.failures.append(("reencode", str(exc)))
    if security is not None:
        result.verify = security.verify(msg)
        for note in result.verify.errors:
            stage = "signature" if note.startswith("signature") else "mac"
            if " not checked" not in note:
                result.failures.append((stage, note))
    try:
        payload = decode_message_payload(msg)
    except GbcsError as exc:
        result.failures.append(("payload", str(exc)))
        return result
    result.payload = payload
    try:
        result.payload_reencoded_identical = payload.encode() == msg.payload
        if not result.payload_reencoded_identical:
            result.failures.append(("payload-reencode", "payload re-encodes to different bytes"))
    except EmulatorError as exc:
        result.failures.append(("payload-reencode", str(exc)))
    if payload.encrypted_parts:
        if security is None:
            result.failures.append(("decrypt", "encrypted parts and no keys given"))
        else:
            error = try_decrypt(payload, security, msg)
            if error is not None:
                result.failures.append(("decrypt", error))
            else:
                result.sensitive_key = security.sensitive_data_key(msg)
    return result


def _reencode(msg: GbcsMessage) -> bytes:
    clean = GbcsMessage(
        msg.header,
        msg.payload,
        msg.signature,
        msg.mac,
        msg.security_control,
        msg.invocation_counter,
    )
    return clean.encode()
