"""Cohort retention matrix: signup period x periods since signup.

Definition (calendar-aligned, so every cell is a fixed date that the data either covers or not):
cohort c = customers whose start_date falls in calendar period c (ISO week from Monday, month or quarter).
Cell (c, k) ends on the last day of calendar period c + k. retention(c, k) = share of cohort c still active at
that day, i.e. not churned, or churned strictly after it (tenure counted from start_date). The cell is
observable only when that day is on or before as_of; otherwise it is null, never 0. Because the cell end is one
date for the whole cohort, an observable cell counts every member of the cohort: no partial cohorts.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from churnwhy.errors import ChurnwhyError
from churnwhy.results.survival import CohortMatrix
from churnwhy.table import CustomerTable

PERIODS = {"week": ("1w", "w"), "month": ("1mo", "mo"), "quarter": ("1q", "q")}
_MONDAY = dt.date(1970, 1, 5)


def _index(expr: pl.Expr, period: str) -> pl.Expr:
    """An integer per calendar period so that consecutive periods differ by 1."""
    if period == "month":
        return expr.dt.year().cast(pl.Int64) * 12 + expr.dt.month().cast(pl.Int64) - 1
    if period == "quarter":
        return expr.dt.year().cast(pl.Int64) * 4 + (expr.dt.month().cast(pl.Int64) - 1) // 3
    return (expr.dt.truncate("1w") - pl.lit(_MONDAY)).dt.total_days() // 7


def cohort_matrix(table: CustomerTable, period: str = "month") -> CohortMatrix:
    """Retention per signup cohort and period since signup (see the module docstring for the exact definition)."""
    if period not in PERIODS:
        raise ChurnwhyError(f"cohort period must be one of {', '.join(PERIODS)}, got {period!r}")
    every, unit = PERIODS[period]
    as_of = table.as_of
    if as_of is None:  # a table without any date (tenure and flag only) has no cohorts; callers check first
        raise ChurnwhyError("a cohort matrix needs signup dates and an analysis date (as_of)")
    notes: list[str] = []
    frame = table.frame.select("start_date", "tenure_days", pl.col("churned").fill_null(False))
    undated = frame["start_date"].null_count()
    if undated:
        notes.append(f"{undated} customer(s) without a signup date left out of the cohort matrix")
    frame = frame.filter(pl.col("start_date").is_not_null(), pl.col("tenure_days").is_not_null())
    empty = pl.DataFrame(schema={"cohort": pl.Date, "cohort_size": pl.Int64, "period": pl.Int64,
                                 "period_end": pl.Date, "active": pl.Int64, "retention": pl.Float64})
    if frame.height == 0:
        return CohortMatrix(period=period, as_of=as_of, frame=empty, notes=tuple(notes))
    churn_date = pl.col("start_date") + pl.duration(days=pl.col("tenure_days"))
    frame = frame.with_columns(
        cohort=pl.col("start_date").dt.truncate(every),
        c_idx=_index(pl.col("start_date"), period),
        j=pl.when(pl.col("churned")).then(_index(churn_date, period) - _index(pl.col("start_date"), period)),
    )
    # The last calendar period that has fully ended by as_of.
    as_of_lit = pl.lit(as_of, dtype=pl.Date)
    last_full = pl.select(
        _index(as_of_lit, period) - pl.when(as_of_lit.dt.truncate(every).dt.offset_by(f"1{unit}") - pl.duration(days=1)
                                           == as_of_lit).then(0).otherwise(1)
    ).item()
    cohorts = frame.group_by("cohort", "c_idx").agg(cohort_size=pl.len().cast(pl.Int64)).sort("cohort")
    max_k = max(int(last_full - cohorts["c_idx"].min()), 0)
    churns = frame.filter(pl.col("j").is_not_null()).group_by("cohort", pl.col("j").alias("period")).agg(
        n_churn=pl.len().cast(pl.Int64)
    )
    grid = (
        cohorts.join(pl.DataFrame({"period": pl.arange(0, max_k + 1, eager=True).cast(pl.Int64)}), how="cross")
        .join(churns, on=["cohort", "period"], how="left")
        .sort("cohort", "period")
        .with_columns(churned_by=pl.col("n_churn").fill_null(0).cum_sum().over("cohort"))
        .with_columns(
            period_end=pl.col("cohort").dt.offset_by(pl.format("{}" + unit, pl.col("period") + 1))
            - pl.duration(days=1),
            observable=pl.col("c_idx") + pl.col("period") <= last_full,
        )
        .with_columns(active=pl.when("observable").then(pl.col("cohort_size") - pl.col("churned_by")))
        .with_columns(retention=pl.col("active") / pl.col("cohort_size"))
        .select("cohort", "cohort_size", "period", "period_end", "active", "retention")
    )
    late = int(cohorts.filter(pl.col("c_idx") > last_full)["cohort_size"].sum())
    if late:
        notes.append(f"{late} customer(s) signed up in the current, unfinished {period}: their row is still empty")
    return CohortMatrix(period=period, as_of=as_of, frame=grid, notes=tuple(notes))
