"""Issue 19: the customer table on Spark local[2] against the default engine, in one run; and the 100k check.

Usage:
  python bench/bench_spark.py scale [--customers 1000000] [--events-per-customer 50] [--partitions 8]
      load + customer table (pipeline.load_table) on both engines, each in a fresh process; seconds, peak RSS of
      the Python process (Spark's JVM is a child: its memory is not in that figure) and the ratio.
  python bench/bench_spark.py equal [--customers 100000]
      `analyze --format json` on both engines: the same document byte for byte once input.engine is removed.
  python bench/bench_spark.py definitions [--customers 200000] [--events-per-customer 50]
      the behaviour sums (the table's hot spot) as the default engine computes them (numpy, dense per-customer
      arrays) and as one relational definition would (join, filter, group-by with conditional sums: what Ibis or
      SQL generated with sqlglot runs on Polars), in this process: the cost of sharing one definition.

Data: `churnwhy demo DIR --clean --format parquet --seed 1` in bench/data/ (git-ignored, reused when present).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PY = sys.executable
CHURNWHY = str(Path(PY).with_name("churnwhy"))


def ensure_data(n: int, per_customer: int) -> Path:
    out = DATA / (f"parquet_{n}" if per_customer == 50 else f"parquet_{n}_e{per_customer}")
    if not (out / "truth.json").exists():
        subprocess.run([CHURNWHY, "demo", str(out), "--customers", str(n), "--format", "parquet", "--clean",
                        "--events-per-customer", str(per_customer), "--seed", "1", "--quiet"], check=True)
    return out


CHILD = """
import dataclasses, json, resource, sys, time
from churnwhy.config import Config
from churnwhy.pipeline import load_table
path, engine = sys.argv[1], sys.argv[2]
config = dataclasses.replace(Config.load(path), engine=engine)
if engine == "spark":
    from churnwhy.engine.spark import spark_session
    t = time.perf_counter(); spark_session(); started = time.perf_counter() - t
else:
    started = 0.0
t = time.perf_counter()
loaded = load_table(path, config)
seconds = time.perf_counter() - t
print(json.dumps({"engine": engine, "seconds": seconds, "session_start": started, "customers": loaded.table.n_customers,
                  "events": loaded.exports.rows_loaded, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def scale(args: argparse.Namespace) -> None:
    path = ensure_data(args.customers, args.events_per_customer)
    results = {}
    for engine in args.engines.split(","):
        env = {"CHURNWHY_SPARK_PARTITIONS": str(args.partitions), **__import__("os").environ}
        out = subprocess.run([PY, "-c", CHILD, str(path), engine], capture_output=True, text=True, env=env)
        if out.returncode:  # what stopped it (Spark's errors are on stderr)
            sys.exit(f"{engine} failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
        results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(results[engine]), flush=True)
    if len(results) < 2:
        return
    ratio = results["spark"]["seconds"] / results["local"]["seconds"]
    print(f"spark local[2] / default engine: {ratio:.1f}x (load + customer table, session start not counted: "
          f"{results['spark']['session_start']:.1f} s)")


def equal(args: argparse.Namespace) -> None:
    path = ensure_data(args.customers, 50)
    docs = {}
    for engine in ("local", "spark"):
        t = time.perf_counter()
        out = subprocess.run([CHURNWHY, "analyze", str(path), "--format", "json", "-q", "--engine", engine],
                             check=True, capture_output=True, text=True)
        docs[engine] = out.stdout
        print(f"{engine}: {time.perf_counter() - t:.1f} s", flush=True)
    from churnwhy.render.files import dumps

    doc = json.loads(docs["spark"])
    assert doc["input"].pop("engine") == "spark"
    same = dumps(doc) == docs["local"]
    print(f"{args.customers:,} customers: JSON identical apart from input.engine: {same}")
    if not same:
        sys.exit(1)


def definitions(args: argparse.Namespace) -> None:
    import numpy as np
    import polars as pl

    from churnwhy.load.codes import EventCodes
    from churnwhy.table import CIDX, _behaviour_sums

    n, m = args.customers, args.customers * args.events_per_customer
    rng = np.random.default_rng(1)
    types = [f"t{i}" for i in range(8)]
    enum = pl.Enum(types)
    start = rng.integers(18_000, 19_500, n).astype(np.int32)
    end = (start + rng.integers(30, 900, n)).astype(np.int32)
    cidx = rng.integers(0, n, m).astype(np.uint32)
    day = (start[cidx] + rng.integers(-30, 1000, m)).astype(np.int64)
    amount = np.where(rng.random(m) < 0.2, np.round(rng.random(m) * 100, 2), np.nan)
    frame = pl.DataFrame({"__src": np.zeros(m, np.uint16), CIDX: cidx,
                          "event_time": pl.Series(day * 86_400_000_000, dtype=pl.Int64).cast(pl.Datetime("us")),
                          "event_type": pl.Series(rng.integers(0, 8, m).astype(np.uint32)).cast(pl.UInt32),
                          "amount": pl.Series(amount).fill_nan(None)})
    frame = frame.with_columns(pl.col("event_type").replace_strict(list(range(8)), types, return_dtype=enum))
    codes = EventCodes(frame, pl.Series([f"c{i}" for i in range(n)]), ("bench",))
    spans = pl.DataFrame({CIDX: np.arange(n, dtype=np.uint32), "start_date": pl.Series(start).cast(pl.Date),
                          "end_date": pl.Series(end).cast(pl.Date)})
    groups, names, lookback = [[i] for i in range(8)], [f"n_{t}" for t in types], 180

    t = time.perf_counter()
    dense = _behaviour_sums(codes, spans, lookback, groups, names)
    numpy_s = time.perf_counter() - t

    t = time.perf_counter()
    days = pl.col("event_time").dt.epoch("d")
    ev = (frame.lazy().select(CIDX, days.alias("day"), pl.col("event_type").to_physical().alias("code"),
                              (pl.col("amount").fill_null(0.0) * 100).round(0).alias("cents"))
          .join(spans.lazy().select(CIDX, pl.col("start_date").cast(pl.Int32).alias("start"),
                                    pl.col("end_date").cast(pl.Int32).alias("end")), on=CIDX)
          .filter((pl.col("day") < pl.col("end")) & (pl.col("day") >= pl.col("start"))))
    win = pl.col("day") >= pl.col("end") - lookback
    late = pl.col("day") >= pl.col("end") - lookback + lookback // 2
    relational = ev.group_by(CIDX).agg(
        *[(win & pl.col("code").is_in(g)).sum().alias(name) for name, g in zip(names, groups, strict=True)],
        pl.col("cents").filter(win).sum().alias("amount_window"), (win & ~late).sum().alias("__first_half"),
        (win & late).sum().alias("__second_half"), pl.col("cents").sum().alias("amount_total"),
        pl.col("day").max().alias("last")).collect()
    relational_s = time.perf_counter() - t
    check = dense.join(relational, on=CIDX, how="inner", suffix="_r")
    assert (check["n_t0"] == check["n_t0_r"]).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n:,} customers, {m:,} events: numpy dense sums {numpy_s:.2f} s; relational group-by on Polars "
          f"{relational_s:.2f} s ({relational_s / numpy_s:.1f}x); peak RSS {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scale")
    s.add_argument("--customers", type=int, default=1_000_000)
    s.add_argument("--events-per-customer", type=int, default=50)
    s.add_argument("--partitions", type=int, default=8)
    s.add_argument("--engines", default="local,spark", help="which engines to run, in order (default both)")
    e = sub.add_parser("equal")
    e.add_argument("--customers", type=int, default=100_000)
    d = sub.add_parser("definitions")
    d.add_argument("--customers", type=int, default=200_000)
    d.add_argument("--events-per-customer", type=int, default=50)
    args = parser.parse_args()
    {"scale": scale, "equal": equal, "definitions": definitions}[args.command](args)


if __name__ == "__main__":
    main()
