"""`churnwhy risk` and the acting-on-it sections of `analyze`: contracts, privacy, options and config errors."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.demo import generate

runner = CliRunner()
AT_RISK_COLUMNS = ["customer_id", "churn_probability", "monthly_value", "revenue_at_risk", "why", "what",
                   "reason_confidence", "factor_1", "factor_2", "factor_3", "action"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    out = tmp_path_factory.mktemp("risk") / "exports"
    generate(out, customers=700, seed=5, format="csv", messy=False)
    return out


@pytest.fixture(scope="module")
def risk_json(exports):
    result = runner.invoke(app, ["risk", str(exports), "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_validates_and_holds_aggregates_only(exports, risk_json):
    doc = json.loads(risk_json)
    jsonschema.validate(doc, json.loads(files("churnwhy").joinpath("schemas/risk.schema.json").read_text()))
    a = doc["at_risk"]
    assert a["status"] == "ok" and a["horizon_days"] == 90
    assert a["calibration"]["method"] == "backtest" and a["calibration"]["status"] == "ok"
    assert len(a["calibration"]["bins"]) == 10
    # totals per action add up to every active customer and every expected churner
    assert sum(t["customers"] for t in a["actions"]) == a["n_active"]
    assert sum(t["expected_churners"] for t in a["actions"]) == pytest.approx(a["expected_churners"])
    assert sum(t["revenue_at_risk"] for t in a["actions"]) == pytest.approx(a["revenue_at_risk"])
    ids = pl.read_csv(exports / "customers.csv", infer_schema=False)["customer_id"].to_list()
    assert not any(f'"{i}"' in risk_json for i in ids[:200])


def test_out_writes_at_risk_parquet_with_the_listed_columns(exports, tmp_path):
    result = runner.invoke(app, ["risk", str(exports), "--out", str(tmp_path), "--quiet", "--horizon", "60"])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(tmp_path / "at_risk.parquet")
    assert frame.columns == AT_RISK_COLUMNS
    p = frame["churn_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all() and (p[:-1] >= p[1:]).all()  # riskiest first
    assert json.loads((tmp_path / "risk.json").read_text())["at_risk"]["horizon_days"] == 60
    assert frame["action"].null_count() == 0


def test_top_lists_that_many_customers_in_the_terminal(exports, tmp_path):
    runner.invoke(app, ["risk", str(exports), "--out", str(tmp_path), "--quiet"])
    first = pl.read_parquet(tmp_path / "at_risk.parquet")["customer_id"].to_list()
    result = runner.invoke(app, ["risk", str(exports), "--top", "3", "--quiet"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Top 3 customers" in result.stdout and all(i in result.stdout for i in first[:3])
    assert first[3] not in result.stdout
    assert "predicted" in result.stdout and "observed" in result.stdout  # the calibration chart


def test_actions_and_beliefs_from_the_config(exports, tmp_path):
    cfg = tmp_path / "churnwhy.toml"
    cfg.write_text('[actions]\nbrand_failed = "call them today"\ndefault = "wait"\n'
                   '[beliefs]\nprice = 0.9\ncompare = ["brand_failed > better_offer"]\n', encoding="utf-8")
    result = runner.invoke(app, ["analyze", str(exports), "--config", str(cfg), "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert ("brand_failed", "call them today") in {(r["rule"], r["action"]) for r in doc["at_risk"]["playbook"]}
    beliefs = doc["beliefs"]
    assert beliefs["source"] == "beliefs"
    price = next(c for c in beliefs["checks"] if c["category"] == "price")
    assert price["believed"] == 0.9 and price["verdict"] == "overstated"
    assert any(c["axis"] == "compare" for c in beliefs["checks"])


@pytest.mark.parametrize("toml,needle", [
    ('[actions]\n"brand_failed/nonsense" = "x"\n', "[actions] 'brand_failed/nonsense' is not a rule"),
    ('[actions]\nprice = 3\n', "[actions] price must be a non-empty text"),
    ('[beliefs]\nprice = 1.5\n', "[beliefs] price must be between 0 and 1"),
    ('[beliefs]\ncompare = ["price >> product"]\n', "is not a comparison"),
    ('[beliefs]\nunknown = 0.1\n', "on both axes"),
    ('[risk]\nhorizon_days = 0\n', "[risk] horizon_days must be a positive whole number"),
])
def test_bad_settings_stop_with_exit_2_and_a_message(exports, tmp_path, toml, needle):
    cfg = tmp_path / "churnwhy.toml"
    cfg.write_text(toml, encoding="utf-8")
    for command in ("risk", "analyze"):
        result = runner.invoke(app, [command, str(exports), "--config", str(cfg), "--quiet"])
        assert result.exit_code == 2, result.output
        assert needle in result.stderr and "Traceback" not in result.output


def test_analyze_sections_and_benchmark_without_beliefs(exports):
    result = runner.invoke(app, ["analyze", str(exports), "--format", "json", "--quiet"])
    doc = json.loads(result.stdout)
    assert doc["beliefs"]["source"] == "external_benchmark" and "external benchmark" in doc["beliefs"]["note"]
    assert {(c["category"], c["believed"]) for c in doc["beliefs"]["checks"]} == {("brand_failed", 0.3), ("better_offer", 0.59), ("price", 0.2)}
    rev = doc["revenue"]
    assert rev["status"] == "ok" and rev["has_amounts"] and rev["months"]
    why = [r for r in rev["by_reason"] if r["axis"] == "why"]
    assert sum(r["churners"] for r in why) == doc["summary"]["churned"]
    assert sum(r["revenue_lost"] for r in why) == pytest.approx(rev["revenue_lost"])
    assert doc["concentration"]["status"] == "ok"
    ratios = [r["ratio"] for r in doc["concentration"]["rows"]]
    assert ratios == sorted(ratios, reverse=True)


def test_markdown_and_html_show_the_new_sections(exports, tmp_path):
    md = runner.invoke(app, ["analyze", str(exports), "--format", "markdown", "--quiet"]).stdout
    for heading in ("## Who is about to leave", "### Calibration", "## Belief vs evidence", "## Value vs voice",
                    "## Where churn concentrates", "**At risk (90 d):**", "**Churn concentrates:**"):
        assert heading in md
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(exports), "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="calibration"' in html and "<svg" in html and 'id="actions"' in html and 'id="beliefs"' in html
    risk_md = runner.invoke(app, ["risk", str(exports), "--format", "markdown", "--quiet"]).stdout
    assert risk_md.startswith("# Customers at risk") and "| decile |" in risk_md and "Belief" not in risk_md
