"""`churnwhy report`: one self-contained HTML file; data text escaped; rendered in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1200,2400", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120, check=True)
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)[..., :3]
    drawn = float((pixels.mean(axis=2) < 0.9).mean())
    assert drawn > 0.02, f"page looks blank ({drawn:.3%} non-white pixels)"
