"""DCC users: parties acting in user roles under EUI-64 user IDs (SEC H1).

A party holds one user ID per role; the only IDs that may be shared between
roles are {Import Supplier, Gas Supplier} and {Import Supplier, Export
Supplier, Gas Supplier} (H1.5). Each user ID gets organisation certificates
(digital signing and key agreement; suppliers also a prepayment key) from the
lab's test PKI, so the same ID signs critical pre-commands and is what devices
hold in their trust anchor cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from emulator.gbcs.eui import Eui64
from emulator.pki.testpki import Party, RemotePartyRole, TestPki
from hil.dcc.catalogue import SUPPLIER_ROLES, Role

#: The role sets that may share one user ID (H1.5).
SHARED_ID_SETS: tuple[frozenset[Role], ...] = (
    frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}),
    frozenset({Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.GAS_SUPPLIER}),
)

#: The remote party role in the organisation certificate of each user role.
CERTIFICATE_ROLE: dict[Role, RemotePartyRole] = {
    Role.IMPORT_SUPPLIER: RemotePartyRole.SUPPLIER,
    Role.EXPORT_SUPPLIER: RemotePartyRole.SUPPLIER,
    Role.GAS_SUPPLIER: RemotePartyRole.SUPPLIER,
    Role.ELECTRICITY_DISTRIBUTOR: RemotePartyRole.NETWORK_OPERATOR,
    Role.GAS_TRANSPORTER: RemotePartyRole.NETWORK_OPERATOR,
    Role.REGISTERED_SUPPLIER_AGENT: RemotePartyRole.OTHER_USER,
    Role.OTHER_USER: RemotePartyRole.OTHER_USER,
    Role.LOAD_CONTROLLER: RemotePartyRole.LOAD_CONTROLLER,
}


class UserError(ValueError):
    """A user or user ID the DCC would not accept."""


def parse_user_id(text: str | Eui64 | int) -> Eui64:
    """A user ID must be EUI-64 compliant: eight octets, not all zeros or all ones."""
    try:
        eui = Eui64(text)
    except (ValueError, TypeError) as exc:
        raise UserError(f"user ID {text!r} is not an EUI-64: {exc}") from exc
    if bytes(eui) in (bytes(8), b"\xff" * 8):
        raise UserError(f"user ID {eui} is reserved (all zeros or all ones)")
    return eui


def shared_id_allowed(roles: Iterable[Role]) -> bool:
    found = frozenset(roles)
    return len(found) <= 1 or found in SHARED_ID_SETS


@dataclass
class User:
    """A party registered as a DCC user in one or more roles."""

    name: str
    ids: dict[Role, Eui64]
    parties: dict[bytes, Party] = field(default_factory=dict, repr=False)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(self.ids)

    def id_for(self, role: Role) -> Eui64:
        try:
            return self.ids[role]
        except KeyError:
            raise UserError(f"{self.name} is not a user in role {role}") from None

    def party_for(self, role: Role) -> Party:
        """The organisation (certificates and keys) behind the user ID for `role`."""
        return self.parties[bytes(self.id_for(role))]

    def is_supplier(self) -> bool:
        return bool(self.roles & SUPPLIER_ROLES)

    def __str__(self) -> str:
        return self.name


class UserRegistry:
    """The DCC's record of users, checking user IDs as they are accepted (H1.5-H1.7)."""

    def __init__(self, pki: TestPki | None = None) -> None:
        self.pki = pki
        self._users: dict[str, User] = {}
        self._by_id: dict[bytes, tuple[User, set[Role]]] = {}

    def __iter__(self) -> Iterator[User]:
        return iter(self._users.values())

    def __len__(self) -> int:
        return len(self._users)

    def __getitem__(self, name: str) -> User:
        try:
            return self._users[name]
        except KeyError:
            known = ", ".join(self._users) or "none"
            raise UserError(f"unknown user {name!r} (known: {known})") from None

    def get(self, name: str) -> User | None:
        return self._users.get(name)

    def by_id(self, user_id: Eui64 | bytes) -> tuple[User, frozenset[Role]] | None:
        found = self._by_id.get(bytes(user_id))
        return None if found is None else (found[0], frozenset(found[1]))

    def add(
        self,
        name: str,
        ids: Mapping[Role, Eui64 | str | int] | Mapping[str, Eui64 | str | int],
    ) -> User:
        """Register `name` with a user ID per role; refuse IDs H1.5 forbids."""
        if name in self._users:
            raise UserError(f"user {name!r} is already registered")
        if not ids:
            raise UserError(f"user {name!r} needs at least one role")
        parsed: dict[Role, Eui64] = {}
        for role, value in ids.items():
            parsed[Role.parse(role) if isinstance(role, str) else role] = parse_user_id(value)
        grouped: dict[bytes, set[Role]] = {}
        for role, eui in parsed.items():
            grouped.setdefault(bytes(eui), set()).add(role)
        for raw, roles in grouped.items():
            existing = self._by_id.get(raw)
            if existing is not None:
                raise UserError(
                    f"user ID {Eui64(raw)} already belongs to {existing[0].name} "
                    f"({', '.join(sorted(existing[1]))})"
                )
            if not shared_id_allowed(roles):
                raise UserError(
                    f"user ID {Eui64(raw)} cannot be shared by {', '.join(sorted(roles))}: only "
                    "Import+Gas Supplier or Import+Export+Gas Supplier may share an ID (SEC H1.5)"
                )
        user = User(name, parsed)
        if self.pki is not None:
            for raw, roles in grouped.items():
                role = sorted(roles)[0]
                user.parties[raw] = self.pki.parties.get(raw) or self.pki.remote_party(
                    Eui64(raw), CERTIFICATE_ROLE[role], f"{name} ({', '.join(sorted(roles))})"
                )
        self._users[name] = user
        for raw, roles in grouped.items():
            self._by_id[raw] = (user, roles)
        return user
