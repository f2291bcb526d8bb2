"""SMETS1 device-model profiles: YAML files (`hil/fixtures/smets1/*.yaml`) into `Smets1Profile`.

A profile is data: the variants the model supports, its time base and money
resolution, limits, the delay before an on-demand instruction runs, and named
behaviours (docs/smets1.md lists the fields). Files are checked strictly
(`hil.files`: `path:line: field: problem`); a variant must be in the catalogue,
available for SMETS1 and translated by the S1SP. `python -m hil.dcc.smets1_profiles`
prints the device-model x behaviour matrix that docs/smets1.md carries (a unit
test keeps the two the same).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from emulator.devices.smets1.money import ROUNDING
from emulator.devices.smets1.profile import (
    DERIVED_FROM,
    FLAGS,
    Behaviour,
    DelaySpec,
    Factory,
    Limits,
    Smets1Profile,
)
from hil.dcc.catalogue import load_catalogue
from hil.dcc.smets1 import TRANSLATIONS
from hil.errors import HilError
from hil.files import FileFormatError, FileModel, read_yaml
from hil.fixtures import FIXTURES

PROFILES = FIXTURES / "smets1"
SECURE = "secure-cohort"


class ProfileError(HilError, ValueError):
    """A profile that cannot be used (unknown name)."""


class ProfileFileError(FileFormatError, ProfileError):
    """A profile file that does not match the format: `path:line: field: problem`."""


Pence = Annotated[int, Field(ge=0)]


class LimitsEntry(FileModel):
    non_disablement_scripts_per_day: Annotated[int, Field(ge=1)] | None = None
    max_debt_pence: Pence = 100_000
    max_top_up_pence: Pence = 50_000
    max_ec_limit_pence: Pence = 5_000


class DelayEntry(FileModel):
    fixed_s: Annotated[float, Field(ge=0)] | None = None
    min_s: Annotated[float, Field(ge=0)] | None = None
    max_s: Annotated[float, Field(ge=0)] | None = None


class FactoryEntry(FileModel):
    debt_recovery_order: list[str] = ["time-based", "payment-based"]
    disablement_not_allowed: bool = False
    payment_mode: Literal["credit", "prepayment"] = "credit"
    balance_pence: int = 1000
    ec_limit_pence: Pence = 500
    ec_threshold_pence: Pence = 100
    standing_charge_pence_per_day: Pence = 24
    firmware_version: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8}$")] = "01000000"


class ProfileFile(FileModel):
    vendor: str
    model: str
    description: str = ""
    supported: list[str]
    time_base: Literal["local", "utc"] = "local"
    money_resolution_mp: Literal[1, 10, 100, 1000] = 1000
    rounding: Literal["down", "half-up"] = "down"
    limits: LimitsEntry = LimitsEntry()
    delay: DelayEntry = DelayEntry()
    behaviours: list[str] = []
    required_debt_recovery_order: list[str] = ["time-based", "payment-based"]
    factory: FactoryEntry = FactoryEntry()


assert set(ROUNDING) == {"down", "half-up"}  # the schema's Literal follows the converter


def load_profile(path: str | Path) -> Smets1Profile:
    doc = read_yaml(path, ProfileFileError)
    data = doc.validate(ProfileFile)
    catalogue = load_catalogue()
    seen: set[str] = set()
    for i, variant in enumerate(data.supported):
        service = catalogue.get(variant)
        if service is None:
            raise doc.error(("supported", i), f"{variant!r} is not in the service catalogue")
        if not service.available_for_smets1:
            raise doc.error(("supported", i), f"{variant} is SMETS2+ only in the catalogue")
        if variant not in TRANSLATIONS:
            known = " ".join(TRANSLATIONS)
            raise doc.error(
                ("supported", i), f"{variant}: the S1SP has no translation (translated: {known})"
            )
        if variant in seen:
            raise doc.error(("supported", i), f"{variant} is listed twice")
        seen.add(variant)
    flags: set[Behaviour] = set()
    for i, name in enumerate(data.behaviours):
        try:
            behaviour = Behaviour(name)
        except ValueError:
            known = ", ".join(sorted(b.value for b in FLAGS))
            raise doc.error(
                ("behaviours", i), f"unknown behaviour {name!r} (known: {known})"
            ) from None
        if behaviour not in FLAGS:
            raise doc.error(
                ("behaviours", i),
                f"{name} follows from {DERIVED_FROM[behaviour]}; set that instead",
            )
        flags.add(behaviour)
    d = data.delay
    if d.fixed_s is not None and (d.min_s is not None or d.max_s is not None):
        raise doc.error(("delay",), "give fixed_s, or min_s and max_s, not both")
    if d.fixed_s is None and (d.min_s is None) != (d.max_s is None):
        raise doc.error(("delay",), "a seeded range needs both min_s and max_s")
    if d.min_s is not None and d.max_s is not None and d.max_s < d.min_s:
        raise doc.error(("delay", "max_s"), f"must be at least min_s ({d.min_s})")
    fixed = d.fixed_s or 0.0
    delay = DelaySpec(fixed, fixed) if d.min_s is None else DelaySpec(d.min_s, d.max_s or d.min_s)
    f = data.factory
    return Smets1Profile(
        name=Path(path).stem,
        vendor=data.vendor,
        model=data.model,
        supported=frozenset(data.supported),
        time_base=data.time_base,
        money_resolution_mp=data.money_resolution_mp,
        rounding=data.rounding,
        limits=Limits(**data.limits.model_dump()),
        delay=delay,
        flags=frozenset(flags),
        required_debt_recovery_order=tuple(data.required_debt_recovery_order),
        factory=Factory(**{**f.model_dump(), "debt_recovery_order": tuple(f.debt_recovery_order)}),
        description=data.description,
    )


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES.glob("*.yaml"))


def profile(name: str) -> Smets1Profile:
    """A shipped profile by name, or a profile file by path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_profile(path)
    shipped = PROFILES / f"{name}.yaml"
    if not shipped.exists():
        raise ProfileError(f"no SMETS1 profile {name!r} (known: {', '.join(profile_names())})")
    return load_profile(shipped)


def behaviour_matrix(profiles: list[Smets1Profile] | None = None) -> str:
    """The device-model x behaviour matrix (Markdown), as docs/smets1.md carries it."""
    chosen = profiles if profiles is not None else [profile(n) for n in profile_names()]
    head = ["behaviour", *(f"{p.name}" for p in chosen)]
    rows = [
        ["model", *(p.model for p in chosen)],
        ["time base", *(p.time_base for p in chosen)],
        ["money resolution", *(f"{p.money_resolution_mp} mp ({p.rounding})" for p in chosen)],
        ["on-demand delay", *(_delay(p.delay) for p in chosen)],
        [
            "scripts per day",
            *(str(p.limits.non_disablement_scripts_per_day or "-") for p in chosen),
        ],
    ]
    for b in Behaviour:
        rows.append([b.value, *("yes" if p.has(b) else "no" for p in chosen)])
    rows.append(["supported variants", *(" ".join(sorted(p.supported, key=_key)) for p in chosen)])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _delay(delay: DelaySpec) -> str:
    return f"{delay.min_s:g}-{delay.max_s:g} s (seeded)" if delay.variable else f"{delay.min_s:g} s"


def _key(variant: str) -> list[int]:
    return [int(p) for p in variant.split(".")]


if __name__ == "__main__":  # pragma: no cover - `python -m hil.dcc.smets1_profiles`
    try:
        sys.stdout.write(behaviour_matrix())
    except HilError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(1)
