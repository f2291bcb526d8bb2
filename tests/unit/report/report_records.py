"""Realistic run records for the report tests, built by hand (no lab is started).

Three scenarios: a passing prepayment run over three days of virtual time
(balances, registers, two faults, four variants' response times), a failing
alert scenario (a dropped alert, a failed step), and one that errored.
"""

from __future__ import annotations

import datetime as dt

from hil.scenario.record import (
    FaultRecord,
    LogLine,
    Measurement,
    MessageRecord,
    ResponseTimeRecord,
    RunRecord,
    ScenarioRecord,
    Stamp,
    StepRecord,
    Verdict,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def stamp(seconds: float, real: float) -> Stamp:
    return Stamp((T0 + dt.timedelta(seconds=seconds)).isoformat(), real)


def decoded(variant: str, code: int, kind: str, extra: str = "") -> str:
    return (
        f"GBCS {kind} (message code 0x{code:04X})\n"
        f"  general ciphering\n"
        f"    transaction id: 0x{code * 7 & 0xFFFFFF:06X}\n"
        f"    originator: 90-B3-D5-1F-30-01-00-00\n"
        f"    recipient: 00-DB-12-34-56-78-90-A0\n"
        f"  use case {variant}\n"
        f"    {extra or 'payload: 3 items'}"
    )


def _exchange(
    messages: list[MessageRecord],
    at: float,
    real: float,
    variant: str,
    code: int,
    device: str,
    step: str,
    *,
    ok: bool = True,
) -> None:
    """Service request -> command -> device response -> service response: four arrows."""
    hexbytes = f"DD0000000000004D1100{code:04X}" + "AB" * 20
    legs = [
        ("User", "DCC", "service_request", f"{variant} request"),
        ("DCC", device, "command", f"{variant} 0x{code:04X}"),
        (device, "DCC", "response", f"0x{code:04X} response" + ("" if ok else " (rejected)")),
        ("DCC", "User", "service_response", f"{variant} {'I0' if ok else 'E50'}"),
    ]
    for n, (source, target, kind, label) in enumerate(legs):
        messages.append(
            MessageRecord(
                at=stamp(at + n * 0.8, real + n * 0.01),
                source=source,
                target=target,
                kind=kind,
                label=label,
                step=step,
                variant=variant,
                message_code=code,
                ok=ok if n >= 2 else True,
                hex=hexbytes if kind in ("command", "response") else None,
                decoded=decoded(
                    variant, code, kind, "balance: 12.34 GBP" if variant == "2.2" else ""
                ),
            )
        )


def prepayment_scenario() -> ScenarioRecord:
    day = 86400.0
    steps = [
        StepRecord(
            "commission ESME",
            "action",
            4,
            Verdict.PASS,
            "commissioned",
            stamp(0, 0.0),
            stamp(20, 0.2),
        ),
        StepRecord(
            "top up 5.00",
            "request",
            9,
            Verdict.PASS,
            "2.2 I0 in 2.4 s",
            stamp(60, 0.3),
            stamp(64, 0.5),
        ),
        StepRecord(
            "advance 1 day",
            "advance",
            14,
            Verdict.PASS,
            "advanced 24h",
            stamp(64, 0.5),
            stamp(day, 0.9),
        ),
        StepRecord(
            "link down 30 min",
            "fault",
            17,
            Verdict.PASS,
            "link_down",
            stamp(day, 0.9),
            stamp(day + 1, 0.9),
        ),
        StepRecord(
            "read profile",
            "request",
            21,
            Verdict.PASS,
            "4.8.1 I0 (48 periods)",
            stamp(day + 1900, 1.0),
            stamp(day + 1905, 1.2),
        ),
        StepRecord(
            "advance 2 days",
            "advance",
            25,
            Verdict.PASS,
            "advanced 48h",
            stamp(day + 1905, 1.2),
            stamp(3 * day - 300, 1.7),
        ),
        StepRecord(
            "balance positive",
            "assert",
            28,
            Verdict.PASS,
            "ESME balance 1.42 GBP >= 0",
            stamp(3 * day - 300, 1.7),
            stamp(3 * day - 300, 1.7),
        ),
    ]
    messages: list[MessageRecord] = []
    _exchange(messages, 61, 0.31, "2.2", 0x00CB, "ESME", "top up 5.00")
    _exchange(messages, day + 1901, 1.01, "4.8.1", 0x0052, "ESME", "read profile")
    _exchange(messages, 2 * day, 1.4, "11.2", 0x0065, "GSME", "advance 2 days")
    _exchange(messages, 2 * day + 600, 1.42, "4.8.1", 0x0052, "ESME", "advance 2 days")
    _exchange(messages, 3 * day - 900, 1.6, "2.2", 0x00CB, "GSME", "advance 2 days")
    messages.append(
        MessageRecord(
            stamp(2 * day + 3600, 1.45),
            "ESME",
            "Hub",
            "alert",
            "0x8F1C low credit",
            "advance 2 days",
            message_code=0x8F1C,
            hex="DD00" + "11" * 12,
            decoded="alert 0x8F1C\n  credit below threshold",
        )
    )
    messages.append(
        MessageRecord(
            stamp(2 * day + 3601, 1.46),
            "Hub",
            "DCC",
            "alert",
            "0x8F1C",
            "advance 2 days",
            message_code=0x8F1C,
            decoded="alert 0x8F1C forwarded",
        )
    )
    messages.append(
        MessageRecord(
            stamp(2 * day + 3602, 1.47),
            "DCC",
            "User",
            "dcc_alert",
            "N42 low credit",
            "advance 2 days",
            decoded="DCC alert N42\n  device: 00-DB-12-34-56-78-90-A0",
        )
    )
    # Balances: hourly, falling with consumption, a top-up at 60 s; registers rising.
    balance, gas_balance, register = 3.0, 12.0, 1520.0
    esme: list[tuple[str, float]] = []
    gsme: list[tuple[str, float]] = []
    reg: list[tuple[str, float]] = []
    for hour in range(73):
        if hour == 1:
            balance += 5.0
        balance -= 0.09 + 0.05 * (hour % 24 in range(17, 22))
        gas_balance -= 0.1
        register += 0.35 + 0.4 * (hour % 24 in range(17, 22))
        at = (T0 + dt.timedelta(hours=hour)).isoformat()
        esme.append((at, round(balance, 2)))
        gsme.append((at, round(gas_balance, 2)))
        reg.append((at, round(register, 2)))
    response_times = [
        ResponseTimeRecord(v, s, t, s <= t)
        for v, t, times in [
            ("2.2", 30.0, [2.4, 3.1, 2.2, 4.0, 2.8]),
            ("4.8.1", 30.0, [5.5, 7.9, 6.1, 12.4]),
            ("11.2", 30.0, [1.2, 1.4, 0.9]),
            ("1.1.1 future-dated", 86400.0, [3600.0, 7200.5]),
        ]
        for s in times
    ]
    return ScenarioRecord(
        name="prepayment over three days[amount=500]",
        file="scenarios/prepayment.yaml",
        lab="labs/one-home.yaml",
        seed=7,
        parameters={"amount": 500, "fuel": "electricity"},
        verdict=Verdict.PASS,
        started=stamp(0, 0.0),
        ended=stamp(3 * day, 1.8),
        steps=steps,
        messages=messages,
        measurements=[
            Measurement(
                "ESME balance",
                1.42,
                "GBP",
                "in_range(0, 100)",
                Verdict.PASS,
                stamp(3 * day - 300, 1.7),
                "balance positive",
            ),
            Measurement(
                "import register", 1573.1, "kWh", None, Verdict.UNSET, stamp(3 * day - 300, 1.7)
            ),
        ],
        faults=[
            FaultRecord(
                "link down 30 min", "ESME", stamp(day, 0.9), stamp(day + 1800, 0.95), {"dropped": 3}
            ),
            FaultRecord(
                "drop 10%",
                "all",
                stamp(2 * day - 3600, 1.3),
                stamp(2 * day + 6 * 3600, 1.5),
                {"dropped": 1, "passed": 9},
            ),
        ],
        logs=[
            LogLine(stamp(0, 0.0), "INFO", "lab", "lab one-home started (3 devices)"),
            LogLine(stamp(day, 0.9), "WARNING", "hub", "link to ESME down"),
            LogLine(stamp(day + 1800, 0.95), "INFO", "hub", "link to ESME up"),
        ],
        response_times=response_times,
        series={
            "ESME.meter.balance": esme,
            "GSME.meter.balance": gsme,
            "ESME.register.import": reg,
        },
        series_units={
            "ESME.meter.balance": "GBP",
            "GSME.meter.balance": "GBP",
            "ESME.register.import": "kWh",
        },
    )


def alert_scenario() -> ScenarioRecord:
    messages: list[MessageRecord] = []
    _exchange(messages, 5, 0.05, "6.15.1", 0x0061, "ESME", "rotate key")
    _exchange(messages, 40, 0.2, "2.2", 0x00CB, "ESME", "top up again", ok=False)
    return ScenarioRecord(
        name="alerts under a lossy link",
        file="scenarios/alerts.yaml",
        lab="labs/one-home.yaml",
        seed=11,
        parameters={},
        verdict=Verdict.FAIL,
        started=stamp(0, 0.0),
        ended=stamp(200, 0.7),
        steps=[
            StepRecord(
                "rotate key", "request", 6, Verdict.PASS, "6.15.1 I0", stamp(4, 0.04), stamp(9, 0.1)
            ),
            StepRecord(
                "drop alerts",
                "fault",
                9,
                Verdict.PASS,
                "drop 100% alerts",
                stamp(10, 0.1),
                stamp(10, 0.1),
            ),
            StepRecord(
                "top up again",
                "request",
                12,
                Verdict.FAIL,
                "expected I0, got E50 (rejected by ESME)",
                stamp(39, 0.19),
                stamp(45, 0.3),
            ),
            StepRecord(
                "expect alert 0x8F66",
                "expect",
                15,
                Verdict.FAIL,
                "no alert 0x8F66 within 60 s",
                stamp(45, 0.3),
                stamp(105, 0.6),
            ),
            StepRecord(
                "read balance",
                "request",
                19,
                Verdict.SKIP,
                "not run after a failure",
                stamp(105, 0.6),
                stamp(105, 0.6),
            ),
        ],
        messages=messages,
        faults=[FaultRecord("drop alerts", "alert", stamp(10, 0.1), None, {"dropped": 2})],
        logs=[LogLine(stamp(60, 0.4), "ERROR", "ESME", "top-up rejected: UTRN already used")],
        response_times=[
            ResponseTimeRecord("2.2", 31.5, 30.0, False),
            ResponseTimeRecord("6.15.1", 3.2, 30.0, True),
        ],
    )


def error_scenario() -> ScenarioRecord:
    return ScenarioRecord(
        name="read firmware (python)",
        file=None,
        lab="labs/default.yaml",
        seed=None,
        parameters={},
        verdict=Verdict.ERROR,
        started=stamp(0, 0.0),
        ended=stamp(30, 0.5),
        steps=[
            StepRecord(
                "connect",
                "action",
                None,
                Verdict.ERROR,
                "mqtt://localhost:1884 refused the connection",
                stamp(0, 0.0),
                stamp(30, 0.5),
            ),
        ],
    )


def sample_run() -> RunRecord:
    return RunRecord(
        "smets-hil 0.1.0",
        "2026-12-02T01:00:00+00:00",
        [prepayment_scenario(), alert_scenario(), error_scenario()],
    )
