"""xDLMS APDUs that GBCS carries: access-request, access-response, data-notification.

Byte layout (GBCS uses the DLMS "access" service, not get/set/action APDUs)::

    access-request   D9 <invoke 4> <date-time: 00 | 0C+12>
                     <n> request-spec*n   <m> Data*m        (one Data per spec)
    access-response  DA <invoke 4> <date-time> <echo: 00 | 01 <n> spec*n>
                     <m> Data*m  <k> (choice result)*k
    data-notification 0F <invoke 4> <date-time> Data

    request-spec: 01 get | 02 set | 03 action : class(2) OBIS(6) attribute/method(1)
                  04 get-with-selection | 05 set-with-selection : same + selector(1) Data

The invoke id is the long-invoke-id-and-priority; in GBCS its low 24 bits repeat the
low 24 bits of the grouping header counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Self

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.dlms.axdr import Data, NullData, read_data
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.reader import Reader, ber_length_bytes


class Obis(bytes):
    """Six-byte COSEM logical name, printed as A-B:C.D.E.F."""

    __slots__ = ()

    def __new__(cls, value: bytes | str) -> Self:
        if isinstance(value, str):
            parts = value.replace("-", ".").replace(":", ".").split(".")
            if len(parts) != 6:
                raise GbcsEncodeError("obis", f"needs six groups: {value!r}")
            raw = bytes(int(p) for p in parts)
        else:
            raw = bytes(value)
        if len(raw) != 6:
            raise GbcsEncodeError("obis", f"needs 6 bytes, got {len(raw)}")
        return super().__new__(cls, raw)

    def __str__(self) -> str:
        a, b, c, d, e, f = self
        return f"{a}-{b}:{c}.{d}.{e}.{f}"

    def __repr__(self) -> str:
        return f"Obis('{self}')"


class DataAccessResult(IntEnum):
    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class ActionResult(IntEnum):
    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_ACTION_ABORTED = 15
    NO_LONG_ACTION_IN_PROGRESS = 16
    OTHER_REASON = 250


class SpecKind(IntEnum):
    GET = 1
    SET = 2
    ACTION = 3
    GET_WITH_SELECTION = 4
    SET_WITH_SELECTION = 5


@dataclass(slots=True)
class RequestSpec:
    """One access-request-specification: what to read, write or invoke.

    `member` is the attribute id for get/set and the method id for action.
    """

    kind: SpecKind
    class_id: int
    instance: Obis
    member: int
    selector: int | None = None
    selection: Data | None = None

    def write(self, out: bytearray) -> None:
        out.append(self.kind)
        out += self.class_id.to_bytes(2, "big")
        out += bytes(Obis(self.instance))
        if not 0 <= self.member <= 0xFF:
            raise GbcsEncodeError("request_spec.member", f"out of range: {self.member}")
        out.append(self.member)
        if self.kind in (SpecKind.GET_WITH_SELECTION, SpecKind.SET_WITH_SELECTION):
            if self.selector is None or self.selection is None:
                raise GbcsEncodeError("request_spec", "selective access needs selector and data")
            out.append(self.selector)
            self.selection.write(out)

    @classmethod
    def read(cls, r: Reader) -> RequestSpec:
        start = r.pos
        choice = r.u8("request_spec.choice")
        try:
            kind = SpecKind(choice)
        except ValueError:
            raise r.fail("request_spec.choice", f"unknown choice {choice}", start) from None
        class_id = r.uint(2, "request_spec.class_id")
        instance = Obis(r.take(6, "request_spec.instance"))
        member = r.u8("request_spec.member")
        if kind in (SpecKind.GET_WITH_SELECTION, SpecKind.SET_WITH_SELECTION):
            selector = r.u8("request_spec.selector")
            return cls(kind, class_id, instance, member, selector, read_data(r))
        return cls(kind, class_id, instance, member)


@dataclass(slots=True)
class ResponseSpec:
    kind: SpecKind
    result: int

    @property
    def ok(self) -> bool:
        return self.result == 0

    @property
    def result_name(self) -> str:
        table: type[IntEnum] = ActionResult if self.kind == SpecKind.ACTION else DataAccessResult
        try:
            return table(self.result).name.lower().replace("_", "-")
        except ValueError:
            return f"result-{self.result}"


def _read_date_time(r: Reader) -> DlmsDateTime | None:
    n = r.u8("date_time.length")
    if n == 0:
        return None
    if n != 12:
        raise r.fail("date_time.length", f"must be 0 or 12, got {n}", r.pos - 1)
    return DlmsDateTime.read(r)


def _write_date_time(out: bytearray, value: DlmsDateTime | None) -> None:
    if value is None:
        out.append(0)
    else:
        out.append(12)
        out += value.encode()


class Apdu:
    """Base of the DLMS APDUs GBCS carries."""

    __slots__ = ()
    TAG: ClassVar[int]

    def encode(self) -> bytes:
        raise NotImplementedError


@dataclass(slots=True)
class AccessRequest(Apdu):
    invoke_id: int
    specs: list[RequestSpec]
    data: list[Data]
    date_time: DlmsDateTime | None = None
    TAG: ClassVar[int] = 0xD9

    def encode(self) -> bytes:
        out = bytearray((self.TAG,))
        out += self.invoke_id.to_bytes(4, "big")
        _write_date_time(out, self.date_time)
        out += ber_length_bytes(len(self.specs))
        for spec in self.specs:
            spec.write(out)
        out += ber_length_bytes(len(self.data))
        for value in self.data:
            value.write(out)
        return bytes(out)

    @classmethod
    def read(cls, r: Reader) -> AccessRequest:
        r.expect(b"\xd9", "tag")
        invoke = r.uint(4, "invoke_id")
        date_time = _read_date_time(r)
        specs = [RequestSpec.read(r) for _ in range(r.ber_length("specs.count"))]
        data = [read_data(r) for _ in range(r.ber_length("data.count"))]
        if len(data) != len(specs):
            raise r.fail("data.count", f"{len(data)} data for {len(specs)} specs")
        return cls(invoke, specs, data, date_time)


@dataclass(slots=True)
class AccessResponse(Apdu):
    invoke_id: int
    data: list[Data]
    results: list[ResponseSpec]
    date_time: DlmsDateTime | None = None
    request_specs: list[RequestSpec] | None = field(default=None)
    TAG: ClassVar[int] = 0xDA

    def encode(self) -> bytes:
        out = bytearray((self.TAG,))
        out += self.invoke_id.to_bytes(4, "big")
        _write_date_time(out, self.date_time)
        if self.request_specs is None:
            out.append(0)
        else:
            out.append(1)
            out += ber_length_bytes(len(self.request_specs))
            for spec in self.request_specs:
                spec.write(out)
        out += ber_length_bytes(len(self.data))
        for value in self.data:
            value.write(out)
        out += ber_length_bytes(len(self.results))
        for result in self.results:
            out.append(result.kind)
            out.append(result.result)
        return bytes(out)

    @classmethod
    def read(cls, r: Reader) -> AccessResponse:
        r.expect(b"\xda", "tag")
        invoke = r.uint(4, "invoke_id")
        date_time = _read_date_time(r)
        echo = r.u8("request_specs.present")
        request_specs: list[RequestSpec] | None = None
        if echo == 1:
            request_specs = [
                RequestSpec.read(r) for _ in range(r.ber_length("request_specs.count"))
            ]
        elif echo != 0:
            raise r.fail("request_specs.present", f"must be 0 or 1, got {echo}", r.pos - 1)
        data = [read_data(r) for _ in range(r.ber_length("data.count"))]
        results: list[ResponseSpec] = []
        for _ in range(r.ber_length("results.count")):
            start = r.pos
            choice = r.u8("result.choice")
            if choice not in (1, 2, 3):
                raise r.fail("result.choice", f"unknown choice {choice}", start)
            results.append(ResponseSpec(SpecKind(choice), r.u8("result.value")))
        return cls(invoke, data, results, date_time, request_specs)


@dataclass(slots=True)
class DataNotification(Apdu):
    invoke_id: int
    body: Data = field(default_factory=NullData)
    date_time: DlmsDateTime | None = None
    TAG: ClassVar[int] = 0x0F

    def encode(self) -> bytes:
        out = bytearray((self.TAG,))
        out += self.invoke_id.to_bytes(4, "big")
        _write_date_time(out, self.date_time)
        self.body.write(out)
        return bytes(out)

    @classmethod
    def read(cls, r: Reader) -> DataNotification:
        r.expect(b"\x0f", "tag")
        invoke = r.uint(4, "invoke_id")
        date_time = _read_date_time(r)
        return cls(invoke, read_data(r), date_time)


_APDUS: dict[int, type[AccessRequest] | type[AccessResponse] | type[DataNotification]] = {
    AccessRequest.TAG: AccessRequest,
    AccessResponse.TAG: AccessResponse,
    DataNotification.TAG: DataNotification,
}


def decode_apdu(
    raw: bytes, path: str = "dlms"
) -> AccessRequest | AccessResponse | DataNotification:
    if not raw:
        raise GbcsDecodeError(path, 0, "empty DLMS payload")
    cls = _APDUS.get(raw[0])
    if cls is None:
        raise GbcsDecodeError(f"{path}.tag", 0, f"not a GBCS DLMS APDU: 0x{raw[0]:02X}")
    r = Reader(raw, path=path)
    apdu = cls.read(r)
    r.done()
    return apdu


def invoke_id_for(counter: int, priority: int = 0x20) -> int:
    """Invoke id GBCS expects for a grouping counter: priority byte + low 24 bits."""
    return (priority << 24) | (counter & 0xFFFFFF)
