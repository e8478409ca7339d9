"""The table's churn date for a churn flag without one, and the backtest's table as of the cutoff for flag exports
(issue 17): a flag says who had left by today, so the past keeps the flag's definition through the dated churn."""

from __future__ import annotations

import datetime as dt

import polars as pl

from churnwhy.config import Config
from churnwhy.pipeline import load_table, past_table

D = dt.date
CUSTOMERS = ("customer_id,signup_date,churned,plan\n"
             "A,2024-01-01,yes,basic\n"   # left: last activity 2024-03-01, before the cutoff
             "B,2024-01-01,yes,basic\n"   # left: last activity 2024-06-10, after the cutoff
             "C,2024-01-01,no,plus\n"     # stays, though silent since January (the flag, not inactivity, decides)
             "D,2024-05-01,no,plus\n"     # signed up after the cutoff
             "E,2024-01-01,yes,plus\n")   # left, no activity at all: no date
EVENTS = ("customer_id,event_type,event_time\n"
          "A,login,2024-01-05\nA,login,2024-03-01\nB,login,2024-02-01\nB,login,2024-06-10\n"
          "C,login,2024-01-15\nD,login,2024-05-02\nD,login,2024-06-20\n")


def _loaded(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "events.csv").write_text(EVENTS)
    cfg = Config.load(tmp_path, as_of=D(2024, 6, 30))
    return load_table(tmp_path, cfg)


def _row(frame: pl.DataFrame, cid: str) -> dict:
    return frame.filter(pl.col("customer_id") == cid).row(0, named=True)


def test_a_flag_without_a_date_is_dated_by_the_last_activity_and_says_so(tmp_path):
    table = _loaded(tmp_path).table
    a, e = _row(table.frame, "A"), _row(table.frame, "E")
    assert (a["churned"], a["churn_source"], a["end_date"], a["tenure_days"]) == (True, "flag_last_event", D(2024, 3, 1), 60)
    assert (e["churned"], e["churn_source"], e["end_date"]) == (True, "flag_tenure", None)
    assert _row(table.frame, "C")["churned"] is False
    assert "assumed: the churn date is the customer's last activity" in table.churn_rule


def test_the_past_keeps_the_flag_definition_through_the_dated_churn(tmp_path):
    past = past_table(_loaded(tmp_path))
    assert past.as_of == D(2024, 4, 1)
    assert sorted(past.frame["customer_id"]) == ["A", "B", "C"]  # D had not started; E's churn has no date
    a, b, c = (_row(past.frame, k) for k in "ABC")
    assert (a["churned"], a["end_date"]) == (True, D(2024, 3, 1))  # its dated churn is before the cutoff
    assert (b["churned"], b["end_date"], b["tenure_days"]) == (False, D(2024, 4, 1), 91)  # it left after the cutoff
    assert c["churned"] is False  # silent since January, but the flag says it stayed: not churned by inactivity
