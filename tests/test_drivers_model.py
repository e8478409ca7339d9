"""Cox driver model: planted hazard ratios recovered, exposure bias gone, attributable churn against truth,
and every lifelines failure mode in REFERENCES.md section 6 turned into a note instead of a crash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from test_drivers_sim import PLANTED, RATE_SCALE, simulate

from churnwhy.config import Config
from churnwhy.errors import ConfigError
from churnwhy.models.drivers import CoxDrivers, DriverSettings, fit_drivers
from churnwhy.models.drivers_families import default_family
from churnwhy.table import CustomerTable


def _effects(result):
    return {e.feature: e for e in result.effects}


def test_recovers_planted_hazard_ratios_exponential() -> None:
    """True HRs per event per 30 days: 1.5 (failed deliveries), 0.8 (logins), 1 (newsletter opens)."""
    result = fit_drivers(simulate(8000, seed=1), Config(seed=3))
    assert result.skipped is None
    eff = _effects(result)
    for k, beta in PLANTED.items():
        e = eff[f"rate_{k}"]
        assert e.ci_low < np.exp(beta) < e.ci_high, (k, e)
        assert e.unit == "per event per 30 days"
    assert eff["rate_newsletter_open"].p_value > 0.01
    assert eff["rate_delivery_failed"].p_value < 1e-6
    # per-SD and per-unit hazard ratios are the same coefficient on two scales
    e = eff["rate_login"]
    assert np.log(e.hr_per_sd) == pytest.approx(np.log(e.hazard_ratio) * e.sd, rel=1e-9)
    assert 0.6 < result.concordance < 0.8
    assert result.penalizer == 0.0


def test_recovers_planted_hazard_ratios_weibull_heavy_censoring() -> None:
    """Cox leaves the baseline free, so a Weibull (shape 1.6) baseline and heavy censoring must not matter."""
    table = simulate(8000, base=1 / 400**1.6, shape=1.6, follow_days=300, seed=2)
    assert table.n_churned < 0.6 * table.n_customers
    eff = _effects(fit_drivers(table, Config()))
    for k, beta in PLANTED.items():
        assert eff[f"rate_{k}"].ci_low < np.exp(beta) < eff[f"rate_{k}"].ci_high, k


def test_exposure_bias_gone_with_rates() -> None:
    """Everyone has the same true ticket rate and churn ignores it; early churners just had less time to
    file tickets. Raw counts then look protective (HR < 1); rates per 30 days of exposure show HR ~ 1."""
    rng = np.random.default_rng(7)
    n = 6000
    t = rng.exponential(300, n)
    c = rng.uniform(60, 900, n)
    tenure = np.floor(np.minimum(t, c)).astype(np.int64)
    exposure = np.minimum(tenure, 180) + 1  # lookback window of 180 days, at least 1
    count = rng.poisson(1.0 * exposure / 30)  # one ticket per 30 days for everyone
    frame = pl.DataFrame(
        {"customer_id": [str(i) for i in range(n)], "tenure_days": tenure, "churned": t <= c,
         "n_ticket": count, "rate_ticket": count / exposure * 30, "exposure_days": exposure}
    )  # fmt: skip
    table = CustomerTable(frame=frame, as_of=dt.date(2025, 1, 1), event_types=("ticket",))
    by_rate = CoxDrivers(DriverSettings(n_bootstrap=0)).fit(table).result()
    by_count = CoxDrivers(DriverSettings(n_bootstrap=0)).fit(table, features=["n_ticket"]).result()
    rate, raw = by_rate.effects[0], by_count.effects[0]
    assert rate.ci_low < 1 < rate.ci_high and abs(np.log(rate.hazard_ratio)) < 0.05
    assert raw.ci_high < 0.97  # spuriously "protective": a bias, not an effect


def _true_p(rates, base=1 / 400, h=365):
    """Mean true P(churn by h) under the planted model: what re-simulating (infinitely often) would give."""
    lp = sum(PLANTED[k] * rates[k] for k in PLANTED)
    return float(np.mean(-np.expm1(-base * h * np.exp(lp))))


def test_attributable_share_matches_truth() -> None:
    """Truth from the planted model on the same customers, with failed deliveries at 0 (their best level)
    and logins raised to their 95% quantile: the mean true P(churn by 365 days) before and after."""
    table = simulate(20000, seed=11)
    result = fit_drivers(table, Config(seed=1))
    rates = {k: table.frame[f"rate_{k}"].to_numpy() for k in PLANTED}
    p_obs = _true_p(rates)
    truth_exp = (p_obs - _true_p(rates | {"delivery_failed": np.zeros_like(rates["delivery_failed"])})) / p_obs
    best_login = np.quantile(rates["login"], 0.95)
    truth_prod = (p_obs - _true_p(rates | {"login": np.maximum(rates["login"], best_login)})) / p_obs
    att = {a.family: a for a in result.attribution}
    assert att["experience"].share == pytest.approx(truth_exp, abs=0.03)
    assert att["experience"].ci_low - 0.01 < truth_exp < att["experience"].ci_high + 0.01
    # product holds logins (protective) and newsletter opens (no effect, so it adds ~nothing)
    assert att["product"].share == pytest.approx(truth_prod, abs=0.04)
    assert result.predicted_churn == pytest.approx(p_obs, abs=0.02)
    # the Shapley split adds up to the explained churn
    assert sum(a.shapley_share for a in result.attribution) == pytest.approx(result.explained_share, abs=1e-9)
    assert att["experience"].sentence.startswith(f"{att['experience'].share * 100:.0f}% of 12-month churn is associated with")
    assert "95% CI" in att["experience"].sentence


def test_attributable_share_zero_counterfactual_matches_truth() -> None:
    """counterfactual = "zero" removes a family's effects (features at 0), as the demo generator's truth does;
    a protective family then gets a negative share (churn it prevents)."""
    table = simulate(20000, seed=12)
    result = fit_drivers(table, Config(seed=1, drivers={"counterfactual": "zero"}))
    rates = {k: table.frame[f"rate_{k}"].to_numpy() for k in PLANTED}
    p_obs = _true_p(rates)
    zero = {k: np.zeros_like(v) for k, v in rates.items()}
    truth_exp = (p_obs - _true_p(rates | {"delivery_failed": zero["delivery_failed"]})) / p_obs
    truth_prod = (p_obs - _true_p(rates | {"login": zero["login"], "newsletter_open": zero["newsletter_open"]})) / p_obs
    att = {a.family: a for a in result.attribution}
    assert att["experience"].share == pytest.approx(truth_exp, abs=0.03)
    assert truth_prod < 0 and att["product"].share == pytest.approx(truth_prod, abs=0.04)
    assert any("set to 0 (effect removed)" in r for r in result.rules)


def test_exclude_leaves_features_out() -> None:
    result = fit_drivers(simulate(2000, seed=3), Config(drivers={"exclude": ["newsletter_open"]}))
    assert "rate_newsletter_open" not in _effects(result)
    assert any("left out by [drivers] exclude" in n for n in result.notes)


def test_nan_rules_and_missing_flag() -> None:
    table = simulate(3000, seed=4)
    rng = np.random.default_rng(0)
    f = table.frame
    amount = rng.gamma(2.0, 20.0, f.height)
    amount[rng.uniform(size=f.height) < 0.1] = np.nan
    rate = f["rate_newsletter_open"].to_numpy().copy()
    rate[:50] = np.nan
    rate[50] = np.inf
    f = f.with_columns(pl.Series("amount_window", amount), pl.Series("rate_newsletter_open", rate))
    result = fit_drivers(dataclasses.replace(table, frame=f), Config())
    assert result.skipped is None
    notes = " | ".join(result.notes)
    assert "rate_newsletter_open: 1 infinite" in notes
    assert "rate_newsletter_open: 51 missing value(s) read as 0 events" in notes
    # a sum over each customer's own window encodes tenure (issue 16): never a driver, and said so
    assert "left out of the drivers: amount_window" in notes
    assert not any(e.feature.startswith("amount_window") for e in result.effects)
    assert result.n_fit == 3000  # no row dropped


def test_constant_duplicate_and_collinear_columns_dropped_with_notes() -> None:
    table = simulate(3000, seed=5)
    f = table.frame
    rng = np.random.default_rng(1)
    f = f.with_columns(
        pl.lit(2.0).alias("rate_outage"),
        pl.col("rate_login").alias("rate_session"),
        (pl.col("rate_delivery_failed") * 2 + pl.Series(rng.normal(0, 0.05, f.height))).alias("rate_delivery_late"),
    )
    table = dataclasses.replace(table, frame=f, event_types=table.event_types + ("outage", "session", "delivery_late"))
    result = fit_drivers(table, Config())
    assert result.skipped is None
    notes = " | ".join(result.notes)
    assert "rate_outage: the same value for every customer" in notes
    assert "rate_session: an exact copy of rate_login" in notes
    assert "rate_delivery_late: moves with rate_delivery_failed" in notes
    assert set(_effects(result)) == {f"rate_{k}" for k in PLANTED}


def test_convergence_error_refits_with_penalizer() -> None:
    """lifelines raises ConvergenceError on a duplicate column (#364); the fitter retries penalised."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 2))
    z = np.column_stack([z, z[:, 0]])
    t = rng.exponential(100, 500)
    model = CoxDrivers()
    model.notes_ = []
    model.penalizer_ = 0.0
    cox = model._fit_cox(z, t, np.ones(500, bool), ["a", "b", "a_copy"], None, report=True)
    assert cox is not None and model.penalizer_ > 0
    assert any("trying again more cautiously" in n for n in model.notes_)
    assert any("hazard ratios are shrunk" in n for n in model.notes_)


def test_complete_separation_becomes_a_note() -> None:
    """lifelines returns with ConvergenceWarnings on separation (#342): they become notes, no crash."""
    table = simulate(2000, seed=6)
    f = table.frame
    f = f.with_columns(f["churned"].cast(pl.Float64).alias("rate_complaint"))  # 1 for every churner, 0 otherwise
    table = dataclasses.replace(table, frame=f, event_types=table.event_types + ("complaint",))
    result = fit_drivers(table, Config())
    assert result.skipped is None
    assert any(n.startswith("possible complete separation on rate_complaint") for n in result.notes), result.notes
    e = _effects(result)["rate_complaint"]
    assert not e.estimable and e.not_estimable_reason.startswith("separation") and np.isnan(e.hazard_ratio)
    # the others were refitted without it, and still recover their planted hazard ratios
    assert _effects(result)["rate_delivery_failed"].ci_low < 1.5 < _effects(result)["rate_delivery_failed"].ci_high
    json.dumps(result.to_dict(), allow_nan=False)  # no hazard ratio: None in JSON


@pytest.mark.parametrize("case", ["all_censored", "few_events", "no_features"])
def test_too_little_to_fit_is_skipped_plainly(case: str) -> None:
    table = simulate(400, seed=8)
    f = table.frame
    if case == "all_censored":
        f = f.with_columns(pl.lit(False).alias("churned"))
    elif case == "few_events":
        f = f.with_columns(pl.Series("churned", np.arange(f.height) < 19))
    else:
        table = dataclasses.replace(table, event_types=())
    result = fit_drivers(dataclasses.replace(table, frame=f), Config())
    assert result.skipped
    assert ("at least 20" in result.skipped) if case != "no_features" else ("no behaviour feature and no customer attribute" in result.skipped)
    json.dumps(result.to_dict())
    assert result.to_frame().height == 0


def test_segment_that_breaks_ph_is_stratified() -> None:
    """Plan A churns early (Weibull shape 0.5), plan B late (shape 2.5): a Cox model must stratify on plan."""
    n = 6000
    rng = np.random.default_rng(9)
    a = simulate(n // 2, base=1 / 400**0.5, shape=0.5, seed=21).frame.with_columns(pl.lit("A").alias("plan"))
    b = simulate(n // 2, base=1 / 400**2.5, shape=2.5, seed=22).frame.with_columns(pl.lit("B").alias("plan"))
    f = pl.concat([a, b]).with_columns(pl.Series("customer_id", [str(i) for i in rng.permutation(n)]))
    table = CustomerTable(frame=f, as_of=dt.date(2025, 1, 1), segments=("plan",), event_types=tuple(PLANTED))
    result = fit_drivers(table, Config())
    assert result.strata == ("plan",)
    assert any("segment 'plan' breaks proportional hazards" in n for n in result.notes)
    eff = _effects(result)
    assert eff["rate_delivery_failed"].ci_low < 1.5 < eff["rate_delivery_failed"].ci_high
    assert {a.family for a in result.attribution} == {"experience", "product"}


def test_feature_with_time_varying_effect_is_named() -> None:
    """Failed deliveries matter only in the first 60 days: the PH test flags that feature by name."""
    rng = np.random.default_rng(12)
    n = 8000
    x = rng.gamma(1.0, 1.0, n)
    y = rng.gamma(1.0, 1.0, n)
    early = rng.exponential(1 / (1 / 300 * np.exp(1.2 * x)))
    late = 60 + rng.exponential(300, n)
    t = np.where(early < 60, early, late)
    c = rng.uniform(100, 700, n)
    f = pl.DataFrame({"customer_id": [str(i) for i in range(n)], "tenure_days": np.floor(np.minimum(t, c)).astype(np.int64),
                      "churned": t <= c, "rate_delivery_failed": x, "rate_login": y})  # fmt: skip
    table = CustomerTable(frame=f, as_of=dt.date(2025, 1, 1), event_types=("delivery_failed", "login"))
    result = fit_drivers(table, Config())
    eff = _effects(result)
    assert eff["rate_delivery_failed"].ph_violated and not eff["rate_login"].ph_violated
    assert any(n.startswith("rate_delivery_failed: its effect changes with tenure") for n in result.notes)


def test_result_is_deterministic_and_json_safe() -> None:
    table = simulate(2000, seed=13)
    one, two = fit_drivers(table, Config(seed=5)), fit_drivers(table, Config(seed=5))
    assert json.dumps(one.to_dict(), sort_keys=True, allow_nan=False) == json.dumps(two.to_dict(), sort_keys=True, allow_nan=False)
    frame = one.to_frame()
    for col in ("feature", "family", "why_side", "unit", "hazard_ratio", "ci_low", "ci_high", "p_value", "hr_per_sd"):
        assert col in frame.columns
    assert one.attribution_frame().height == len(one.attribution)


def test_horizon_override_and_config_validation() -> None:
    table = simulate(2000, seed=14)
    r90 = fit_drivers(table, Config(), horizon_days=90)
    assert r90.horizon_days == 90 and "3-month churn" in r90.attribution[0].sentence
    cfg = Config(drivers={"families": {"newsletter_open": {"what": "experience", "why": "brand_failed"}}})
    eff = _effects(fit_drivers(table, cfg))
    assert (eff["rate_newsletter_open"].family, eff["rate_newsletter_open"].why_side) == ("experience", "brand_failed")
    with pytest.raises(ConfigError, match=r"\[drivers.families\] login: family 'fun'"):
        fit_drivers(table, Config(drivers={"families": {"login": "fun"}}))
    with pytest.raises(ConfigError, match=r"\[drivers.families\] login: why 'meh'"):
        fit_drivers(table, Config(drivers={"families": {"login": {"what": "product", "why": "meh"}}}))
    with pytest.raises(ConfigError, match="unknown key"):
        fit_drivers(table, Config(drivers={"n_bootstraps": 5}))
    with pytest.raises(ConfigError, match="n_bootstrap"):
        fit_drivers(table, Config(drivers={"n_bootstrap": -1}))
    unused = fit_drivers(table, Config(drivers={"families": {"typo_event": "price"}}))
    assert any("typo_event matches no behaviour feature" in n for n in unused.notes)


@pytest.mark.parametrize(
    ("name", "what", "why"),
    [
        ("rate_delivery_failed", "experience", "brand_failed"),
        ("rate_delivery_late", "experience", "brand_failed"),
        ("rate_late_delivery", "experience", "brand_failed"),
        ("rate_support_ticket", "experience", "brand_failed"),
        ("rate_complaint", "experience", "brand_failed"),
        ("rate_refund", "experience", "brand_failed"),
        ("rate_outage", "experience", "brand_failed"),
        ("rate_competitor_mention", "price", "better_offer"),
        ("rate_price_match_request", "price", "better_offer"),
        ("rate_discount_used", "price", "better_offer"),
        ("rate_price_increase", "price", None),
        ("rate_login", "product", None),
        ("rate_order", "product", None),
        ("rate_delivery", "product", None),
        ("days_since_last_event", "product", None),
        ("amount_window", "other", None),
        ("amount_window_missing", "other", None),
        ("rate_zzz", "other", None),
    ],
)
def test_default_families(name: str, what: str, why: str | None) -> None:
    assert default_family(name) == (what, why)


@pytest.mark.slow
def test_bounded_work_at_large_n() -> None:
    """200k customers: the fit uses the stated sample sizes and the rules say so."""
    table = simulate(200_000, seed=15)
    result = fit_drivers(table, Config(drivers={"max_fit_rows": 50_000}))
    assert result.n_fit == 50_000 and result.concordance_n == 20_000
    assert any("50,000 of 200,000" in r for r in result.rules)


def test_drivers_defaults_live_in_one_place() -> None:
    """[drivers] keys and defaults are read off DriverSettings: an empty [drivers] gives the dataclass defaults."""
    import dataclasses

    from churnwhy.models.drivers_families import DEFAULTS

    fields = {f.name for f in dataclasses.fields(DriverSettings)}
    assert set(DEFAULTS) == fields - {"seed", "inactivity_days", "induced_hazard"}  # not keys: config, or the caller
    assert DriverSettings.from_config(Config()) == DriverSettings(seed=Config().seed, inactivity_days=Config().inactivity_days)
    assert all(getattr(DriverSettings(), k) == v for k, v in DEFAULTS.items())
