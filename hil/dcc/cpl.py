"""The Central Products List as far as firmware goes: which manufacturer image hashes
are listed for which device model.

The DCC accepts 11.1 / 11.4 with an OTA Upgrade Image only when the image's
manufacturer image hash is on the CPL for the target's device model (DCC: a
firmware version is added to the CPL, with its hash, before it may be sent).
The lab's CPL is data: `hil/fixtures/cpl.csv`, one row per (manufacturer, model,
firmware version, hash); a test or scenario that builds its own image lists it
with `Cpl.add`, as a manufacturer would have it listed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hil.errors import HilError

CPL_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "cpl.csv"
COLUMNS = ("manufacturer", "model", "firmware_version", "image_hash", "note")


class CplError(HilError):
    """A CPL file that cannot be read (one line: where and why)."""


@dataclass(frozen=True, slots=True)
class CplEntry:
    manufacturer: str
    model: str
    firmware_version: str
    image_hash: bytes
    note: str = ""


class Cpl:
    def __init__(self, entries: list[CplEntry] | None = None) -> None:
        self._listed: dict[tuple[str, bytes], CplEntry] = {}
        for entry in entries or []:
            self._listed[(entry.model, entry.image_hash)] = entry

    def __len__(self) -> int:
        return len(self._listed)

    def add(
        self, model: str, image_hash: bytes, *, manufacturer: str = "", version: str = ""
    ) -> None:
        self._listed[(model, image_hash)] = CplEntry(manufacturer, model, version, image_hash)

    def lists(self, model: str, image_hash: bytes) -> bool:
        return (model, image_hash) in self._listed

    @classmethod
    def from_csv(cls, path: Path | str = CPL_CSV) -> Cpl:
        entries = []
        try:
            with open(path, newline="", encoding="utf-8") as f:
                for line, row in enumerate(csv.DictReader(f), start=2):
                    try:
                        digest = bytes.fromhex(row["image_hash"])
                        if len(digest) != 32:
                            raise ValueError("image_hash is not 32 bytes (SHA-256)")
                        entries.append(
                            CplEntry(
                                row["manufacturer"].strip(),
                                row["model"].strip(),
                                row["firmware_version"].strip(),
                                digest,
                                (row.get("note") or "").strip(),
                            )
                        )
                    except (KeyError, ValueError, AttributeError) as exc:
                        raise CplError(f"{path}:{line}: {exc}") from None
        except OSError as exc:
            raise CplError(f"cannot read the CPL {path}: {exc.strerror or exc}") from None
        return cls(entries)


__all__ = ["CPL_CSV", "Cpl", "CplEntry", "CplError"]
