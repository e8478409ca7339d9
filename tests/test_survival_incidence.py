"""Cumulative incidence per cause (Aalen-Johansen) against R cmprsk::cuminc and survfit (REFERENCES.md section 4)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from lifelines.datasets import load_canadian_senators

from churnwhy.errors import InputError
from churnwhy.models.incidence import UNKNOWN_CAUSE, aalen_johansen, cumulative_incidence, incidence_at, table_incidence

TOL = 1e-8
BMT = dict(
    ftime=[13, 1, 72, 7, 8, 67, 9, 5, 70, 4, 7, 68, 1, 10, 7, 3, 4, 4, 3, 3, 22, 8, 2, 0, 0, 35, 35, 4, 14, 26, 3, 2, 8, 32, 12],
    status=[2, 1, 0, 2, 2, 0, 2, 2, 0, 0, 0, 0, 2, 2, 2, 1, 1, 1, 1, 1, 2, 1, 2, 2, 1, 0, 0, 2, 2, 2, 2, 0, 0, 0, 1],
)
TOY_CR = dict(time=[1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10], cause=[1, 1, 2, 0, 2, 1, 0, 1, 2, 2, 0, 1, 1, 0, 2])


def _step(fit, times):
    idx = np.searchsorted(fit["time"], times, side="right") - 1
    return {k: np.where(idx >= 0, fit[k][np.clip(idx, 0, None)], 0.0) for k in ("cif", "se")}


def test_bmt_matches_cmprsk_estimates_and_standard_errors():
    """R: cuminc(bmt$ftime, bmt$status, cencode=0); timepoints(ci, times=c(1,3,4,6,8,10,12,24,36,60)). REFERENCES 4a."""
    times = [1, 3, 4, 6, 8, 10, 12, 24, 36, 60]
    ref_relapse = [0.05714285714, 0.14581280788, 0.20492610837, 0.20492610837, 0.23771163638, 0.23771163638,
                   0.27283898781, 0.27283898781, 0.27283898781, 0.27283898781]
    ref_trm = [0.05714285714, 0.11527093596, 0.14482758621, 0.17579169599, 0.27050544356, 0.34076014642,
               0.34076014642, 0.44614220072, 0.48126955216, 0.48126955216]
    se_relapse = {1: 0.03980801362, 3: 0.06123823647, 4: 0.07015321786, 8: 0.0748156014, 12: 0.07961052345}
    se_trm = {1: 0.03980801362, 3: 0.05505276431, 4: 0.06083373560, 6: 0.06625341759, 8: 0.0786164837,
              10: 0.08582159176, 24: 0.09187416894, 36: 0.09276193389, 60: 0.09276193389}
    fits = aalen_johansen(BMT["ftime"], BMT["status"], censored=0)
    for cause, ref, se in ((1, ref_relapse, se_relapse), (2, ref_trm, se_trm)):
        got = _step(fits[cause], times)
        np.testing.assert_allclose(got["cif"], ref, atol=TOL)
        got_se = _step(fits[cause], list(se))["se"]
        np.testing.assert_allclose(got_se, list(se.values()), atol=1e-9)


def test_bmt_day_zero_events_count():
    """Two events (one per cause) at t = 0: CIF(0) = 1/35 for both (R and sksurv; lifelines drops them, REFERENCES 4a/4d)."""
    fits = aalen_johansen(BMT["ftime"], BMT["status"], censored=0)
    for cause in (1, 2):
        assert fits[cause]["time"][0] == 0
        assert fits[cause]["cif"][0] == pytest.approx(0.02857142857, abs=TOL)


def test_toy_cross_cause_ties_match_survfit_and_cmprsk():
    """R: survfit(Surv(time, factor(cause, 0:2)) ~ 1) for estimates; cuminc(time, cause) for the variances
    of cause 1 at t = 1, 2, 3, 5, 8. REFERENCES 4b (TOY_CR)."""
    fits = aalen_johansen(TOY_CR["time"], TOY_CR["cause"], censored=0)
    times = [1, 2, 3, 5, 6, 8, 10]
    c1 = [0.06666666667, 0.13333333333, 0.20606060606, 0.28787878788, 0.28787878788, 0.49242424242, 0.49242424242]
    c2 = [0, 0.06666666667, 0.13939393939, 0.22121212121, 0.30303030303, 0.30303030303, 0.50757575758]
    np.testing.assert_allclose(_step(fits[1], times)["cif"], c1, atol=1e-10)
    np.testing.assert_allclose(_step(fits[2], times)["cif"], c2, atol=1e-10)
    var = _step(fits[1], [1, 2, 3, 5, 8])["se"] ** 2
    np.testing.assert_allclose(var, [0.004444444444, 0.008276643991, 0.012215100916, 0.016472775060, 0.025305788638],
                               atol=1e-11)


def test_canadian_senators_real_ties_and_day_zero():
    """Lifelines' canadian senators, causes mapped as in REFERENCES 4c; R cuminc estimates and cmprsk SEs of Death."""
    d = load_canadian_senators()
    cause = np.where(~d["observed"], 0, d["reason"].map(
        {"Death": 1, "Resignation": 2, "Retirement": 3, "Appointment declined": 4}).fillna(0)).astype(int)
    fits = aalen_johansen(d["diff_days"].to_numpy(), cause, censored=0)
    times = [365, 1826, 3652, 7305, 10957, 14610]
    ref = {
        1: [0.016128923851, 0.096593982945, 0.212888687975, 0.408318628206, 0.539971583868, 0.587106115550],
        2: [0.007525026002, 0.042858058172, 0.092281298987, 0.168261441149, 0.220738355272, 0.236898766134],
        3: [0.003224824595, 0.027418333539, 0.059699798463, 0.132075557989, 0.152579170654, 0.162006076990],
        4: [0.003215434084] * 6,
    }
    for k, values in ref.items():
        np.testing.assert_allclose(_step(fits[k], times)["cif"], values, atol=1e-10)
    np.testing.assert_allclose(_step(fits[1], times[:4])["se"],
                               [0.004133083143, 0.009798198024, 0.013774481856, 0.016856174239], atol=1e-9)


def test_frame_shape_ci_and_day_zero_row():
    """The frame adds a t=0 row when nobody left on day 0; CIs are log(-log) around the estimate."""
    f = cumulative_incidence(TOY_CR["time"], TOY_CR["cause"], censored=0)
    assert f.columns == ["cause", "time_days", "incidence", "se", "ci_low", "ci_high", "at_risk"]
    first = f.filter(pl.col("time_days") == 0)
    assert first["incidence"].to_list() == [0.0, 0.0] and first["at_risk"].to_list() == [15, 15]
    row = f.filter((pl.col("cause") == "1") & (pl.col("time_days") == 5)).row(0, named=True)
    est, se = row["incidence"], row["se"]
    k = 1.959963984540054 * se / (est * np.log(est))
    assert row["ci_low"] == pytest.approx(est ** np.exp(-k), abs=1e-12)
    assert row["ci_high"] == pytest.approx(est ** np.exp(k), abs=1e-12)
    assert 0 < row["ci_low"] < est < row["ci_high"] < 1
    assert incidence_at(f, "2", [0, 2.5, 100]).tolist() == pytest.approx([0, 0.06666666667, 0.50757575758])


def test_tied_causes_are_deterministic_and_order_free():
    """Permuting rows (ties across causes at the same day) gives the identical frame; no jitter anywhere."""
    rng = np.random.default_rng(3)
    t = rng.integers(0, 30, 500)
    c = rng.choice(np.array(["price", "bugs", "moved", ""]), 500)
    causes = pl.Series(c.tolist()).replace("", None)
    a = cumulative_incidence(t, causes)
    perm = rng.permutation(500)
    b = cumulative_incidence(t[perm], causes.gather(perm))
    assert a.equals(b)
    assert set(a["cause"].unique().to_list()) == {"bugs", "moved", "price"}
    # Sum over causes + all-cause KM = 1 at every time (the AJ estimator is a proper distribution).
    from lifelines import KaplanMeierFitter
    km = KaplanMeierFitter().fit(t, causes.is_not_null().to_numpy())
    total = a.group_by("time_days").agg(pl.col("incidence").sum()).sort("time_days")
    s = km.survival_function_at_times(total["time_days"].to_numpy()).to_numpy()
    np.testing.assert_allclose(total["incidence"].to_numpy() + s, 1.0, atol=1e-12)


def test_table_axis_null_reason_is_unknown_and_float_durations_are_rounded():
    frame = pl.DataFrame({"tenure_days": [1, 2, 2, 3, 4], "churned": [True, True, True, False, True],
                          "why": ["price", None, "price", "price", None]})
    out = table_incidence(frame, "why")
    assert set(out["cause"].to_list()) == {"price", UNKNOWN_CAUSE} and out["axis"].unique().to_list() == ["why"]
    # the censored row's reason is ignored: price has 2 events, unknown 2.
    assert incidence_at(out, "price", [10])[0] == pytest.approx(0.4)
    assert incidence_at(out, UNKNOWN_CAUSE, [10])[0] == pytest.approx(0.2 + 0.4 * 1.0)
    near = cumulative_incidence([2.0000001, 1.9999999, 3], [1, 2, None])
    assert near.filter(pl.col("time_days") == 2)["incidence"].to_list() == pytest.approx([1 / 3, 1 / 3])
    with pytest.raises(InputError, match="negative"):
        cumulative_incidence([-1, 2], ["a", "b"])
