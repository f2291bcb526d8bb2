"""docs/wire-protocol.md: its worked frame and topic names match the code
(test_wire_doc_examples.py runs its python examples).

A device maker builds a shim from that page, so a drift between it and the code
is a bug in one of them.
"""

from __future__ import annotations

import re
from pathlib import Path

from han_support import METER

from emulator.han.framing import encode_frame
from emulator.han.mqtt import han_topic, state_topic, status_topic

DOC = Path(__file__).resolve().parents[3] / "docs" / "wire-protocol.md"


def test_worked_example_annotation_matches_the_frame() -> None:
    text = DOC.read_text()
    annotated = text.split("frame on the wire", 1)[1].split("```", 1)[0]
    hex_bytes = re.findall(
        r"\b[0-9a-f]{2}\b", "\n".join(line.split("  ")[0] for line in annotated.splitlines()[1:])
    )
    envelope_part = text.split("envelope (27 bytes)", 1)[1].split("CRC-16", 1)[0]
    envelope = bytes.fromhex(
        " ".join(line.split("  ")[0] for line in envelope_part.strip().splitlines())
    )
    assert len(envelope) == 27
    assert bytes.fromhex(" ".join(hex_bytes)) == encode_frame(envelope)


def test_topics_in_doc_match_the_code() -> None:
    text = DOC.read_text()
    for topic in (
        han_topic("{lab}", METER),
        status_topic("{lab}", METER),
        state_topic("{lab}", METER),
    ):
        assert topic.replace(METER.hex(), "{dst}" if "/han/" in topic else "{eui}") in text
