"""Leakage: events after a customer's churn date never reach the drivers model."""

from __future__ import annotations

import datetime as dt

import polars as pl

from churnwhy.config import Config
from churnwhy.demo import generate
from churnwhy.models.drivers import fit_drivers
from churnwhy.pipeline import load_table


def test_events_after_churn_change_nothing(tmp_path):
    src = tmp_path / "before"
    truth = generate(src, customers=2500, seed=8, format="csv", messy=False)
    # The analysis date is pinned (late events would otherwise move the data's latest date), and churn comes
    # from the explicit dates only, in both runs.
    cfg = Config(inactivity_days=0, as_of=dt.date.fromisoformat(truth.summary["as_of"]))
    before = fit_drivers(load_table(src, cfg).table, cfg)

    after = tmp_path / "after"
    after.mkdir()
    for f in src.iterdir():
        (after / f.name).write_bytes(f.read_bytes())
    churners = pl.read_csv(src / "customers.csv", infer_schema=False).filter(pl.col("churn_date").is_not_null())
    # A storm of failures, complaints and tickets after each churn date: would swamp the model if it leaked.
    late = churners.select(
        "customer_id",
        (pl.col("churn_date").str.to_date() + pl.duration(days=3)).dt.strftime("%Y-%m-%dT10:00:00").alias("event_time"),
    ).join(pl.DataFrame({"event_type": ["delivery_failed", "complaint", "support_ticket"] * 3}), how="cross")
    events = pl.read_csv(src / "events.csv", infer_schema=False)
    pl.concat([events, late.with_columns(pl.lit(None, pl.String).alias("amount")).select(events.columns)]).write_csv(
        after / "events.csv")
    leaked = fit_drivers(load_table(after, cfg).table, cfg)

    assert before.to_dict() == leaked.to_dict()
