"""Issue 16 item 5, coherent attribution: every share's 95% interval holds its estimate and stays within 0-100%
(a share is a share), the Shapley split adds up to the total, and what the family shares add up to is stated.

On the independent planted generator (tests/planted_exports.py, both shapes of export) and on hand-made draws
where a coefficient's sampling distribution straddles 0 (the case that gave "5% (95% CI 0% to 1%)" and
"42% (95% CI -106% to 100%)" in the issue)."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from planted_exports import AS_OF, generate

from churnwhy.config import Config
from churnwhy.models.drivers import fit_drivers
from churnwhy.models.drivers_attribution import attribute, interval
from churnwhy.pipeline import load_table
from churnwhy.render.drivers import drivers_markdown


@pytest.mark.parametrize("attributes", [False, True], ids=["events_only", "attributes_and_events"])
def test_planted_shares_are_coherent(tmp_path, attributes):
    generate(tmp_path, n=1500, seed=7, attributes=attributes)
    cfg = dataclasses.replace(Config(), as_of=AS_OF)
    result = fit_drivers(load_table(tmp_path, cfg).table, cfg)
    assert result.attribution and ("attributes" in {a.family for a in result.attribution}) == attributes
    for a in result.attribution:
        assert 0.0 <= a.ci_low <= a.share <= a.ci_high <= 1.0, a
        assert 0.0 <= a.shapley_ci_low <= a.shapley_share <= a.shapley_ci_high <= 1.0, a
    assert sum(a.shapley_share for a in result.attribution) == pytest.approx(result.explained_share, abs=1e-9)
    assert result.family_share_sum == pytest.approx(sum(a.share for a in result.attribution))
    # the shares overlap and the report says by how much, against the total
    text = drivers_markdown(result)
    assert "overlap" in text and f"against {result.explained_share * 100:.0f}%" in text


def _draws(beta: float, se: float, n_bootstrap: int = 400, best=((-1.0, -1.0), (1.0, 1.0)), **kw):
    """Two one-feature families on standard-normal features; `best`: their best level if harmful / if protective."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2000, 2))
    groups = {"a": [0], "b": [1]}
    cov = np.diag([se**2, 0.01])
    return attribute(z, np.zeros(2), np.array([beta, 0.5]), cov, np.full(2000, 0.3), groups, np.array(best),
                     n_bootstrap=n_bootstrap, rng=rng, **kw)  # fmt: skip


@pytest.mark.parametrize("beta", [0.02, 0.3, -0.02])
def test_intervals_hold_the_estimate_when_a_coefficient_straddles_zero(beta):
    att = _draws(beta, se=0.1)
    for est, lo, hi in [*att.share.values(), *att.shapley_share.values(), att.explained_share]:
        assert 0.0 <= lo <= est <= hi <= 1.0, (est, lo, hi)
    est, lo, hi = att.share["a"]
    assert hi - lo > 0.01  # an uncertain coefficient gives an interval, not a point


def test_zero_counterfactual_shares_stay_below_one_and_hold_the_estimate():
    # a protective family whose zero lies below every customer: removing its effect adds churn (a negative share)
    att = _draws(-0.4, se=0.05, best=(-3.0, -3.0), clip=False)
    est, lo, hi = att.share["a"]
    assert lo <= est <= hi < 1.0 and est < 0
    for est, lo, hi in att.share.values():
        assert lo <= est <= hi < 1.0


def test_interval_scales():
    draws = np.r_[0.05, np.random.default_rng(1).normal(0.05, 0.04, 500)]  # draws below 0 on the share scale
    est, lo, hi = interval(draws, "logit")
    assert 0.0 < lo < est < hi < 1.0
    est, lo, hi = interval(np.r_[0.0, np.zeros(10)], "logit")  # nothing moves: no spread, a point at 0
    assert lo == est == hi == 0.0
    est, lo, hi = interval(np.r_[-1e-16, 0.0, 0.002, 0.004], "logit")  # nobody moved: 0 up to rounding
    assert lo == est == 0.0 < hi < 0.05
    est, lo, hi = interval(np.r_[-0.2, np.random.default_rng(2).normal(-0.2, 0.1, 500)], "ratio")
    assert lo < est < hi < 1.0
    est, lo, hi = interval(np.r_[0.5, 0.4, 0.6, 0.5], "normal")
    assert lo < est < hi and est - lo == pytest.approx(hi - est)


def test_no_churn_before_the_horizon_gives_a_note_not_nan(tmp_path):
    # Every customer older than the horizon at their churn (a bank's export counts whole months on book from 13):
    # P(churn by day 365) is 0 for everyone, so a share would be 0 / 0; it is said, not printed as "nan%".
    generate(tmp_path, n=1500, seed=11, attributes=True)
    cfg = dataclasses.replace(Config(), as_of=AS_OF)
    table = load_table(tmp_path, cfg).table
    frame = table.frame.filter(~pl.col("churned") | (pl.col("tenure_days") > 400))
    result = fit_drivers(dataclasses.replace(table, frame=frame), cfg)
    assert result.skipped is None and result.effects
    assert result.attribution == () and result.predicted_churn == 0.0
    assert any("no customer churned within 365 days" in n for n in result.notes)
    assert "nan" not in drivers_markdown(result)
