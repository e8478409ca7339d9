"""Issue 16's traps, one test each: no feature encodes tenure or the churn rule, customer attributes enter with
a stated reference level (outcome columns never), what cannot be estimated is refused, Holm-adjusted p-values,
coherent attribution, and the month-by-month counts behind the counting-process model."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import polars as pl
import pytest
from cox_sim import generate
from loadkit import row, table, write

from churnwhy.config import Config
from churnwhy.models.drivers import fit_driver_model, fit_drivers
from churnwhy.models.drivers_attributes import attribute_columns, encode
from churnwhy.models.drivers_counting import RatePriors, fit_priors
from churnwhy.models.survival import holm_adjust
from churnwhy.pipeline import load_table


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = generate(tmp_path_factory.mktemp("sim") / "x", n=1500, seed=3)
    cfg = Config()
    return load_table(folder, cfg).table, cfg


@pytest.fixture(scope="module")
def fitted(sim):
    t, cfg = sim
    return fit_driver_model(t, cfg)


def test_activity_change_is_missing_when_half_the_window_precedes_signup(tmp_path):
    customers = "customer_id,signup_date,churn_date\nNEW,2024-05-01,2024-06-20\nOLD,2023-01-01,2024-06-20\n"
    events = "customer_id,event_type,event_time\n" + "".join(
        f"{c},login,2024-{m:02d}-10\n" for c in ("NEW", "OLD") for m in (1, 2, 3, 4, 5, 6)
    )
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": events}), inactivity_days=0)
    assert row(t, "NEW")["activity_change"] is None  # 50 days of life: no first half to compare with
    old = row(t, "OLD")
    # window 2023-12-23 .. 2024-06-19: first half (to 2024-03-21) holds Jan, Feb, Mar; second Apr, May, Jun
    assert old["activity_change"] == pytest.approx((3 - 3) / (3 + 1))


def test_monthly_counts_are_months_of_life_before_the_end(tmp_path):
    customers = "customer_id,signup_date,churn_date\nA,2024-01-01,2024-03-15\n"
    events = "customer_id,event_type,event_time\nA,login,2024-01-05\nA,login,2024-02-01\nA,login,2024-03-20\n"
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": events}), inactivity_days=0)
    counts = t.monthly.counts
    assert t.monthly.customer_ids.to_list() == ["A"]
    # day 4 -> month 0, day 31 -> month 1; the event after the churn date never counts
    assert counts.select("month", "n").rows() == [(0, 1), (1, 1)]


def test_no_tenure_proxy_among_the_drivers(sim, fitted):
    t, cfg = sim
    result = fitted.result()
    features = {e.feature for e in result.effects}
    assert not {f for f in features if f.endswith("_missing")}  # no missing-data flag standing in for short tenure
    assert not {"days_since_last_event", "activity_change", "amount_window"} & features
    notes = " | ".join(result.notes)
    assert "left out of the drivers: days_since_last_event, activity_change" in notes
    assert result.model == "counting_process"


def test_inactivity_churn_leaves_out_what_the_rule_reads(tmp_path):
    folder = generate(tmp_path / "x", n=1500, seed=4, inactivity=True)
    cfg = Config()
    t = load_table(folder, cfg).table
    assert (t.frame["churn_source"] == "inactivity").sum() > 100
    result = fit_drivers(t, cfg)
    notes = " | ".join(result.notes)
    assert "inferred from inactivity" in notes and "days_since_last_event" in notes
    assert not {"days_since_last_event", "activity_change"} & {e.feature for e in result.effects}
    assert any("followed until 90 days before the analysis date" in r for r in result.rules)


def test_attributes_enter_against_a_stated_reference(fitted):
    eff = {e.feature: e for e in fitted.result().effects}
    for level in ("plan=plus", "plan=pro"):
        assert eff[level].kind == "attribute" and eff[level].reference == "plan=basic"
        assert eff[level].unit == "vs plan=basic"
    assert "plan=basic" not in eff  # the reference has HR 1 by definition
    assert eff["plan=pro"].hazard_ratio < eff["plan=plus"].hazard_ratio < 1  # planted 0.45 and 0.7


def test_outcome_columns_are_never_attributes():
    frame = pl.DataFrame({"plan": ["a", "b"], "Exited": ["1", "0"], "churn_status": ["x", "y"],
                          "Attrition_Flag": ["y", "n"], "SatisfactionScore": [1, 2]})  # fmt: skip
    cols, notes = attribute_columns(frame, ["plan", "Exited", "churn_status", "Attrition_Flag", "SatisfactionScore"], ["plan"])
    assert cols == ["SatisfactionScore"]  # plan declared an outcome by the loader; the rest by name
    assert "Exited" in notes[0] and "Attrition_Flag" in notes[0]


def test_numeric_attribute_cut_at_quartiles():
    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"charges": rng.uniform(10, 110, 400), "tier": rng.integers(1, 4, 400)})
    enc = encode(frame, ["charges", "tier"], min_size=30, max_levels=20)
    charge_cols = [n for n in enc.names if n.startswith("charges=")]
    assert len(charge_cols) == 3 and enc.reference["charges"].startswith("[10")  # lowest bin = reference
    assert enc.x[:, [enc.names.index(c) for c in charge_cols]].sum() == pytest.approx(300, abs=3)
    assert {n for n in enc.names if n.startswith("tier=")} | {f"tier={enc.reference['tier']}"} == {"tier=1", "tier=2", "tier=3"}


def test_separated_level_is_not_estimable(sim):
    t, cfg = sim
    f = t.frame
    # a contract level nobody on it ever left: its hazard ratio would be 0 with no upper limit
    contract = np.where(f["churned"].to_numpy(), "monthly", np.where(np.arange(f.height) % 2 == 0, "yearly", "monthly"))
    t2 = dataclasses.replace(t, frame=f.with_columns(pl.Series("attr_contract", contract)),
                             attributes={**t.attributes, "attr_contract": "category"})  # fmt: skip
    result = fit_drivers(t2, cfg)
    eff = {e.feature: e for e in result.effects}
    e = eff["contract=yearly"]
    assert not e.estimable and "quasi-separation" in e.not_estimable_reason
    assert math.isnan(e.hazard_ratio)
    d = {x["feature"]: x for x in result.to_dict()["effects"]}["contract=yearly"]
    assert d["hazard_ratio"] is None and d["ci_low"] is None and d["estimable"] is False
    json.dumps(result.to_dict(), allow_nan=False)


def test_holm_adjusted_p_values(fitted):
    effects = [e for e in fitted.result().effects if e.estimable]
    raw = np.array([e.p_value for e in effects])
    assert np.allclose([e.p_holm for e in effects], holm_adjust(raw))
    assert all(e.p_holm >= e.p_value for e in effects)


def test_attribution_is_coherent(fitted):
    result = fitted.result()
    assert result.attribution
    for a in result.attribution:
        assert a.ci_low <= a.share <= a.ci_high, a
        assert "associated with" in a.sentence and "attributable" not in a.sentence
    assert "not causes" in result.interpretation
    assert result.family_share_sum == pytest.approx(sum(a.share for a in result.attribution))
    assert sum(a.shapley_share for a in result.attribution) == pytest.approx(result.explained_share, abs=1e-9)


def test_predict_churn_for_scoring(sim, fitted):
    t, _ = sim
    p = fitted.predict_churn(t, 90)
    lh = fitted.predict_log_hazard(t)
    assert p.shape == (t.n_customers,) and np.all((p >= 0) & (p <= 1))
    assert np.corrcoef(lh, p)[0, 1] > 0.9  # monotone in the log hazard
    # more failed deliveries (shrunk rate), higher predicted risk
    dfail = fitted.design_matrix(t)[:, list(fitted.features_).index("rate_delivery_failed")]
    assert np.corrcoef(dfail, lh)[0, 1] > 0


def test_priors_recover_a_gamma_and_shrink_by_exposure():
    rng = np.random.default_rng(1)
    lam = rng.gamma(2.0, 0.5, 20000)  # mean 1, var 0.5 per 30 days
    exposure = rng.integers(1, 360, 20000).astype(float)
    counts = rng.poisson(lam * exposure / 30)[:, None]
    pri = fit_priors(counts, exposure)
    assert pri.mean[0] == pytest.approx(1.0, rel=0.03) and pri.cov[0, 0] == pytest.approx(0.5, rel=0.1)
    # one type: the gamma-Poisson posterior mean (n + a) / (e + b), a = mu^2 / var, b = mu / var
    one = RatePriors(mean=np.array([1.0]), cov=np.array([[0.5]]))
    short, long = one.shrink(np.array([[3.0], [300.0]]), np.array([3.0, 3000.0]))[:, 0]
    assert short == pytest.approx((3 + 2) / (0.1 + 2))  # a few days of data: mostly the population rate
    assert long == pytest.approx((300 + 2) / (100 + 2))  # years of data: almost the observed rate
    assert one.shrink(np.array([[5.0]]), np.array([0.0]))[0, 0] == 1.0  # nothing observed: the mean


def test_correlated_behaviours_inform_each_other():
    """Complaints are rare, tickets frequent, and both follow one latent 'unlucky' level: a customer's tickets
    say something about their complaint rate, so the calibrated complaint rate is closer to the truth than
    the complaints alone can make it (mean squared error)."""
    rng = np.random.default_rng(2)
    n = 20000
    level = rng.gamma(2.0, 0.5, n)
    lam = np.column_stack([level * 2.0, level * 0.2])  # tickets, complaints
    exposure = np.full(n, 60.0)
    counts = rng.poisson(lam * exposure[:, None] / 30)
    pri = fit_priors(counts, exposure)
    assert pri.cov[0, 1] / np.sqrt(pri.cov[0, 0] * pri.cov[1, 1]) > 0.9
    joint = pri.shrink(counts, exposure)[:, 1]
    alone = pri.subset([1]).shrink(counts[:, [1]], exposure)[:, 0]
    assert np.mean((joint - lam[:, 1]) ** 2) < 0.5 * np.mean((alone - lam[:, 1]) ** 2)


def test_crm_export_without_events_gets_attribute_drivers(tmp_path):
    """The commonest shape: a customers table with a tenure, a churn flag and attributes, no events. Contract
    type planted HR 0.3 (two year) and 0.6 (one year) against month-to-month; the fit says so, ranked."""
    rng = np.random.default_rng(5)
    n = 3000
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.5, 0.3, 0.2])
    hr = np.select([contract == "One year", contract == "Two year"], [0.6, 0.3], 1.0)
    t = rng.exponential(24 / hr)  # months
    c = rng.uniform(1, 72, n)
    frame = pl.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "tenure_months": np.ceil(np.minimum(t, c)).astype(int),
                          "churned": np.where(t <= c, "Yes", "No"), "contract": contract})  # fmt: skip
    folder = write(tmp_path, {"customers.csv": frame.write_csv()})
    cfg = Config()
    result = fit_drivers(load_table(folder, cfg).table, cfg)
    assert result.skipped is None and result.model == "cox_ph"
    eff = {e.feature: e for e in result.effects}
    assert eff["contract=Two year"].reference == "contract=Month-to-month"
    assert eff["contract=Two year"].ci_low < 0.3 < eff["contract=Two year"].ci_high
    assert eff["contract=One year"].ci_low < 0.6 < eff["contract=One year"].ci_high
    assert [e.feature for e in result.effects][-2:] == ["contract=One year", "contract=Two year"]  # ranked by effect
    assert any(a.family == "attributes" for a in result.attribution)


def test_not_estimable_rows_validate_against_the_report_schema(sim):
    """The drivers section of report.schema.json admits a refused driver (null hazard ratio, a reason) and
    rejects a hazard ratio printed for one."""
    from importlib.resources import files

    import jsonschema

    t, cfg = sim
    f = t.frame
    contract = np.where(f["churned"].to_numpy(), "monthly", np.where(np.arange(f.height) % 2 == 0, "yearly", "monthly"))
    t2 = dataclasses.replace(t, frame=f.with_columns(pl.Series("attr_contract", contract)),
                             attributes={**t.attributes, "attr_contract": "category"})  # fmt: skip
    doc = {"status": "ok", **fit_drivers(t2, cfg).to_dict()}
    doc = json.loads(json.dumps(doc))
    schema = json.loads(files("churnwhy").joinpath("schemas/report.schema.json").read_text())
    sub = {"$defs": schema["$defs"], **schema["properties"]["drivers"]}
    jsonschema.validate(doc, sub)
    bad = next(e for e in doc["effects"] if e["estimable"] is False)
    bad["hazard_ratio"] = 0.01
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, sub)


def test_predict_survival_and_the_typed_fit(sim, fitted):
    """DriverFit is the fitted state other models read: survival at a day is 1 - P(churn by that day); the
    log hazard is the standardised design times the per-SD coefficients."""
    t, _ = sim
    fit = fitted.fit_
    assert fit is not None and fit.model == "counting_process" and fit.features == fitted.features_
    s = fitted.predict_survival(t, [30, 90, 365])
    assert s.shape == (t.n_customers, 3) and np.all(np.diff(s, axis=1) <= 0)  # never rises with time
    np.testing.assert_allclose(1 - s[:, 1], fitted.predict_churn(t, 90), atol=1e-12)
    x = fitted.design_matrix(t)
    np.testing.assert_allclose(fit.log_hazard(x), (x - fit.mean) / fit.sd @ fit.params)


def test_counting_model_reports_its_proportional_hazards_test(sim, fitted):
    """The counting-process fit runs the same Schoenfeld test as the one-row fit: a p per driver, no NaN."""
    effects = [e for e in fitted.result().effects if e.estimable]
    assert effects and all(0 <= e.ph_p_value <= 1 for e in effects)
    assert any("proportional hazards tested" in r for r in fitted.result().rules)
