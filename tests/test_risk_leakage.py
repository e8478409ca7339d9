"""Issue 17, no leakage: what happens after the backtest cutoff changes nothing in the backtest's scores, with the
backtest's table built on a random sample of the customers (as above `[risk] backtest_rows` customers)."""

from __future__ import annotations

import datetime as dt

import polars as pl
from risk_sim import AS_OF, simulate

from churnwhy.config import Config
from churnwhy.models.risk import RiskSettings
from churnwhy.models.risk_eval import backtest
from churnwhy.pipeline import load_table, past_table


def _backtest(path):  # type: ignore[no-untyped-def]
    cfg = Config.load(path, as_of=AS_OF)  # pinned: late events must not move the analysis date
    loaded = load_table(path, cfg)
    past = past_table(loaded)
    return past, backtest(past, loaded.table, RiskSettings.from_config(cfg), cfg)


def test_events_after_the_cutoff_change_no_backtest_score(tmp_path):
    truth = simulate(tmp_path / "a", 4000, 3)
    with (tmp_path / "a" / "churnwhy.toml").open("a") as f:
        f.write("\n[risk]\nbacktest_rows = 2500\n")
    past_a, before = _backtest(tmp_path / "a")
    cutoff = past_a.as_of
    assert cutoff == AS_OF - dt.timedelta(days=90) and before.skipped is None
    assert past_a.frame.height == 2500 and "random sample of 2,500" in before.note

    b = tmp_path / "b"
    b.mkdir()
    (b / "churnwhy.toml").write_text((tmp_path / "a" / "churnwhy.toml").read_text())
    # After the cutoff: a storm of tickets and a new event type for every customer, and cancellations that
    # end everyone still active on day cutoff + 10 -- each would change scores fitted on it.
    events = pl.read_parquet(tmp_path / "a" / "events.parquet")
    late = pl.DataFrame({"customer_id": truth["customer_id"]}).join(
        pl.DataFrame({"event_type": ["support_ticket"] * 5 + ["refund_storm"] * 3}), how="cross"
    ).with_columns(pl.lit(dt.datetime.combine(cutoff + dt.timedelta(days=5), dt.time(12))).alias("event_time"))
    pl.concat([events, late.select(events.columns).cast(events.schema)]).write_parquet(b / "events.parquet")
    customers = pl.read_csv(tmp_path / "a" / "customers.csv", try_parse_dates=True)
    # ... and customers who signed up after the cutoff, listed first (they must not change who is sampled)
    newcomers = customers.head(300).with_columns(
        ("N" + pl.col("customer_id")).alias("customer_id"), pl.lit(cutoff + dt.timedelta(days=3)).alias("signup_date"),
        pl.lit(None, pl.Date).alias("cancelled_at"))
    pl.concat([newcomers, customers.with_columns(
        pl.coalesce("cancelled_at", pl.lit(cutoff + dt.timedelta(days=10))).alias("cancelled_at")
    )]).write_csv(b / "customers.csv")

    past_b, after = _backtest(b)
    assert past_b.frame.select("customer_id", "churned", "tenure_days").equals(
        past_a.frame.select("customer_id", "churned", "tenure_days"))
    assert after.scores.select("customer_id", "churn_probability").equals(before.scores.select("customer_id", "churn_probability"))
    # ... only the outcome moved: everyone active at the cutoff has now churned by the analysis date
    assert after.n_churned == after.n_scored > before.n_churned
