"""Joining the HAN: link keys from install codes, and the JOIN handshake's payloads.

Pure: no I/O, no clock. The hub (emulator/hub.py) and the device runner
(emulator/devices/runner.py) carry these payloads in envelopes; the CHF
(emulator/devices/chf.py) decides who may join. docs/wire-protocol.md,
"Joining", describes the exchange byte by byte.

Keys are the ZigBee Smart Energy ones: a device's first link key is the AES-MMO
hash (ZigBee specification, annex B.6) of its install code followed by the
code's CRC-16 (CRC-16/X-25, little-endian). The handshake proves both ends hold
that key (or a link key of an earlier join) with AES-CMAC over both EUIs and
fresh nonces, and establishes a new link key from both nonces: our stand-in for
the key establishment a real device runs after it joined.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from emulator.errors import GbcsDecodeError
from emulator.gbcs.eui import Eui64

KEY_SIZE = 16
NONCE_SIZE = 16
PROOF_SIZE = 16
#: Install code lengths given without their CRC (the CRC is appended before hashing).
CODE_LENGTHS_WITHOUT_CRC = (6, 8, 12, 16)

#: Emulator event codes (GBCS has none for the HAN join itself), in the device's logs.
EVENT_JOINED = 0x0F01  # event log: joined the HAN, link key established
EVENT_JOIN_REFUSED = 0x0F02  # security log: the hub refused a join (detail: the reason)


class JoinKey(IntEnum):
    """Which key the device proves it holds."""

    INSTALL_CODE = 1  # the key hashed from its install code
    LINK_KEY = 2  # the link key of an earlier join (historic key, or a rejoin)
    #: The hash of its link key, to a hub whose log was restored (CCS03): the log
    #: holds only that hash, so the proof is keyed with it.
    KEY_HASH = 3


class Refusal(IntEnum):
    """Why the hub refused a JOIN (the JOIN_REFUSE payload's first byte)."""

    NOT_IN_LOG = 1  # the device is not in the CHF Device Log
    WINDOW_CLOSED = 2  # logged, but its join window has closed (or never opened)
    BAD_PROOF = 3  # the proof does not verify: wrong install code or key
    LOG_FULL = 4  # not logged, and the CHF Device Log is full
    MALFORMED = 5  # the JOIN payload is not one
    KEY_NOT_ALLOWED = 6  # that key is not the one allowed now (historic vs install code)
    KEY_HASH_ONLY = 7  # a restored entry: the hub holds only the key's hash; prove that


REFUSAL_TEXT = {
    Refusal.NOT_IN_LOG: "not in the CHF Device Log",
    Refusal.WINDOW_CLOSED: "join window closed",
    Refusal.BAD_PROOF: "wrong install code or link key",
    Refusal.LOG_FULL: "CHF Device Log full",
    Refusal.MALFORMED: "malformed JOIN",
    Refusal.KEY_NOT_ALLOWED: "that key is not allowed now",
    Refusal.KEY_HASH_ONLY: "restored log: prove the link key's hash",
}


# -- key derivation --------------------------------------------------------------------------


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25 (reflected 0x1021, init and final XOR 0xFFFF): the install code CRC."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def with_crc(code: bytes) -> bytes:
    """The install code as a device label shows it: the code, then its CRC low byte first."""
    return code + struct.pack("<H", crc16_x25(code))


def aes_mmo(data: bytes) -> bytes:
    """The ZigBee AES-MMO hash (Matyas-Meyer-Oseas over AES-128, annex B.6).

    Padding: a 1 bit, zeros, then the message length in bits as 16 bits big-endian,
    to a whole number of 16-byte blocks (messages under 8 KiB, as every key input is).
    """
    if len(data) * 8 >= 1 << 16:
        raise ValueError(f"aes_mmo: {len(data)} bytes is too long for the short padding")
    padded = bytearray(data) + b"\x80"
    while len(padded) % 16 != 14:
        padded.append(0)
    padded += struct.pack(">H", len(data) * 8)
    digest = bytes(16)
    for i in range(0, len(padded), 16):
        block = bytes(padded[i : i + 16])
        encryptor = Cipher(algorithms.AES(digest), modes.ECB()).encryptor()
        cipher = encryptor.update(block) + encryptor.finalize()
        digest = bytes(a ^ b for a, b in zip(cipher, block, strict=True))
    return digest


def install_code_key(install_code: bytes) -> bytes:
    """The link key a device joins with first: AES-MMO of its install code and CRC.

    A code of 6, 8, 12 or 16 bytes is taken without its CRC (appended here); any
    other length (8+2, ..., 16+2, or a lab's free-form code) is hashed as given.
    """
    if len(install_code) in CODE_LENGTHS_WITHOUT_CRC:
        install_code = with_crc(install_code)
    return aes_mmo(install_code)


def key_hash(link_key: bytes) -> bytes:
    """What the CHF Device Log shows of a link key (CS14, CCS07): its AES-MMO hash."""
    return aes_mmo(link_key)


def session_key(join_key: bytes, device_nonce: bytes, hub_nonce: bytes) -> bytes:
    """The link key a join with the install code (or with the hash of a link key, to
    a restored hub) establishes: fresh for every join."""
    return aes_mmo(join_key + device_nonce + hub_nonce)


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def device_proof(
    key: bytes, device: Eui64, hub: Eui64, key_type: JoinKey, device_nonce: bytes
) -> bytes:
    """AES-CMAC(key, 01 || device EUI || hub EUI || key type || device nonce)."""
    return _cmac(key, b"\x01" + bytes(device) + bytes(hub) + bytes([key_type]) + device_nonce)


def hub_proof(
    key: bytes,
    hub: Eui64,
    device: Eui64,
    key_type: JoinKey,
    device_nonce: bytes,
    hub_nonce: bytes,
) -> bytes:
    """AES-CMAC(key, 02 || hub EUI || device EUI || key type || both nonces)."""
    data = b"\x02" + bytes(hub) + bytes(device) + bytes([key_type]) + device_nonce + hub_nonce
    return _cmac(key, data)


def proofs_match(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


# -- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """JOIN (device to hub): key type (1), device nonce (16), proof (16)."""

    key_type: JoinKey
    nonce: bytes
    proof: bytes

    SIZE = 1 + NONCE_SIZE + PROOF_SIZE

    def encode(self) -> bytes:
        return bytes([self.key_type]) + self.nonce + self.proof

    @classmethod
    def decode(cls, raw: bytes) -> JoinRequest:
        if len(raw) != cls.SIZE:
            raise GbcsDecodeError("join", len(raw), f"a JOIN payload is {cls.SIZE} bytes")
        try:
            key_type = JoinKey(raw[0])
        except ValueError:
            raise GbcsDecodeError("join.key_type", 0, f"unknown key type {raw[0]}") from None
        return cls(key_type, raw[1:17], raw[17:33])


@dataclass(frozen=True, slots=True)
class JoinAccept:
    """JOIN_ACCEPT (hub to device): device nonce echoed (16), hub nonce (16), proof (16)."""

    device_nonce: bytes
    hub_nonce: bytes
    proof: bytes

    SIZE = NONCE_SIZE * 2 + PROOF_SIZE

    def encode(self) -> bytes:
        return self.device_nonce + self.hub_nonce + self.proof

    @classmethod
    def decode(cls, raw: bytes) -> JoinAccept:
        if len(raw) != cls.SIZE:
            raise GbcsDecodeError("join_accept", len(raw), f"is {cls.SIZE} bytes")
        return cls(raw[:16], raw[16:32], raw[32:48])


@dataclass(frozen=True, slots=True)
class JoinRefuse:
    """JOIN_REFUSE (hub to device): reason (1), device nonce echoed (16)."""

    reason: Refusal
    device_nonce: bytes

    SIZE = 1 + NONCE_SIZE

    def encode(self) -> bytes:
        return bytes([self.reason]) + self.device_nonce

    @classmethod
    def decode(cls, raw: bytes) -> JoinRefuse:
        if len(raw) != cls.SIZE:
            raise GbcsDecodeError("join_refuse", len(raw), f"is {cls.SIZE} bytes")
        try:
            reason = Refusal(raw[0])
        except ValueError:
            raise GbcsDecodeError("join_refuse.reason", 0, f"unknown reason {raw[0]}") from None
        return cls(reason, raw[1:17])


@dataclass(slots=True)
class JoinCounters:
    """JOINs the CHF answered: accepted, refused, and refusals by reason (every field
    always present, so a scenario can assert `CHF.joins.bad_proof` before any)."""

    accepted: int = 0
    refused: int = 0
    not_in_log: int = 0
    window_closed: int = 0
    bad_proof: int = 0
    log_full: int = 0
    malformed: int = 0
    key_not_allowed: int = 0
    key_hash_only: int = 0

    def count(self, refusal: Refusal | None) -> None:
        if refusal is None:
            self.accepted += 1
            return
        self.refused += 1
        name = refusal.name.lower()
        setattr(self, name, getattr(self, name) + 1)

    def refusals(self) -> dict[str, int]:
        """The non-zero refusal counts by reason."""
        return {
            r.name.lower(): getattr(self, r.name.lower())
            for r in Refusal
            if getattr(self, r.name.lower())
        }


# -- the device's side -----------------------------------------------------------------------


@dataclass(slots=True)
class HanMembership:
    """What a device keeps of its HAN membership (saved with its state).

    `joined` with an empty `link_key` is a lab-provisioned device: treated as
    joined, it never runs the handshake (`source` "lab").
    """

    install_code: bytes = b""
    link_key: bytes = b""
    joined: bool = False
    source: str = ""  # "install_code", "link_key" (historic or rejoin), "key_hash" or "lab"
    attempts: int = 0  # JOINs sent since the last success
    refusals: int = 0  # JOIN_REFUSEs received, ever
    last_refusal: str = ""  # the last refusal's reason (lower-case name); "" once joined

    def provisioned(self) -> None:
        """Lab provisioning: the device counts as joined (the hub's log admits it)."""
        self.joined = True
        self.source = self.source or "lab"

    def forget(self) -> None:
        """Factory reset of the HAN side: it must join again (its install code stays)."""
        self.joined = False
        self.link_key = b""
        self.source = ""
        self.attempts = 0

    def copy(self) -> HanMembership:
        return HanMembership(
            self.install_code,
            self.link_key,
            self.joined,
            self.source,
            self.attempts,
            self.refusals,
            self.last_refusal,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "install_code": self.install_code.hex(),
            "link_key": self.link_key.hex(),
            "joined": self.joined,
            "source": self.source,
            "attempts": self.attempts,
            "refusals": self.refusals,
            "last_refusal": self.last_refusal,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HanMembership:
        return cls(
            bytes.fromhex(data.get("install_code", "")),
            bytes.fromhex(data.get("link_key", "")),
            bool(data.get("joined", False)),
            str(data.get("source", "")),
            int(data.get("attempts", 0)),
            int(data.get("refusals", 0)),
            str(data.get("last_refusal", "")),
        )


def lab_install_code(eui: Eui64) -> bytes:
    """A lab device's 16-byte install code, the same in every process (from its EUI)."""
    return aes_mmo(b"smets-hil lab install code" + bytes(eui))


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """How a device retries a JOIN, in seconds of its own clock.

    An attempt that is refused, or unanswered within `reply_timeout`, is retried
    after `first_backoff`, doubling up to `max_backoff`; after `attempts` failed
    attempts in a row the device rests `round_pause` and starts a new round.
    An answer is also awaited for at least `reply_floor` seconds of real time: a
    virtual clock may jump past the timeout while the answer is still crossing a
    pty or a broker.
    """

    reply_timeout: float = 10.0
    reply_floor: float = 2.0
    first_backoff: float = 5.0
    max_backoff: float = 60.0
    attempts: int = 6
    round_pause: float = 900.0

    def wait_after(self, failed: int) -> float:
        """The pause after the `failed`-th failed attempt of a round (1-based)."""
        if failed >= self.attempts:
            return self.round_pause
        return min(self.first_backoff * 2.0 ** (failed - 1), self.max_backoff)
