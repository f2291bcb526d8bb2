"""The HTML report: self-contained, complete, and safe for hostile strings."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from report_records import T0, sample_run, stamp

from hil.report.html import render_html, write_html
from hil.scenario.record import (
    FaultRecord,
    LogLine,
    Measurement,
    MessageRecord,
    ResponseTimeRecord,
    RunRecord,
    ScenarioRecord,
    StepRecord,
    Verdict,
)

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    return parser


def _hostile_run() -> RunRecord:
    at = stamp(0, 0.0)
    scenario = ScenarioRecord(
        name=EVIL,
        file=f"{EVIL}.yaml",
        lab=EVIL,
        seed=1,
        parameters={EVIL: EVIL},
        verdict=Verdict.FAIL,
        started=at,
        ended=stamp(3600, 1.0),
        steps=[StepRecord(EVIL, EVIL, 3, Verdict.FAIL, EVIL, at, stamp(10, 0.1))],
        messages=[
            MessageRecord(at, EVIL, "DCC", EVIL, EVIL, EVIL, EVIL, 1, False, "</pre>" + EVIL, EVIL),
            MessageRecord(
                stamp(5, 0.1),
                "DCC",
                "$\\frac{1}{0}$ _hidden",
                "command",
                "$x^2$",
                decoded="\x00\x1b[31m",
            ),
        ],
        measurements=[Measurement(EVIL, EVIL, EVIL, EVIL, Verdict.FAIL, at, EVIL)],
        faults=[FaultRecord(EVIL, EVIL, at, None, {EVIL: EVIL})],
        logs=[LogLine(at, EVIL, EVIL, EVIL)],
        response_times=[
            ResponseTimeRecord(EVIL, 1.0, 30.0, True),
            ResponseTimeRecord("$x$", 2.0, None, True),
        ],
        series={
            EVIL: [(T0.isoformat(), 1.0), (stamp(3600, 1).virtual, 2.0)],
            "$\\alpha$": [(T0.isoformat(), 3.0)],
        },
        series_units={EVIL: EVIL},
    )
    return RunRecord(EVIL, EVIL, [scenario])


def test_hostile_strings_stay_text() -> None:
    page = render_html(_hostile_run())
    parsed = _parse(page)
    assert [tag for tag, _ in parsed.tags].count("script") == 1
    assert "img" not in [tag for tag, _ in parsed.tags]
    handlers = [
        (tag, name) for tag, attrs in parsed.tags for name in attrs if name.startswith("on")
    ]
    assert handlers == []
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # shown, as text
    # matplotlib did not read $...$ as mathtext: the dollar names are in the plots as written.
    assert "$\\alpha$" in page and "$x$" in page


def test_only_the_reports_own_script_may_run() -> None:
    page = render_html(sample_run())
    parsed = _parse(page)
    (script,) = parsed.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    (csp,) = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv")]
    assert csp is not None
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp


def test_the_page_needs_no_network() -> None:
    page = render_html(sample_run())
    parsed = _parse(page)
    assert not [t for t, _ in parsed.tags if t in ("link", "iframe", "object", "embed", "img")]
    refs = [
        value
        for _, attrs in parsed.tags
        for name, value in attrs.items()
        if name in ("src", "href", "xlink:href", "action") and value is not None
    ]
    assert refs and all(r.startswith("#") for r in refs), refs
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", page)
    assert "@import" not in page and "@font-face" not in page


def test_the_report_holds_every_part_of_the_record() -> None:
    record = sample_run()
    page = render_html(record)
    prepay, alerts, errored = record.scenarios
    for n, scenario in enumerate(record.scenarios):
        assert f'id="s{n}"' in page
        for i, _ in enumerate(scenario.messages):
            assert f'data-msg="s{n}m{i}" tabindex="0"' in page  # an arrow
            assert f'<div class="msgdetail" id="s{n}m{i}" hidden>' in page  # its decoded tree
    assert page.count("<svg") == 2 + 2 + 1  # two diagrams, two response-time plots, one series plot
    assert "dd 00 00 00 00 00 00 4d 11 00 00 cb" in page.lower()  # hex, spaced
    assert "balance: 12.34 GBP" in page
    assert "expected I0, got E50 (rejected by ESME)" in page and "scenarios/alerts.yaml:12" in page
    assert "fault on: drop 10% → all" in page and "fault cleared: link down 30 min" in page
    assert "still active" in page  # a fault never cleared
    assert "target 86400 s" in page and "target 30 s" in page
    assert "ESME.register.import" in page and "GSME.meter.balance" in page
    assert "in_range(0, 100)" in page
    assert "UTRN already used" in page
    assert "mqtt://localhost:1884 refused the connection" in page
    assert prepay.passed and not alerts.passed and not errored.passed


def test_a_report_from_the_saved_json_is_the_same_report(tmp_path: Path) -> None:
    record = sample_run()
    record.dump(tmp_path / "run.json")
    write_html(record, tmp_path / "a.html")
    write_html(RunRecord.load(tmp_path / "run.json"), tmp_path / "b.html")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_an_empty_run_and_unreadable_times_still_render() -> None:
    assert "0 scenarios" in render_html(RunRecord("smets-hil", "now"))
    odd = ScenarioRecord(
        "odd",
        None,
        "lab",
        None,
        {},
        Verdict.PASS,
        stamp(0, 0),
        stamp(1, 1),
        messages=[
            MessageRecord(
                stamp(0, 0.0).__class__("not a time", 0.5), "DCC", "DCC", "command", "self"
            )
        ],
        series={"x": [("not a time", 1.0)]},
    )
    page = render_html(RunRecord("smets-hil", "now", [odd]))
    assert 'data-msg="s0m0"' in page
    assert 'class="plot series"' not in page  # nothing plottable, no empty plot


def test_response_times_say_which_regime_each_target_is() -> None:
    """The same variant on a SMETS2 and a SMETS1 premises: two rows, two targets."""
    record = ScenarioRecord(
        "regimes",
        None,
        "lab",
        None,
        {},
        Verdict.PASS,
        stamp(0, 0),
        stamp(1, 1),
        response_times=[
            ResponseTimeRecord("4.1.1", 0.05, 30.0, True),
            ResponseTimeRecord("4.1.1", 9.5, 16.0, True, smets1=True),
        ],
    )
    page = render_html(RunRecord("smets-hil", "now", [record]))
    rows = re.findall(r"<tr[^>]*><td>4\.1\.1</td><td>(SMETS[^<]*)</td>.*?</tr>", page)
    assert rows == ["SMETS2+", "SMETS1"]
    assert "16 s" in page and "30 s" in page
