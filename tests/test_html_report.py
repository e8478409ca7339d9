"""`churnwhy report`: one self-contained HTML file; data text escaped; rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.demo import generate
from churnwhy.render.html import redact

runner = CliRunner()
PAYLOAD = "<script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html")
    exports = root / "exports"
    generate(exports, customers=900, seed=3, format="csv", messy=True)
    survey = exports / "surveys" / "exit_survey.csv"
    frame = pl.read_csv(survey, infer_schema=False)
    col = "Why did you leave?"
    # A hostile answer, and a mailto/phone in another: both must come out inert and redacted.
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(f"too expensive {PAYLOAD}"))
        .when(pl.int_range(pl.len()) == 1).then(pl.lit("late again, call me on +44 7700 900123 or jo@example.com"))
        .otherwise(pl.col(col)).alias(col)
    )
    frame.write_csv(survey)
    out = root / "report.html"
    result = runner.invoke(app, ["report", str(exports), "-o", str(out), "--include-examples", "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_html_is_self_contained_and_escaped(report_html):
    html = report_html.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()  # no script at all: the payload is text, and we ship none
    assert "onerror=" not in html.replace("onerror=&quot;", "")  # escaped attribute text only
    assert "&lt;script&gt;" in html
    # Nothing is fetched: no external sources, stylesheets or imports (SVG namespace URIs are names, not loads).
    for remote in ('src="http', "src='http", 'href="http', "url(http", "<link", "@import", "<iframe"):
        assert remote not in html
    assert html.count("<svg") >= 3  # KM, incidence, driver bars
    assert "cohort-heatmap" in html
    assert "jo@example.com" not in html and "7700 900123" not in html


class Dom(HTMLParser):
    """The elements of a page as (tag, attributes, text directly inside), enough to assert on structure."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, Any]]] = []
        self.stack: list[str] = []
        self.cells: list[list[str]] = []  # rows of the cohort table
        self._in_cohorts = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.elements.append((tag, a))
        if a.get("id") == "cohort-heatmap":
            self._in_cohorts = 1
        elif self._in_cohorts and tag == "tr":
            self.cells.append([])
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._in_cohorts:
            self._in_cohorts = 0
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._in_cohorts and self.stack and self.stack[-1] in ("td", "th") and self.cells:
            self.cells[-1].append(data)


def assert_accessible_structure(html: str) -> None:
    """What a reader (or a screen reader) meets: one id per element, labelled charts, tables that scroll, a
    viewport, and the cohort sizes the data holds."""
    dom = Dom(html)
    ids = Counter(a["id"] for _, a in dom.elements if a.get("id"))
    assert ids and max(ids.values()) == 1, [i for i, n in ids.items() if n > 1][:5]
    for _, a in dom.elements:  # every reference points at an id of this page
        for value in (a.get("href") or "", a.get("xlink:href") or "", a.get("clip-path") or ""):
            ref = re.search(r"#([^)\"]+)", value)
            assert ref is None or ref.group(1) in ids, value
    charts = [a for t, a in dom.elements if "chart" in (a.get("class") or "").split()]
    assert len(charts) >= 3 and all(a.get("role") == "img" and len(a.get("aria-label") or "") > 20 for a in charts)
    svgs = [a for t, a in dom.elements if t == "svg"]
    assert all(a.get("aria-hidden") == "true" for a in svgs)
    tables = sum(1 for t, _ in dom.elements if t == "table")
    scrolls = [a for t, a in dom.elements if "scroll" in (a.get("class") or "").split()]
    assert len(scrolls) == tables and all(a.get("tabindex") == "0" and a.get("aria-label") for a in scrolls)
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in dom.elements
    sizes = [row[1] for row in dom.cells[1:]]  # header row first; the size column second
    assert sizes and all(s.replace(",", "").isdigit() and int(s.replace(",", "")) > 0 for s in sizes), sizes[:5]


def test_html_structure_ids_charts_tables_and_cohort_sizes(report_html):
    html = report_html.read_text(encoding="utf-8")
    assert_accessible_structure(html)
    assert ">None<" not in html


def test_redact_masks_contact_details():
    assert redact("mail me: a.b+c@x.co.uk or +1 (555) 123-4567, card 4111111111111111") == \
        "mail me: [email] or [number], card [number]"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (.ci/run installs it)")
def test_report_renders_in_chromium_and_payload_does_not_run(report_html, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    url = report_html.resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--virtual-time-budget=2000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<title>churnwhy report" in dom.stdout and "PWNED" not in dom.stdout.split("</title>")[0]
    assert dom.stdout.count("<svg") >= 3
    assert_accessible_structure(dom.stdout)  # the DOM Chromium built, not only the text we wrote
    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1200,2400", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120, check=True)
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)[..., :3]
    drawn = float((pixels.mean(axis=2) < 0.9).mean())
    assert drawn > 0.02, f"page looks blank ({drawn:.3%} non-white pixels)"
