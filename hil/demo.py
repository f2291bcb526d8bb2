"""`make demo`: what the project can do today, in one readable screen.

First the main job: the demo lab (a premises of emulated devices behind a hub,
its HAN over an MQTT broker embedded in this process) answers a batch of service
requests through the DCC layer, refused ones with their reasons, with response
times per variant. Then the codec: a few GBCS messages built with the lab's own
test PKI, decoded and verified, and, when the reference test data sits beside
the checkout, a handful of reference messages checked with the reference keystore.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from emulator.gbcs import builder, utrn
from emulator.gbcs.dlms.apdu import AccessRequest, Obis, RequestSpec, SpecKind, invoke_id_for
from emulator.gbcs.dlms.axdr import NullData
from emulator.gbcs.inspection import Inspection, inspect_message
from emulator.gbcs.message_codes import lookup
from emulator.gbcs.security import MessageSecurity
from emulator.pki.folder import FolderKeyStore
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import RemotePartyRole, TestPki
from hil.corpus import read_hex_file
from hil.dcc.cli import RESULT_HEADERS, RESULT_SHRINK, VARIANT_HEADERS, result_rows, variant_rows
from hil.dcc.lab import EMBEDDED_MQTT
from hil.dcc.requestfile import run_file
from hil.fixtures import FIXTURES
from hil.report.table import format_table, plural, terminal_width

DEMO_REQUESTS = FIXTURES / "requests" / "demo.yaml"
#: The scenario pack: reads with measured values, a critical command, a HAN link
#: that goes down and recovers, and a lossy HAN.
DEMO_SCENARIOS = tuple(
    FIXTURES / "scenarios" / name
    for name in (
        "read-registers.yaml",
        "disable-enable-supply.yaml",
        "link-down-recovery.yaml",
        "lossy-han.yaml",
    )
)
DEMO_SEED = 1

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
ACB = "90-B3-D5-1F-30-00-00-02"
ESME = "00-DB-12-34-56-78-90-A0"

REFERENCE_SAMPLES = (
    "4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND_GBCS.HEX",
    "4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE_GBCS.HEX",
    "7.2_ECS43/ECS43_7.2_SUCCESS_COMMAND_GBCS.HEX",
    "7.2_ECS43/ECS43_7.2_SUCCESS_RESPONSE_GBCS.HEX",
    "4.4.4_GCS15d/GCS15d_4.4.4_SUCCESS_RESPONSE_GBCS.HEX",
    "11.3_CS06/CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX",
    "NA_CS14/CS14_NA_8F12_ALERT_GBCS.HEX",
)


def _row(label: str, result: Inspection) -> list[str]:
    m = result.message
    if m is None:
        return [label, "-", "-", "-", "-", "-", "-", "-", result.failures[0][1]]
    code = lookup(m.message_code)
    v = result.verify
    mark = {True: "valid", False: "INVALID", None: "-"}
    payload = result.payload.kind.value if result.payload else "?"
    if result.payload and result.payload.encrypted_parts:
        payload += f" ({result.payload.decrypted_parts}/{result.payload.encrypted_parts} decrypted)"
    return [
        label,
        m.cra.name.lower(),
        f"0x{m.message_code:04X}",
        code.use_case or "?",
        payload,
        mark[v.signature] if v else "-",
        mark[v.mac] if v else "-",
        "yes" if result.payload_decoded else "no",
        "identical" if result.reencoded_identical else "DIFFERS",
    ]


HEADERS = [
    "message",
    "kind",
    "code",
    "use case",
    "payload",
    "signature",
    "MAC",
    "typed",
    "re-encode",
]


def own_messages() -> tuple[list[list[str]], str]:
    pki = TestPki("demo")
    pki.remote_party(SUPPLIER, RemotePartyRole.SUPPLIER, "Demo Supplier")
    pki.remote_party(ACB, RemotePartyRole.ACCESS_CONTROL_BROKER, "Demo ACB")
    pki.device(ESME, "Demo ESME")
    security = MessageSecurity(pki.keystore, ACB)
    read = AccessRequest(
        invoke_id_for(0x1001),
        [RequestSpec(SpecKind.GET, 70, Obis("0-0:96.3.10.255"), 3)],
        [NullData()],
    )
    cmd = builder.command(0x0052, 0x1001, SUPPLIER, ESME, read)  # ECS45 read supply status
    rows = []
    for label, critical in (
        ("own: read supply status (non-critical)", False),
        ("own: same, critical", True),
    ):
        protected = builder.protect(cmd, security, critical=critical)
        rows.append(_row(label, inspect_message(protected.encode(), security)))
    tampered = bytearray(builder.protect(cmd, security, critical=True).encode())
    tampered[-80] ^= 0x01  # a payload byte: before the signature field and the MAC
    rows.append(_row("own: critical, one bit flipped", inspect_message(bytes(tampered), security)))
    z = security.shared_secret(
        pki.parties[bytes.fromhex("90b3d51f30010000")].eui,
        pki.parties[bytes.fromhex("00db1234567890a0")].eui,
        KeyUsage.PREPAYMENT_KEY_AGREEMENT,
        KeyUsage.KEY_AGREEMENT,
    )
    token = utrn.generate_utrn(z, cmd.originator, cmd.recipient, 0x300000000, 1500)
    return rows, token


def reference_messages(rtds: Path) -> list[list[str]]:
    security = MessageSecurity(FolderKeyStore(rtds / "keystore"))
    rows = []
    for rel in REFERENCE_SAMPLES:
        path = rtds / "RTDS-4.5.0" / rel
        if path.is_file():
            rows.append(
                _row(f"RTDS: {path.name[:-9]}", inspect_message(read_hex_file(path), security))
            )
    return rows


def premises_section(echo: Callable[[str], None], link: str = EMBEDDED_MQTT) -> bool:
    """The main job: a premises of virtual devices answering service requests."""
    report = asyncio.run(run_file(DEMO_REQUESTS, link=link))
    lab = report.lab
    assert lab is not None
    devices = ", ".join(
        f"{d.kind.value} {d.eui}"
        for d in lab.inventory
        if d.kind.value in ("ESME", "GSME", "PPMID")
    )
    echo(
        f"Premises '{lab.spec.premises[0].name}': CHF and GPF behind one hub, {devices};\n"
        f"HAN over {lab.link_url} (embedded broker), virtual clock from "
        f"{lab.spec.start:%Y-%m-%d %H:%M}Z. Requests from {DEMO_REQUESTS.name}:\n"
    )
    width = terminal_width()
    echo(format_table(RESULT_HEADERS, result_rows(report), width=width, shrink=RESULT_SHRINK))
    echo("")
    echo("Response times per variant (SMETS2+: hub-side HAN time excluded):")
    echo(format_table(VARIANT_HEADERS, variant_rows(report)))
    by_status: dict[str, int] = {}
    for r in report.all_results:
        by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    breaches = report.dcc.timings.as_dict()["breaches"]
    assert isinstance(breaches, int)
    echo(
        f"\n{plural(len(report.all_results), 'request')} "
        f"({len(report.scheduled_runs)} by schedule): {counts}; "
        f"{plural(breaches, 'target breach', 'target breaches')}; "
        f"{plural(len(report.dcc.alerts), 'device alert')}"
    )
    for failure in report.failed_expectations:
        echo(f"UNEXPECTED: {failure}")
    return report.ok


def scenario_section(echo: Callable[[str], None], out: Path, link: str = EMBEDDED_MQTT) -> bool:
    """Scenarios on the same kind of lab, with their record written as JSON, JUnit and HTML."""
    from hil.report.console import summary_text
    from hil.report.html import write_html
    from hil.report.junit import write_junit
    from hil.scenario import load_scenarios, run_scenarios

    scenarios = [s for path in DEMO_SCENARIOS for s in load_scenarios(path)]
    record = asyncio.run(run_scenarios(scenarios, seed=DEMO_SEED, link=link))
    echo(summary_text(record, width=terminal_width()))
    out.mkdir(parents=True, exist_ok=True)
    record.dump(out / "record.json")
    write_junit(record, out / "junit.xml")
    write_html(record, out / "report.html")
    echo(f"\nreport: {out / 'report.html'} (also {out / 'junit.xml'}, {out / 'record.json'})")
    return record.passed


def default_rtds() -> Path | None:
    """SMETS_HIL_RTDS, else `../shared/rtds` beside a checkout (an installed wheel has none)."""
    if "SMETS_HIL_RTDS" in os.environ:
        return Path(os.environ["SMETS_HIL_RTDS"])
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout.parent / "shared" / "rtds"
    return None


def run(echo: Callable[[str], None] = print, out: Path = Path("out")) -> int:
    echo("smets-hil demo\n")
    ok = premises_section(echo)
    echo("\nScenarios (hil/fixtures/scenarios) on the same lab, seed 1:\n")
    ok = scenario_section(echo, out) and ok
    echo("\nGBCS codec on our own test PKI and on the reference messages:\n")
    rows, token = own_messages()
    rtds = default_rtds()
    if rtds is not None and (rtds / "RTDS-4.5.0").is_dir():
        rows += reference_messages(rtds)
        note = f"reference messages from {rtds}"
    else:
        where = "set SMETS_HIL_RTDS" if rtds is None else f"none at {rtds}"
        note = f"no reference messages ({where}): showing our own messages only"
    echo(format_table(HEADERS, rows))
    echo("")
    echo(f"UTRN for a 15.00 GBP top-up (test PKI, counter 0x300000000): {token}")
    echo(note)
    return 0 if ok else 1
