"""Replay the reference commands to emulated devices and compare the answers.

For every ``*_COMMAND_GBCS.HEX`` under a folder, an emulated device of the right
type, configured as the RTDS device (`fixtures/conformance/rtds_lab.yaml`), is
given the command; its response is compared with the reference response by
structure: message code, payload kind, APDU / component kinds, result codes,
data types and shapes (array lengths may differ: they depend on device state),
and whether it is a success or an error as the file name says.

Devices compute their answers from their state: nothing here passes a reference
response to a device. The reference keystore holds the remote parties' private
keys but only the devices' certificates, so the device side of each ECDH comes
from the remote party's key (the secret is the same from both ends) and device
signatures are made with a replay key: they can only be checked for structure.

Error cases: an RTDS "ERROR" response records a hardware fault on one step of
the command. `fixtures/conformance/faults.yaml` names the faulted object for each
case; the runner injects that fault and the device works out the rest (which
steps ran, which were abandoned, what data came back). "NOT_FOUND" cases run on
a device whose logs hold nothing in the requested range.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emulator.clock import VirtualClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, Outbound
from emulator.devices.factory import create_device
from emulator.errors import EmulatorError
from emulator.gbcs.asn1 import Der, DerConstructed, DerEnumerated, DerInteger
from emulator.gbcs.dlms.apdu import AccessResponse, DataNotification
from emulator.gbcs.dlms.axdr import Array, CompactArray, Data, Structure
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.payload import PayloadTree, decode_message_payload
from emulator.gbcs.zcl.gbz import GbzAlert, GbzPayload
from emulator.pki.folder import FolderKeyStore
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import derive_key
from hil.corpus import read_hex_file
from hil.fixtures import FIXTURES as PACKAGE_FIXTURES

FIXTURES = PACKAGE_FIXTURES / "conformance"


@dataclass(slots=True)
class CaseResult:
    file: str
    use_case: str
    expected: str  # success / error / not_found
    matched: bool
    reason: str = ""
    response: bytes | None = None


@dataclass(slots=True)
class ConformanceReport:
    results: list[CaseResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        use_cases: dict[str, bool] = {}
        for r in self.results:
            use_cases[r.use_case] = use_cases.get(r.use_case, True) and r.matched
        return {
            "use_cases_total": len(use_cases),
            "use_cases_matched": sum(use_cases.values()),
            "commands_total": len(self.results),
            "commands_matched": sum(r.matched for r in self.results),
            "mismatches": [
                {"file": r.file, "reason": r.reason} for r in self.results if not r.matched
            ],
        }


@dataclass(slots=True)
class Lab:
    devices: dict[bytes, str]
    anchors: dict[AnchorRole, Eui64]
    history_start: _dt.datetime
    now: _dt.datetime
    faults: dict[str, dict[str, Any]]
    state: dict[bytes, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = FIXTURES) -> Lab:
        data = yaml.safe_load((folder / "rtds_lab.yaml").read_text())
        faults_path = folder / "faults.yaml"
        faults = yaml.safe_load(faults_path.read_text()) if faults_path.exists() else {}
        return cls(
            {bytes(Eui64(k)): v for k, v in data["devices"].items()},
            {AnchorRole(k): Eui64(v) for k, v in data["anchors"].items()},
            _dt.datetime.fromisoformat(data["history_start"]),
            _dt.datetime.fromisoformat(data["now"]),
            faults or {},
            {bytes(Eui64(k)): v for k, v in (data.get("state") or {}).items()},
        )


class Replayer:
    """Builds one warmed-up device per RTDS device and hands out fresh copies."""

    def __init__(self, keys: FolderKeyStore, lab: Lab) -> None:
        self.keys = keys
        self.lab = lab
        self._warm: dict[bytes, Device] = {}

    def device(self, eui: Eui64) -> Device:
        warm = self._warm.get(bytes(eui))
        if warm is None:
            warm = self._build(eui)
            self._warm[bytes(eui)] = warm
        return warm.clone()

    def _build(self, eui: Eui64) -> Device:
        kind = self.lab.devices.get(bytes(eui))
        if kind is None:
            raise EmulatorError(f"{eui} is not a device of the RTDS lab")
        clock = VirtualClock(self.lab.history_start)
        replay_key = derive_key("rtds-replay", eui, KeyUsage.DIGITAL_SIGNATURE)
        certificates = {
            usage: self.keys.certificate(eui, usage)
            for usage in (KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT)
            if self.keys.has_certificate(eui, usage)
        }
        device = create_device(
            kind,
            eui,
            clock,
            own_keys={KeyUsage.DIGITAL_SIGNATURE: replay_key},
            own_certificates=certificates,
            acb=self.lab.anchors[AnchorRole.ACCESS_CONTROL_BROKER],
            extra_keys=self.keys,
        )
        for role, party in self.lab.anchors.items():
            device.anchors.set_from_keystore(role, party, self.keys)
        configure(device, self.lab.state.get(bytes(eui), {}))
        warm_up = getattr(device, "warm_up", None)
        if warm_up is not None:
            warm_up(self.lab.now)
        else:
            clock.set(self.lab.now)
        return device


def configure(device: Device, state: dict[str, Any]) -> None:
    """Apply the lab's record of a device's prior state (held firmware, pairings)."""
    if "firmware_version" in state:
        device.firmware_version = state["firmware_version"]
    if "pending_image_hash" in state:
        device.pending_image_hash = bytes.fromhex(state["pending_image_hash"])
        device.pending_image_version = state.get("pending_image_version", device.firmware_version)
    if "pairings" in state:
        device.han_pairings = {bytes(Eui64(k)): int(v) for k, v in state["pairings"].items()}


def expected_outcome(name: str) -> str:
    if "NOT_FOUND" in name:
        return "not_found"
    if "ERROR" in name:
        return "error"
    return "success"


def run_conformance(folder: Path, keys_dir: Path, dump: Path | None = None) -> ConformanceReport:
    lab = Lab.load()
    replayer = Replayer(FolderKeyStore(keys_dir), lab)
    report = ConformanceReport()
    for path in sorted(folder.rglob("*_COMMAND_GBCS.HEX")):
        rel = str(path.relative_to(folder))
        use_case = path.parent.name
        case = path.name[: -len("_COMMAND_GBCS.HEX")]
        expected = expected_outcome(case)
        result = _replay_one(replayer, lab, path, case, expected)
        result.file, result.use_case = rel, use_case
        report.results.append(result)
        if dump is not None and result.response is not None:
            dump.mkdir(parents=True, exist_ok=True)
            (dump / path.name.replace("_COMMAND_", "_RESPONSE_")).write_text(
                result.response.hex().upper()
            )
    return report


def _replay_one(replayer: Replayer, lab: Lab, path: Path, case: str, expected: str) -> CaseResult:
    result = CaseResult("", "", expected, False)
    try:
        command = decode_message(read_hex_file(path))
        device = replayer.device(command.recipient)
    except (EmulatorError, ImportError) as exc:
        result.reason = f"setup: {exc}"
        return result
    _prepare(device, case, expected, lab)
    try:
        out = device.receive(read_hex_file(path))
    except Exception as exc:
        result.reason = f"device raised {type(exc).__name__}: {exc}"
        return result
    response = _response(out, command)
    reference_path = path.with_name(path.name.replace("_COMMAND_", "_RESPONSE_"))
    if response is None:
        last = list(device.security_log)[-1].detail if len(device.security_log) else "no response"
        result.reason = f"no response: {last}"
        return result
    result.response = response.message
    if not reference_path.exists():
        result.matched = True
        return result
    reason = compare_messages(
        decode_message(response.message), decode_message(read_hex_file(reference_path))
    )
    result.matched = reason is None
    result.reason = reason or ""
    return result


def _prepare(device: Device, case: str, expected: str, lab: Lab) -> None:
    if expected == "error":
        fault = lab.faults.get(case)
        if fault is not None and fault.get("kind") == "asn1":
            device.asn1_fault = int(fault["result"])
        elif fault is not None:
            apply = getattr(device, "inject_fault", None)
            if apply is not None:
                apply(fault)
    elif expected == "not_found":
        forget = getattr(device, "forget_history", None)
        if forget is not None:
            forget()


def _response(out: list[Outbound], command: GbcsMessage) -> Outbound | None:
    for item in out:
        if item.kind == "response" and item.in_reply_to == command.counter:
            return item
    return None


# -- structural comparison ---------------------------------------------------------------


def compare_messages(ours: GbcsMessage, ref: GbcsMessage) -> str | None:
    if ours.cra != Cra.RESPONSE:
        return f"sent {ours.cra.name.lower()}, expected a response"
    if ours.message_code != ref.message_code:
        return f"message code 0x{ours.message_code:04X} != 0x{ref.message_code:04X}"
    if bool(ours.signature) != bool(ref.signature):
        return f"signed {bool(ours.signature)} != {bool(ref.signature)}"
    if (ours.mac is None) != (ref.mac is None):
        return f"MAC present {ours.mac is not None} != {ref.mac is not None}"
    if (ours.header.date_time is None) != (ref.header.date_time is None):
        return "date-time presence differs"
    try:
        a = decode_message_payload(ours).tree
    except EmulatorError as exc:
        return f"our payload does not decode: {exc}"
    b = decode_message_payload(ref).tree
    return compare_trees(a, b)


def compare_trees(a: PayloadTree, b: PayloadTree) -> str | None:
    if type(a) is not type(b):
        return f"payload {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, AccessResponse) and isinstance(b, AccessResponse):
        ra = [(r.kind, r.result) for r in a.results]
        rb = [(r.kind, r.result) for r in b.results]
        if ra != rb:
            return f"results {ra} != {rb}"
        if len(a.data) != len(b.data):
            return f"{len(a.data)} data items != {len(b.data)}"
        for i, (x, y) in enumerate(zip(a.data, b.data, strict=True)):
            why = compare_data(x, y, f"data[{i}]")
            if why:
                return why
        return None
    if isinstance(a, DataNotification) and isinstance(b, DataNotification):
        return compare_data(a.body, b.body, "body")
    if isinstance(a, GbzPayload) and isinstance(b, GbzPayload):
        return _compare_components(a.components, b.components)
    if isinstance(a, GbzAlert) and isinstance(b, GbzAlert):
        if a.alert_code != b.alert_code:
            return f"alert 0x{a.alert_code:04X} != 0x{b.alert_code:04X}"
        return None
    if isinstance(a, Der) and isinstance(b, Der):
        return compare_der(a, b, "asn1")
    return None


def compare_data(x: Data, y: Data, path: str) -> str | None:
    if x.TAG != y.TAG:
        return f"{path}: {x.NAME} != {y.NAME}"
    if isinstance(x, Structure) and isinstance(y, Structure):
        if len(x.items) != len(y.items):
            return f"{path}: structure of {len(x.items)} != {len(y.items)}"
        for i, (p, q) in enumerate(zip(x.items, y.items, strict=True)):
            why = compare_data(p, q, f"{path}[{i}]")
            if why:
                return why
        return None
    if isinstance(x, Array) and isinstance(y, Array):
        if x.items and y.items:
            return compare_data(x.items[0], y.items[0], f"{path}[0]")
        return None
    if isinstance(x, CompactArray) and isinstance(y, CompactArray):
        if x.description != y.description:
            return f"{path}: compact-array type differs"
        return None
    return None


def compare_der(x: Der, y: Der, path: str, depth: int = 0) -> str | None:
    """Same tags and sizes; result codes equal: top-level INTEGERs and every ENUMERATED.

    Deeper INTEGERs are counters, serial numbers and identifiers that depend on
    state, so only their type is compared.
    """
    if x.identifier() != y.identifier():
        return f"{path}: tag {x.identifier().hex()} != {y.identifier().hex()}"
    if isinstance(x, DerConstructed) and isinstance(y, DerConstructed):
        if len(x.items) != len(y.items):
            return f"{path}: {len(x.items)} elements != {len(y.items)}"
        for i, (p, q) in enumerate(zip(x.items, y.items, strict=True)):
            why = compare_der(p, q, f"{path}[{i}]", depth + 1)
            if why:
                return why
    if _differing_result_code(x, y, depth):
        return f"{path}: result {getattr(x, 'value', '')} != {getattr(y, 'value', '')}"
    if isinstance(x, DerEnumerated) and isinstance(y, DerEnumerated) and x.value != y.value:
        return f"{path}: status {x.value} != {y.value}"
    return None


def _differing_result_code(x: Der, y: Der, depth: int) -> bool:
    if not (isinstance(x, DerInteger) and isinstance(y, DerInteger)):
        return False
    return depth <= 1 and -1 < y.value < 256 and x.value != y.value


def _compare_components(a: list[Any], b: list[Any]) -> str | None:
    if len(a) != len(b):
        return f"{len(a)} GBZ components != {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if (x.cluster, x.frame.command_id, x.frame.frame_control & 0x09) != (
            y.cluster,
            y.frame.command_id,
            y.frame.frame_control & 0x09,
        ):
            return (
                f"component[{i}]: cluster 0x{x.cluster:04X} cmd {x.frame.command_id} "
                f"!= 0x{y.cluster:04X} cmd {y.frame.command_id}"
            )
        if x.encrypted != y.encrypted:
            return f"component[{i}]: encrypted {x.encrypted} != {y.encrypted}"
        fx, fy = x.frame.fields or {}, y.frame.fields or {}
        for key in ("status", "command_id"):
            if fx.get(key) != fy.get(key):
                return f"component[{i}].{key}: {fx.get(key)} != {fy.get(key)}"
        rx, ry = fx.get("records"), fy.get("records")
        if isinstance(rx, list) and isinstance(ry, list):
            sx = [(r.get("attribute_id"), r.get("status")) for r in rx]
            sy = [(r.get("attribute_id"), r.get("status")) for r in ry]
            if sx != sy:
                return f"component[{i}] records {sx} != {sy}"
    return None
