"""`churnwhy analyze` and its contracts: JSON == Report.to_dict(), schema, determinism, privacy, outputs."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

import churnwhy
from churnwhy.cli import app
from churnwhy.config import Config
from churnwhy.demo import generate
from churnwhy.pipeline import analyze
from churnwhy.render.files import atomic_path, dumps

runner = CliRunner()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "exports"
    generate(out, customers=1500, seed=11, format="mixed", messy=True)
    return out


@pytest.fixture(scope="module")
def cli_json(exports) -> str:
    result = runner.invoke(app, ["analyze", str(exports), "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_json_is_report_to_dict(exports, cli_json):
    report = analyze(exports, Config.load(exports))
    assert cli_json == dumps(report.to_dict())


def test_json_validates_against_shipped_schema(cli_json):
    schema = json.loads(files("churnwhy").joinpath("schemas/report.schema.json").read_text())
    doc = json.loads(cli_json)
    jsonschema.validate(doc, schema)
    assert doc["schema_version"] == "2.0"
    for key in ("customers", "churned", "churn_rate", "median_tenure_days", "retention"):
        assert key in doc["summary"]


def test_every_section_computed_on_demo_data(cli_json):
    doc = json.loads(cli_json)
    for section in ("reasons", "drivers", "survival"):
        assert doc[section]["status"] == "ok", (section, doc[section].get("reason"))
    assert doc["reasons"]["inferred"]["status"] == "ok"


def test_two_runs_are_byte_identical(exports, cli_json):
    again = runner.invoke(app, ["analyze", str(exports), "--format", "json", "--quiet"])
    assert again.stdout == cli_json


def test_stdout_carries_only_json(exports):
    result = runner.invoke(app, ["analyze", str(exports), "--format", "json"])
    json.loads(result.stdout)  # progress and notes, if any, went to stderr


def test_report_holds_no_identifiers_or_free_text(exports, cli_json):
    customers = pl.read_csv(exports / "crm" / "Customers.csv", infer_schema=False)
    ids = [i for i in customers["Customer ID"].drop_nulls().to_list() if len(i) >= 4]
    emails = customers["E-mail"].drop_nulls().to_list()
    texts = pl.read_csv(exports / "surveys" / "exit_survey.csv", infer_schema=False)["Why did you leave?"].drop_nulls()
    long_texts = [t for t in texts.to_list() if len(t) > 25]
    assert ids and emails and long_texts
    lowered = cli_json.lower()
    # An id would travel as a JSON string; digits alone also occur inside numbers like 0.000075.
    leaks = [i for i in ids[:300] if f'"{i}' in cli_json]
    leaks += [n for n in emails[:300] + long_texts[:300] if n.lower() in lowered]
    assert leaks == []


def test_out_writes_parquet_contracts(exports, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(exports), "--out", str(out), "--quiet", "--format", "json"])
    assert result.exit_code == 0, result.output
    customers = pl.read_parquet(out / "customers.parquet")
    for col in ("customer_id", "start_date", "end_date", "tenure_days", "churned", "why", "what", "reason_source",
                "reason_confidence"):
        assert col in customers.columns, col
    assert set(customers["reason_source"].drop_nulls().unique()) <= {"stated", "inferred", "none"}
    drivers = pl.read_parquet(out / "drivers.parquet")
    assert {"feature", "family", "hazard_ratio", "ci_low", "ci_high", "p_value"} <= set(drivers.columns)
    survival = pl.read_parquet(out / "survival.parquet")
    assert {"segment", "level", "time_days", "survival", "ci_low", "ci_high", "at_risk"} <= set(survival.columns)
    incidence = pl.read_parquet(out / "incidence.parquet")
    assert {"axis", "category", "time_days", "incidence", "ci_low", "ci_high"} <= set(incidence.columns)
    assert (out / "cohorts.parquet").exists() and (out / "reasons.parquet").exists()
    assert json.loads((out / "report.json").read_text()) == json.loads(result.stdout)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "report.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("disk full")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new but broken")
        raise RuntimeError("killed")
    assert target.read_text() == "old"


def test_markdown_has_no_ansi_and_names_sections(exports):
    result = runner.invoke(app, ["analyze", str(exports), "--format", "markdown", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    for heading in ("# Churn report", "## Retention", "## Why they left", "## What drove it", "## Data quality"):
        assert heading in result.stdout


def test_table_output_renders(exports):
    result = runner.invoke(app, ["analyze", str(exports), "--quiet"], env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Why they left" in result.stdout and "Customers" in result.stdout
    assert "\x1b[" not in result.stdout


def test_library_entry_point():
    assert churnwhy.analyze is analyze


def test_every_stage_is_announced_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 8: a user with a large export sees each stage (load, table, reasons, inferred, drivers, survival, risk);
    a command that asks for one section hears only of the stages it needs (issue 18)."""
    from churnwhy import pipeline
    from churnwhy.demo import generate

    generate(tmp_path / "d", customers=400, seed=3, format="csv", messy=False)
    seen: list[str] = []
    pipeline.analyze(tmp_path / "d", progress=seen.append)
    assert seen == ["loading exports", "building the customer table",
                    "rebuilding the customer table as of the backtest cutoff", "classifying stated reasons",
                    "inferring reasons of silent churners", "fitting behavioural drivers", "fitting survival curves",
                    "scoring customers at risk", "revenue, concentration and beliefs"]
    seen.clear()
    report = pipeline.analyze(tmp_path / "d", sections=("drivers",), progress=seen.append)
    assert seen == ["loading exports", "building the customer table", "classifying stated reasons",
                    "fitting behavioural drivers"]
    assert report.drivers.ok and report.reasons.status == report.survival.status == "skipped"
    assert report.survival.skipped == "not computed"
