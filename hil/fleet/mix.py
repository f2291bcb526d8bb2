"""The scenario mix of a fleet run (MIX.yaml): what kinds of service request, how often.

A mix file is strict like every other input file (`hil.files`): unknown keys are
refused and a mistake reads `file:line: field: problem`::

    rate: 200            # service requests per second, whole fleet
    timeout_s: 10        # a request without a response by then is a failure
    inflight: 256        # requests outstanding at once per worker
    weights:             # relative frequencies; a kind left out never happens
      read: 70
      critical: 10
      top_up: 10
      join: 5
      firmware: 5

Each kind is one GBCS service request to the premises' ESME (`KINDS`): what the
DCC side of a worker sends, signs (critical ones) and MACs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import Field

from hil.errors import HilError
from hil.files import (
    FileFormatError,
    FileModel,
    YamlDocument,
    parse_yaml,
    python_document,
    read_yaml,
)


class MixFileError(FileFormatError):
    """A mix file that does not describe a mix: `path:line: field: problem`."""


@dataclass(frozen=True)
class Kind:
    """One kind of request in a mix: the service request variant sent to the ESME."""

    name: str
    variant: str
    description: str


#: The request kinds a mix can weigh; one source of truth for the mix schema and the traffic.
KINDS: Final[dict[str, Kind]] = {
    k.name: k
    for k in (
        Kind("read", "4.1.1", "read instantaneous import registers (sensitive read)"),
        Kind("critical", "1.1.1", "update import tariff (critical: supplier-signed)"),
        Kind("top_up", "2.2", "top up device with a UTRN"),
        Kind("join", "8.7.1", "join service between the ESME and the PPMID"),
        Kind("firmware", "11.2", "read firmware version"),
    )
}

Weight = Annotated[int, Field(ge=0, le=1_000_000)]


class Weights(FileModel):
    read: Weight = 0
    critical: Weight = 0
    top_up: Weight = 0
    join: Weight = 0
    firmware: Weight = 0


class MixFile(FileModel):
    rate: Annotated[float, Field(gt=0, le=1_000_000)]
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    inflight: Annotated[int, Field(ge=1, le=100_000)] = 256
    weights: Weights


class MixError(HilError, ValueError):
    """A mix that cannot be used as given (no weight at all)."""


@dataclass(frozen=True)
class Mix:
    rate: float
    weights: dict[str, int]
    timeout_s: float = 10.0
    inflight: int = 256

    @classmethod
    def from_document(cls, doc: YamlDocument) -> Mix:
        data = doc.validate(MixFile)
        weights = {name: w for name, w in data.weights.model_dump().items() if w > 0}
        if not weights:
            raise doc.error(("weights",), "at least one kind needs a weight above 0")
        # Integer weights need no float coercion here: strict mode accepts ints for floats.
        return cls(float(data.rate), weights, float(data.timeout_s), data.inflight)

    @classmethod
    def from_file(cls, path: str | Path) -> Mix:
        return cls.from_document(read_yaml(path, MixFileError))

    @classmethod
    def from_yaml(cls, text: str, where: str = "mix") -> Mix:
        return cls.from_document(parse_yaml(text, where, MixFileError))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "mix") -> Mix:
        return cls.from_document(python_document(data, where, MixFileError))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "timeout_s": self.timeout_s,
            "inflight": self.inflight,
            "weights": dict(self.weights),
        }


#: The mix used when none is given: mostly reads, a little of everything else.
DEFAULT_MIX: Final = Mix(
    rate=100.0, weights={"read": 70, "critical": 10, "top_up": 10, "join": 5, "firmware": 5}
)
