"""Issue 19: the customer table on Apache Spark (local[2]) equals the default engine's, column by column.

Inputs are written here (never `churnwhy demo` output): duplicates across files, events for unknown customers,
events keyed by an email or a phone (linked through the customers file),
bad rows of every kind, cancellation and inactivity churn, Parquet / CSV / NDJSON events, and a folder without a
customers file. Spark reads the CSV and Parquet files itself (NATIVE_BYTES = 0) and runs their parse plans in
its Python workers, so both of its read paths are compared.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from loadkit import write
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.config import Config
from churnwhy.pipeline import LoadedTable, load_table
from churnwhy.render.files import dumps

pytestmark = pytest.mark.spark

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "exports"


def _messy() -> dict[str, str | bytes | pl.DataFrame]:
    day = dt.datetime(2024, 1, 1)
    parquet = pl.DataFrame({
        "Customer ID": ["001", "002", "003", "003", "404", "005"],
        "Event Time": [day + dt.timedelta(days=d, hours=h) for d, h in ((40, 1), (41, 2), (42, 3), (42, 3), (43, 4), (300, 5))],
        "Event Type": ["Login", "Delivery Failed", "login", "login", "login", "Cancel Subscription"],
        "Amount": [None, 12.5, 3.333, 3.333, 1.0, None],
    })
    return {
        "customers.csv": (
            "Customer ID,Signup Date,Churn Date,Plan,Email,Phone\n"
            "001,2024-01-01,,basic,ann@x.com,+1 (555) 010-0001\n002,2024-01-02,,pro,bob@x.com,\n"
            "003,2024-01-03,2024-06-30,basic,,555-010-0003\n004,2024-01-04,,pro,dee@x.com,\n"
            "005,2024-01-05,,basic,,\n006,2024-01-06,,pro,fay@x.com,5550100006\n"
            "003,2024-01-09,,pro,,\n,2024-01-10,,basic,gus@x.com,\n"  # a repeated id, a missing id
        ),
        # events keyed by a link: emails and phones written otherwise than in the customers file, one unknown
        "events/web.csv": (
            "email,phone,event_type,event_time\n"
            " Ann@X.com ,,login,2024-02-10\n,(555) 010 0003,login,2024-02-11\nFAY@x.com,,support_ticket,2024-09-28\n"
            "nobody@x.com,,login,2024-02-12\n,1-555-010-0006,login,2024-09-29\nbob@x.com,,,2024-03-01\n"
        ),
        "events/jan.csv": (
            "customer_id,event_type,event_time,amount,order_no\n"
            "001,login,2024-01-15,,a1\n"
            "001,purchase,2024-01-16 10:00:00,$1,234.50,a2\n"
            "002,purchase,2024-01-17,\"3,5\",a3\n"
            "002,purchase,2024-01-17,\"3,5\",a3\n"  # duplicate within the file
            "002,purchase,2024-01-17,\"3,5\",a4\n"  # same event, another order: not a duplicate
            "004,login,2024-02-01,,a5\n"  # 004 then goes silent: inactivity churn
            "777,login,2024-01-20,,a6\n"  # unknown customer
            "001,login,,,a7\n001,login,31/31/2024,,a8\n003,purchase,2024-01-21,ten,a9\n"
            ",login,2024-01-22,,a10\n"
            "006,login,2024-01-23,,a11,extra,fields\n"  # ragged row
        ),
        "events/feb.csv": (
            "customer_id,event_type,event_time,amount,order_no\n"
            "002,purchase,2024-01-17,\"3,5\",a3\n"  # duplicate across files
            "006,login,2024-09-20,,b1\n006,support_ticket,2024-09-25,,b2\n001,login,2024-09-30,,b3\n"
            "003,login,2024-07-05,,b4\n"  # after 003's churn date
        ),
        "events/mar.parquet": parquet,
        "events/apr.ndjson": (
            '{"customer_id": "005", "event_type": "login", "event_time": "2024-03-01T10:00:00Z"}\n'
            "not json at all\n"
            '{"customer_id": "002", "event_type": "Delivery-Failed", "event_time": "2024-03-02T23:30:00-05:00"}\n'
        ),
    }


def _events_only() -> dict[str, str | bytes | pl.DataFrame]:
    return {"events.csv": (
        "customer_id,event_type,event_time\n"
        "u1,login,2024-01-01\nu1,login,2024-06-01\nu2,login,2024-01-05\nu2,cancel,2024-02-01\n"
        "u3,login,2024-01-07\nu3,login,2024-01-07\nu4,,2024-03-03\n"
    )}


def _both(folder: Path, *, uri: bool = False, rejects: Path | None = None) -> tuple[LoadedTable, LoadedTable]:
    """The default engine on `folder`, Spark on the same folder (or its file:// URI, listed and sampled by Spark);
    with `rejects`, each writes its rejects file there (local.csv, spark.csv)."""
    config = Config.from_mapping({"inactivity_days": 90})
    local = load_table(folder, config, rejects_to=rejects / "local.csv" if rejects else None)
    remote = load_table(folder.as_uri() if uri else folder, dataclasses.replace(config, engine="spark"),
                        rejects_to=rejects / "spark.csv" if rejects else None)
    return local, remote


def facts(loaded: LoadedTable) -> dict[str, Any]:
    """What the equality test compares (picklable: the Connect test's child process sends it back)."""
    t, e = loaded.table, loaded.exports
    assert t.monthly is not None
    rejects = e.rejects  # Spark holds the events' rejected rows: brought here for the test
    if e.held_rejects is not None:
        rejects = pl.concat([rejects, e.held_rejects.rows()]).sort("source", "row")
    return {"frame": t.frame, "settings": (t.as_of, t.segments, t.event_types, t.churn_rule),
            "monthly": (t.monthly.customer_ids, t.monthly.counts), "rejects": rejects,
            "files": e.files, "data_end": e.data_end}  # files: rows read, loaded, rejected by reason, per file


def _assert_same(local: dict[str, Any], remote: dict[str, Any]) -> None:
    a, b = local["frame"], remote["frame"]
    assert a.columns == b.columns
    for column in a.columns:  # column by column, so a failure names the column
        assert a[column].dtype == b[column].dtype, column
        assert a[column].equals(b[column]), column
    for x, y in zip(local["monthly"], remote["monthly"], strict=True):
        assert x.equals(y)
    assert local["rejects"].equals(remote["rejects"])
    assert {k: v for k, v in local.items() if k not in ("frame", "monthly", "rejects")} == \
           {k: v for k, v in remote.items() if k not in ("frame", "monthly", "rejects")}


@pytest.mark.parametrize("files", [_messy, _events_only], ids=["messy", "events_only"])
def test_spark_table_equals_the_default_engines(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: Any) -> None:
    import churnwhy.engine.remote as remote_module
    from churnwhy.engine.remote import stage
    import churnwhy.engine.spark as engine

    monkeypatch.setattr(engine, "NATIVE_BYTES", 1)  # Spark reads the CSV and Parquet files itself
    # The messy folder is given as a file:// URI: Spark lists it, copies the small files (NDJSON) whole and the
    # CSV and Parquet files as a sample of their first rows (3 here), the customers file is then copied whole,
    # and Spark reads the events files where they are. The other folder is given as a path.
    monkeypatch.setattr(remote_module, "SAMPLE_ROWS", 3)
    staged: list[Any] = []

    def spy(*args: Any) -> Any:  # the mirror as staged (it is deleted after the load)
        staged.append(stage(*args))
        staged.append({p.name: len(p.read_bytes().splitlines()) for p in staged[0].sampled})
        return staged[0]

    monkeypatch.setattr(remote_module, "stage", spy)
    out = tmp_path / "rejects"
    out.mkdir()
    local, remote = _both(write(tmp_path / "in", files()), uri=files is _messy, rejects=out)
    _assert_same(facts(local), facts(remote))
    # the rejects file Spark wrote is the default engine's, byte for byte (and nothing else is left beside it)
    assert (out / "spark.csv").read_bytes() == (out / "local.csv").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["local.csv", "spark.csv"]
    sources = set(local.table.frame["churn_source"])
    reasons = local.exports.reject_counts()
    if files is _messy:  # the inputs hold what the docstring says (a test of the test data)
        web = local.exports.rejects.filter(pl.col("source") == "events/web.csv")
        assert web["reason"].to_list() == ["unknown_customer"] and web["value"].to_list() == ["nobody@x.com"]
        # read where they are from their samples: the events CSV and Parquet files; copied whole: the rest
        assert sorted(p.name for p in staged[0].sampled) == ["feb.csv", "jan.csv", "mar.parquet", "web.csv"]
        assert staged[1]["jan.csv"] == staged[1]["feb.csv"] == staged[1]["web.csv"] == 4  # the header and 3 rows
        assert {"explicit_date", "inactivity", "cancel_event", "active"} <= sources
        assert {"duplicate_row", "unknown_customer", "bad_date", "missing_date", "bad_number", "missing_id",
                "ragged_row", "bad_json"} <= set(reasons)
        assert reasons["duplicate_row"] == 3  # two copies of one purchase (one across files) and one Parquet row
    else:
        assert {"cancel_event", "active"} <= sources and reasons == {"duplicate_row": 1}


CONNECT = """
import dataclasses, pickle, sys
sys.path.insert(0, sys.argv[3])
from churnwhy.config import Config
from churnwhy.pipeline import load_table
from test_engine_spark import facts
config = Config.from_mapping({"inactivity_days": 90, "engine": "spark"})
loaded = load_table(sys.argv[1], config)
assert type(loaded.exports.event_codes.spark).__module__.startswith("pyspark.sql.connect")
open(sys.argv[2], "wb").write(pickle.dumps(facts(loaded)))
"""


def test_spark_connect_gives_the_same_table(tmp_path: Path) -> None:
    """Over Spark Connect (SPARK_REMOTE=local[2]: PySpark starts a local Connect server, the engine is a Connect
    client, no SparkContext): the messy folder, as a path, Spark reading its CSV and Parquet files itself. In a
    child process: a Connect session and a classic one do not share a process."""
    import pickle
    import subprocess
    import sys

    folder = write(tmp_path / "in", _messy())
    # SPARK_TESTING: the local Connect server takes a free port and the client finds it (PySpark's own way to run
    # tests in parallel, SPARK-42272); on the fixed 15002, two test runs on one machine would collide.
    env = {**os.environ, "SPARK_REMOTE": "local[2]", "CHURNWHY_SPARK_NATIVE_BYTES": "1", "SPARK_TESTING": "1"}
    out = tmp_path / "facts.pickle"
    run = subprocess.run([sys.executable, "-c", CONNECT, str(folder), str(out), str(Path(__file__).parent)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    local = load_table(folder, Config.from_mapping({"inactivity_days": 90}))
    _assert_same(facts(local), pickle.loads(out.read_bytes()))


def test_analyze_json_is_the_same_apart_from_the_engine(spark: Any) -> None:
    """The bundled examples: `analyze --engine spark` prints the default engine's JSON plus input.engine, and
    stdout holds nothing else (Spark's console goes elsewhere)."""
    runner = CliRunner()
    local = runner.invoke(app, ["analyze", str(EXAMPLES), "--format", "json", "-q"])
    remote = runner.invoke(app, ["analyze", str(EXAMPLES), "--format", "json", "-q", "--engine", "spark"])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    doc = json.loads(remote.stdout)
    assert doc["input"].pop("engine") == "spark"
    assert "engine" not in json.loads(local.stdout)["input"]
    assert dumps(doc) == local.stdout  # byte for byte once the engine field is gone


def test_engine_is_a_checked_setting(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", str(EXAMPLES), "--engine", "dask"])
    assert result.exit_code == 2 and "engine must be local or spark" in result.output


def test_a_uri_needs_the_spark_engine(tmp_path: Path) -> None:
    """A URI is read through Spark's filesystem only: the default engine says so (exit 2), whatever the command."""
    result = CliRunner().invoke(app, ["analyze", write(tmp_path, _events_only()).as_uri()])
    assert result.exit_code == 2 and "is a URI" in result.output and "--engine spark" in result.output


@pytest.mark.parametrize("given, uri", [
    ("file:///data/exports", "file:///data/exports"), ("s3a://bucket/exports/", "s3a://bucket/exports"),
    ("abfss://c@acct.dfs.core.windows.net/x", "abfss://c@acct.dfs.core.windows.net/x"), ("exports", None),
])
def test_a_uri_survives_the_command_lines_path(given: str, uri: str | None) -> None:
    """PATH reaches the library as a pathlib.Path, which folds '//' into '/': the URI is given back whole."""
    from churnwhy.load.discover import as_uri

    assert as_uri(Path(given)) == uri
    assert as_uri(given) == (given if uri else None)


def test_a_sample_is_completed_unless_spark_reads_the_file_as_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.remote.Staged.complete (no Spark needed): of the files mirrored as a sample, only an events file
    with a key column that Spark reads itself stays a sample; a customers file, and an events file with no key
    (load.roles may settle it as a lookup table), are copied whole before they are parsed."""
    from churnwhy.engine.remote import Staged
    from churnwhy.load.discover import discover
    from churnwhy.load.parse import mapping_for
    from churnwhy.load.read import read_source

    files = {"customers.csv": "customer_id,signup_date\n" + "".join(f"c{i},2024-01-0{i}\n" for i in range(1, 8)),
             "events.csv": "customer_id,event_type,event_time\n" + "c1,login,2024-02-01\n" * 7,
             "visits.csv": "page,event_type,event_time\n" + "home,login,2024-02-01\n" * 7}
    whole, mirror = write(tmp_path / "whole", files), write(tmp_path / "mirror", {
        name: "".join(text.splitlines(keepends=True)[:3]) for name, text in files.items()})  # header + 2 rows
    local = {mirror / name: f"file://{whole / name}" for name in files}
    staged = Staged(None, whole.as_uri(), mirror, mirror, local, {p: 1 for p in local}, set(local))
    monkeypatch.setattr(Staged, "_fetch", lambda self, paths: [p.write_bytes((whole / p.name).read_bytes()) for p in paths])
    config = Config()
    mapped = [(raw, m) for src in discover(mirror).files for raw in read_source(src)[0]
              if (m := mapping_for(raw, config)) is not None]
    assert {raw.name: m.role for raw, m in mapped} == {"customers.csv": "customers", "events.csv": "events",
                                                        "visits.csv": "events"}
    done = {raw.name: raw.frame.collect().height for raw, _ in staged.complete(mapped)}
    assert done == {"customers.csv": 7, "events.csv": 2, "visits.csv": 7}
    assert staged.sampled == {mirror / "events.csv"}
