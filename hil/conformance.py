"""Replay the reference commands to emulated devices and compare the answers.

For every ``*_COMMAND_GBCS.HEX`` under a folder, an emulated device of the right
type, configured as the RTDS device (`hil/fixtures/conformance/rtds_lab.yaml`), is
given the command; its response is compared with the reference response: the
whole grouping header (counters, parties, other-information, date-time shape,
protection) and every element of the payload, encrypted parts included. Values
computed from device state (readings, times, keys) are compared by type and size;
codes (results, statuses) by value. What cannot be compared is a mismatch, and
a command without a reference response is "no reference", never a match.

Devices compute their answers from their state: nothing here passes a reference
response to a device. The reference keystore holds the remote parties' private
keys but only the devices' certificates, so the device side of each ECDH comes
from the remote party's key (the secret is the same from both ends) and device
signatures are made with a replay key (test PKI seed "rtds-replay");
`export_keys` writes a keystore with the matching certificates, with which every
response we write verifies and decrypts.

Error cases: an RTDS "ERROR" response records a fault on one step of the
command. `hil/fixtures/conformance/faults.yaml` names the cause for each case (a
hardware fault on one object, a failing store, no held firmware image); the
runner injects that cause and the device works out the rest (which steps ran,
which were abandoned, what data came back, which result code). "NOT_FOUND" cases
run on a device whose logs hold nothing in the requested range.

Lab history: the devices live from `history_start` to `now` before the replay
(`warm_up`); `history` in the lab file names consumer actions on that virtual
clock (the ESME's boost button), which the devices carry out and log
themselves. `case_history` names reference commands the reference lab had run
on a device before some cases (the 6.14.2 ECS46c configuration before the 7.7
ECS61a read): they are replayed to the case's device first, and must succeed.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emulator.clock import VirtualClock
from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, Outbound
from emulator.devices.factory import create_device
from emulator.errors import EmulatorError
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerBoolean,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerObjectIdentifier,
    DerOctetString,
    DerPrimitive,
    DerString,
)
from emulator.gbcs.dlms.apdu import AccessResponse, DataNotification
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    CompactArray,
    Data,
    Structure,
    TypeDescription,
    _Bytes,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, OtherInformation, decode_message
from emulator.gbcs.payload import PayloadTree, decode_message_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import GbzAlert, GbzComponent, GbzPayload
from emulator.pki.folder import FolderKeyStore, export_folder, key_file_name, parse_key_file_name
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import TestPki, derive_key
from hil.corpus import read_hex_file
from hil.dcc.outcome import summarise
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
    #: the reference set has no response for this command: nothing to compare with
    no_reference: bool = False


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
            "commands_without_reference": sum(r.no_reference for r in self.results),
            "mismatches": [
                {"file": r.file, "reason": r.reason}
                for r in self.results
                if not r.matched and not r.no_reference
            ],
            "without_reference": [r.file for r in self.results if r.no_reference],
        }


@dataclass(slots=True)
class Lab:
    devices: dict[bytes, str]
    anchors: dict[AnchorRole, Eui64]
    history_start: _dt.datetime
    now: _dt.datetime
    faults: dict[str, dict[str, Any]]
    state: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    #: case-name marker -> device -> the variant the reference lab answered those cases with
    case_variants: dict[str, dict[bytes, str]] = field(default_factory=dict)
    #: device -> consumer actions during the lab history (when, which device method)
    history: dict[bytes, list[HistoryStep]] = field(default_factory=dict)
    #: case-name prefix -> reference command files (relative to the replayed folder)
    #: the reference lab had run on the case's device before the case
    case_history: dict[str, list[str]] = field(default_factory=dict)

    def commands_before(self, case: str) -> list[str]:
        return [
            path
            for prefix, paths in self.case_history.items()
            if case.startswith(f"{prefix}_")
            for path in paths
        ]

    def variant(self, case: str, eui: Eui64) -> str | None:
        for marker, devices in self.case_variants.items():
            if f"_{marker}_" in f"{case}_" and bytes(eui) in devices:
                return devices[bytes(eui)]
        return None

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
            {
                marker: {bytes(Eui64(k)): str(v) for k, v in devices.items()}
                for marker, devices in (data.get("case_variants") or {}).items()
            },
            {
                bytes(Eui64(k)): [HistoryStep.load(step) for step in steps]
                for k, steps in (data.get("history") or {}).items()
            },
            {str(k): [str(p) for p in v] for k, v in (data.get("case_history") or {}).items()},
        )


#: What a lab history step may make a device do (a consumer's action).
HISTORY_ACTIONS = frozenset({"press_boost_button"})


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """A consumer action at `at` (HH:MM UTC) on each of the last `days` days before `now`."""

    action: str
    at: _dt.time
    days: int

    @classmethod
    def load(cls, raw: Any) -> HistoryStep:
        """One step of `history` in rtds_lab.yaml: {action, at: "HH:MM", days}."""
        where = "rtds_lab.yaml: history"
        if not isinstance(raw, dict) or set(raw) != {"action", "at", "days"}:
            raise EmulatorError(f"{where}: a step is {{action, at, days}}, not {raw!r}")
        action = str(raw["action"])
        if action not in HISTORY_ACTIONS:
            raise EmulatorError(
                f"{where}: action {action!r} is not one of {', '.join(sorted(HISTORY_ACTIONS))}"
            )
        try:
            at = _dt.time.fromisoformat(str(raw["at"]))
        except ValueError as exc:
            raise EmulatorError(f"{where}: at: {exc}") from None
        days = raw["days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 366:
            raise EmulatorError(f"{where}: days: {days!r} is not a number of days (1-366)")
        return cls(action, at, days)

    def times(self, now: _dt.datetime) -> list[_dt.datetime]:
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return [
            _dt.datetime.combine((today - _dt.timedelta(days=n)).date(), self.at, now.tzinfo)
            for n in range(self.days, 0, -1)
        ]


class Replayer:
    """Builds one warmed-up device per RTDS device and hands out fresh copies."""

    def __init__(self, keys: FolderKeyStore, lab: Lab) -> None:
        self.keys = keys
        self.lab = lab
        self._warm: dict[tuple[bytes, str | None], Device] = {}

    def device(self, eui: Eui64, variant: str | None = None) -> Device:
        warm = self._warm.get((bytes(eui), variant))
        if warm is None:
            warm = self._build(eui, variant)
            self._warm[(bytes(eui), variant)] = warm
        return warm.clone()

    def _build(self, eui: Eui64, variant: str | None = None) -> Device:
        kind = self.lab.devices.get(bytes(eui))
        if kind is None:
            raise EmulatorError(f"{eui} is not a device of the RTDS lab")
        clock = VirtualClock(self.lab.history_start)
        replay_key = derive_key(REPLAY_SEED, eui, KeyUsage.DIGITAL_SIGNATURE)
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
            **({"variant": variant} if variant is not None else {}),
        )
        for role, party in self.lab.anchors.items():
            device.anchors.set_from_keystore(role, party, self.keys)
        configure(device, self.lab.state.get(bytes(eui), {}))
        for step in self.lab.history.get(bytes(eui), []):
            action = getattr(device, step.action, None)
            if action is None:
                raise EmulatorError(f"{eui}: a {kind} cannot {step.action} (lab history)")
            for when in step.times(self.lab.now):
                clock.call_at(when, action)
        warm_up = getattr(device, "warm_up", None)
        if warm_up is not None:
            warm_up(self.lab.now)
        else:
            clock.set(self.lab.now)
        return device


def configure(device: Device, state: dict[str, Any]) -> None:
    """Apply the lab's record of a device's prior state (held firmware, pairings, CHF logs,
    the meter's prepayment state)."""
    if "firmware_version" in state:
        device.firmware_version = state["firmware_version"]
    if "pending_image_hash" in state:
        device.pending_image_hash = bytes.fromhex(state["pending_image_hash"])
        device.pending_image_version = state.get("pending_image_version", device.firmware_version)
    if "pairings" in state:
        device.han_pairings = {bytes(Eui64(k)): int(v) for k, v in state["pairings"].items()}
    if "meter" in state:  # payment mode, opening balance and thresholds (pence)
        device.meter.configure(state["meter"])  # type: ignore[attr-defined]
    for key, method in (("device_log", "restore_log"), ("historic_log", "restore_historic")):
        if key in state:
            getattr(device, method)([(Eui64(k), bytes.fromhex(v)) for k, v in state[key].items()])


REPLAY_SEED = "rtds-replay"


def export_keys(keys_dir: Path, out: Path, lab: Lab | None = None) -> list[Path]:
    """A keystore (the RTDS folder layout) that checks every response the replay writes.

    It is the reference keystore with each RTDS device's signing certificate
    replaced by one for the replay key the emulated device signs with (test PKI
    seed "rtds-replay"); key agreement keys are the reference ones, so MACs and
    sensitive data open with the remote parties' private keys as before.
    """
    lab = lab or Lab.load()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path in sorted(keys_dir.iterdir()):
        if path.is_file() and parse_key_file_name(path.name) is not None:
            target = out / path.name
            shutil.copyfile(path, target)
            if path.suffix == ".key":
                target.chmod(0o600)
            written.append(target)
    replay = TestPki(REPLAY_SEED)
    entries = []
    for raw in lab.devices:
        party = replay.device(Eui64(raw), lab.devices[raw])
        ds = KeyUsage.DIGITAL_SIGNATURE
        entries.append((party.eui, ds, party.certificates[ds], None))
        stale = out / key_file_name(party.eui, ds, private=True)
        if stale.exists():  # a reference key that no longer matches the certificate
            stale.unlink()
            written.remove(stale)
    for path in export_folder(out, entries):
        if path not in written:
            written.append(path)
    return written


def expected_outcome(name: str) -> str:
    if "NOT_FOUND" in name:
        return "not_found"
    if "ERROR" in name:
        return "error"
    return "success"


def run_conformance(folder: Path, keys_dir: Path, dump: Path | None = None) -> ConformanceReport:
    lab = Lab.load()
    keys = FolderKeyStore(keys_dir)
    replayer = Replayer(keys, lab)
    security = MessageSecurity(keys, lab.anchors[AnchorRole.ACCESS_CONTROL_BROKER])
    report = ConformanceReport()
    for path in sorted(folder.rglob("*_COMMAND_GBCS.HEX")):
        rel = str(path.relative_to(folder))
        use_case = path.parent.name
        case = path.name[: -len("_COMMAND_GBCS.HEX")]
        expected = expected_outcome(case)
        result = _replay_one(replayer, lab, path, case, expected, security, folder)
        result.file, result.use_case = rel, use_case
        report.results.append(result)
        if dump is not None and result.response is not None:
            dump.mkdir(parents=True, exist_ok=True)
            (dump / path.name.replace("_COMMAND_", "_RESPONSE_")).write_text(
                result.response.hex().upper()
            )
    return report


def _replay_one(
    replayer: Replayer,
    lab: Lab,
    path: Path,
    case: str,
    expected: str,
    security: MessageSecurity,
    folder: Path,
) -> CaseResult:
    result = CaseResult("", "", expected, False)
    try:
        command = decode_message(read_hex_file(path))
        device = replayer.device(command.recipient, lab.variant(case, command.recipient))
        replay_history(device, [folder / p for p in lab.commands_before(case)])
    except (EmulatorError, ImportError, OSError) as exc:
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
        result.no_reference = True
        result.reason = "no reference response"
        return result
    reason = compare_messages(
        decode_message(response.message),
        decode_message(read_hex_file(reference_path)),
        command,
        security,
    )
    result.matched = reason is None
    result.reason = reason or ""
    return result


def replay_history(device: Device, paths: list[Path]) -> None:
    """Run the reference commands the reference lab had run on `device` before a case.

    Each must be addressed to the device and succeed. The replay record is put
    back afterwards: the reference set numbers every use case's commands from 1000
    (6.14.2's ran at 1006-1008, 7.7's at 1002-1003), so the reference devices did
    not carry counters from one use case to the next.
    """
    if not paths:
        return
    record = device.replay.to_json()
    for path in paths:
        command = decode_message(read_hex_file(path))
        if command.recipient != device.eui:
            raise EmulatorError(
                f"{path.name}: lab history for {command.recipient}, not {device.eui}"
            )
        response = _response(device.receive(read_hex_file(path)), command)
        outcome = None if response is None else summarise(decode_message(response.message))
        if outcome is None or not outcome.ok:
            why = "no response" if outcome is None else outcome.summary
            raise EmulatorError(f"lab history command {path.name} failed: {why}")
    device.replay.load_json(record)


def _prepare(device: Device, case: str, expected: str, lab: Lab) -> None:
    if expected == "error":
        fault = lab.faults.get(case)
        if fault is not None and fault.get("kind") == "device":
            _device_fault(device, str(fault.get("cause")))
        elif fault is not None:
            apply = getattr(device, "inject_fault", None)
            if apply is not None:
                apply(fault)
    elif expected == "not_found":
        forget = getattr(device, "forget_history", None)
        if forget is not None:
            forget()


def _device_fault(device: Device, cause: str) -> None:
    """A cause that fails a whole device: its store, or the firmware image it holds."""
    if cause == "storage":
        device.storage_fault = True
    elif cause == "no_held_image":
        device.pending_image_hash = None
        device.pending_image_version = None
    else:
        raise EmulatorError(f"unknown device fault cause {cause!r} in faults.yaml")


def _response(out: list[Outbound], command: GbcsMessage) -> Outbound | None:
    for item in out:
        if item.kind == "response" and item.in_reply_to == command.counter:
            return item
    return None


# -- comparison ---------------------------------------------------------------------------
#
# Values a device computes from its state (readings, timestamps, keys, signatures) differ
# from the reference lab's; everything else must be the same: the grouping header with
# its other-information and counters, every element's type and shape, and every result
# and status code. What the comparison does not know how to compare is a mismatch.


def compare_messages(
    ours: GbcsMessage,
    ref: GbcsMessage,
    command: GbcsMessage,
    security: MessageSecurity | None = None,
) -> str | None:
    """Why `ours` does not answer `command` as `ref` does, or None.

    With `security` (the reference keystore), encrypted parts of both responses are
    opened and compared like the rest of the payload.
    """
    why = compare_headers(ours, ref, command)
    if why:
        return why
    try:
        a = decode_message_payload(ours)
    except EmulatorError as exc:
        return f"our payload does not decode: {exc}"
    b = decode_message_payload(ref)
    if a.encrypted_parts != b.encrypted_parts:
        return f"{a.encrypted_parts} encrypted part(s) != {b.encrypted_parts}"
    if a.encrypted_parts:
        if security is None:
            return "encrypted parts not compared: no keys"
        why = try_decrypt(a, security, ours)
        if why:
            return f"our encrypted part does not open: {why}"
        why = try_decrypt(b, security, ref)
        if why:
            return f"reference encrypted part does not open: {why}"
        for i, (x, y) in enumerate(zip(a.decrypted_dlms, b.decrypted_dlms, strict=True)):
            why = compare_data(x, y, f"decrypted[{i}]")
            if why:
                return why
    return compare_trees(a.tree, b.tree)


def compare_headers(ours: GbcsMessage, ref: GbcsMessage, command: GbcsMessage) -> str | None:
    """The grouping header and protection, against the reference and the command (GBCS 4.3)."""
    if ours.cra != Cra.RESPONSE:
        return f"sent {ours.cra.name.lower()}, expected a response"
    if ref.counter != command.counter:
        return f"reference counter {ref.counter} is not the command's {command.counter}"
    if ours.counter != command.counter:
        return f"counter {ours.counter} is not the command's {command.counter}"
    if (ours.originator, ours.recipient) != (command.recipient, command.originator):
        return f"parties {ours.originator} -> {ours.recipient} do not swap the command's"
    if (ours.originator, ours.recipient) != (ref.originator, ref.recipient):
        return (
            f"parties {ours.originator} -> {ours.recipient} != {ref.originator} -> {ref.recipient}"
        )
    why = compare_other_information(ours.header.other, ref.header.other, command.header.other)
    if why:
        return why
    why = _compare_date_time(ours.header.date_time, ref.header.date_time, "date-time")
    if why:
        return why
    if len(ours.signature or b"") != len(ref.signature or b""):
        return f"signature of {len(ours.signature or b'')} bytes != {len(ref.signature or b'')}"
    if (ours.mac is None) != (ref.mac is None):
        return f"MAC present {ours.mac is not None} != {ref.mac is not None}"
    if (ours.security_control, ours.invocation_counter) != (
        ref.security_control,
        ref.invocation_counter,
    ):
        return (
            f"security control/invocation counter {ours.security_control:#x}/"
            f"{ours.invocation_counter} != {ref.security_control:#x}/{ref.invocation_counter}"
        )
    return None


def compare_other_information(
    ours: OtherInformation, ref: OtherInformation, command: OtherInformation
) -> str | None:
    """Message code and supplementary remote party fields as the command set them; a
    supplementary originator counter (the device's own) present exactly when the
    reference has one."""
    pairs: list[tuple[str, object, object]] = [
        ("message code", ours.message_code, ref.message_code),
        (
            "supplementary remote party",
            ours.supplementary_remote_party_id,
            ref.supplementary_remote_party_id,
        ),
        (
            "supplementary remote party counter",
            ours.supplementary_remote_party_counter,
            ref.supplementary_remote_party_counter,
        ),
        (
            "supplementary originator counter present",
            ours.supplementary_originator_counter is not None,
            ref.supplementary_originator_counter is not None,
        ),
        (
            "supplementary certificate present",
            ours.supplementary_ka_certificate is not None,
            ref.supplementary_ka_certificate is not None,
        ),
    ]
    for name, x, y in pairs:
        if x != y:
            return f"other-information: {name} {_show(x)} != {_show(y)}"
    if (ours.supplementary_remote_party_id, ours.supplementary_remote_party_counter) != (
        command.supplementary_remote_party_id,
        command.supplementary_remote_party_counter,
    ):
        return "other-information: supplementary remote party fields differ from the command's"
    return None


def _show(value: object) -> str:
    return (
        f"0x{value:04X}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    )


def _compare_date_time(x: DlmsDateTime | None, y: DlmsDateTime | None, path: str) -> str | None:
    """Presence, and which fields are given / not specified (the values are the clock's)."""
    if (x is None) != (y is None):
        return f"{path}: present {x is not None} != {y is not None}"
    if x is None or y is None:
        return None
    sx, sy = _date_time_shape(x.encode()), _date_time_shape(y.encode())
    if sx != sy:
        return f"{path}: shape {sx} != {sy}"
    return None


def _date_time_shape(raw: bytes) -> str:
    """'n' for a given field, '-' for a not-specified one (deviation: 8000); the clock
    status as it is (FF: not specified), since it says how far the reading is trusted."""
    year = "-" if raw[0:2] == b"\xff\xff" else "n"
    fields = "".join("-" if b == 0xFF else "n" for b in raw[2:9])
    deviation = "-" if raw[9:11] == b"\x80\x00" else "n"
    return f"{year}{fields} deviation {deviation} clock status {raw[11]:02X}"


def compare_trees(a: PayloadTree, b: PayloadTree) -> str | None:
    if type(a) is not type(b):
        return f"payload {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, AccessResponse) and isinstance(b, AccessResponse):
        return _compare_access_response(a, b)
    if isinstance(a, DataNotification) and isinstance(b, DataNotification):
        return compare_data(a.body, b.body, "body")
    if isinstance(a, GbzPayload) and isinstance(b, GbzPayload):
        return _compare_components(a.components, b.components)
    if isinstance(a, GbzAlert) and isinstance(b, GbzAlert):
        if a.alert_code != b.alert_code:
            return f"alert 0x{a.alert_code:04X} != 0x{b.alert_code:04X}"
        if isinstance(a.body, list) and isinstance(b.body, list):
            return _compare_components(a.body, b.body)
        return compare_fields(a.body, b.body, "alert body")
    if isinstance(a, Der) and isinstance(b, Der):
        return compare_der(a, b, "asn1")
    return f"cannot compare a {type(a).__name__} payload"


def _compare_access_response(a: AccessResponse, b: AccessResponse) -> str | None:
    if a.invoke_id != b.invoke_id:
        return f"invoke-id 0x{a.invoke_id:08X} != 0x{b.invoke_id:08X}"
    why = _compare_date_time(a.date_time, b.date_time, "apdu date-time")
    if why:
        return why
    if (a.request_specs is None) != (b.request_specs is None):
        return "echoed request specs differ"
    ra = [(int(r.kind), r.result) for r in a.results]
    rb = [(int(r.kind), r.result) for r in b.results]
    if ra != rb:
        return f"results {ra} != {rb}"
    if len(a.data) != len(b.data):
        return f"{len(a.data)} data items != {len(b.data)}"
    for i, (x, y) in enumerate(zip(a.data, b.data, strict=True)):
        why = compare_data(x, y, f"data[{i}]")
        if why:
            return why
    return None


def compare_data(x: Data, y: Data, path: str) -> str | None:
    """Same type at every position; arrays, structures, strings of the same size."""
    if x.TAG != y.TAG:
        return f"{path}: {x.NAME} != {y.NAME}"
    if isinstance(x, Structure | Array) and isinstance(y, Structure | Array):
        if len(x.items) != len(y.items):
            return f"{path}: {x.NAME} of {len(x.items)} != {len(y.items)}"
        for i, (p, q) in enumerate(zip(x.items, y.items, strict=True)):
            why = compare_data(p, q, f"{path}[{i}]")
            if why:
                return why
        return None
    if isinstance(x, CompactArray) and isinstance(y, CompactArray):
        if x.description != y.description:
            return (
                f"{path}: compact-array type {_type_text(x.description)}"
                f" != {_type_text(y.description)}"
            )
        if len(x.values) != len(y.values):
            return f"{path}: compact-array of {len(x.values)} != {len(y.values)}"
        for i, (p, q) in enumerate(zip(x.values, y.values, strict=True)):
            why = compare_data(p, q, f"{path}[{i}]")
            if why:
                return why
        return None
    if isinstance(x, BitString) and isinstance(y, BitString) and x.bits != y.bits:
        return f"{path}: bit-string of {x.bits} != {y.bits}"
    if isinstance(x, _Bytes) and isinstance(y, _Bytes) and len(x.value) != len(y.value):
        return f"{path}: {x.NAME} of {len(x.value)} bytes != {len(y.value)}"
    return None


def _type_text(desc: TypeDescription) -> str:
    """A compact-array type as tags: 02{06,06,01[3]x12} for a structure of them."""
    if desc.tag == Structure.TAG:
        return "02{" + ",".join(_type_text(e) for e in desc.elements) + "}"
    if desc.tag == Array.TAG and desc.elements:
        return f"01[{desc.count}]x{_type_text(desc.elements[0])}"
    return f"{desc.tag:02x}"


def compare_der(x: Der, y: Der, path: str, depth: int = 0) -> str | None:
    """Same tags and sizes at every position; result codes equal: top-level INTEGERs
    and every ENUMERATED.

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
        return None
    if isinstance(x, DerInteger) and isinstance(y, DerInteger):
        if depth <= 1 and -1 < y.value < 256 and x.value != y.value:
            return f"{path}: result {x.value} != {y.value}"
        return None
    if isinstance(x, DerEnumerated) and isinstance(y, DerEnumerated):
        return None if x.value == y.value else f"{path}: status {x.value} != {y.value}"
    if isinstance(x, DerBitString) and isinstance(y, DerBitString):
        # keys and signatures: a DER signature's length varies with its value
        return None
    if isinstance(x, DerOctetString | DerString) and isinstance(y, DerOctetString | DerString):
        if len(x.value) != len(y.value):
            return f"{path}: {len(x.value)} bytes != {len(y.value)}"
        return None
    if isinstance(x, DerNull | DerBoolean | DerObjectIdentifier | DerPrimitive):
        return None
    return f"{path}: cannot compare {type(x).__name__}"


def _compare_components(a: list[GbzComponent], b: list[GbzComponent]) -> str | None:
    if len(a) != len(b):
        return f"{len(a)} GBZ components != {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        where = f"component[{i}]"
        for name, p, q in (
            ("control", x.control, y.control),
            ("cluster", x.cluster, y.cluster),
            ("frame control", x.frame.frame_control, y.frame.frame_control),
            ("command", x.frame.command_id, y.frame.command_id),
            ("sequence", x.frame.sequence, y.frame.sequence),
            ("manufacturer code", x.frame.manufacturer_code, y.frame.manufacturer_code),
            ("from-date-time present", x.from_date_time is None, y.from_date_time is None),
            ("frame counter", x.frame_counter, y.frame_counter),
        ):
            if p != q:
                return f"{where}: {name} {_show(p)} != {_show(q)}"
        if (x.frame.fields is None) != (y.frame.fields is None):
            decoded = (x.frame.fields is not None, y.frame.fields is not None)
            return f"{where}: fields decoded {decoded[0]} != {decoded[1]}"
        why = compare_fields(x.frame.fields, y.frame.fields, where)
        if why:
            return why
    return None


#: ZCL fields whose values are codes, not state: they must be equal.
_CODE_FIELDS = frozenset({"status", "attribute_id", "command_id", "data_type", "direction"})


def compare_fields(x: Any, y: Any, path: str) -> str | None:
    """ZCL fields: same keys, same value types, lists of the same length; codes equal."""
    if type(x) is not type(y):
        return f"{path}: {type(x).__name__} != {type(y).__name__}"
    if isinstance(x, dict):
        if set(x) != set(y):
            return f"{path}: fields {sorted(x)} != {sorted(y)}"
        for key in x:
            if key in _CODE_FIELDS and x[key] != y[key]:
                return f"{path}.{key}: {_show(x[key])} != {_show(y[key])}"
            why = compare_fields(x[key], y[key], f"{path}.{key}")
            if why:
                return why
        return None
    if isinstance(x, list | tuple):
        if len(x) != len(y):
            return f"{path}: {len(x)} entries != {len(y)}"
        for i, (p, q) in enumerate(zip(x, y, strict=True)):
            why = compare_fields(p, q, f"{path}[{i}]")
            if why:
                return why
        return None
    if isinstance(x, bytes | str) and len(x) != len(y):
        return f"{path}: {len(x)} bytes != {len(y)}"
    if x is None or isinstance(x, bool | int | float | bytes | str):
        return None
    if hasattr(x, "__dataclass_fields__"):
        return compare_fields(
            {k: getattr(x, k) for k in x.__dataclass_fields__},
            {k: getattr(y, k) for k in y.__dataclass_fields__},
            path,
        )
    return f"{path}: cannot compare {type(x).__name__}"
