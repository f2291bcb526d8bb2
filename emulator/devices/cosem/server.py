"""Executing a DLMS access-request against a device's COSEM model.

Rules (GBCS 7.2 / DLMS access service):

- specifications run in order; once one fails, the rest are not executed and
  answer ``other-reason`` (250) with null data, which is what GBCS devices send;
- an unknown object or attribute is ``object-undefined``; writing a read-only
  attribute is ``read-write-denied``; a value of the wrong type is
  ``type-unmatched``; an injected hardware fault is ``hardware-fault``;
- a SET stores the value; a GET returns what is stored (or what the device's
  behaviour computes, e.g. registers from the metering engine); an ACTION runs
  the device's method handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from emulator.devices.cosem.model import CosemModel, CosemState, Obj, same_shape
from emulator.gbcs.dlms.apdu import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    DataAccessResult,
    RequestSpec,
    ResponseSpec,
    SpecKind,
)
from emulator.gbcs.dlms.axdr import Data, NullData

OTHER_REASON = 250


@dataclass(frozen=True, slots=True)
class FaultKey:
    """Where an injected fault bites: a get/set/action on one member of one object."""

    kind: str  # "get", "set" or "action"
    class_id: int
    obis: bytes
    member: int


@dataclass(slots=True)
class Outcome:
    result: int
    data: Data = field(default_factory=NullData)


class Behaviour(Protocol):
    """Device-specific semantics; return None to fall back to plain storage."""

    def on_get(self, o: Obj, attribute: int, spec: RequestSpec) -> Outcome | None: ...

    def on_set(self, o: Obj, attribute: int, value: Data) -> Outcome | None: ...

    def on_action(self, o: Obj, method: int, argument: Data) -> Outcome | None: ...


class CosemServer:
    def __init__(
        self,
        model: CosemModel,
        state: CosemState,
        behaviour: Behaviour,
        faults: Callable[[FaultKey], int | None] = lambda key: None,
    ) -> None:
        self.model = model
        self.state = state
        self.behaviour = behaviour
        self.faults = faults

    def process(self, request: AccessRequest) -> AccessResponse:
        data: list[Data] = []
        results: list[ResponseSpec] = []
        failed = False
        for spec, argument in zip(request.specs, request.data, strict=True):
            kind = (
                SpecKind.ACTION
                if spec.kind == SpecKind.ACTION
                else (
                    SpecKind.SET
                    if spec.kind in (SpecKind.SET, SpecKind.SET_WITH_SELECTION)
                    else SpecKind.GET
                )
            )
            if failed:
                outcome = Outcome(OTHER_REASON)
            else:
                outcome = self._one(spec, argument)
                failed = outcome.result != 0
            data.append(outcome.data)
            results.append(ResponseSpec(kind, outcome.result))
        return AccessResponse(request.invoke_id, data, results)

    def _one(self, spec: RequestSpec, argument: Data) -> Outcome:
        o = self.model.get(spec.class_id, spec.instance)
        kind = {
            SpecKind.ACTION: "action",
            SpecKind.SET: "set",
            SpecKind.SET_WITH_SELECTION: "set",
        }.get(spec.kind, "get")
        if o is None:
            return Outcome(DataAccessResult.OBJECT_UNDEFINED)
        fault = self.faults(FaultKey(kind, spec.class_id, bytes(spec.instance), spec.member))
        if fault is not None:
            return Outcome(fault)
        if kind == "get":
            return self.get(o, spec.member, spec)
        if kind == "set":
            return self.set(o, spec.member, argument)
        return self.action(o, spec.member, argument)

    def get(self, o: Obj, attribute: int, spec: RequestSpec) -> Outcome:
        computed = self.behaviour.on_get(o, attribute, spec)
        if computed is not None:
            return computed
        value = self.state.get(o, attribute)
        if value is None:
            return Outcome(DataAccessResult.OBJECT_UNDEFINED)
        return Outcome(0, value)

    def set(self, o: Obj, attribute: int, value: Data) -> Outcome:
        template = o.attributes.get(attribute)
        if template is None:
            return Outcome(DataAccessResult.OBJECT_UNDEFINED)
        if attribute not in o.writable:
            return Outcome(DataAccessResult.READ_WRITE_DENIED)
        if not o.accepts(attribute, value):
            return Outcome(DataAccessResult.TYPE_UNMATCHED)
        handled = self.behaviour.on_set(o, attribute, value)
        if handled is not None:
            return handled
        self.state.set(o, attribute, value)
        return Outcome(0)

    def action(self, o: Obj, method: int, argument: Data) -> Outcome:
        signature = o.methods.get(method)
        if signature is None:
            return Outcome(ActionResult.OBJECT_UNDEFINED)
        if not same_shape(signature[0], argument):
            return Outcome(ActionResult.TYPE_UNMATCHED)
        handled = self.behaviour.on_action(o, method, argument)
        if handled is not None:
            return handled
        return Outcome(0)
