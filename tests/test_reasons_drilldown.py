"""Drill-down of raw reasons per cell (issue #15 item 6) and what default outputs may carry (issue #20 item 2):
taxonomy codes with counts by default; answers and unmapped codes only with --include-examples, masked."""

from __future__ import annotations

import datetime as dt
import io
import json

import polars as pl
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.config import Config
from churnwhy.models.reason_shares import fit_reasons
from churnwhy.models.reasons import attach_stated_reasons
from churnwhy.redact import looks_personal, redact
from churnwhy.render.reasons import reasons_markdown
from churnwhy.table import CustomerTable

EMAIL = "jane.doe+churn@example.org"


def _table() -> CustomerTable:
    rows = ([("TOO_EXPENSIVE", None)] * 5 + [("customer_service", None)] * 3 + [(EMAIL, None)] * 2
            + [("WEIRD_CODE", None)] + [(None, "Delivery was LATE   again")] * 4 + [(None, f"call me on 0207 946 0958, {EMAIL}")])
    n = len(rows)
    frame = pl.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "churned": [True] * n,
        "reason_code": [c for c, _ in rows], "reason_text": [t for _, t in rows],
        "end_date": [dt.date(2024, 6, 1)] * n, "tenure_days": [100] * n,
    })
    return CustomerTable(frame, dt.date(2024, 12, 31))


def test_drilldown_shows_taxonomy_codes_with_counts_and_no_answers_by_default():
    table, fit = attach_stated_reasons(_table(), Config(reasons={"learn": False}))
    result = fit_reasons(table, fit.summary, Config())
    doc = result.to_dict()
    top = doc["classification"]["top_reasons"]
    assert {"cell": "brand_failed/price", "kind": "code", "value": "TOO_EXPENSIVE", "count": 5, "share": 1.0} in top
    assert any(t["value"] == "CUSTOMER_SERVICE" and t["cell"] == "brand_failed/experience" and t["count"] == 3 for t in top)
    assert all(t["kind"] == "code" for t in top)
    text = json.dumps(doc) + reasons_markdown(result)
    assert EMAIL not in text and "WEIRD_CODE" not in text and "0207" not in text and "delivery was late" not in text
    assert doc["classification"]["n_unmapped_codes"] == 2 and doc["classification"]["n_unmapped_rows"] == 3
    assert "TOO_EXPENSIVE" in reasons_markdown(result)


def test_with_examples_answers_and_unmapped_codes_are_shown_masked():
    table, fit = attach_stated_reasons(_table(), Config(reasons={"learn": False}))
    doc = fit_reasons(table, fit.summary, Config(), examples=True).to_dict()
    text = json.dumps(doc)
    top = doc["classification"]["top_reasons"]
    assert any(t["kind"] == "text" and t["value"] == "delivery was late again" and t["count"] == 4 for t in top)
    assert EMAIL not in text and "0207 946 0958" not in text and "[email]" in text and "[number]" in text
    codes = {u["code"]: u for u in doc["classification"]["unmapped_codes"]}
    assert codes["WEIRD_CODE"]["toml_line"] == 'WEIRD_CODE = "unknown/unknown"'
    assert codes["[email]"]["toml_line"] is None  # personal data is never suggested as a code


def test_cli_reasons_json_leaks_nothing_by_default(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    n = 40
    pl.DataFrame({
        "customer_id": [str(i) for i in range(n)],
        "signup_date": ["2023-01-01"] * n,
        "churn_date": ["2024-03-01" if i % 2 else None for i in range(n)],
        "cancel_reason": [(EMAIL if i % 4 == 1 else "too_expensive") if i % 2 else None for i in range(n)],
    }).write_csv(folder / "customers.csv")
    plain = CliRunner().invoke(app, ["reasons", str(folder), "--format", "json", "--quiet"])
    assert plain.exit_code == 0, plain.output
    assert EMAIL not in plain.stdout and "example.org" not in plain.stdout
    shown = CliRunner().invoke(app, ["reasons", str(folder), "--format", "json", "--quiet", "--include-examples"])
    assert shown.exit_code == 0 and EMAIL not in shown.stdout and "[email]" in shown.stdout


def test_masks_and_personal_codes():
    assert redact(f"write to {EMAIL} or +44 20 7946 0958; order 4411") == "write to [email] or [number]; order 4411"
    assert looks_personal(EMAIL) and looks_personal("4111111111111111") and not looks_personal("TOO_EXPENSIVE")


def test_terminal_view_says_the_known_shares_leave_the_unknown_out():
    """The caption under the reason mix (it raised NameError before: `escape` was never imported)."""
    from rich.console import Console

    from churnwhy.render.reasons import reasons_view

    table, fit = attach_stated_reasons(_table(), Config(reasons={"learn": False}))
    result = fit_reasons(table, fit.summary, Config())
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(reasons_view(result))
    assert "Known reasons are shares among the known" in console.export_text()
