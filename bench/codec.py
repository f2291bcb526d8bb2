"""Codec throughput: parse+verify over a corpus, and build+sign+MAC.

    python bench/codec.py [DIR --keys DIR] [--seconds S]

Prints one JSON line: {"messages", "parse_verify_per_s", "build_sign_mac_per_s", ...}.

parse+verify = frame decode, typed payload decode, signature and MAC checks (and
sensitive-data decryption) for every message, single-threaded, as a lab tool
reading captured traffic would. Without DIR it uses messages it builds itself.

build+sign+MAC = encode the payload tree and headers, then sign and/or MAC as the
message kind requires, with our own test PKI (the reference keystore has no
device private keys, so device responses could not be signed with it).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from emulator.gbcs import builder
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.payload import PayloadTree, decode_message_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity
from emulator.pki.open import open_keystore
from emulator.pki.testpki import RemotePartyRole, TestPki
from hil.corpus import hex_files, read_hex_file

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
ACB = "90-B3-D5-1F-30-00-00-02"
DEVICE = "00-DB-12-34-56-78-90-A0"


def parse_verify(raws: list[bytes], security: MessageSecurity | None) -> int:
    ok = 0
    for raw in raws:
        msg = decode_message(raw)
        payload = decode_message_payload(msg)
        if security is not None:
            result = security.verify(msg)
            if payload.encrypted_parts:
                try_decrypt(payload, security, msg)
            ok += result.ok
    return ok


def timed(fn, seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Runs fn() repeatedly for about `seconds`; returns calls per second of fn's unit."""
    fn()  # warm caches (ECDH secrets, imports)
    count, start = 0, time.perf_counter()
    while True:
        count += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def own_pki() -> tuple[TestPki, MessageSecurity]:
    pki = TestPki("bench")
    pki.remote_party(SUPPLIER, RemotePartyRole.SUPPLIER, "Bench Supplier")
    pki.remote_party(ACB, RemotePartyRole.ACCESS_CONTROL_BROKER, "Bench ACB")
    pki.device(DEVICE, "bench ESME")
    return pki, MessageSecurity(pki.keystore, ACB)


@dataclass(slots=True)
class BuildJob:
    cra: Cra
    code: int
    counter: int
    tree: PayloadTree
    date_time: DlmsDateTime | None
    critical: bool

    def build(self, security: MessageSecurity) -> bytes:
        """Encode the typed payload and headers, then sign and/or MAC."""
        if self.cra == Cra.COMMAND:
            msg = builder.command(self.code, self.counter, SUPPLIER, DEVICE, self.tree)
        elif self.cra == Cra.RESPONSE:
            cmd = builder.command(self.code, self.counter, SUPPLIER, DEVICE, b"")
            msg = builder.response(cmd, self.tree, date_time=self.date_time)
        else:
            msg = builder.alert(self.code, self.counter, DEVICE, SUPPLIER, self.tree)
        return builder.protect(msg, security, critical=self.critical).encode()


def build_jobs(messages: list[GbcsMessage]) -> list[BuildJob]:
    """Corpus payload trees, re-addressed to our own PKI parties."""
    return [
        BuildJob(
            m.cra,
            m.message_code,
            m.counter,
            decode_message_payload(m).tree,
            m.header.date_time,
            bool(m.signature),
        )
        for m in messages
    ]


def synthetic_messages(security: MessageSecurity) -> list[bytes]:
    from emulator.gbcs.dlms.apdu import AccessRequest, Obis, RequestSpec, SpecKind
    from emulator.gbcs.dlms.axdr import NullData

    raws = []
    for i in range(200):
        apdu = AccessRequest(
            0x20000000 | i,
            [RequestSpec(SpecKind.GET, 3, Obis("1-0:1.8.0.255"), 2)],
            [NullData()],
        )
        cmd = builder.command(0x0023, 1000 + i, SUPPLIER, DEVICE, apdu)
        raws.append(builder.protect(cmd, security, critical=i % 3 == 0).encode())
    return raws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", help="folder of *.HEX messages (RTDS layout)")
    parser.add_argument("--keys", help="key store for the corpus (RTDS keystore folder)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    _, own_security = own_pki()
    if args.folder:
        raws = [read_hex_file(p) for p in hex_files(Path(args.folder))]
        corpus_security = MessageSecurity(open_keystore(args.keys)) if args.keys else None
    else:
        raws = synthetic_messages(own_security)
        corpus_security = own_security
    messages = [decode_message(r) for r in raws]

    parse_rate = timed(lambda: (parse_verify(raws, corpus_security), len(raws))[1], args.seconds)
    jobs = build_jobs(messages)

    def build_all() -> int:
        for job in jobs:
            job.build(own_security)
        return len(jobs)

    build_rate = timed(build_all, args.seconds)
    print(
        json.dumps(
            {
                "messages": len(raws),
                "parse_verify_per_s": round(parse_rate),
                "build_sign_mac_per_s": round(build_rate),
                "source": args.folder or "synthetic",
                "verified": corpus_security is not None,
            }
        )
    )


if __name__ == "__main__":
    main()
