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
