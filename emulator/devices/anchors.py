"""Trust anchor cells: which remote parties a device trusts, and with which keys.

A GBCS device holds one cell per remote party role (Supplier, Network Operator,
Access Control Broker, WAN Provider, Root, Recovery, Transitional CoS; ESMEs with
auxiliary controllers also a Load Controller). A cell names the party (EUI-64) and
holds its public keys. Commands are authorised by the role of the cell their
originator matches; CS02b replaces cells.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyStore, KeyUsage


class AnchorRole(StrEnum):
    SUPPLIER = "supplier"
    NETWORK_OPERATOR = "network_operator"
    ACCESS_CONTROL_BROKER = "acb"
    WAN_PROVIDER = "wan_provider"
    ROOT = "root"
    RECOVERY = "recovery"
    TRANSITIONAL_COS = "transitional_cos"
    LOAD_CONTROLLER = "load_controller"


@dataclass(slots=True)
class TrustAnchor:
    role: AnchorRole
    eui: Eui64
    ds_key: ec.EllipticCurvePublicKey | None = None
    ka_key: ec.EllipticCurvePublicKey | None = None
    pp_key: ec.EllipticCurvePublicKey | None = None  # supplier prepayment key agreement

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "eui": str(self.eui),
            "ds": _point(self.ds_key),
            "ka": _point(self.ka_key),
            "pp": _point(self.pp_key),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrustAnchor:
        return cls(
            AnchorRole(data["role"]),
            Eui64(data["eui"]),
            _key(data.get("ds")),
            _key(data.get("ka")),
            _key(data.get("pp")),
        )


def _point(key: ec.EllipticCurvePublicKey | None) -> str | None:
    if key is None:
        return None
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ).hex()


def _key(hex_point: str | None) -> ec.EllipticCurvePublicKey | None:
    if not hex_point:
        return None
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(hex_point))


def _maybe_key(keystore: KeyStore, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePublicKey | None:
    return keystore.public_key(eui, usage) if keystore.has_public_key(eui, usage) else None


class TrustAnchors:
    """The cells of one device.

    `on_change` hears the EUI-64 of every party whose cell is put, replaced or
    dropped, so whoever caches key material derived from a cell (the device's
    ECDH secrets) can let it go when the keys change.
    """

    def __init__(self, on_change: Callable[[Eui64], None] | None = None) -> None:
        self._cells: dict[AnchorRole, TrustAnchor] = {}
        self._on_change = on_change

    def _changed(self, *cells: TrustAnchor | None) -> None:
        if self._on_change is None:
            return
        for cell in cells:
            if cell is not None:
                self._on_change(cell.eui)

    def put(self, anchor: TrustAnchor) -> None:
        old = self._cells.get(anchor.role)
        self._cells[anchor.role] = anchor
        self._changed(old, anchor)

    def set_from_keystore(self, role: AnchorRole, eui: Eui64, keystore: KeyStore) -> TrustAnchor:
        ds = _maybe_key(keystore, eui, KeyUsage.DIGITAL_SIGNATURE)
        ka = _maybe_key(keystore, eui, KeyUsage.KEY_AGREEMENT)
        pp = None
        if role == AnchorRole.SUPPLIER:  # the supplier cell also holds the top-up key
            pp = _maybe_key(keystore, eui, KeyUsage.PREPAYMENT_KEY_AGREEMENT)
        anchor = TrustAnchor(role, Eui64(eui), ds, ka, pp)
        self.put(anchor)
        return anchor

    def get(self, role: AnchorRole) -> TrustAnchor | None:
        return self._cells.get(role)

    def roles_of(self, eui: Eui64) -> set[AnchorRole]:
        return {c.role for c in self._cells.values() if c.eui == eui}

    def cells(self) -> list[TrustAnchor]:
        return list(self._cells.values())

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self._cells.values()]

    def load_json(self, data: list[dict[str, Any]]) -> None:
        old = list(self._cells.values())
        self._cells = {}
        for item in data:
            anchor = TrustAnchor.from_json(item)
            self._cells[anchor.role] = anchor
        self._changed(*old, *self._cells.values())
