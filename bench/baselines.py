"""What an analyst would write instead of churnwhy, for comparison: pandas + lifelines, and DuckDB SQL.

Usage: python bench/baselines.py pandas|duckdb DIR  -> one JSON object on the last stdout line (seconds per step,
peak RSS). Both do the same per-customer aggregation of the demo's clean exports (customers, events): counts per
event type, amounts and last event in the 180 days before each customer's end (churn date, else the latest
date in the data); pandas then fits Kaplan-Meier and a Cox model on that table, as a notebook would.
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


def run_duckdb(path: str) -> dict:
    import duckdb

    steps: dict[str, float] = {}
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    cf, fmt = _files(path, "customers")
    ef, _ = _files(path, "events")
    reader = "read_parquet" if fmt == "parquet" else "read_csv_auto"
    t = time.perf_counter()
    con.execute(f"CREATE VIEW cust AS SELECT * FROM {reader}('{cf}')")
    con.execute(f"CREATE VIEW ev AS SELECT customer_id, event_time, event_type, amount FROM {reader}('{ef}')")
    types = [r[0] for r in con.execute("SELECT DISTINCT event_type FROM ev ORDER BY 1").fetchall()]
    steps["distinct_types"] = time.perf_counter() - t
    counts = ", ".join(f"count(*) FILTER (WHERE w.event_type = '{x}') AS n_{x}" for x in types)
    t = time.perf_counter()
    con.execute("CREATE TABLE result AS " + SQL.format(lookback=LOOKBACK, counts=counts))  # materialised, not fetched
    steps["aggregate"] = time.perf_counter() - t
    n = con.execute("SELECT count(*) FROM result").fetchone()[0]
    return {"steps": steps, "total_s": sum(steps.values()), "peak_mib": peak_mib(), "customers": n}


if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    print(json.dumps({"pandas": run_pandas, "duckdb": run_duckdb}[kind](path)))
