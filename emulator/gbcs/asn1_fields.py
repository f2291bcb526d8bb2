"""Field names of the ASN.1 (DER) responses GBCS devices send, by message code.

DER carries no field names; GBCS defines each response as an ASN.1 type. These
schemas give the positions their names (GBCS ASN.1 modules, checked against the
reference responses) so a response reads as `result`, `firmware_version`, ...
instead of INTEGER, OCTET STRING. A response without a schema, or whose shape
differs from it, is shown by position (`field 1`, ...), never forced.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Seq:
    """A SEQUENCE whose items are named in order (a lone name names a single value)."""

    fields: tuple[str | Seq | SeqOf, ...]


@dataclass(frozen=True, slots=True)
class SeqOf:
    """A named SEQUENCE OF `element`."""

    name: str
    element: Seq


Schema = Seq | SeqOf | str

_JOIN = "result"  # CS03 / CS04: a bare INTEGER

RESPONSES: dict[int, Schema] = {
    0x0012: Seq(("result", "firmware_version")),  # CS06 Activate Firmware
    0x0129: Seq(("firmware_version", "result")),  # CS08 Read PPMID/HCALCS Firmware Version
    0x0013: Seq(("result", SeqOf("joined_devices", Seq(("device_id", "device_type"))))),  # CS07
    0x000D: _JOIN,  # CS03A1
    0x000E: _JOIN,  # CS03B
    0x00AB: _JOIN,  # CS03A2
    0x00AF: _JOIN,  # CS03C
    0x000F: _JOIN,  # CS04AC
    0x0010: _JOIN,  # CS04B
    0x007F: Seq(("current_time", "result")),  # GCS28 Set Clock (gas)
    0x0008: SeqOf(  # CS02a Provide Security Credentials Details
        "remote_party_roles",
        Seq(
            (
                "role",
                "status",
                "field 3",
                SeqOf("cells", Seq(("key_usage", "entity_id", "subject_key_identifier"))),
            )
        ),
    ),
}
RESPONSES[0x011B] = RESPONSES[0x0008]  # CS02f
