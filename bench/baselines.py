"""What an analyst would write instead of churnwhy, for comparison: pandas + lifelines, and DuckDB SQL.

Usage: python bench/baselines.py pandas|duckdb|duckdb-table DIR  -> one JSON object on the last stdout line
(seconds per step, peak RSS). `pandas` and `duckdb` do the per-customer aggregation an analyst would write for the
demo's clean exports (customers, events): counts per event type, amounts and last event in the 180 days before
each customer's end (churn date, else the latest date in the data); pandas then fits Kaplan-Meier and a Cox
model on that table, as a notebook would. `duckdb-table` computes churnwhy's own customer table in SQL (the same
work as load + table: duplicates and unknown customers dropped, churn decided, every window feature);
`check-table DIR` compares it with churnwhy's table column by column (all zeros = the same table).
"""

from __future__ import annotations

import glob
import json
import resource
import sys
import time

LOOKBACK = 180


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _files(path: str, name: str) -> tuple[str, str]:
    found = sorted(glob.glob(f"{path}/{name}.*"))
    return found[0], ("parquet" if found[0].endswith(".parquet") else "csv")


def run_pandas(path: str) -> dict:
    import numpy as np
    import pandas as pd
    from lifelines import CoxPHFitter, KaplanMeierFitter

    steps: dict[str, float] = {}
    t = time.perf_counter()
    cf, fmt = _files(path, "customers")
    ef, _ = _files(path, "events")
    if fmt == "parquet":
        cust = pd.read_parquet(cf)
        ev = pd.read_parquet(ef, columns=["customer_id", "event_time", "event_type", "amount"])
    else:
        cust = pd.read_csv(cf, dtype={"customer_id": str}, parse_dates=["signup_date", "churn_date"])
        ev = pd.read_csv(ef, dtype={"customer_id": str}, usecols=["customer_id", "event_time", "event_type", "amount"])
        ev["event_time"] = pd.to_datetime(ev["event_time"], format="ISO8601")
    steps["read"] = time.perf_counter() - t
    t = time.perf_counter()
    cust["signup_date"] = pd.to_datetime(cust["signup_date"])
    cust["churn_date"] = pd.to_datetime(cust["churn_date"])
    as_of = max(ev["event_time"].max().normalize(), cust["churn_date"].max())
    cust["end"] = cust["churn_date"].fillna(as_of)
    ev["day"] = ev["event_time"].dt.normalize()
    ev = ev.merge(cust[["customer_id", "signup_date", "end"]], on="customer_id", how="inner")
    ev = ev[(ev["day"] < ev["end"]) & (ev["day"] >= ev["end"] - pd.Timedelta(days=LOOKBACK))]
    counts = pd.crosstab(ev["customer_id"], ev["event_type"]).add_prefix("n_")
    per = ev.groupby("customer_id").agg(amount_window=("amount", "sum"), last_event=("day", "max"))
    table = cust.set_index("customer_id").join(counts).join(per)
    table[counts.columns] = table[counts.columns].fillna(0)
    table["amount_window"] = table["amount_window"].fillna(0)
    table["days_since_last_event"] = (table["end"] - table["last_event"]).dt.days
    table["tenure_days"] = (table["end"] - table["signup_date"]).dt.days.clip(lower=0)
    table["churned"] = table["churn_date"].notna().astype(int)
    steps["aggregate"] = time.perf_counter() - t
    t = time.perf_counter()
    KaplanMeierFitter().fit(table["tenure_days"], table["churned"])
    steps["kaplan_meier"] = time.perf_counter() - t
    t = time.perf_counter()
    covariates = [c for c in table.columns if c.startswith("n_") and not c.startswith("n_cancel")][:6] + ["amount_window"]
    data = table[covariates + ["tenure_days", "churned"]].copy()
    data[covariates] = (data[covariates] - data[covariates].mean()) / data[covariates].std().replace(0, 1)
    data = data[data["tenure_days"] > 0]
    CoxPHFitter(penalizer=0.01).fit(data, duration_col="tenure_days", event_col="churned")
    steps["cox"] = time.perf_counter() - t
    _ = np
    return {"steps": steps, "total_s": sum(steps.values()), "peak_mib": peak_mib(), "customers": len(table)}


SQL = """
WITH c AS (
  SELECT customer_id, signup_date, coalesce(churn_date, (SELECT max(event_time)::DATE FROM ev)) AS end_date FROM cust
), w AS (
  SELECT e.customer_id, e.event_type, e.amount, e.event_time::DATE AS day, c.end_date
  FROM ev e JOIN c USING (customer_id)
  WHERE e.event_time::DATE < c.end_date AND e.event_time::DATE >= c.end_date - INTERVAL {lookback} DAY
)
SELECT c.customer_id, c.signup_date, c.end_date, {counts},
       coalesce(sum(w.amount), 0) AS amount_window, max(w.day) AS last_event
FROM c LEFT JOIN w USING (customer_id)
GROUP BY ALL
"""


def _duckdb_views(path: str):  # type: ignore[no-untyped-def]
    """A 2-thread DuckDB connection with views cust, ev (the four event columns) and sv (survey dates)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    cf, fmt = _files(path, "customers")
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    con.execute(f"CREATE VIEW cust AS SELECT * FROM {reader}('{cf}')")
    con.execute(f"CREATE VIEW ev AS SELECT customer_id, event_time, event_type, amount FROM {reader}('{_files(path, 'events')[0]}')")
    con.execute(f"CREATE VIEW sv AS SELECT survey_date FROM {reader}('{_files(path, 'surveys')[0]}')")
    return con


def run_duckdb(path: str) -> dict:
    steps: dict[str, float] = {}
    t = time.perf_counter()
    con = _duckdb_views(path)
    types = [r[0] for r in con.execute("SELECT DISTINCT event_type FROM ev ORDER BY 1").fetchall()]
    steps["distinct_types"] = time.perf_counter() - t
    counts = ", ".join(f"count(*) FILTER (WHERE w.event_type = '{x}') AS n_{x}" for x in types)
    t = time.perf_counter()
    con.execute("CREATE TABLE result AS " + SQL.format(lookback=LOOKBACK, counts=counts))  # materialised, not fetched
    steps["aggregate"] = time.perf_counter() - t
    n = con.execute("SELECT count(*) FROM result").fetchone()[0]
    return {"steps": steps, "total_s": sum(steps.values()), "peak_mib": peak_mib(), "customers": n}


# churnwhy's own customer table in SQL: the same work as load + build_customer_table on clean exports (exact
# duplicate events dropped, events of unknown customers dropped, churn from an explicit date, else a
# cancellation event, else 90 days of inactivity; every count, amount, recency and trend feature in the 180 days
# before each customer's end). Its result is compared with churnwhy's table column by column (--check).
CANCEL = "(?i)cancel|unsubscri|close[ _-]?account|terminat|churn|end[ _-]?subscription"
TABLE_SQL = """
CREATE TABLE e AS
  SELECT DISTINCT customer_id, event_time, lower(event_type) AS event_type, amount,
         event_time::DATE AS day, regexp_matches(lower(event_type), '{cancel}') AS is_cancel
  FROM ev SEMI JOIN cust USING (customer_id);
CREATE TABLE result AS
WITH a AS (
  SELECT greatest((SELECT max(day) FROM e), (SELECT max(signup_date) FROM cust), (SELECT max(churn_date) FROM cust),
                  (SELECT max(survey_date) FROM sv))::DATE AS as_of
), s AS (
  SELECT customer_id, min(day) AS first_event, max(day) FILTER (WHERE NOT is_cancel) AS last_event,
         min(day) FILTER (WHERE is_cancel) AS first_cancel
  FROM e, a WHERE day <= a.as_of GROUP BY customer_id
), c AS (
  SELECT cust.customer_id, cust.signup_date::DATE AS start_date, cust.churn_date::DATE AS churn_date, s.first_cancel,
         s.last_event, a.as_of,
         CASE WHEN cust.churn_date IS NOT NULL AND cust.churn_date <= a.as_of THEN 'explicit_date'
              WHEN s.first_cancel IS NOT NULL AND (cust.signup_date IS NULL OR s.first_cancel >= cust.signup_date) THEN 'cancel_event'
              WHEN s.last_event IS NOT NULL AND a.as_of - s.last_event >= {inactivity} THEN 'inactivity'
              ELSE 'active' END AS churn_source
  FROM cust LEFT JOIN s USING (customer_id), a
  WHERE cust.signup_date IS NULL OR cust.signup_date <= a.as_of
), d AS (
  SELECT *, CASE churn_source WHEN 'explicit_date' THEN churn_date WHEN 'cancel_event' THEN first_cancel
                              WHEN 'inactivity' THEN last_event ELSE as_of END AS end_date
  FROM c
), w AS (
  SELECT e.customer_id, e.event_type, e.amount, e.day, d.end_date - {lookback} AS win_start
  FROM e JOIN d USING (customer_id) WHERE e.day < d.end_date AND e.day >= d.start_date
)
SELECT d.customer_id, d.start_date, d.end_date, d.churn_source,
       greatest(d.end_date - greatest(d.start_date, d.end_date - {lookback}), 1) AS exposure_days, {counts},
       coalesce(sum(w.amount) FILTER (WHERE w.day >= w.win_start), 0) AS amount_window,
       coalesce(sum(w.amount), 0) AS amount_total,
       d.end_date - max(w.day) AS days_since_last_event,
       count(w.day) FILTER (WHERE w.day >= w.win_start AND w.day < w.win_start + {half}) AS first_half,
       count(w.day) FILTER (WHERE w.day >= w.win_start + {half}) AS second_half
FROM d LEFT JOIN w USING (customer_id)
GROUP BY d.customer_id, d.start_date, d.end_date, d.churn_source
"""


def run_duckdb_table(path: str, out: str | None = None) -> dict:
    """churnwhy's customer table (behaviour part) computed by DuckDB from the same files."""
    steps: dict[str, float] = {}
    t = time.perf_counter()
    con = _duckdb_views(path)
    types = [r[0] for r in con.execute(
        f"SELECT DISTINCT lower(event_type) FROM ev WHERE NOT regexp_matches(lower(event_type), '{CANCEL}') ORDER BY 1").fetchall()]
    steps["distinct_types"] = time.perf_counter() - t
    counts = ", ".join(f"count(w.day) FILTER (WHERE w.event_type = '{x}' AND w.day >= w.win_start) AS n_{x}" for x in types)
    t = time.perf_counter()
    con.execute(TABLE_SQL.format(cancel=CANCEL, inactivity=90, lookback=LOOKBACK, half=LOOKBACK // 2, counts=counts))
    steps["aggregate"] = time.perf_counter() - t
    n = con.execute("SELECT count(*) FROM result").fetchone()[0]
    if out:
        con.execute(f"COPY (SELECT * FROM result ORDER BY customer_id) TO '{out}' (FORMAT parquet)")
    return {"steps": steps, "total_s": sum(steps.values()), "peak_mib": peak_mib(), "customers": n}


def check_table(path: str, duck_parquet: str) -> dict:
    """DuckDB's table against churnwhy's, column by column: counts equal, amounts to the cent, dates equal."""
    import polars as pl

    from churnwhy.config import Config
    from churnwhy.load import load_exports
    from churnwhy.table import build_customer_table

    config = Config.load(path)
    ours = build_customer_table(load_exports(path, config), config).frame.sort("customer_id")
    duck = pl.read_parquet(duck_parquet).sort("customer_id")
    diffs: dict[str, int] = {"rows": abs(ours.height - duck.height)}
    joined = ours.join(duck, on="customer_id", how="inner", suffix="_duck")
    diffs["unmatched_ids"] = ours.height - joined.height

    def differ(col: str, dtype: pl.DataType) -> int:  # rows where the two tables disagree on col
        a, b = pl.col(col).cast(dtype), pl.col(f"{col}_duck").cast(dtype)
        return int(joined.select((~a.eq_missing(b)).sum()).item())

    ours_counts = {c for c in ours.columns if c.startswith("n_")}
    duck_counts = {c for c in duck.columns if c.startswith("n_")}
    diffs["count_columns"] = len(ours_counts ^ duck_counts)  # event types one table has and the other not
    for col in ("start_date", "end_date"):
        diffs[col] = differ(col, pl.Date)
    diffs["churn_source"] = differ("churn_source", pl.String)
    for col in ("exposure_days", "days_since_last_event", *sorted(ours_counts & duck_counts)):
        diffs[col] = differ(col, pl.Float64)
    for col in ("amount_window", "amount_total"):
        diffs[col] = int(joined.select(((pl.col(col) - pl.col(f"{col}_duck").fill_null(0)).abs() > 0.005).sum()).item())
    trend = (pl.col("second_half") - pl.col("first_half")) / (pl.col("first_half") + 1)
    diffs["activity_change"] = int(joined.select(((pl.col("activity_change") - trend).abs() > 1e-12).sum()).item())
    return diffs


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "check-table":  # python bench/baselines.py check-table DIR  (DuckDB's table vs churnwhy's)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            out = f"{tmp}/duck.parquet"
            run_duckdb_table(path, out)
            print(json.dumps(check_table(path, out)))
    else:
        print(json.dumps({"pandas": run_pandas, "duckdb": run_duckdb, "duckdb-table": run_duckdb_table}[kind](path)))
