"""Message-level GBCS security: which keys protect a message, and checking them.

The rules (GBCS section 5; checked on the reference messages):

=====================  ==========================  ================================
use                    ECDH pair (KA keys)          KDF originator/mode/counter/recipient
=====================  ==========================  ================================
command MAC            ACB  <-> recipient device    originator / 1 / counter / recipient
HAN-only command MAC   originator <-> recipient     originator / 1 / counter / recipient
response MAC           device <-> recipient         device / 2 / counter / recipient
alert MAC              device <-> recipient         device / 3 / counter / recipient
sensitive data         device <-> supp. RP or       device / 4 / supp. originator counter
                       recipient                    or counter / supp. RP or recipient
UTRN GMAC              supplier prepayment KA       supplier / 1 / UTRN counter / device
                       <-> device
=====================  ==========================  ================================

Signatures are the grouping originator's ECDSA over the header (without DF) and the
payload. ECDH is symmetric, so either end's private key gives the same secret: a
device uses its own, a lab verifier uses the remote party's. Shared secrets are
cached per key pair (the counter is in the KDF, so derived keys are not reusable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.errors import KeyNotFoundError, MacError, SecurityError, SignatureError
from emulator.gbcs import crypto
from emulator.gbcs.crypto import KdfMode
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage
from emulator.gbcs.message_codes import HAN_ONLY_CODES
from emulator.pki.keystore import KeyStore, KeyUsage

#: Access Control Broker of the DCC test environments (RTDS, ZAZ1).
DEFAULT_ACB = Eui64("90-B3-D5-1F-30-00-00-02")

_KA = KeyUsage.KEY_AGREEMENT
_DS = KeyUsage.DIGITAL_SIGNATURE


@dataclass(slots=True)
class VerifyResult:
    """Outcome of checking one message. None means "not present" for that check."""

    signature: bool | None = None
    mac: bool | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.signature is not False and self.mac is not False and not self.errors


class MessageSecurity:
    """Signs, MACs, verifies and derives keys for GBCS messages from a KeyStore."""

    def __init__(self, keystore: KeyStore, acb: Eui64 | str = DEFAULT_ACB) -> None:
        self.keystore = keystore
        self.acb = Eui64(acb)
        self._z: dict[tuple[bytes, str, bytes, str], bytes] = {}

    def share_cache(self, other: MessageSecurity) -> None:
        """Use another instance's ECDH cache (same key material, e.g. cloned devices)."""
        self._z = other._z

    # -- key agreement --------------------------------------------------------------
    def shared_secret(
        self, a: Eui64, b: Eui64, a_usage: KeyUsage = _KA, b_usage: KeyUsage = _KA
    ) -> bytes:
        """Z between (a, a_usage) and (b, b_usage), from whichever private key we hold."""
        cache_key = (bytes(a), a_usage.value, bytes(b), b_usage.value)
        z = self._z.get(cache_key)
        if z is not None:
            return z
        ks = self.keystore
        if ks.has_private_key(a, a_usage):
            z = crypto.shared_secret(ks.private_key(a, a_usage), ks.public_key(b, b_usage))
        elif ks.has_private_key(b, b_usage):
            z = crypto.shared_secret(ks.private_key(b, b_usage), ks.public_key(a, a_usage))
        else:
            raise KeyNotFoundError(f"{Eui64(a)} or {Eui64(b)}", a_usage.value, private=True)
        self._z[cache_key] = z
        self._z[(bytes(b), b_usage.value, bytes(a), a_usage.value)] = z
        return z

    def mac_key(self, msg: GbcsMessage) -> bytes:
        h = msg.header
        remote_command = h.cra == Cra.COMMAND and h.other.message_code not in HAN_ONLY_CODES
        first = self.acb if remote_command else h.originator
        z = self.shared_secret(first, h.recipient)
        return crypto.derive_key(z, h.originator, int(h.cra), h.originator_counter, h.recipient)

    def sensitive_data_key(self, msg: GbcsMessage) -> bytes:
        """Key for encrypted parts of a response or alert (KDF mode 4)."""
        h = msg.header
        other = h.other
        peer = other.supplementary_remote_party_id or h.recipient
        counter = (
            other.supplementary_originator_counter
            if other.supplementary_originator_counter is not None
            else h.originator_counter
        )
        z = self.shared_secret(h.originator, peer)
        return crypto.derive_key(z, h.originator, KdfMode.ENCRYPTION, counter, peer)

    # -- MAC ------------------------------------------------------------------------
    def compute_mac(self, msg: GbcsMessage) -> bytes:
        return crypto.gmac(
            self.mac_key(msg),
            crypto.iv_for(msg.header.originator, msg.invocation_counter),
            msg.mac_aad(),
        )

    def verify_mac(self, msg: GbcsMessage) -> None:
        if msg.mac is None:
            raise MacError("message carries no MAC")
        if msg.security_control != 0x11:
            raise MacError(f"unsupported security control 0x{msg.security_control:02X}")
        crypto.check_gmac(
            self.mac_key(msg),
            crypto.iv_for(msg.header.originator, msg.invocation_counter),
            msg.mac_aad(),
            msg.mac,
        )

    # -- signatures -----------------------------------------------------------------
    def sign(self, msg: GbcsMessage, signer: Eui64 | None = None) -> bytes:
        key = self.keystore.private_key(signer or msg.header.originator, _DS)
        return crypto.sign(key, msg.signed_data())

    def verify_signature(self, msg: GbcsMessage, signer: Eui64 | None = None) -> None:
        if not msg.signature:
            raise SignatureError("message carries no signature")
        public = self.keystore.public_key(signer or msg.header.originator, _DS)
        crypto.verify(public, msg.signed_data(), msg.signature)

    # -- whole messages -------------------------------------------------------------
    def protect(self, msg: GbcsMessage, *, sign: bool, mac: bool) -> GbcsMessage:
        """A copy with signature field and MAC filled in as GBCS requires.

        Without `sign`, an existing signature is kept: the DCC MACs a command that a
        user has already signed.
        """
        out = GbcsMessage(
            msg.header,
            msg.payload,
            msg.signature or b"",
            None,
            msg.security_control,
            msg.invocation_counter,
        )
        if sign:
            out.signature = self.sign(out)
        if mac:
            out.mac = self.compute_mac(out)
        return out

    def verify(self, msg: GbcsMessage) -> VerifyResult:
        """Check every protection the message carries; never raises for bad input."""
        result = VerifyResult()
        if msg.signature:
            try:
                self.verify_signature(msg)
                result.signature = True
            except SignatureError as exc:
                result.signature = False
                result.errors.append(f"signature: {exc}")
            except SecurityError as exc:
                result.errors.append(f"signature not checked: {exc}")
        if msg.mac is not None:
            try:
                self.verify_mac(msg)
                result.mac = True
            except MacError as exc:
                result.mac = False
                result.errors.append(f"mac: {exc}")
            except SecurityError as exc:
                result.errors.append(f"mac not checked: {exc}")
        return result
