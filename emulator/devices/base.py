"""What every emulated GBCS device does with a message, whatever its type.

`Device.receive(raw)` is sans-IO: bytes in, outbound messages out. It runs the
GBCS command checks in order and stops at the first failure, recording why in
the security log:

1. the frame decodes (else: malformed, 0x8F1E);
2. the command is addressed to this device;
3. the use case is one this device type implements (else: the GBCS "command
   not supported" alert, ECS100 / 0x8F85, goes back to the originator);
4. the originator is allowed to send it: its trust-anchor role, the ACB for
   DCC-originated commands, or an "other" party for non-critical commands the
   ACB authenticates (else: 0x8F53);
5. the counter is above the last one accepted from that party (else: replay,
   0x8F60);
6. critical commands carry a valid signature by the anchor's signing key, and
   every remote-party command a valid MAC (else: 0x8F3D);
7. the payload decodes (else: 0x8F1E), and a response that must be MACed can be:
   the device knows the originator's key-agreement key (else: 0x8F53);

then the device type executes it on its data model and the response is
protected as GBCS requires (signed for critical commands, MACed otherwise).
Time comes only from the injected clock.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.clock import Clock
from emulator.devices.anchors import AnchorRole, TrustAnchors
from emulator.devices.logs import (
    AUTHENTICATION_FAILURE,
    COMMAND_NOT_SUPPORTED,
    MALFORMED_COMMAND,
    OUT_OF_ORDER,
    UNAUTHORISED,
    EventLog,
)
from emulator.devices.ota_download import OtaDownload
from emulator.devices.replay import ReplayGuard
from emulator.devices.usecases import USE_CASES, UseCase
from emulator.errors import GbcsError, KeyNotFoundError, SecurityError
from emulator.gbcs import builder, crypto
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, OtherInformation, decode_message
from emulator.gbcs.payload import DecodedPayload, PayloadTree, decode_message_payload
from emulator.gbcs.security import DEFAULT_ACB, MessageSecurity
from emulator.han.join import HanMembership
from emulator.pki.keystore import KeyStore, KeyUsage
from emulator.pki.testpki import eui_from_certificate

ECS100 = 0x0120  # "command not supported by device" alert message code
POWER_RESTORED = 0x8F35  # lab-history event: supply outage restored
SECURITY_HISTORY = 0x8145  # lab-history event: clock adjusted within tolerance
#: Partners a device log holds by default (a modelling choice: room for every HAN
#: device of a premises; a lab lowers it to test a full log).
DEVICE_LOG_CAPACITY = 16
_DS = KeyUsage.DIGITAL_SIGNATURE
_KA = KeyUsage.KEY_AGREEMENT
_PP = KeyUsage.PREPAYMENT_KEY_AGREEMENT
#: Use cases whose response is signed although the command is only MACed (GBCS CS02b
#: ACB by ACB: the device proves the new ACB credentials took effect).
SIGNED_RESPONSE_CODES = frozenset({0x0104})
#: Critical commands that may come signed but without the DCC's MAC: the
#: "Signature" forms of CS02a/CS02f and the recovery and contingency credential
#: updates, which must work when the DCC's own keys cannot be trusted.
SIGNATURE_ONLY_CODES = frozenset({0x0008, 0x011B, 0x0108, 0x0109})


class DeviceType(StrEnum):
    ESME = "ESME"
    GSME = "GSME"
    CHF = "CHF"
    GPF = "GPF"
    PPMID = "PPMID"
    IHD = "IHD"
    HCALCS = "HCALCS"


class Rejected(Exception):
    """Raised inside the pipeline to stop processing; already logged."""


@dataclass(slots=True)
class Outbound:
    """A message a device sends: a response to a command, or an alert."""

    destination: Eui64
    message: bytes
    kind: str  # "response" or "alert"
    message_code: int = 0
    in_reply_to: int | None = None  # originator counter of the command answered


@dataclass(slots=True)
class Incoming:
    """A command that passed the checks, handed to the device type to execute."""

    message: GbcsMessage
    payload: DecodedPayload
    use_case: UseCase
    role: str  # anchor role value, "acb", "other" or "han_peer"
    #: the device's own counter for a command that names an unknown remote party
    #: (certificate in the header): keys its sensitive data and goes in the response
    supplementary_originator_counter: int | None = None

    @property
    def tree(self) -> PayloadTree:
        return self.payload.tree


@dataclass(slots=True)
class FirmwareActivation:
    """A CS06 with an execution date-time, waiting for its time (GBCS future-dated)."""

    at: _dt.datetime
    image_hash: bytes
    counter: int  # the command's originator counter, repeated in the 0x00CA alert
    originator: Eui64


@dataclass(slots=True)
class Reply:
    """What a device type returns for a command."""

    payload: PayloadTree | bytes
    date_time: DlmsDateTime | None = None
    other: OtherInformation | None = None
    alerts: list[Outbound] = field(default_factory=list)


class DeviceKeys:
    """The key store a device's MessageSecurity sees: its own keys and its anchors.

    `extra` is consulted last; replaying reference messages puts the remote
    parties' private keys there, since ECDH gives the same secret from either end.
    """

    def __init__(self, device: Device, extra: KeyStore | None = None) -> None:
        self.device = device
        self.extra = extra
        #: Key-agreement keys of parties without an anchor cell, learned from the
        #: certificate an authenticated command carried for them (supplementary
        #: remote party): what the device encrypts their sensitive data with.
        self.supplementary: dict[bytes, ec.EllipticCurvePublicKey] = {}

    def _anchor_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePublicKey | None:
        for cell in self.device.anchors.cells():
            if cell.eui == eui:
                key = {_DS: cell.ds_key, _KA: cell.ka_key, _PP: cell.pp_key}.get(usage)
                if key is not None:
                    return key
        return None

    def certificate(self, eui: Eui64, usage: KeyUsage) -> x509.Certificate:
        cert = self.device.own_certificates.get(usage) if eui == self.device.eui else None
        if cert is not None:
            return cert
        if self.extra is not None:
            return self.extra.certificate(eui, usage)
        raise KeyNotFoundError(str(eui), usage.value, private=False)

    def public_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePublicKey:
        if eui == self.device.eui and usage in self.device.own_keys:
            return self.device.own_keys[usage].public_key()
        found = self._anchor_key(eui, usage)
        if found is not None:
            return found
        if usage == _KA and bytes(eui) in self.supplementary:
            return self.supplementary[bytes(eui)]
        if self.extra is not None:
            return self.extra.public_key(eui, usage)
        raise KeyNotFoundError(str(eui), usage.value, private=False)

    def private_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey:
        if eui == self.device.eui and usage in self.device.own_keys:
            return self.device.own_keys[usage]
        if self.extra is not None:
            return self.extra.private_key(eui, usage)
        raise KeyNotFoundError(str(eui), usage.value, private=True)

    def has_private_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        if eui == self.device.eui and usage in self.device.own_keys:
            return True
        return self.extra is not None and self.extra.has_private_key(eui, usage)

    def has_public_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        if eui == self.device.eui and usage in self.device.own_keys:
            return True
        if self._anchor_key(eui, usage) is not None:
            return True
        if usage == _KA and bytes(eui) in self.supplementary:
            return True
        return self.extra is not None and self.extra.has_public_key(eui, usage)


class DeviceSecurity(MessageSecurity):
    """A device's MessageSecurity: the ECDH cache follows the device's key changes.

    Secrets are cached per (party, usage) pair, not per key, so when an anchor
    cell or the device's own key-agreement key changes, the secrets derived from
    the old key must be dropped, or responses stay MACed for a key the party no
    longer holds. Each device (and each clone) has its own cache for the same
    reason: a change on one must not reach another.
    """

    def forget(self, party: Eui64) -> None:
        """Drop every cached secret `party` takes part in."""
        key = bytes(party)
        self._z = {pair: z for pair, z in self._z.items() if key not in (pair[0], pair[2])}

    def copy_for(self, keys: KeyStore) -> DeviceSecurity:
        """A security for a clone: its own copy of the cache (cheap, and not shared)."""
        new = DeviceSecurity(keys, self.acb)
        new._z = dict(self._z)
        return new


class Device:
    """Base of all device types: identity, keys, anchors, logs and the pipeline."""

    device_type: ClassVar[DeviceType]
    #: Firmware blocks pulled per wake-up (None: an always-listening device).
    OTA_BLOCKS_PER_WAKE: ClassVar[int | None] = None
    speaks: ClassVar[str] = "dlms"  # "dlms" or "gbz": how "not supported" is answered

    def __init__(
        self,
        eui: Eui64 | str,
        clock: Clock,
        *,
        own_keys: dict[KeyUsage, ec.EllipticCurvePrivateKey] | None = None,
        own_certificates: dict[KeyUsage, x509.Certificate] | None = None,
        acb: Eui64 | str = DEFAULT_ACB,
        extra_keys: KeyStore | None = None,
        firmware_version: str = "01000000",
    ) -> None:
        self.eui = Eui64(eui)
        self.clock = clock
        self.own_keys = dict(own_keys or {})
        self.own_certificates = dict(own_certificates or {})
        self.anchors = TrustAnchors(self._anchor_changed)
        self.replay = ReplayGuard()
        self.event_log = EventLog()
        self.security_log = EventLog()
        self.firmware_version = firmware_version
        self.alert_counter = 0x0000000100000000
        self.use_cases = use_cases_for(self.device_type)
        self.keys = DeviceKeys(self, extra_keys)
        self.security = DeviceSecurity(self.keys, Eui64(acb))
        self.on_alert: Callable[[Outbound], None] | None = None
        self.commands_accepted = 0
        self.commands_rejected = 0
        # credential and HAN housekeeping used by the ASN.1 use cases
        self.han_pairings: dict[bytes, int] = {}  # EUI-64 -> device type, from CS03/CS04
        #: How many partners the device log holds; a join beyond it is refused (CS03 code 4).
        self.device_log_capacity = DEVICE_LOG_CAPACITY
        #: HAN membership: install code, link key, joined (emulator/han/join.py).
        self.han = HanMembership()
        self.pending_image_hash: bytes | None = None  # firmware image held, ready for CS06
        self.pending_image_version: str | None = None
        #: The OTA Upgrade Image held for CS06 (None: only its hash and version are
        #: known, as when a test or a state file sets them); checked before activation.
        self.held_image: bytes | None = None
        #: The OTA file the device runs, once one was activated; kept until another
        #: activates, so a refused activation leaves the old firmware running.
        self.running_image: bytes | None = None
        self.hardware_version = 1  # what an OTA header's hardware range is checked against
        #: The firmware block transfer in progress (emulator/devices/ota_download.py).
        self.ota_download = OtaDownload(self.OTA_BLOCKS_PER_WAKE)
        self.pending_keys: dict[KeyUsage, ec.EllipticCurvePrivateKey] = {}  # from CS02c
        # usages whose key or certificate CS02d installed (kept in state files, unlike
        # the provisioning ones)
        self.installed_credentials: set[KeyUsage] = set()
        self.firmware_activation: FirmwareActivation | None = None  # future-dated CS06
        #: lab fault: the device's non-volatile store fails (reads and writes of its
        #: device log, key store and firmware records), as the reference error cases had
        self.storage_fault = False

    # -- the pipeline ---------------------------------------------------------------
    def receive(self, raw: bytes) -> list[Outbound]:
        """Process one incoming GBCS message; returns what the device sends back.

        Never raises for what a message carries: a key the device turns out not
        to hold (say, for a party named only inside the payload) refuses the
        command like any other security failure, so a runner keeps serving.
        """
        try:
            return self._receive(raw)
        except Rejected:
            self.commands_rejected += 1
            return []
        except KeyNotFoundError as exc:
            self._log_security(UNAUTHORISED, f"no key to process the command: {exc}")
            self.commands_rejected += 1
            return []

    def _receive(self, raw: bytes) -> list[Outbound]:
        try:
            msg = decode_message(raw)
        except GbcsError as exc:
            self._reject(MALFORMED_COMMAND, f"malformed: {exc}")
        if msg.recipient != self.eui:
            self._reject(UNAUTHORISED, f"addressed to {msg.recipient}, not this device")
        if msg.cra != Cra.COMMAND:
            return self.on_peer_message(msg)
        use_case = self.use_cases.get(msg.message_code)
        if use_case is None:
            self._log_security(COMMAND_NOT_SUPPORTED, f"message code 0x{msg.message_code:04X}")
            return [self.not_supported(msg)]
        role = self._authorise(msg, use_case)
        if not self.replay.is_fresh(msg.originator, msg.counter):
            self._reject(
                OUT_OF_ORDER,
                f"replayed counter {msg.counter} from {msg.originator}"
                f" (last accepted {self.replay.last(msg.originator)})",
            )
        self._authenticate(msg, use_case, role)
        self._learn_supplementary_key(msg)
        try:
            payload = decode_message_payload(msg)
        except GbcsError as exc:
            self._reject(MALFORMED_COMMAND, f"payload: {exc}")
        if not self._response_critical(msg, use_case):
            self._check_response_key(msg)
        self.replay.accept(msg.originator, msg.counter)
        incoming = Incoming(msg, payload, use_case, role)
        if msg.header.other.supplementary_ka_certificate is not None:
            incoming.supplementary_originator_counter = self.next_alert_counter()
        reply = self.execute(incoming)
        self.commands_accepted += 1
        out = [self._respond(incoming, reply)] if reply is not None else []
        if reply is not None:
            out.extend(reply.alerts)
        return out

    def _reject(self, code: int, detail: str) -> Any:
        self._log_security(code, detail)
        raise Rejected(detail)

    def _log_security(self, code: int, detail: str) -> None:
        self.security_log.record(self.clock.now(), code, detail)

    def _authorise(self, msg: GbcsMessage, use_case: UseCase) -> str:
        roles = {r.value for r in self.anchors.roles_of(msg.originator)}
        if msg.message_code in (0x0090, 0x009B, 0x0116, 0x0117, 0x0118, 0x0119):
            roles.add("han_peer")
        if msg.originator == self.security.acb:
            roles.add("acb")
        allowed = [r for r in use_case.originators if r in roles]
        if allowed:
            return allowed[0]
        critical = use_case.critical is True or (use_case.critical is None and msg.is_signed)
        if "other" in use_case.originators and not critical:
            return "other"
        self._reject(
            UNAUTHORISED,
            f"{msg.originator} ({', '.join(sorted(roles)) or 'no trust anchor'}) may not send "
            f"{use_case.name}",
        )
        raise AssertionError("unreachable")

    def _authenticate(self, msg: GbcsMessage, use_case: UseCase, role: str) -> None:
        critical = use_case.critical is True or (use_case.critical is None and msg.is_signed)
        if critical:
            if not msg.signature:
                self._reject(AUTHENTICATION_FAILURE, "critical command without signature")
            try:
                self.security.verify_signature(msg)
            except SecurityError as exc:
                self._reject(AUTHENTICATION_FAILURE, f"signature: {exc}")
        if msg.mac is None:
            if not (critical and msg.message_code in SIGNATURE_ONLY_CODES):
                self._reject(AUTHENTICATION_FAILURE, "command without MAC")
            return
        try:
            self.security.verify_mac(msg)
        except SecurityError as exc:
            self._reject(AUTHENTICATION_FAILURE, f"MAC: {exc}")

    def sensitive_key(self, incoming: Incoming) -> tuple[bytes, bytes]:
        """Key and IV for data this device encrypts for the party that asked (KDF mode 4):
        the supplementary remote party when the ACB sent for one, else the originator."""
        msg = incoming.message
        other = msg.header.other
        peer = other.supplementary_remote_party_id or msg.originator
        counter = incoming.supplementary_originator_counter
        if counter is None:
            counter = msg.counter
        z = self.security.shared_secret(self.eui, peer)
        key = crypto.derive_key(z, self.eui, crypto.KdfMode.ENCRYPTION, counter, peer)
        return key, crypto.iv_for(self.eui)

    def _learn_supplementary_key(self, msg: GbcsMessage) -> None:
        """Take the key-agreement key of the party the ACB names (GBCS "unknown
        remote party"), from the certificate in the authenticated header.

        The certificate must name that party and carry a P-256 key; a bad one
        refuses the command. (Its chain to the root is not checked: the ACB's MAC
        vouches for the header in this emulator.)
        """
        other = msg.header.other
        party, der = other.supplementary_remote_party_id, other.supplementary_ka_certificate
        if party is None or der is None:
            return
        try:
            cert = x509.load_der_x509_certificate(der)
            public = cert.public_key()
        except ValueError as exc:
            self._reject(AUTHENTICATION_FAILURE, f"supplementary certificate: {exc}")
            return
        if not isinstance(public, ec.EllipticCurvePublicKey):
            self._reject(AUTHENTICATION_FAILURE, "supplementary certificate: not an EC key")
            return
        key = public
        named = eui_from_certificate(cert)
        if named is None or bytes(named) != bytes(party):
            self._reject(
                AUTHENTICATION_FAILURE,
                f"supplementary certificate names {named}, not {party}",
            )
        if self.keys.supplementary.get(bytes(party)) != key:
            self.keys.supplementary[bytes(party)] = key
            self.security.forget(party)

    def _check_response_key(self, msg: GbcsMessage) -> None:
        """Refuse, before it changes anything, a command whose response cannot be MACed.

        An "other" party without an anchor cell (the ACB vouched for the command)
        may have no key-agreement key the device knows. Without it there is no
        response to send, and finding out only after executing the command would
        leave a changed device and an exception instead of a refusal.
        """
        try:
            self.security.shared_secret(self.eui, msg.originator)
        except KeyNotFoundError:
            self._reject(
                UNAUTHORISED, f"no key-agreement key for {msg.originator} to MAC the response"
            )

    @staticmethod
    def _response_critical(msg: GbcsMessage, use_case: UseCase) -> bool:
        """Whether the response is signed (critical) rather than MACed."""
        return (
            bool(msg.signature) and use_case.critical is not False
        ) or msg.message_code in SIGNED_RESPONSE_CODES

    def _respond(self, incoming: Incoming, reply: Reply) -> Outbound:
        msg = incoming.message
        date_time = reply.date_time
        if date_time is None and incoming.use_case.response_date_time:
            status = CLOCK_STATUS_OK if msg.message_code in CLOCK_STATUS_GIVEN else None
            date_time = response_date_time(self.clock.now(), status)
        other = reply.other or response_other_information(incoming)
        response = builder.response(msg, reply.payload, date_time=date_time, other=other)
        critical = self._response_critical(msg, incoming.use_case)
        protected = self.protect(response, critical=critical)
        return Outbound(
            msg.originator, protected.encode(), "response", msg.message_code, msg.counter
        )

    def protect(self, msg: GbcsMessage, *, critical: bool) -> GbcsMessage:
        return builder.protect(msg, self.security, critical=critical)

    # -- alerts -----------------------------------------------------------------------
    def next_alert_counter(self) -> int:
        self.alert_counter += 1
        return self.alert_counter

    def emit_alert(
        self,
        message_code: int,
        recipient: Eui64,
        payload: PayloadTree | bytes,
        *,
        critical: bool,
        other: OtherInformation | None = None,
    ) -> Outbound:
        msg = builder.alert(
            message_code, self.next_alert_counter(), self.eui, recipient, payload, other=other
        )
        out = Outbound(
            Eui64(recipient), self.protect(msg, critical=critical).encode(), "alert", message_code
        )
        if self.on_alert is not None:
            self.on_alert(out)
        return out

    def not_supported(self, msg: GbcsMessage) -> Outbound:
        """GBCS 7.2.9.1: tell the originator its command is not supported here.

        A command the ACB sent on a party's behalf names that party (and its
        counter) as supplementary remote party; the alert names it too, so the
        ACB knows whose command was refused (as the RTDS ECS100 alert does).
        """
        from emulator.devices.alerts import command_not_supported_payload

        counter = self.next_alert_counter()
        payload = command_not_supported_payload(self, msg, counter)
        party = msg.header.other.supplementary_remote_party_id
        other = (
            OtherInformation(ECS100, party, msg.header.other.supplementary_remote_party_counter)
            if party is not None
            else None
        )
        alert = builder.alert(ECS100, counter, self.eui, msg.originator, payload, other=other)
        return Outbound(
            msg.originator,
            self.protect(alert, critical=True).encode(),
            "alert",
            ECS100,
            msg.counter,
        )

    # -- device types override ------------------------------------------------------
    def execute(self, incoming: Incoming) -> Reply | None:
        raise NotImplementedError

    def on_peer_message(self, msg: GbcsMessage) -> list[Outbound]:
        """Responses and alerts addressed to this device (HAN peers); default: ignore."""
        return []

    def now(self) -> _dt.datetime:
        return self.clock.now()

    def catch_up(self) -> None:
        """Bring time-driven state up to the clock; device types add theirs and call this.

        Here: a future-dated firmware activation (CS06) whose time has come.
        """
        activation = self.firmware_activation
        if activation is not None and activation.at <= self.clock.now():
            from emulator.devices.credentials import complete_firmware_activation

            self.firmware_activation = None
            complete_firmware_activation(self, activation)

    def change_of_supplier(self) -> None:
        """A new supplier's credentials replaced the supplier's cells (CS02b): meters
        close the billing data of the outgoing supplier here; others keep nothing."""

    def image_received(self) -> None:
        """A whole OTA image arrived over the HAN and is held; device types that
        activate on receipt (the PPMID, CS05c) override this. Others wait for CS06."""

    def schedule_firmware_activation(self, activation: FirmwareActivation | None) -> None:
        """Hold a future-dated CS06 (None cancels it) and wake up when it is due."""
        self.firmware_activation = activation
        if activation is not None:
            self.clock.call_at(activation.at, self.catch_up)

    # -- keys ---------------------------------------------------------------------------
    def _anchor_changed(self, party: Eui64) -> None:
        """An anchor cell naming `party` was put or replaced: its cached secrets are stale."""
        self.security.forget(party)

    def install_key(
        self, usage: KeyUsage, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
    ) -> None:
        """Put a key and certificate in use (CS02d); secrets from the old key go."""
        self.own_keys[usage] = key
        self.own_certificates[usage] = cert
        self.installed_credentials.add(usage)
        self.security.forget(self.eui)

    def warm_up(self, until: _dt.datetime, *, step: _dt.timedelta = _dt.timedelta(days=1)) -> None:
        """Live from the clock's time to `until`: a lab history before a test starts.

        The virtual clock moves in steps so time-driven state builds up as it
        would have, and a few ordinary events are logged along the way (power
        restored after an outage on each of the last days), so logs have content.
        """
        advance = getattr(self.clock, "set", None)
        if advance is None:
            raise TypeError("warm_up needs a virtual clock")
        while self.clock.now() < until:
            advance(min(until, self.clock.now() + step))
            self.catch_up()
            if until - self.clock.now() < _dt.timedelta(days=3):
                self.event_log.record(self.clock.now(), POWER_RESTORED, "lab history: outage ended")
                self.security_log.record(self.clock.now(), SECURITY_HISTORY, "lab history")

    # -- copies -----------------------------------------------------------------------
    def clone(self) -> Device:
        """An independent device in the same state, sharing immutable parts.

        Recorded rows and stored values are never mutated in place (a SET
        replaces them), so containers are copied and their items shared: a
        warmed-up lab device can be cloned per test in microseconds.
        """
        new = copy.copy(self)
        new.anchors = TrustAnchors(new._anchor_changed)
        for cell in self.anchors.cells():
            new.anchors.put(dataclasses.replace(cell))
        new.replay = ReplayGuard()
        new.replay.load_json(self.replay.to_json())
        new.event_log = self.event_log.copy()
        new.security_log = self.security_log.copy()
        new.use_cases = self.use_cases
        new.keys = DeviceKeys(new, self.keys.extra)
        new.security = self.security.copy_for(new.keys)
        new.on_alert = None
        new.han_pairings = dict(self.han_pairings)
        new.han = self.han.copy()
        new.pending_keys = dict(self.pending_keys)
        new.own_keys = dict(self.own_keys)
        new.own_certificates = dict(self.own_certificates)
        new.installed_credentials = set(self.installed_credentials)
        return new

    # -- state ------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "type": self.device_type.value,
            "eui": str(self.eui),
            "firmware_version": self.firmware_version,
            "alert_counter": self.alert_counter,
            "anchors": self.anchors.to_json(),
            "replay": self.replay.to_json(),
            "event_log": self.event_log.to_json(),
            "security_log": self.security_log.to_json(),
            "han_pairings": {k.hex(): v for k, v in self.han_pairings.items()},
            "han": self.han.to_json(),
            "pending_image": (
                [self.pending_image_hash.hex(), self.pending_image_version]
                if self.pending_image_hash is not None
                else None
            ),
            "held_image": None if self.held_image is None else self.held_image.hex(),
            "running_image": None if self.running_image is None else self.running_image.hex(),
            "credentials": {
                usage.value: {
                    "key": _private_hex(self.own_keys[usage]),
                    "certificate": self.own_certificates[usage]
                    .public_bytes(serialization.Encoding.DER)
                    .hex(),
                }
                for usage in sorted(self.installed_credentials)
            },
            "pending_keys": {u.value: _private_hex(k) for u, k in self.pending_keys.items()},
            "firmware_activation": _activation_json(self.firmware_activation),
            "ota_download": self.ota_download.to_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if Eui64(state["eui"]) != self.eui or state["type"] != self.device_type.value:
            raise ValueError(f"state is for {state['type']} {state['eui']}, not {self}")
        self.firmware_version = state["firmware_version"]
        self.alert_counter = int(state["alert_counter"])
        self.anchors.load_json(state["anchors"])
        self.replay.load_json(state["replay"])
        self.event_log.load_json(state["event_log"])
        self.security_log.load_json(state["security_log"])
        self.han_pairings = {
            bytes.fromhex(k): int(v) for k, v in state.get("han_pairings", {}).items()
        }
        if "han" in state:
            self.han = HanMembership.from_json(state["han"])
        image = state.get("pending_image")
        if image:
            self.pending_image_hash = bytes.fromhex(image[0])
            self.pending_image_version = image[1]
        held, running = state.get("held_image"), state.get("running_image")
        self.held_image = None if held is None else bytes.fromhex(held)
        self.running_image = None if running is None else bytes.fromhex(running)
        for usage, item in state.get("credentials", {}).items():
            self.install_key(
                KeyUsage(usage),
                _private_key(item["key"]),
                x509.load_der_x509_certificate(bytes.fromhex(item["certificate"])),
            )
        self.pending_keys = {
            KeyUsage(u): _private_key(k) for u, k in state.get("pending_keys", {}).items()
        }
        self.schedule_firmware_activation(_activation_from_json(state.get("firmware_activation")))
        self.ota_download.load_state(state.get("ota_download"))

    def __repr__(self) -> str:
        return f"<{self.device_type.value} {self.eui}>"


#: Gas consumption reads (GCS13a, GCS14, GCS13b, GCS60a) tell how far the time of the
#: readings can be trusted: their header date-time carries a clock status.
CLOCK_STATUS_GIVEN = frozenset({0x0074, 0x0075, 0x00B8, 0x012A})
CLOCK_STATUS_OK = 0x00


def response_date_time(now: _dt.datetime, clock_status: int | None = None) -> DlmsDateTime:
    """The grouping header's date-time of a response, as the reference responses carry
    it: UTC with day of week and deviation not specified, and the clock status only
    where the use case gives one."""
    utc = DlmsDateTime.from_datetime(now)
    return DlmsDateTime(
        utc.year,
        utc.month,
        utc.day,
        0xFF,
        utc.hour,
        utc.minute,
        utc.second,
        utc.hundredths,
        0x8000,
        0xFF if clock_status is None else clock_status,
    )


def response_other_information(incoming: Incoming) -> OtherInformation:
    """GBCS 4.3.1.3: a response repeats the command's supplementary remote party ID
    and counter, so the receiver knows for whom it is and which key was used; for an
    unknown remote party it adds the device's supplementary originator counter, the
    KDF counter of any data encrypted for that party."""
    other = incoming.message.header.other
    return OtherInformation(
        other.message_code,
        other.supplementary_remote_party_id,
        other.supplementary_remote_party_counter,
        incoming.supplementary_originator_counter,
    )


def _private_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).hex()


def _private_key(hex_der: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(bytes.fromhex(hex_der), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("state holds a key that is not an EC private key")
    return key


def _activation_json(activation: FirmwareActivation | None) -> dict[str, Any] | None:
    if activation is None:
        return None
    return {
        "at": activation.at.isoformat(),
        "hash": activation.image_hash.hex(),
        "counter": activation.counter,
        "originator": str(activation.originator),
    }


def _activation_from_json(data: dict[str, Any] | None) -> FirmwareActivation | None:
    if not data:
        return None
    return FirmwareActivation(
        _dt.datetime.fromisoformat(data["at"]),
        bytes.fromhex(data["hash"]),
        int(data["counter"]),
        Eui64(data["originator"]),
    )


@functools.cache
def use_cases_for(device_type: DeviceType) -> dict[int, UseCase]:
    """The use cases a device type implements (shared by every device of the type)."""
    return {c: u for c, u in USE_CASES.items() if device_type.value in u.devices}


def anchor_role(role: str) -> AnchorRole | None:
    try:
        return AnchorRole(role)
    except ValueError:
        return None
