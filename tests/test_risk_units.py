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
from churnwhy.models.risk import breslow
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


def test_scorer_reads_attribute_levels_on_any_table_and_reuses_the_drivers_fit(tmp_path):
    """The scores come from the drivers model itself (same features and coefficients); a held-out part of the
    table whose commonest plan differs from the fit's still reads the fitted level (not a column of zeros)."""
    from churnwhy.config import Config
    from churnwhy.models.drivers import fit_driver_model
    from churnwhy.models.risk import RiskScorer

    rng = np.random.default_rng(2)
    n = 3000
    plus = rng.random(n) < 0.45
    t = np.ceil(rng.exponential(400 * np.exp(0.6 * plus))).clip(1, 700)
    frame = pl.DataFrame({"customer_id": [f"c{i:05d}" for i in range(n)], "start_date": [None] * n, "end_date": [None] * n,
                          "tenure_days": t.astype(np.int64), "churned": t < 700,
                          "plan": np.where(plus, "plus", "basic")}).cast({"start_date": pl.Date, "end_date": pl.Date})
    table = CustomerTable(frame, None, segments=("plan",))
    cfg = Config()
    model = fit_driver_model(table, cfg)
    scorer = RiskScorer(model, table)
    assert scorer.features == model.features_ == ("plan=plus",)
    assert scorer.beta == pytest.approx(model.cox_.params_.to_numpy())
    assert 0.8 < scorer.slope < 1.2  # the same table, read the same way: the recalibration barely moves it
    held = CustomerTable(frame.filter(pl.col("plan") == "plus").head(200).vstack(frame.filter(pl.col("plan") == "basic").head(50)),
                         None, segments=("plan",))
    x = scorer.design(held)
    assert x[:, 0].tolist() == [1.0] * 200 + [0.0] * 50


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


def test_level_column_reads_fitted_levels_on_any_table():
    """Bins, values, pooled 'other' and '(missing)' read by what the fitted level names, not re-derived from the
    scored table's own quartiles or pooling (a cross-validation fold has others)."""
    from churnwhy.models.drivers_attributes import level_columns

    def level_column(values, level, named):  # type: ignore[no-untyped-def]
        return level_columns(values, [level], named)[:, 0]

    minutes = pl.Series("m", [10.0, 143.7, 179.3, 179.4, 400.0, None])
    assert level_column(minutes, "[143.7, 179.4)", set()).tolist() == [0, 1, 1, 0, 0, 0]
    assert level_column(minutes, "[216.3, 350.8]", set()).tolist() == [0, 0, 0, 0, 1, 0]  # above the fit's maximum
    assert level_column(minutes, "(missing)", set()).tolist() == [0, 0, 0, 0, 0, 1]
    calls = pl.Series("c", [0, 2, 2, 7, 1])
    assert level_column(calls, "2", {"1", "2"}).tolist() == [0, 1, 1, 0, 0]
    assert level_column(calls, "other", {"1", "2", "0"}).tolist() == [0, 0, 0, 1, 0]
    plan = pl.Series("p", ["basic", "plus", None, "gold"])
    assert level_column(plan, "other", {"basic", "plus"}).tolist() == [0, 0, 0, 1]


def test_cox_slope_matches_lifelines_and_stratifies():
    """Without tied times Breslow's and Efron's partial likelihoods agree: the one-covariate slope equals
    lifelines' coefficient, unstratified and stratified."""
    from churnwhy.models.risk import cox_slope

    rng = np.random.default_rng(8)
    n = 600
    x = rng.normal(size=n)
    s = rng.integers(0, 2, n)
    t = rng.exponential(100 * np.exp(-0.7 * x - 0.5 * s))
    e = rng.random(n) < 0.8
    df = pd.DataFrame({"x": x, "t": t, "e": e.astype(int), "s": s})
    assert cox_slope(x, t, e) == pytest.approx(CoxPHFitter().fit(df.drop(columns="s"), "t", "e").params_["x"], rel=1e-5)
    assert cox_slope(x, t, e, s) == pytest.approx(CoxPHFitter().fit(df, "t", "e", strata=["s"]).params_["x"], rel=1e-5)


def test_steady_breslow_stops_where_few_remain_at_risk():
    """The last churns among a handful still at risk are steps of 1/n: the baseline keeps only the steps while at
    least MIN_RISK_SET are at risk, and the extension continues at the hazard before them (no jump)."""
    from churnwhy.models.risk import MIN_RISK_SET, breslow, extended_cumhaz, steady_breslow

    rng = np.random.default_rng(5)
    t = np.concatenate([rng.integers(1, 500, 1000), [900, 920, 940, 960]]).astype(float)
    e = np.concatenate([rng.random(1000) < 0.1, [True] * 4])
    lp = np.zeros(t.size)
    times, h0 = steady_breslow(t, e, lp)
    assert (t[:, None] >= times[None, :]).sum(axis=0).min() >= MIN_RISK_SET
    full_times, full = breslow(t, e, lp)
    assert full[-1] - full[-5] > 1.0  # the raw tail: four steps of 1/4, 1/3, 1/2, 1
    assert extended_cumhaz(times, h0, np.array([960.0]))[0] < full[-1] / 2
