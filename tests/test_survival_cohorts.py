"""Cohort retention matrix on a tiny example computed by hand (definition in models/cohorts.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from churnwhy.errors import ChurnwhyError
from churnwhy.models.cohorts import cohort_matrix
from churnwhy.table import CustomerTable

D = dt.date
FRAME = pl.DataFrame({
    #                Jan cohort (3)                 Feb cohort (2)              Mar (1)      no date
    "start_date": [D(2024, 1, 5), D(2024, 1, 20), D(2024, 1, 31), D(2024, 2, 10), D(2024, 2, 11), D(2024, 3, 3), None],
    "tenure_days": [10, 40, 60, 19, 20, 5, 9],
    "churned": [True, True, False, True, False, False, True],
})


def test_monthly_matrix_by_hand():
    """Churn dates: Jan 15 (period 0), Feb 29 = last day of period 1 (not active at its end), Feb 29 for the Feb
    cohort (period 0). as_of = Mar 31, so March has ended: Feb k=2 and Mar k>=1 are not observable (null, not 0)."""
    m = cohort_matrix(CustomerTable(frame=FRAME, as_of=D(2024, 3, 31)))
    wide = m.to_frame(wide=True)
    assert wide.columns == ["cohort", "cohort_size", "0", "1", "2"]
    assert wide["cohort"].to_list() == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert wide["cohort_size"].to_list() == [3, 2, 1]
    assert wide["0"].to_list() == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert wide["1"].to_list()[:2] == pytest.approx([1 / 3, 1 / 2]) and wide["1"][2] is None
    assert wide["2"][0] == pytest.approx(1 / 3) and wide["2"].to_list()[1:] == [None, None]
    long = m.to_frame()
    assert long.filter(pl.col("retention").is_null())["active"].null_count() == 3
    assert long.filter(pl.col("cohort") == D(2024, 2, 1))["period_end"].to_list() == [
        D(2024, 2, 29), D(2024, 3, 31), D(2024, 4, 30)]
    assert any("1 customer(s) without a signup date" in n for n in m.notes)


def test_unfinished_period_is_not_observable():
    """as_of = Mar 30: March has not ended, so March cells are null and Feb k=1 too."""
    m = cohort_matrix(CustomerTable(frame=FRAME, as_of=D(2024, 3, 30)))
    wide = m.to_frame(wide=True)
    assert wide.columns == ["cohort", "cohort_size", "0", "1"]
    assert wide["1"].to_list() == [pytest.approx(1 / 3), None, None]
    assert wide["0"][2] is None
    assert any("current, unfinished month" in n for n in m.notes)


def test_quarter_and_week_periods():
    q = cohort_matrix(CustomerTable(frame=FRAME, as_of=D(2024, 6, 30)), period="quarter").to_frame(wide=True)
    # One Q1 cohort of 6; churned by Mar 31: Jan 15, Feb 29, Feb 29 -> 3/6 active at the end of Q1.
    assert q["cohort_size"].to_list() == [6] and q["0"].to_list() == [0.5] and q["1"].to_list() == [0.5]
    w = cohort_matrix(CustomerTable(frame=FRAME, as_of=D(2024, 1, 21)), period="week").to_frame()
    # Jan 5 is a Friday: ISO week from Monday Jan 1. Week 0 ends Sun Jan 7, week 1 Jan 14, week 2 Jan 21 (= as_of).
    first = w.filter(pl.col("cohort") == D(2024, 1, 1))
    assert first["period_end"].to_list() == [D(2024, 1, 7), D(2024, 1, 14), D(2024, 1, 21)]
    assert first["retention"].to_list() == [1.0, 1.0, 0.0]  # churned Jan 15, in week 2
    with pytest.raises(ChurnwhyError, match="cohort period"):
        cohort_matrix(CustomerTable(frame=FRAME, as_of=D(2024, 3, 31)), period="year")
