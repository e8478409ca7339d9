"""The vectorised counting-process Cox fitter against lifelines' CoxTimeVaryingFitter (an outside reference:
lifelines' loop over event times, Efron ties), on its Stanford heart transplant data (R survival::heart)."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import CoxTimeVaryingFitter
from lifelines.datasets import load_stanford_heart_transplants

from churnwhy.models.cox_counting import CountingCox


def test_matches_lifelines_on_stanford_heart() -> None:
    """R: coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart) (ties = "efron")."""
    df = load_stanford_heart_transplants()
    names = ["age", "year", "surgery", "transplant"]
    ref = CoxTimeVaryingFitter().fit(df, id_col="id", event_col="event", start_col="start", stop_col="stop")
    got = CountingCox().fit(df[names].to_numpy(), df["start"].to_numpy(float), df["stop"].to_numpy(float),
                            df["event"].to_numpy(bool), names)  # fmt: skip
    assert (df.groupby("stop")["event"].sum() > 1).any()  # tied event times: Efron's correction is exercised
    np.testing.assert_allclose(got.params_.to_numpy(), ref.params_.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(got.standard_errors_.to_numpy(), ref.standard_errors_.to_numpy(), rtol=1e-5)
    assert got.log_likelihood_ == pytest.approx(ref.log_likelihood_, abs=1e-6)
    np.testing.assert_allclose(got.summary["p"].to_numpy(), ref.summary["p"].to_numpy(), rtol=1e-4)


def test_one_row_per_subject_equals_a_plain_cox_model() -> None:
    """With start = 0 the counting-process likelihood is the ordinary Cox partial likelihood (lifelines rossi)."""
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    names = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    ref = CoxPHFitter().fit(rossi, "week", "arrest")
    n = len(rossi)
    got = CountingCox().fit(rossi[names].to_numpy(float), np.zeros(n), rossi["week"].to_numpy(float),
                            rossi["arrest"].to_numpy(bool), names)  # fmt: skip
    # REFERENCES.md 2a (R coxph, Efron): fin -0.3794221665 (SE 0.1913794807), prio 0.0914971 ...
    assert got.params_["fin"] == pytest.approx(-0.3794221665, abs=1e-5)
    assert got.standard_errors_["fin"] == pytest.approx(0.1913794807, rel=1e-5)
    np.testing.assert_allclose(got.params_.to_numpy(), ref.params_.to_numpy(), atol=1e-5)


def test_bad_rows_are_refused() -> None:
    with pytest.raises(ValueError):
        CountingCox().fit(np.zeros((2, 1)), np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([True, False]), ["x"])


def _ph_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x[:, 0] doubles the hazard before day 1 and halves it after (not proportional); x[:, 1:] are proportional."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    early = rng.exponential(1 / np.exp(0.7 * x[:, 0] + 0.4 * x[:, 1]))
    late = 1 + rng.exponential(1 / np.exp(-0.7 * x[:, 0] + 0.4 * x[:, 1]))
    t = np.where(early < 1, early, late)
    c = rng.uniform(0.5, 4, n)
    return x, np.minimum(t, c), t <= c


def test_schoenfeld_test_on_start_stop_rows_equals_lifelines() -> None:
    """drivers_checks.ph_test_counting is lifelines' proportional_hazard_test (rank time) on one row per subject
    (no ties: Breslow = Efron), and splitting each life into two rows changes nothing."""
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    from churnwhy.models.drivers_checks import ph_test_counting

    x, t, e = _ph_data(600, 1)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=t, E=e.astype(int))
    cph = CoxPHFitter().fit(df, "T", "E")
    ref = proportional_hazard_test(cph, df, time_transform="rank").summary["p"]
    beta, cov = cph.params_.to_numpy(), cph.variance_matrix_.to_numpy()
    got = ph_test_counting(x, np.zeros(t.size), t, e, beta, cov, ["a", "b", "c"])
    np.testing.assert_allclose([got[k] for k in "abc"], ref.to_numpy(), rtol=1e-9)
    assert got["a"] < 1e-4 and got["b"] > 0.01  # the non-proportional effect is the one flagged
    mid = t / 2
    split = ph_test_counting(np.vstack([x, x]), np.r_[np.zeros(t.size), mid], np.r_[mid, t],
                             np.r_[np.zeros(t.size, bool), e], beta, cov, ["a", "b", "c"])  # fmt: skip
    np.testing.assert_allclose([split[k] for k in "abc"], [got[k] for k in "abc"], rtol=1e-9)
