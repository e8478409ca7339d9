"""The hazard given the past (models/drivers_induced.py): its expectations against closed forms and numerical
integration, its gradient against finite differences, the Cox offset it rests on against lifelines, and which
fit scores customers. Its coverage over seeds is in tests/test_drivers_coverage.py and test_drivers_planted_cli.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from scipy import integrate, stats

from churnwhy.models.cox_counting import CountingCox
import churnwhy.models.drivers_induced as induced_module
from churnwhy.models.drivers_counting import RatePriors
from churnwhy.models.drivers_induced import GammaPosteriors, gamma_prior, induced_hazard


def _posteriors(counts: list[list[int]], exposure_days: list[float], mean: list[float], var: list[float]) -> GammaPosteriors:
    prior = RatePriors(mean=np.array(mean, dtype=float), cov=np.diag(var))
    return GammaPosteriors.from_intervals(np.array(counts, dtype=float), np.array(exposure_days), prior)


def test_gamma_prior_has_the_priors_mean_and_variance() -> None:
    a, b = gamma_prior(RatePriors(mean=np.array([0.3, 4.0]), cov=np.diag([0.09, 8.0])))
    np.testing.assert_allclose(a / b, [0.3, 4.0])
    np.testing.assert_allclose(a / b**2, [0.09, 8.0])


def test_quantile_tables_hold_distinct_counts_only() -> None:
    """A behaviour with millions of events a window (page views) costs one table row per distinct count."""
    post = _posteriors([[3_000_000], [5], [3_000_000], [0]], [180.0] * 4, mean=[1e4], var=[1e8])
    assert post.quantiles[0].shape == (3, induced_module.DRAWS)
    first, third = (post.standard(slice(i, i + 1), 0) for i in (0, 2))
    np.testing.assert_array_equal(first, third)


@pytest.mark.parametrize("n, days", [(0, 0.0), (0, 90.0), (3, 30.0), (12, 180.0)])
def test_without_survival_it_is_the_gamma_posteriors_moment_generating_function(n: int, days: float) -> None:
    """H = 0: E[exp(c (lambda - m) / s)] under Gamma(a + n, b + e) is exp(-c m / s) (1 - c / (s (b + e)))^-(a + n)."""
    post = _posteriors([[n]], [days], mean=[0.3], var=[0.09])  # prior Gamma(1, 1/0.3 per month)
    mean, sd, c = np.array([0.3]), np.array([0.5]), 0.6  # HR 3.32 per event a month is c = log(3.32) * 0.5
    log_r, _ = induced_hazard(post, np.zeros((1, 1)), [0], mean, sd, np.array([c]), np.zeros(1))
    a, b = 1.0 + n, 1 / 0.3 + days / 30
    exact = -c * 0.3 / 0.5 - a * np.log(1 - c / (0.5 * b))
    assert log_r[0] == pytest.approx(exact, abs=1e-9)  # exact: no survival, so the tilted gamma's constant is all


@pytest.mark.parametrize("h, slope", [(0.05, 1.2), (0.5, 1.2), (3.0, 1.2), (0.5, 4.0), (0.05, -0.8)])
def test_survival_tilt_matches_numerical_integration(h: float, slope: float) -> None:
    """r = E[e^eta e^(-H e^eta)] / E[e^(-H e^eta)] over the posterior, one type plus a known attribute. slope 4
    per event a month is more than half the posterior's rate (5.3): the draws are tilted part of the way."""
    post = _posteriors([[2]], [60.0], mean=[0.3], var=[0.09])
    beta, x = np.array([slope, -0.5]), np.array([[0.0, 1.0]])  # column 1: an attribute of the customer, known
    log_r, _ = induced_hazard(post, x, [0], np.array([0.3, 0.0]), np.array([1.0, 1.0]), beta, np.array([h]))
    dist = stats.gamma(3.0, scale=1 / (1 / 0.3 + 2.0))

    def moment(power: int) -> float:
        def f(lam: float) -> float:
            eta = slope * (lam - 0.3) - 0.5
            with np.errstate(over="ignore"):
                return float(np.exp(power * eta - h * np.exp(eta)) * dist.pdf(lam))

        return float(integrate.quad(f, 0, np.inf, limit=200)[0])

    assert log_r[0] == pytest.approx(np.log(moment(1) / moment(0)), abs=0.01)
    # survival lowers the expected hazard of who is left: the tilt pulls r under its value at H = 0
    untilted, _ = induced_hazard(post, x, [0], np.array([0.3, 0.0]), np.array([1.0, 1.0]), beta, np.zeros(1))
    assert log_r[0] < untilted[0] - 0.01 * h


def _three_rows() -> tuple[GammaPosteriors, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    post = _posteriors([[0, 5], [2, 1], [7, 0]], [30.0, 90.0, 180.0], mean=[0.3, 4.0], var=[0.09, 8.0])
    x = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # columns 0, 1 rates, 2 an attribute
    mean, sd = np.array([0.3, 4.0, 0.0]), np.array([0.3, 2.8, 1.0])
    return post, x, mean, sd, np.array([0.4, -0.3, 0.2]), np.array([0.1, 0.8, 2.0])


def test_gradient_matches_finite_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gradient is the expectation formula, read off the same draws as log r: it matches the finite differences
    of log r as the draws grow (here 16,384; at the default 64 the two differ by up to 0.03 on these extreme rows)."""
    monkeypatch.setattr(induced_module, "DRAWS", 16_384)
    post, x, mean, sd, beta, h = _three_rows()
    _, grad = induced_hazard(post, x, [0, 1], mean, sd, beta, h)
    eps = 1e-5
    for j in range(3):
        step = np.eye(3)[j] * eps
        up, _ = induced_hazard(post, x, [0, 1], mean, sd, beta + step, h)
        down, _ = induced_hazard(post, x, [0, 1], mean, sd, beta - step, h)
        np.testing.assert_allclose(grad[:, j], (up - down) / (2 * eps), atol=2e-3)


def test_default_draws_read_log_r_to_a_hundredth(monkeypatch: pytest.MonkeyPatch) -> None:
    post, x, mean, sd, beta, h = _three_rows()
    got, _ = induced_hazard(post, x, [0, 1], mean, sd, beta, h)
    monkeypatch.setattr(induced_module, "DRAWS", 16_384)
    post, *_ = _three_rows()
    ref, _ = induced_hazard(post, x, [0, 1], mean, sd, beta, h)
    np.testing.assert_allclose(got, ref, atol=0.01)


def test_offset_is_a_covariate_with_its_coefficient_fixed() -> None:
    """Fit Rossi with every covariate (lifelines), then without prio but with prio x its coefficient as an offset:
    the other coefficients are lifelines' to 1e-5 (the score equations are the same)."""
    rossi = load_rossi()
    names = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    ref = CoxPHFitter().fit(rossi, "week", "arrest")
    rest = names[:-1]
    n = len(rossi)
    got = CountingCox().fit(
        rossi[rest].to_numpy(float), np.zeros(n), rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(bool), rest,
        offset=rossi["prio"].to_numpy(float) * ref.params_["prio"], init=np.full(len(rest), 0.1),
    )  # fmt: skip
    np.testing.assert_allclose(got.params_.to_numpy(), ref.params_[rest].to_numpy(), atol=1e-5)


@pytest.mark.parametrize("inactivity", [False, True], ids=["churn_dates", "inactivity"])
def test_which_fit_gives_the_hazard_ratios_and_which_scores(tmp_path, inactivity: bool) -> None:
    """Dated churn: hazard ratios from the induced hazard, customers scored by the regression-calibration fit (its
    coefficients differ). Churn inferred from inactivity: one fit, regression calibration, and the rule says why."""
    from cox_sim import generate

    from churnwhy.config import Config
    from churnwhy.models.drivers import fit_driver_model
    from churnwhy.pipeline import load_table

    cfg = Config()
    model = fit_driver_model(load_table(generate(tmp_path, n=1500, seed=5, inactivity=inactivity), cfg).table, cfg)
    rule = next(r for r in model.rules_ if r.startswith("counting-process Cox model"))
    effects = model.cox_.params_.reindex(list(model.features_)).to_numpy()
    if inactivity:
        assert model.scoring_cox_ is None and "most churn here is inferred from inactivity" in rule
        np.testing.assert_array_equal(model.fit_.params, effects)
    else:
        assert model.scoring_cox_ is not None and "the hazard given the past" in rule
        login = list(model.features_).index("rate_login")
        # the calibration fit leans toward 1 (docs/drivers.md): the induced one is further from it
        assert effects[login] < model.fit_.params[login] < 0


def test_an_induced_fit_that_runs_away_leaves_the_calibration_fit_and_says_so(tmp_path, monkeypatch) -> None:
    from cox_sim import generate
    from lifelines.exceptions import ConvergenceError

    import churnwhy.models.drivers_fit as drivers_fit
    from churnwhy.config import Config
    from churnwhy.models.drivers import fit_driver_model
    from churnwhy.pipeline import load_table

    def runaway(*args, **kwargs):
        raise ConvergenceError("the iterations moved away from a solution (step 3.2 at iteration 4)")

    monkeypatch.setattr(drivers_fit, "fit_induced", runaway)
    cfg = Config()
    model = fit_driver_model(load_table(generate(tmp_path, n=1500, seed=5), cfg).table, cfg)
    assert model.scoring_cox_ is None and model.skipped_ is None
    assert any("the hazard given the past could not be fitted (the iterations moved away" in n for n in model.notes_)
    rule = next(r for r in model.rules_ if r.startswith("counting-process Cox model"))
    assert "their expected values (regression calibration)" in rule


def test_the_work_is_bounded_by_whole_customers(tmp_path, monkeypatch) -> None:
    """Past MAX_ROWS month rows the induced fit reads whole customers at random (each customer's months stay
    together: the posterior of a month needs the months before), and the rule says how many."""
    from cox_sim import generate

    from churnwhy.config import Config
    from churnwhy.models.drivers import fit_driver_model
    from churnwhy.models.drivers_counting import Intervals
    from churnwhy.pipeline import load_table

    seen: list[Intervals] = []
    real = induced_module.fit_induced

    def spy(iv, *args, **kwargs):
        fit = real(iv, *args, **kwargs)
        seen.extend([iv, fit.intervals])
        return fit

    import churnwhy.models.drivers_fit as drivers_fit

    monkeypatch.setattr(induced_module, "MAX_ROWS", 5_000)
    monkeypatch.setattr(drivers_fit, "fit_induced", spy)
    cfg = Config()
    model = fit_driver_model(load_table(generate(tmp_path, n=1500, seed=5), cfg).table, cfg)
    full, used = seen
    assert 4_000 < used.who.size <= 5_000 < full.who.size
    per_full, per_used = np.bincount(full.who), np.bincount(used.who, minlength=full.who.max() + 1)
    kept = per_used > 0
    np.testing.assert_array_equal(per_used[kept], per_full[kept])  # whole customers
    rule = next(r for r in model.rules_ if r.startswith("counting-process Cox model"))
    assert f"on a random {kept.sum():,} of the 1,500 customers, {used.who.size:,} month rows" in rule
