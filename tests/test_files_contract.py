"""Files churnwhy writes (issue 18): permissions from the umask, not mkstemp's 0600, for every kind of output;
Parquet column names an analyst's SQL can use unquoted."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.demo import generate

runner = CliRunner()
# SQL:2016 reserved words a results table could plausibly be tempted to use, and DuckDB's/Spark's keywords.
SQL_KEYWORDS = {"by", "group", "order", "select", "from", "where", "table", "user", "limit", "offset",
                "case", "when", "end", "all", "any", "as", "at", "between", "cast", "check", "column", "cross",
                "default", "desc", "asc", "distinct", "else", "except", "false", "true", "for", "full", "having",
                "in", "inner", "intersect", "into", "is", "join", "left", "right", "like", "natural", "not",
                "null", "on", "or", "and", "outer", "primary", "references", "union", "unique", "using", "window",
                "with", "partition", "range", "rows", "over", "values", "time", "date", "interval", "key"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("files") / "exports"
    generate(root, customers=400, seed=5, format="csv")
    return root


def _with_umask(mask: int, *args: str) -> None:
    old = os.umask(mask)
    try:
        result = runner.invoke(app, [*args, "-q"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output


def test_html_report_plots_and_rejects_follow_the_umask(exports, tmp_path):
    html, rejects = tmp_path / "report.html", tmp_path / "rejects.csv"
    _with_umask(0o027, "report", str(exports), "-o", str(html))
    _with_umask(0o002, "survival", str(exports), "--plots", str(tmp_path / "plots"))
    _with_umask(0o022, "inspect", str(exports), "--rejects", str(rejects))
    assert oct(html.stat().st_mode & 0o777) == oct(0o640)
    plots = list((tmp_path / "plots").iterdir())
    assert plots and {oct(p.stat().st_mode & 0o777) for p in plots} == {oct(0o664)}
    assert oct(rejects.stat().st_mode & 0o777) == oct(0o644)


def test_parquet_tables_have_no_sql_keywords_as_column_names(exports, tmp_path):
    out = tmp_path / "out"
    _with_umask(0o022, "analyze", str(exports), "--out", str(out))
    tables = {p.stem: pl.read_parquet_schema(p) for p in out.glob("*.parquet") if p.stem != "customers"}
    assert {"reasons", "survival", "incidence", "drivers"} <= set(tables)
    for name, schema in tables.items():
        assert not (set(schema) & SQL_KEYWORDS), (name, sorted(set(schema) & SQL_KEYWORDS))
    assert {"segment", "level"} <= set(tables["reasons"]) and {"segment", "level"} <= set(tables["survival"])
