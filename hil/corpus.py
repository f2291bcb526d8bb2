"""Run the codec over a folder of GBCS messages and count what holds.

Used by `smets-hil gbcs corpus` and by the conformance suite: every ``*.HEX`` file
is parsed, re-encoded, verified and its payload decoded; failures are listed with
the stage that failed, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.gbcs.inspection import Inspection, inspect_message
from emulator.gbcs.security import MessageSecurity


def read_hex_file(path: Path) -> bytes:
    text = path.read_text().strip().replace(" ", "").replace("\n", "")
    return bytes.fromhex(text)


@dataclass(slots=True)
class CorpusReport:
    total: int = 0
    parsed: int = 0
    reencoded_identical: int = 0
    signatures_checked: int = 0
    signatures_valid: int = 0
    macs_checked: int = 0
    macs_valid: int = 0
    payloads_decoded: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    not_checked: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, result: Inspection) -> None:
        self.total += 1
        self.parsed += result.message is not None
        self.reencoded_identical += result.reencoded_identical
        self.payloads_decoded += result.payload_decoded
        v = result.verify
        if v is not None:
            if v.signature is not None:
                self.signatures_checked += 1
                self.signatures_valid += v.signature
            if v.mac is not None:
                self.macs_checked += 1
                self.macs_valid += v.mac
            for note in v.errors:
                if " not checked" in note:
                    self.not_checked.append({"file": name, "reason": note})
        for stage, error in result.failures:
            self.failures.append({"file": name, "stage": stage, "error": error})

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "parsed": self.parsed,
            "reencoded_identical": self.reencoded_identical,
            "signatures_checked": self.signatures_checked,
            "signatures_valid": self.signatures_valid,
            "macs_checked": self.macs_checked,
            "macs_valid": self.macs_valid,
            "payloads_decoded": self.payloads_decoded,
            "failures": self.failures,
            "not_checked": self.not_checked,
        }


def hex_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.upper() == ".HEX")


def run_corpus(folder: Path, security: MessageSecurity | None) -> CorpusReport:
    report = CorpusReport()
    for path in hex_files(folder):
        name = str(path.relative_to(folder))
        try:
            raw = read_hex_file(path)
        except ValueError as exc:
            report.total += 1
            report.failures.append({"file": name, "stage": "read", "error": f"not hex: {exc}"})
            continue
        report.add(name, inspect_message(raw, security))
    return report
