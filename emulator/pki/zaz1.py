"""Key store over the public DCC Boxed ZAZ1 test credentials (JSON).

The file maps an EUI-64 to its digital-signature and key-agreement entries, each
with a certificate, a private key, a name and a remote-party role. Several
generations are present (``Z1-`` and ``Z1b-``), plus XML-signing keys for DUIS
(roles 135/137) that GBCS never uses; `generation` picks which one answers.
Names containing ``PP-`` are the supplier's prepayment key-agreement keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage, MemoryKeyStore, load_pem_private_key, load_pem_public

_XML_SIGNING_ROLES = {135, 137}


class Zaz1KeyStore(MemoryKeyStore):
    def __init__(self, path: str | Path, generation: str = "Z1") -> None:
        super().__init__()
        self.warnings: list[str] = []
        self.path = Path(path)
        self.generation = generation
        data: dict[str, Any] = json.loads(self.path.read_text())
        for eui_text, usages in data.items():
            eui = Eui64(eui_text)
            for usage_name, entries in usages.items():
                for entry in self._choose(usage_name, entries.values()):
                    usage = self._usage(usage_name, entry.get("name", ""))
                    cert, public = load_pem_public(entry["certificate"].encode())
                    if cert is not None:
                        self.add_certificate(eui, usage, cert)
                    else:
                        self.add_public_key(eui, usage, public)
                        self.warnings.append(
                            f"{eui} {usage.value}: certificate not loadable, using its public key"
                        )
                    if entry.get("privateKey"):
                        self.add_private_key(
                            eui, usage, load_pem_private_key(entry["privateKey"].encode())
                        )

    def _choose(self, usage_name: str, entries: Any) -> list[dict[str, Any]]:
        """One entry per usage (and per prepayment flag), preferring the generation."""
        best: dict[KeyUsage, tuple[int, dict[str, Any]]] = {}
        for entry in entries:
            if entry.get("role") in _XML_SIGNING_ROLES:
                continue
            name = entry.get("name", "")
            usage = self._usage(usage_name, name)
            rank = 0 if name.startswith(f"{self.generation}-") else 1
            if usage not in best or rank < best[usage][0]:
                best[usage] = (rank, entry)
        return [entry for _, entry in best.values()]

    @staticmethod
    def _usage(usage_name: str, name: str) -> KeyUsage:
        if usage_name == "digitalSignature":
            return KeyUsage.DIGITAL_SIGNATURE
        return KeyUsage.PREPAYMENT_KEY_AGREEMENT if "PP-" in name else KeyUsage.KEY_AGREEMENT
