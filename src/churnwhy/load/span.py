"""What the loaded data can answer: every row rejected, or an analysis date outside the data's dates, is said
plainly instead of surfacing later as "no dates anywhere" or as everyone churned."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import cast

import polars as pl

from churnwhy.errors import InputError
from churnwhy.load.loaded import Exports


def check_loaded(exports: Exports) -> None:
    """An input error when every row read was rejected (naming the reasons), or nothing was read at all."""
    if exports.rows_loaded or (exports.customers is not None and exports.customers.height):
        return
    counts = exports.reject_counts()
    if exports.rows_read == 0:
        raise InputError("the exports hold a header and no rows",
                         hint="re-export them with their rows, or point churnwhy at the folder that has them")
    listed = ", ".join(f"{n:,} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    raise InputError(f"every one of the {exports.rows_read:,} input rows was rejected ({listed})",
                     hint="see each row and why with --rejects rejects.csv; fix the column mapping in churnwhy.toml "
                          "or the exports")


def span(exports: Exports) -> tuple[dt.date, dt.date] | None:
    """The earliest and latest date anywhere in the data (signups, churn dates, events, surveys)."""
    found: list[dt.datetime] = []
    for frame, cols in ((exports.customers, ("signup_date", "churn_date")), (exports.surveys, ("survey_date",))):
        for c in cols:
            if frame is not None and c in frame.columns and frame[c].drop_nulls().len():
                found += [cast(dt.datetime, frame[c].min()), cast(dt.datetime, frame[c].max())]  # datetime columns
    if exports.event_codes is not None:
        lo, hi = exports.event_codes.lazy().select(
            pl.col("event_time").min(), pl.col("event_time").max().alias("hi")).collect().row(0)
        found += [d for d in (lo, hi) if d is not None]
    if not found:
        return None
    return min(found).date(), max(found).date()


MAX_DAYS_AFTER = 3653  # ten years: an analysis date further out observes nothing and only inflates the cohort table


def check_as_of(exports: Exports, as_of: dt.date | None) -> Exports:
    """An input error for an analysis date before all the data; warnings when it is after all of it, or leaves
    out customers who signed up later (a back-dated analysis)."""
    if as_of is None:
        return exports
    found = span(exports)
    if found is None:
        return exports
    first, last = found
    if as_of < first:
        raise InputError(f"--as-of {as_of} is before every date in the data ({first} to {last}): no customer had "
                         "signed up by then",
                         hint=f"pass a date between {first} and {last}, or leave --as-of out (the latest date in the data)")
    if (as_of - last).days > MAX_DAYS_AFTER:  # nothing observed then; every cohort column up to it (9999-12-31 crashed)
        raise InputError(f"--as-of {as_of} is {(as_of - last).days // 365:,} years after the latest date in the data ({last})",
                         hint=f"pass a date within ten years of {last}, or leave --as-of out (the latest date in the data)")
    warnings = []
    if as_of > last:
        warnings.append(f"--as-of {as_of} is {(as_of - last).days} days after the latest date in the data ({last}): "
                        "customers without an end date count as customers until then, and inactivity rules may "
                        "count the quiet ones as churned")
    c = exports.customers
    if c is not None and "signup_date" in c.columns:
        later = int((c["signup_date"].dt.date() > as_of).sum())
        if later:
            warnings.append(f"--as-of {as_of}: {later:,} customers signed up after it and are left out")
    if not warnings:
        return exports
    return dataclasses.replace(exports, warnings=(*exports.warnings, *warnings))
