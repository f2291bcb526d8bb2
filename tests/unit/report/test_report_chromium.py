"""The HTML report as a browser shows it: not blank, and the DOM holds the timeline and plots."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_browser import Browser
from report_records import sample_run

from hil.report.html import write_html

pytestmark = pytest.mark.chromium


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    write_html(sample_run(), path)
    return path


def test_the_screenshot_shows_a_drawn_page(chromium: Browser, report: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    chromium(report.as_uri(), "--window-size=1400,2400", f"--screenshot={png}")
    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 2400)
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    distinct = len(np.unique(pixels, axis=0))
    not_white = float((pixels.min(axis=1) < 235).mean())
    assert distinct > 200, f"only {distinct} colours: the page looks blank"
    assert not_white > 0.05, f"only {not_white:.1%} of the page is drawn"
    # The verdict colours are there: the green PASS and red FAIL badges.
    red, green, blue = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    assert ((green > 110) & (red < 60) & (blue < 80)).any(), "no green PASS badge"
    assert ((red > 190) & (green < 60) & (blue < 70)).any(), "no red FAIL badge"


def test_the_dom_holds_the_timeline_and_the_plots(chromium: Browser, report: Path) -> None:
    dom = chromium(report.as_uri(), "--dump-dom").stdout
    record = sample_run()
    assert dom.count('class="seq timeline"') == 2  # the errored scenario has no messages
    arrows = re.findall(r'<g class="msg" data-msg="(s\d+m\d+)"', dom)
    assert len(arrows) == sum(len(s.messages) for s in record.scenarios) == 31
    assert dom.count('class="plot responsetimes"') == 2
    assert dom.count('class="plot series"') == 1
    assert dom.count("<svg") >= 5
    assert "fault on: link down 30 min" in dom
    assert "no alert 0x8F66 within 60 s" in dom


def test_a_link_to_a_message_opens_its_decoded_tree(chromium: Browser, report: Path) -> None:
    """The page's own script ran (the CSP let it) and showed message 3 of scenario 1."""
    dom = chromium(report.as_uri() + "#s1m2", "--dump-dom").stdout
    shown = re.findall(r'<div class="msgdetail" id="(s\d+m\d+)"(?! hidden)', dom)
    assert shown == ["s1m2"]
    assert 'class="msg selected"' in dom
