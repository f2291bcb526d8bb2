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
from hil.errors import HilError

#: A hex file larger than this is not one GBCS message (the largest are a few kilobytes).
MAX_HEX_FILE = 4 * 1024 * 1024

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


class HexError(HilError, ValueError):
    """Text that should hold one message in hexadecimal does not; the message says where."""


def hex_problem(text: str) -> str | None:
    """What keeps `text` from being hex digits (whitespace and dashes ignored), or None."""
    cleaned = "".join(text.split()).replace("-", "")
    if not cleaned:
        return "holds no hex digits"
    for index, char in enumerate(cleaned):
        if char not in "0123456789abcdefABCDEF":
            return f"not hexadecimal: {char!r} at digit {index + 1}"
    if len(cleaned) % 2:
        return f"has an odd number of hex digits ({len(cleaned)})"
    return None


def parse_hex(text: str, where: str) -> bytes:
    """Hex digits, with any whitespace and the dashes of `00-DB-...` ignored."""
    problem = hex_problem(text)
    if problem is not None:
        raise HexError(f"{where}: {problem}")
    return bytes.fromhex("".join(text.split()).replace("-", ""))


def read_hex_file(path: Path) -> bytes:
    """One message from a text file of hex digits (ASCII, UTF-8 or UTF-16 with a BOM).

    Raises `HexError` naming the file for binary, empty, oversized or non-hex
    content, and OSError (which names the file) when it cannot be read.
    """
    if path.stat().st_size > MAX_HEX_FILE:
        raise HexError(f"{path}: larger than {MAX_HEX_FILE} bytes, not one message")
    raw = path.read_bytes()
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "ascii")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise HexError(
            f"{path}: not a text file of hex digits (byte 0x{raw[exc.start]:02X} "
            f"at offset {exc.start})"
        ) from None
    return parse_hex(text, str(path))


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
        except (HexError, OSError) as exc:
            report.total += 1
            error = str(exc).removeprefix(f"{path}: ")
            report.failures.append({"file": name, "stage": "read", "error": error})
            continue
        report.add(name, inspect_message(raw, security))
    return report
