"""The DCC service catalogue: the 123 service reference variants (and 6 from DUIS 5.4).

Loaded from `hil/fixtures/service_catalogue.csv`, a copy of the SEC services
schedule extract (eligible user roles, target response times for SMETS2+ and
SMETS1 devices, non-device and SMETS2+-only flags, notes). Rows of
`service_catalogue_overrides.csv` replace the extract's row of the same variant
where the DCC's reference data runs a service the extract marks "Not used" (8.5,
8.6); the copy itself stays faithful, so the difference is in one place. The file is checked
when it is read: an unknown role name, an unparseable time or a duplicate
variant is an error naming the row, so a bad edit cannot silently change who
may send what.
"""

from __future__ import annotations

import csv
import datetime as _dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from hil.fixtures import FIXTURES

CATALOGUE_CSV = FIXTURES / "service_catalogue.csv"
#: Variants the reference catalogue lacks but DUIS 5.4 and the RTDS carry; each row
#: says where it comes from (its notes).
SUPPLEMENT_CSV = FIXTURES / "service_catalogue_supplement.csv"
#: Rows that replace the reference's row of the same variant; each row's notes start
#: "Override:" and say why.
OVERRIDES_CSV = FIXTURES / "service_catalogue_overrides.csv"


class Role(StrEnum):
    """SEC user roles (H1.6), named as in the services schedule, and one lab role.

    `LOAD_CONTROLLER` is not a SEC User Role: it is the GBCS remote party (role 8) that
    the DCC's own DUIS templates send 7.16 Limit APC Level as (`LAB_ROLES`).
    """

    IMPORT_SUPPLIER = "Import Supplier"
    EXPORT_SUPPLIER = "Export Supplier"
    GAS_SUPPLIER = "Gas Supplier"
    ELECTRICITY_DISTRIBUTOR = "Electricity Distributor"
    GAS_TRANSPORTER = "Gas Transporter"
    REGISTERED_SUPPLIER_AGENT = "Registered Supplier Agent"
    OTHER_USER = "Other User"
    LOAD_CONTROLLER = "Load Controller"

    @property
    def short(self) -> str:
        return _SHORT[self]

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its schedule name, its short code (IS, ES, GS, ED, GT, RSA, OU, LC)
        or a snake/kebab-case spelling (`import_supplier`)."""
        key = re.sub(r"[\s_-]+", " ", text.strip()).lower()
        for role in cls:
            if key in (role.value.lower(), role.short.lower(), role.name.replace("_", " ").lower()):
                return role
        raise ValueError(
            f"unknown user role {text!r}; expected one of: " + ", ".join(r.value for r in cls)
        )


_SHORT = {
    Role.IMPORT_SUPPLIER: "IS",
    Role.EXPORT_SUPPLIER: "ES",
    Role.GAS_SUPPLIER: "GS",
    Role.ELECTRICITY_DISTRIBUTOR: "ED",
    Role.GAS_TRANSPORTER: "GT",
    Role.REGISTERED_SUPPLIER_AGENT: "RSA",
    Role.OTHER_USER: "OU",
    Role.LOAD_CONTROLLER: "LC",
}

SUPPLIER_ROLES = frozenset({Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.GAS_SUPPLIER})
NETWORK_ROLES = frozenset({Role.ELECTRICITY_DISTRIBUTOR, Role.GAS_TRANSPORTER})
#: Roles the lab adds to SEC H1.6. The DCC's DUIS templates for 7.16 come from the load
#: controller's EUI-64 (ZAZ1's 90-B3-D5-1F-30-01-00-08), so it must be a user to send
#: them; the catalogue supplement makes it eligible for 7.16 only (docs/duis.md).
LAB_ROLES = frozenset({Role.LOAD_CONTROLLER})
#: Roles no registration data names: eligible for any device the variant applies to,
#: the device's own checks decide (an Other User's command goes through the ACB; a
#: load controller's verifies only against the key in the ESME's load controller cell).
UNREGISTERED_ROLES = frozenset({Role.OTHER_USER, Role.LOAD_CONTROLLER})

#: SEC H3.10: available by role alone, with no per-device eligibility.
ROLE_ONLY_VARIANTS = frozenset({"12.1", "12.2", "8.2", "8.14.1", "8.14.2", "8.14.3", "8.14.4"})

#: SEC H3.11-H3.13 categories a request may use.
SCHEDULE_VARIANTS = frozenset({"5.1", "5.2", "5.3"})


@dataclass(frozen=True, slots=True)
class ServiceVariant:
    reference: str
    variant: str
    name: str
    roles: frozenset[Role]
    smets2_target: _dt.timedelta | None
    smets1_target: _dt.timedelta | None
    non_device: bool
    smets2_only: bool
    notes: str

    @property
    def used(self) -> bool:
        """False for variants the schedule marks 'Not used' (no eligible role)."""
        return bool(self.roles)

    @property
    def role_only(self) -> bool:
        return self.variant in ROLE_ONLY_VARIANTS

    @property
    def available_for_smets1(self) -> bool:
        return not self.smets2_only and self.smets1_target is not None

    def target(self, *, smets1: bool) -> _dt.timedelta | None:
        return self.smets1_target if smets1 else self.smets2_target

    def eligible_role(self, role: Role) -> bool:
        return role in self.roles


_DURATION = re.compile(r"^(\d+)\s+(second|minute|hour|day)s?$")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_duration(text: str) -> _dt.timedelta | None:
    """'30 seconds', '24 hours', '5 days' -> timedelta; 'n/a' -> None."""
    text = text.strip().lower()
    if text in ("n/a", ""):
        return None
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"unparseable target response time {text!r}")
    return _dt.timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def format_duration(value: _dt.timedelta | None) -> str:
    if value is None:
        return "n/a"
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size and (unit, seconds) != ("day", 86400):
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def _flag(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"{where}: expected true/false, got {text!r}")
    return value == "true"


class Catalogue:
    """The variants by reference variant, in schedule order."""

    def __init__(self, variants: list[ServiceVariant]) -> None:
        self._by_variant: dict[str, ServiceVariant] = {}
        for v in variants:
            if v.variant in self._by_variant:
                raise ValueError(f"duplicate service reference variant {v.variant}")
            self._by_variant[v.variant] = v

    def __iter__(self) -> Iterator[ServiceVariant]:
        return iter(self._by_variant.values())

    def __len__(self) -> int:
        return len(self._by_variant)

    def __contains__(self, variant: object) -> bool:
        return variant in self._by_variant

    def get(self, variant: str) -> ServiceVariant | None:
        return self._by_variant.get(variant.strip())

    def __getitem__(self, variant: str) -> ServiceVariant:
        found = self.get(variant)
        if found is None:
            raise KeyError(f"unknown service reference variant {variant!r}")
        return found

    def for_role(self, role: Role) -> list[ServiceVariant]:
        return [v for v in self if role in v.roles]

    @classmethod
    def from_csv(cls, *paths: Path | str, overrides: Path | str | None = None) -> Catalogue:
        """The variants of `paths`; each row of `overrides` replaces the row of its
        variant (an override of a variant the files lack is an error)."""
        variants: list[ServiceVariant] = []
        for path in paths:
            variants += _read_csv(path)
        if overrides is not None:
            index = {v.variant: i for i, v in enumerate(variants)}
            for row in _read_csv(overrides):
                if row.variant not in index:
                    raise ValueError(f"{overrides}: override of unknown variant {row.variant}")
                variants[index[row.variant]] = row
        return cls(variants)


def _read_csv(path: Path | str) -> list[ServiceVariant]:
    variants: list[ServiceVariant] = []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            where = f"{path}:{line}"
            try:
                roles = frozenset(
                    Role.parse(r) for r in row["eligible_user_roles"].split(";") if r.strip()
                )
                variants.append(
                    ServiceVariant(
                        reference=row["service_reference"].strip(),
                        variant=row["service_reference_variant"].strip(),
                        name=row["name"].strip(),
                        roles=roles,
                        smets2_target=parse_duration(row["smets2_target_response_time"]),
                        smets1_target=parse_duration(row["smets1_target_response_time"]),
                        non_device=_flag(row["non_device"], where),
                        smets2_only=_flag(row["smets2_only"], where),
                        notes=(row.get("notes") or "").strip(),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{where}: {exc}") from exc
    return variants


@cache
def load_catalogue(path: str | None = None) -> Catalogue:
    """The catalogue from `hil/fixtures/` with its supplement and overrides (or `path`
    alone); parsed once per process."""
    if path:
        return Catalogue.from_csv(path)
    return Catalogue.from_csv(CATALOGUE_CSV, SUPPLEMENT_CSV, overrides=OVERRIDES_CSV)
