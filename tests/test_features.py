"""The shared feature matrix (models.features): built once per table and handed to every model; a model that
reads some of the features gets exactly what filling those alone would give; worker counts come from the machine."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from churnwhy.models.features import feature_matrix, fill_features
from churnwhy.table import CustomerTable
from churnwhy.workers import MAX_WORKERS, worker_count


def _table(seed: int) -> CustomerTable:
    rng = np.random.default_rng(seed)
    n = 400
    rate = rng.gamma(1.0, 2.0, n)
    rate[rng.uniform(size=n) < 0.1] = np.nan  # missing rate: read as 0 events
    rate[0] = np.inf  # an infinite value: missing
    amount = rng.normal(50, 10, n)
    amount[rng.uniform(size=n) < 0.2] = np.nan  # median + amount_window_missing
    amount[1] = 1e6  # a far outlier: clipped, with a note
    change = rng.normal(0, 1, n)
    change[rng.uniform(size=n) < 0.3] = np.nan  # short lives: no change, no flag
    frame = pl.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "churned": rng.uniform(size=n) < 0.3,
        "rate_login": rate, "rate_ticket": rng.poisson(1.0, n).astype(float),
        "amount_window": amount, "days_since_last_event": np.full(n, np.nan), "activity_change": change,
    })
    return CustomerTable(frame=frame, as_of=dt.date(2024, 6, 30), event_types=("login", "ticket"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_subset_of_the_shared_matrix_equals_filling_those_features_alone(seed: int) -> None:
    table = _table(seed)
    shared = feature_matrix(table)
    assert not shared.x.flags.writeable  # read-only: one model cannot change what the next one reads
    assert "amount_window_missing" in shared.names and "days_since_last_event" not in shared.names
    for wanted in (["rate_login", "amount_window"], ["activity_change", "rate_ticket", "rate_login"],
                   list(table.features), ["days_since_last_event"]):
        got = shared.subset(wanted)
        alone = fill_features(table.frame.select(wanted), wanted)
        assert got is not None and got.names == alone.names and got.notes == alone.notes, wanted
        np.testing.assert_array_equal(got.x, alone.x)
        assert got.x.flags.f_contiguous or got.x.shape[1] <= 1  # the layout the models were fitted on
    assert any("clipped" in n for n in shared.notes) and any("infinite" in n for n in shared.notes)
    assert shared.subset(["rate_unknown"]) is None  # not an input: the caller fills it itself


def test_worker_count_follows_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import churnwhy.workers as W

    assert 1 <= worker_count() <= MAX_WORKERS
    monkeypatch.setattr(W.os, "sched_getaffinity", lambda pid: {0})
    assert worker_count() == 1
    monkeypatch.setattr(W.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert worker_count() == MAX_WORKERS and worker_count(cap=2) == 2
