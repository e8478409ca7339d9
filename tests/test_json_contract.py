"""The output contract (issue 18): every JSON document of every command carries `schema_version` and
`churnwhy_version`; one naming scheme (ci_low/ci_high, axis/category; by/group in JSON, segment/level in
Parquet; retention a list keyed by horizon_days); every schema property described; the shares the report leads with in `summary` and in
reasons.parquet; check and diff documents valid against their schemas; a 1.0 report still diffs."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from churnwhy import __version__
from churnwhy.cli import app
from churnwhy.demo import generate
from churnwhy.results.contract import DATA_MAPS, SCHEMA_VERSION, named

runner = CliRunner()
OLD_NAMES = {"lo", "hi", "naive_lo", "naive_hi", "dimension", "label", "cause"}
SCHEMAS = ("report", "risk", "check", "diff", "inspect", "reasons", "drivers", "survival")
SCHEMA_OF = {"analyze": "report", **{name: name for name in SCHEMAS if name != "report"}}


def schema(name: str) -> dict[str, Any]:
    return json.loads(files("churnwhy").joinpath(f"schemas/{name}.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("contract")
    exports = root / "exports"
    generate(exports, customers=500, seed=13, format="csv")
    out = root / "out"

    def invoke(*args: str) -> dict[str, Any]:
        result = runner.invoke(app, [*args, "--format", "json"])
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)

    report = invoke("analyze", str(exports), "--out", str(out), "-q")
    saved = out / "report.json"
    docs = {
        "analyze": report,
        "check": invoke("check", str(saved), "--max-churn-rate", "0.5", "--max-share", "why=brand_failed:0.9"),
        "diff": invoke("diff", str(saved), str(saved)),
        "inspect": invoke("inspect", str(exports), "-q"),
        "reasons": invoke("reasons", str(exports), "-q"),
        "drivers": invoke("drivers", str(exports), "-q"),
        "survival": invoke("survival", str(exports), "-q"),
        "risk": invoke("risk", str(exports), "-q"),
    }
    return docs, out


def _keys(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [(path, k) for k in value] + [kp for k, v in value.items() if k not in DATA_MAPS for kp in _keys(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [kp for v in value for kp in _keys(v, path + "[]")]
    return []


def test_every_command_stamps_its_json_and_uses_one_naming_scheme(run):
    docs, _ = run
    for command, doc in docs.items():
        assert doc["schema_version"] == SCHEMA_VERSION and doc["churnwhy_version"] == __version__, command
        old = sorted({f"{p}/{k}" for p, k in _keys(doc) if k in OLD_NAMES})
        assert not old, (command, old[:5])
    assert [c["horizon_days"] for c in docs["analyze"]["summary"]["retention"]] == sorted(
        c["horizon_days"] for c in docs["analyze"]["summary"]["retention"])


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_schema_property_is_described_and_the_version_matches(name):
    doc = schema(name)
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                if not (isinstance(prop, dict) and str(prop.get("description", "")).strip()):
                    missing.append(f"{path}/{key}")
            for key, child in node.items():
                walk(child, f"{path}/{key}" if key not in ("properties", "items") else path)
        elif isinstance(node, list):
            for child in node:
                walk(child, path)

    walk(doc, "")
    assert not missing, missing[:10]


def test_documents_validate_against_their_schemas(run):
    """additionalProperties is false on every record: a field a result type adds without a described schema
    property fails here (add it to src/churnwhy/schemas/<name>.schema.json with a description)."""
    docs, _ = run
    assert set(SCHEMA_OF) == set(docs)  # every command that prints JSON has its schema
    for command, name in SCHEMA_OF.items():
        jsonschema.validate(docs[command], schema(name))
    survival = schema("report")["properties"]["survival"]
    rows = survival["properties"]["curves"]["items"]
    assert rows["additionalProperties"] is False and {"by", "group", "survival", "ci_low", "ci_high"} <= set(rows["required"])
    cohorts = schema("report")["properties"]["cohorts"]["properties"]["cells"]["items"]
    assert cohorts["additionalProperties"] is False and "cohort_size" in cohorts["required"]


def test_the_headline_mix_is_in_the_summary_and_in_reasons_parquet(run):
    docs, out = run
    head = docs["analyze"]["summary"]["reasons"]
    assert set(head["estimate"]) == {"why", "what"} and head["caption"]
    shares = {(r["axis"], r["category"]): r for r in head["shares"]}
    assert {a for a, _ in shares} == {"why", "what"}
    frame = pl.read_parquet(out / "reasons.parquet").filter(pl.col("headline"))
    assert frame.height == len(shares)
    for row in frame.iter_rows(named=True):
        r = shares[(row["axis"], row["category"])]
        assert row["share"] == pytest.approx(r["share"]) and row["ci_low"] == pytest.approx(r["ci_low"])
        assert row["basis"] == head["estimate"][row["axis"]] and row["segment"] == "all"
    check = {c["name"]: c for c in docs["check"]["checks"]}
    assert check["share_why_brand_failed"]["value"] == pytest.approx(shares[("why", "brand_failed")]["share"])


def test_a_report_of_schema_1_still_diffs_against_2(run, tmp_path):
    """CI keeps the previous report: the first run after an upgrade compares a 1.0 report with a 2.0 one."""
    docs, out = run
    new = docs["analyze"]
    old = json.loads((out / "report.json").read_text())
    old["schema_version"] = "1.0"
    old["summary"]["retention"] = {str(c["horizon_days"]): {k: v for k, v in c.items() if k != "horizon_days"}
                                   for c in old["summary"]["retention"]}
    rename = {"ci_low": "lo", "ci_high": "hi", "category": "label", "axis": "dimension"}
    old["reasons"]["inferred"]["mix"] = [{rename.get(k, k): v for k, v in r.items()} for r in old["reasons"]["inferred"]["mix"]]
    old["reasons"]["inferred"]["models"] = [{rename.get(k, k) if k == "axis" else k: v for k, v in r.items()}
                                            for r in old["reasons"]["inferred"]["models"]]
    assert named(old)["reasons"]["inferred"]["mix"][0]["category"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    result = runner.invoke(app, ["diff", str(path), str(out / "report.json"), "--format", "json"])
    assert result.exit_code == 0, result.output
    changes = {c["metric"]: c for c in json.loads(result.stdout)["changes"]}
    assert changes["churn_rate"]["change"] == 0 and any(m.startswith("retention_") for m in changes)
    assert any(m.startswith("share_why_") and c["change"] == 0 for m, c in changes.items())
    assert new["summary"]["retention"]
