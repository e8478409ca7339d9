"""`churnwhy survival` end to end (with a stand-in for churnwhy.pipeline.load_table) and the renderers."""

from __future__ import annotations

import re

import datetime as dt
import json
import types

import numpy as np
import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from churnwhy import pipeline
from churnwhy.cli import app
from churnwhy.results.contract import stamped
from churnwhy.config import Config
from churnwhy.models.survival import fit_survival
from churnwhy.render.plots import write_plots
from churnwhy.render.survival import km_chart, survival_view
from churnwhy.table import CustomerTable, LoadedTable

AS_OF = dt.date(2024, 6, 30)


def _table(n: int = 300, seed: int = 0) -> CustomerTable:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01") + rng.integers(0, 500, n).astype("timedelta64[D]")
    churn_day = rng.exponential(200, n).astype(int)
    end_limit = (np.datetime64(AS_OF) - start).astype(int)
    churned = churn_day <= end_limit
    tenure = np.where(churned, churn_day, end_limit)
    plan = rng.choice(["basic", "pro", "team", "edu"], n, p=[0.5, 0.35, 0.12, 0.03])
    why = np.where(churned, rng.choice(["price", "bugs", "moved", ""], n), "")
    frame = pl.DataFrame({
        "customer_id": [f"c{i:04d}" for i in range(n)], "start_date": start.astype("datetime64[D]").tolist(),
        "tenure_days": tenure.astype(np.int64), "churned": churned, "plan": plan,
        "why": pl.Series(why.tolist()).replace("", None), "what": pl.Series(why.tolist()).replace("", None),
    })
    return CustomerTable(frame=frame, as_of=AS_OF, segments=("plan",))


@pytest.fixture
def fake_pipeline(monkeypatch):
    """A stand-in for loading (the table given, its reasons as they are) so that the command is tested on its own."""
    table = _table()
    exports = types.SimpleNamespace()
    exports.without_event_rows = lambda: exports
    monkeypatch.setattr(pipeline, "load_table", lambda path, config, **kw: LoadedTable(exports, table, config))
    monkeypatch.setattr("churnwhy.models.reasons.attach_stated_reasons", lambda table, config=None: (table, None))
    monkeypatch.setattr("churnwhy.models.silent.infer_silent_reasons",
                        lambda table, config, classifiers=None, matrix=None: (table, types.SimpleNamespace(skipped="a stand-in")))
    return table


def test_json_goes_to_stdout_and_equals_to_dict(fake_pipeline, tmp_path):
    result = CliRunner().invoke(app, ["survival", str(tmp_path), "--by", "plan", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = fit_survival(fake_pipeline, by=("plan",), config=Config.load(tmp_path))
    assert data == json.loads(json.dumps(stamped(expected.to_dict())))
    assert "note:" in result.stderr and "pooled into 'other'" in result.stderr
    assert {g["group"] for g in data["groups"] if g["by"] == "plan"} == {"basic", "pro", "team", "other"}
    assert data["cohorts"]["period"] == "month"


@pytest.mark.slow
def test_quiet_table_output_and_plots_are_deterministic(fake_pipeline, tmp_path):
    runs = []
    for name in ("a", "b"):
        result = CliRunner().invoke(app, ["survival", str(tmp_path), "--by", "plan", "--plots", str(tmp_path / name),
                                          "--unit", "months", "--quiet"])
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        assert "Log-rank tests" in result.stdout and "Cohort retention" in result.stdout
        runs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert sorted(runs[0]) == ["incidence_what.png", "incidence_what.svg", "incidence_why.png", "incidence_why.svg",
                               "survival_all.png", "survival_all.svg", "survival_by_plan.png", "survival_by_plan.svg"]
    assert runs[0] == runs[1]
    assert b"<dc:date>" not in runs[0]["survival_all.svg"]


def test_errors_are_one_clean_line(fake_pipeline, tmp_path):
    result = CliRunner().invoke(app, ["survival", str(tmp_path), "--by", "nosuch"])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "no such column" in result.stderr and "Traceback" not in result.output


def test_help_lists_the_options():
    result = CliRunner().invoke(app, ["survival", "--help"])
    assert result.exit_code == 0
    for flag in ("--by", "--plots", "--format", "--unit", "--config", "--as-of", "--quiet"):
        assert flag in result.stdout


def test_terminal_chart_respects_width_and_views_render():
    r = fit_survival(_table(), by=("plan",))
    for width in (40, 100):
        chart = km_chart(r, width=width, height=12)
        assert max(len(line) for line in chart.splitlines()) <= width
    assert "plan=basic" in chart  # the legend fits at width 100
    lines = chart.splitlines()
    axis = lines[next(i for i, line in enumerate(lines) if line.strip() == "days") - 1]  # tick labels
    assert re.search(r"\b0\b", axis) and not re.search(r"\de\d", axis), axis  # whole numbers, no 1.8e2
    assert km_chart(r, width=60) == km_chart(r, width=60)
    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(survival_view(r, unit="weeks"))
    text = console.export_text()
    assert "Retention (Kaplan-Meier; median tenure in weeks)" in text and "plan=pro" in text


def test_plots_without_reasons_or_segments(tmp_path):
    t = _table()
    r = fit_survival(CustomerTable(frame=t.frame.drop("why", "what"), as_of=AS_OF))
    assert [p.name for p in write_plots(r, tmp_path, formats=("svg",))] == ["survival_all.svg"]


def test_end_to_end_with_the_real_pipeline(tmp_path):
    """A plain customers.csv through churnwhy.pipeline.load_table: JSON on stdout, notes on stderr."""
    rng = np.random.default_rng(5)
    n = 120
    start = np.datetime64("2023-01-01") + rng.integers(0, 400, n).astype("timedelta64[D]")
    end = start + rng.exponential(200, n).astype(int).astype("timedelta64[D]")
    as_of = np.datetime64("2024-06-30")
    pl.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "signup_date": start.tolist(),
        "churn_date": [e.item() if e <= as_of else None for e in end], "plan": rng.choice(["a", "b"], n).tolist(),
    }).write_csv(tmp_path / "customers.csv")
    result = CliRunner().invoke(app, ["survival", str(tmp_path), "--by", "plan", "--as-of", "2024-06-30",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["as_of"] == "2024-06-30" and data["groups"][0]["n"] == n
    assert data["incidence"]  # the command assigns reasons (all unknown here: nobody stated one)
