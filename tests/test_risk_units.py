"""The pieces behind `churnwhy risk`, each against an outside definition: the Breslow baseline and conditional
probability against lifelines, observed / expected against R's survdiff expected counts, beliefs, the playbook's
lookup order and monthly churn by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest
from lifelines import CoxPHFitter

from churnwhy.errors import ConfigError
from churnwhy.models.actions import assign, playbook
from churnwhy.models.beliefs import evaluate, parse_beliefs
from churnwhy.models.revenue import concentration, revenue_view
from churnwhy.models.risk import breslow, shrunk_rate
from churnwhy.table import CustomerTable


def test_breslow_and_conditional_probability_match_lifelines():
    """lifelines' baseline_cumulative_hazard_ is Breslow's at the covariate means; S(a + h | x) / S(a | x) is the
    conditional survival lifelines' predict_survival_function gives."""
    rng = np.random.default_rng(4)
    n = 400
    x = rng.normal(size=(n, 2))
    t = np.ceil(rng.exponential(100 * np.exp(-x @ [0.5, -0.3]))).clip(1, 300)
    e = (t < 300) & (rng.random(n) < 0.8)
    df = pd.DataFrame(x, columns=["a", "b"]).assign(T=t, E=e.astype(int))
    cox = CoxPHFitter().fit(df, "T", "E")
    beta = cox.params_[["a", "b"]].to_numpy()
    centred = (x - x.mean(axis=0)) @ beta
    times, h0 = breslow(t, e, centred)
    ref = cox.baseline_cumulative_hazard_.iloc[:, 0]
    assert h0 == pytest.approx(ref.loc[times].to_numpy(), rel=1e-6)
    a, h = 50.0, 90.0
    sf = cox.predict_survival_function(df.iloc[:5], times=[a, a + h]).to_numpy()
    i = np.searchsorted(times, [a, a + h], side="right") - 1
    mine = 1 - np.exp(-(h0[i[1]] - h0[i[0]]) * np.exp(centred[:5]))
    assert mine == pytest.approx(1 - sf[1] / sf[0], rel=1e-6)


def test_shrunk_rate_pulls_short_exposures_to_the_mean():
    frame = pl.DataFrame({"n_login": [0, 6, 60, 60], "exposure_days": [1, 1, 180, 180], "rate_login": [0.0, 180.0, 10.0, 10.0]})
    frame = pl.concat([frame, pl.DataFrame({"n_login": list(range(0, 40)), "exposure_days": [180] * 40,
                                            "rate_login": [k / 6 for k in range(40)]})])
    v = shrunk_rate(frame, "rate_login")
    assert 0 < v[1] < 20 and v[0] > 0  # one day observed: near the average, not 180 or 0 a month
    assert v[2] == pytest.approx(10.0, rel=0.15)  # 180 days observed: near its own rate
    assert shrunk_rate(frame, "amount_window") is None


def _table(frame: pl.DataFrame, segments=("plan",), as_of=dt.date(2024, 3, 31)) -> CustomerTable:
    return CustomerTable(frame, as_of, segments=segments)


def test_observed_over_expected_equals_survdiff_expected_counts():
    """R: survdiff(Surv(t, e) ~ g) reports per group Expected = sum over event times of n_g(t) d(t) / n(t)."""
    t = np.array([1, 2, 2, 3, 4, 5, 5, 6, 8, 9] * 4)
    e = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 0] * 4, dtype=bool)
    g = np.array(["a", "a", "b", "b", "a", "b", "a", "b", "b", "a"] * 4)
    frame = pl.DataFrame({"tenure_days": t, "churned": e, "plan": g})
    res = concentration(_table(frame), min_size=5, max_levels=10)
    for level in ("a", "b"):
        expected = sum(((t >= s) & (g == level)).sum() * ((t == s) & e).sum() / (t >= s).sum() for s in np.unique(t[e]))
        row = next(r for r in res.rows if r.level == level)
        assert row.expected == pytest.approx(expected) and row.observed == int((e & (g == level)).sum())
        assert row.ci_low < row.ratio < row.ci_high
    assert sum(r.observed for r in res.rows) == pytest.approx(sum(r.expected for r in res.rows))


def test_monthly_churn_by_customers_and_revenue_by_hand():
    d = dt.date
    frame = pl.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "start_date": [d(2024, 1, 5), d(2024, 1, 5), d(2024, 1, 5), d(2024, 2, 10)],
        "end_date": [d(2024, 2, 15), d(2024, 3, 31), d(2024, 3, 3), d(2024, 3, 31)],
        "churned": [True, False, True, False],
        "amount_window": [30.0, 60.0, 90.0, 0.0], "exposure_days": [30, 60, 30, 50],
        "why": ["better_offer", None, "brand_failed", None], "what": ["price", None, "experience", None],
        "tenure_days": [41, 86, 58, 50],
    })
    res = revenue_view(_table(frame, segments=()))
    months = {m.month: m for m in res.months}
    # February: a, b, c active on Feb 1 (d not yet), a leaves: 1/3 by customers; value 30 of 30+30+90
    assert (months["2024-02"].active_start, months["2024-02"].churned) == (3, 1)
    assert months["2024-02"].revenue_rate == pytest.approx(30 / 150)
    # March (as_of is its last day, so it is whole): b, c, d active on Mar 1, c leaves
    assert (months["2024-03"].active_start, months["2024-03"].churned) == (3, 1)
    assert months["2024-03"].revenue_rate == pytest.approx(90 / (30 + 90 + 0))
    why = {r.label: r for r in res.by_reason if r.axis == "why"}
    assert why["brand_failed"].revenue_share == pytest.approx(0.75) and why["better_offer"].share == pytest.approx(0.5)
    assert res.revenue_lost == pytest.approx(120.0)


def test_belief_verdicts():
    measured = {"why": [{"category": "brand_failed", "share": 0.30, "ci_low": 0.25, "ci_high": 0.35},
                        {"category": "better_offer", "share": 0.60, "ci_low": 0.55, "ci_high": 0.65}],
                "what": [{"category": "price", "share": 0.2, "ci_low": 0.15, "ci_high": 0.25}]}
    res = evaluate({"price": "50%", "brand_failed": 0.1, "better_offer": 0.62,
                    "compare": ["brand_failed > better_offer", "better_offer > brand_failed", "why.brand_failed < what.price"]}, measured)
    verdicts = {c.statement: c.verdict for c in res.checks}
    assert verdicts == {"price = 50%": "overstated", "brand_failed = 10%": "understated", "better_offer = 62%": "consistent",
                        "brand_failed > better_offer": "contradicted", "better_offer > brand_failed": "consistent",
                        "brand_failed < price": "contradicted"}
    measured["why"][1] = {"category": "better_offer", "share": 0.70, "ci_low": 0.65, "ci_high": 0.75}
    bench = evaluate({}, measured)
    assert bench.source == "external_benchmark" and [c.verdict for c in bench.checks] == ["consistent", "understated", "consistent"]
    assert [c.believed for c in bench.checks] == [0.30, 0.59, 0.20]
    with pytest.raises(ConfigError):
        parse_beliefs({"why.price": 0.2})


def test_playbook_lookup_order_and_overrides():
    rules = playbook({"better_offer/price": "match the price", "family:product": "nudge"})
    s = lambda *v: pl.Series(list(v), dtype=pl.String)  # noqa: E731
    got = assign(s("better_offer", "better_offer", "no call", "no call", "circumstance"),
                 s("price", "no call", "no call", "no call", "no call"),
                 s("experience", "experience", "product", None, None), rules)
    assert got.to_list() == ["match the price", "retention offer", "nudge", "monitor: no clear lever", "offer a pause or a downgrade"]
    with pytest.raises(ConfigError):
        playbook({"family:weather": "x"})
