"""Issue 17 acceptance on a simulation with known hazards (tests/risk_sim.py, independent of `churnwhy demo`).

On 50,000 customers the backtest's predicted churn per decile lies within 2 points of the simulated truth (the
mean true probability of the same customers), and the likely reason given to active customers matches the
planted one at the rate the classifier's own cross-validation reports (within 3 points). Two seeds each.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from risk_sim import simulate, true_probability

from churnwhy.config import Config
from churnwhy.models.at_risk import fit_at_risk
from churnwhy.models.reasons import attach_stated_reasons
from churnwhy.pipeline import load_table, past_table

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [11, 29])
def test_backtest_deciles_and_reasons_match_the_planted_truth(tmp_path, seed):
    truth = simulate(tmp_path / "x", 50_000, seed)
    cfg = Config.load(tmp_path / "x")
    loaded = load_table(tmp_path / "x", cfg)
    past = past_table(loaded)
    result = fit_at_risk(attach_stated_reasons(loaded.table, cfg)[0], cfg, past=past)

    cal = result.calibration
    assert cal.method == "backtest" and cal.skipped is None and cal.cutoff == past.as_of
    scored = cal.scores.join(true_probability(truth, past.as_of, 90), on="customer_id")
    assert scored.height == cal.n_scored > 25_000
    p, true_p = scored["churn_probability"].to_numpy(), scored["true_p"].to_numpy()
    for decile in np.array_split(np.argsort(p, kind="stable"), 10):
        assert abs(p[decile].mean() - true_p[decile].mean()) <= 0.02, (p[decile].mean(), true_p[decile].mean())
    # The reported deciles are the same groups, compared with what happened
    assert [b.predicted for b in cal.bins] == pytest.approx([p[d].mean() for d in np.array_split(np.argsort(p, kind="stable"), 10)])
    assert cal.concordance > 0.58 and cal.top_decile_lift > 1.5 and cal.brier < cal.brier_baseline

    why = next(m for m in result.reason_models if m.dimension == "why")
    assert why.called
    active = result.frame.join(truth.select("customer_id", "reason"), on="customer_id")
    assert active.height == result.n_active
    match = float((active["why"] == active["reason"]).mean())
    assert abs(match - why.cv_accuracy) <= 0.03, (match, why.cv_accuracy)


def test_without_dates_calibration_is_cross_validated_and_holds(tmp_path):
    """The same world exported the CRM way (tenure + churn flag, no dates): cross-validated calibration, said so,
    predicted within 3 points of the Kaplan-Meier observed share in every decile."""
    truth = simulate(tmp_path / "x", 20_000, 5)
    customers = pl.read_csv(tmp_path / "x" / "customers.csv")
    out = tmp_path / "flag"
    out.mkdir()
    customers.join(truth.select("customer_id", "tenure", "churned"), on="customer_id").select(
        "customer_id", pl.col("tenure").alias("tenure_days"), pl.col("churned").cast(pl.Int8).alias("churn"), "plan",
    ).write_csv(out / "crm.csv")
    cfg = Config.load(out)
    loaded = load_table(out, cfg)
    assert loaded.table.as_of is None and past_table(loaded) is None
    result = fit_at_risk(attach_stated_reasons(loaded.table, cfg)[0], cfg, past=None)
    cal = result.calibration
    assert cal.method == "cross_validated" and cal.skipped is None
    assert "no dates" in cal.note and "cross-validated" in cal.note
    for b in cal.bins:
        assert abs(b.predicted - b.observed) <= 0.03, b
    assert cal.top_decile_lift > 1.1 and cal.concordance > 0.52
