"""The DCC's backups of the hub logs, kept from the alerts that carry them.

CS14 (CHF, alert code 0x8F12) carries the whole CHF Device Log with each
device's hashed TC link key; GCS62 (GPF, 0x8071) the whole GPF Device Log with
each device's type. GBCS sends them so that the DCC holds a backup: when a hub
is replaced, 8.12.1 (CCS03) and 8.12.2 (GCS59) restore the logs from the last
one received. An alert whose body cannot be read is counted, never guessed at.
"""

from __future__ import annotations

import logging
from collections import Counter

from emulator.devices.chf import device_log_rows
from emulator.errors import GbcsError
from emulator.gbcs.asn1 import DerConstructed, DerInteger, DerOctetString
from emulator.gbcs.dlms.apdu import DataNotification
from emulator.gbcs.dlms.axdr import Structure
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage
from emulator.gbcs.payload import decode_message_payload

log = logging.getLogger(__name__)

CS14, GCS62 = 0x0018, 0x00B2


class LogBackups:
    """Last CHF and GPF Device Log seen per hub function, by EUI-64."""

    def __init__(self) -> None:
        self.chf: dict[bytes, list[tuple[Eui64, bytes]]] = {}
        self.gpf: dict[bytes, list[tuple[Eui64, int]]] = {}
        self.unreadable: Counter[str] = Counter()

    def take(self, msg: GbcsMessage) -> None:
        """Keep the log an alert carries (other alerts are ignored)."""
        if msg.message_code not in (CS14, GCS62):
            return
        try:
            tree = decode_message_payload(msg).tree
        except GbcsError as exc:
            self._unreadable(msg, str(exc))
            return
        key = bytes(msg.originator)
        if msg.message_code == CS14:
            chf = _chf_log(tree)
            if chf is None:
                self._unreadable(msg, "no device log in the body")
            else:
                self.chf[key] = chf
        else:
            gpf = _gpf_log(tree)
            if gpf is None:
                self._unreadable(msg, "no device log in the body")
            else:
                self.gpf[key] = gpf

    def _unreadable(self, msg: GbcsMessage, why: str) -> None:
        self.unreadable[f"0x{msg.message_code:04X}"] += 1
        log.warning("log backup from %s not kept: %s", msg.originator, why)


def _chf_log(tree: object) -> list[tuple[Eui64, bytes]] | None:
    """The (EUI-64, link key hash) rows of a CS14 body: the array in its last structure."""
    body = tree.body if isinstance(tree, DataNotification) else None
    if not isinstance(body, Structure) or not body.items:
        return None
    logged = body.items[-1]
    if not isinstance(logged, Structure) or not logged.items:
        return None
    return device_log_rows(logged.items[-1])


def _gpf_log(tree: object) -> list[tuple[Eui64, int]] | None:
    """The (EUI-64, device type) rows of a GCS62 body: its last SEQUENCE."""
    if not isinstance(tree, DerConstructed) or not tree.items:
        return None
    rows = tree.items[-1]
    if not isinstance(rows, DerConstructed):
        return None
    found: list[tuple[Eui64, int]] = []
    for row in rows.items:
        pair = row.items if isinstance(row, DerConstructed) else []
        if len(pair) != 2 or not isinstance(pair[0], DerOctetString):
            return None
        if len(pair[0].value) != 8 or not isinstance(pair[1], DerInteger):
            return None
        found.append((Eui64(pair[0].value), pair[1].value))
    return found
