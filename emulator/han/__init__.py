"""HAN links: envelopes between the hub and devices over memory, serial or MQTT.

``open_link(url)`` picks the transport from the URL and imports only that one
(see `emulator.han.link`); the envelope format and the serial framing are
documented for device makers in docs/wire-protocol.md.
"""

from emulator.han.envelope import BROADCAST, Envelope, EnvelopeKind
from emulator.han.link import BACKENDS, Link, LinkCounters, LinkFault, open_link
from emulator.han.memory import MemoryLink, MemoryMedium

__all__ = [
    "BACKENDS",
    "BROADCAST",
    "Envelope",
    "EnvelopeKind",
    "Link",
    "LinkCounters",
    "LinkFault",
    "MemoryLink",
    "MemoryMedium",
    "open_link",
]
