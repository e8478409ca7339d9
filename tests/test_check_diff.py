"""`check` exit codes and `diff` between two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churnwhy.checks import diff_reports, parse_horizon, parse_retention, parse_share
from churnwhy.cli import app
from churnwhy.demo import generate
from churnwhy.errors import ChurnwhyError

runner = CliRunner()


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "exports"
    generate(out, customers=800, seed=5, format="csv", messy=False)
    return out


def test_check_passes_with_loose_thresholds(exports):
    r = runner.invoke(app, ["check", str(exports), "--max-churn-rate", "0.99", "--min-retention", "30d=0.01", "-q"])
    assert r.exit_code == 0, r.output
    assert "FAIL" not in r.stdout


def test_check_exits_1_and_lists_breaches(exports):
    r = runner.invoke(app, ["check", str(exports), "--max-churn-rate", "0.01", "--max-share", "why=better_offer:0.05",
                            "--min-retention", "365d=0.999", "-q"])
    assert r.exit_code == 1, r.output
    assert r.stdout.count("FAIL") == 3
    assert "churn_rate" in r.stdout and "retention_365d" in r.stdout and "share_why_better_offer" in r.stdout


def test_check_json_lists_the_checks_only(exports):
    r = runner.invoke(app, ["check", str(exports), "--max-churn-rate", "0.01", "--format", "json", "-q"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["passed"] is False and doc["checks"][0]["name"] == "churn_rate"
    assert "report" not in doc and doc["schema_version"] and doc["churnwhy_version"]
    summary = json.loads(runner.invoke(app, ["analyze", str(exports), "--format", "json", "-q"]).stdout)["summary"]
    assert summary["churn_rate"] == doc["checks"][0]["value"]


def test_check_adds_an_unlisted_horizon(exports):
    r = runner.invoke(app, ["check", str(exports), "--min-retention", "200d=0.0", "--format", "json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["checks"][0]["value"] is not None


@pytest.mark.parametrize("args", [[], ["--max-churn-rate", "1.5"], ["--min-retention", "90d"],
                                  ["--max-share", "who=x:0.1"], ["--min-retention", "ninety=0.5"]])
def test_check_usage_errors_exit_2(exports, args):
    r = runner.invoke(app, ["check", str(exports), *args, "-q"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_parsers():
    assert parse_horizon("90d") == 90 and parse_horizon("12w") == 84 and parse_horizon("1y") == 365
    assert parse_retention("90d=0.85") == (90, 0.85)
    assert parse_retention("30=85%") == (30, 0.85)
    assert parse_share("why=brand_failed:0.4") == ("why", "brand_failed", 0.4)
    with pytest.raises(ChurnwhyError):
        parse_share("why=brand_failed:1.4")


def _doc(customers: int, churned: int, s90: float, lo: float, hi: float) -> dict:
    return {"schema_version": "1.0", "summary": {"customers": customers, "churned": churned,
            "churn_rate": churned / customers, "retention": {"90": {"survival": s90, "ci_low": lo, "ci_high": hi}}},
            "reasons": {"status": "skipped", "reason": "x", "inferred": {"status": "skipped", "reason": "x"}}}


def test_diff_flags_significant_churn_change():
    """Two-proportion z test: 100/1000 vs 150/1000 gives z = 3.38, p = 0.00072 (hand computed)."""
    changes = {c.metric: c for c in diff_reports(_doc(1000, 100, 0.9, 0.88, 0.92), _doc(1000, 150, 0.9, 0.88, 0.92))}
    c = changes["churn_rate"]
    assert c.change == pytest.approx(0.05)
    assert c.p_value == pytest.approx(0.000723, abs=2e-5)
    assert c.significant is True
    assert changes["retention_90d"].significant is False


def test_diff_cli(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_doc(1000, 100, 0.9, 0.88, 0.92)))
    new.write_text(json.dumps(_doc(1000, 101, 0.8, 0.78, 0.82)))
    r = runner.invoke(app, ["diff", str(old), str(new), "--format", "json"])
    assert r.exit_code == 0, r.output
    metrics = {c["metric"]: c for c in json.loads(r.stdout)["changes"]}
    assert metrics["churn_rate"]["significant"] is False
    assert metrics["retention_90d"]["significant"] is True


def test_diff_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = runner.invoke(app, ["diff", str(bad), str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_an_axis_the_silent_classifier_refused_keeps_the_reweighted_estimate():
    """Inference ran for why only: why leads with stated + inferred, what with the reweighted respondents."""
    from churnwhy.checks import headline_caption, headline_shares

    doc = {"reasons": {
        "status": "ok",
        "inferred": {"status": "ok", "models": [{"axis": "why", "inferred": True}, {"axis": "what", "inferred": False}],
                     "mix": [{"axis": "why", "category": "better_offer", "share": 0.6, "ci_low": 0.5, "ci_high": 0.7},
                             {"axis": "what", "category": "unknown", "share": 0.8, "ci_low": 0.7, "ci_high": 0.9}]},
        "nonresponse": {"rows": [{"axis": "what", "category": "price", "reweighted": 0.25, "ci_low": 0.2, "ci_high": 0.3}]},
    }}
    assert [r["category"] for r in headline_shares(doc, "why")] == ["better_offer"]
    assert headline_shares(doc, "what") == [{"category": "price", "share": 0.25, "ci_low": 0.2, "ci_high": 0.3,
                                             "among": "known", "left_out": 0}]
    assert headline_caption(doc).startswith("why: stated reasons plus reasons inferred")
    assert "what: stated reasons, reweighted" in headline_caption(doc)
