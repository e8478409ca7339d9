"""The hazard given the past: a Cox model on the latent rates, fitted on E[exp(eta) | past counts, still a customer].

Regression calibration (drivers_counting) puts the rates' expected value in the model: exp(beta' E[lambda | past]).
The hazard that the data actually follow, given what was observed, is the induced hazard (Prentice 1982)

    h(t | past counts, at risk at t) = h0(t) E[exp(beta' lambda + gamma' z) | past counts, T >= t],

and the two differ in a way that leans the estimates toward 1: among customers still at risk, survival says
more about the hidden risk of a customer whose other behaviour puts them at high risk, so one prior for everyone
at risk credits a protective behaviour (logins) with less than it does (docs/drivers.md measures the lean).

Here each customer's latent rates have independent gamma priors at signup (moments of everyone's first month:
nobody has been selected by survival yet); given the counts n over the window of e months before a month row
the posterior of type k is Gamma(a_k + n_k, b_k + e), and survival to the row's start tilts it by
P(T >= t | lambda) = exp(-H0(t) exp(eta)). Expectations under the tilted posterior are read off DRAWS
quasi-random draws (Sobol points through each posterior's quantile function, the same points for every row, so
the fit is a smooth function of beta). The partial likelihood in beta is maximised by Gauss-Newton: linearise
log r_i(beta) around the current beta, fit the counting-process Cox model on the gradient with the rest as an
offset, update the Breslow baseline H0, repeat. At the fixed point the score is the induced partial likelihood's
own, and the last fit's information is its Gauss-Newton information (the variance reported).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from lifelines.exceptions import ConvergenceError
from scipy.special import gammaincinv
from scipy.stats import qmc

from churnwhy.models.cox_counting import CountingCox
from churnwhy.models.drivers_attribution import breslow
from churnwhy.models.drivers_counting import Intervals, RatePriors
from churnwhy.table import RATE_DAYS

DRAWS = 64  # quasi-random points per row; 256 gave the same coverage and z to 0.01 (docs/drivers.md)
CHUNK_CELLS = 1_000_000  # rows x draws held at once (8 MB of float64 per array)
MAX_ROWS = 400_000  # month rows the fit reads (whole customers at random beyond): about 7 s of work
MAX_ITERATIONS = 10
TOL = 1e-3  # largest change of a per-SD coefficient between two iterations
_SEED = 20261201  # fixed: the same input gives the same output
_MAX_ETA = 700.0


@dataclasses.dataclass(frozen=True)
class GammaPosteriors:
    """Each row's posterior of the latent rates (per RATE_DAYS): independent gammas Gamma(shape, rate)."""

    quantiles: tuple[np.ndarray, ...]  # per type: (distinct count) x DRAWS quantiles of Gamma(a + n, 1)
    index: np.ndarray  # rows x types: each row's count's position in its type's table
    shape: np.ndarray  # rows x types: a + n
    rate: np.ndarray  # rows x types: b + e

    @classmethod
    def from_intervals(cls, counts: np.ndarray, exposure_days: np.ndarray, prior: RatePriors) -> GammaPosteriors:
        """One quantile table row per distinct count of each type (not per count up to the largest: a type with
        thousands of events a month has a few thousand distinct counts, not a table as long as its maximum)."""
        k = counts.shape[1]
        a, b = gamma_prior(prior)
        points = qmc.Sobol(max(k, 1), scramble=True, seed=_SEED).random(DRAWS)
        n = np.rint(counts).astype(np.int64)
        index = np.empty_like(n)
        tables = []
        for j in range(k):
            distinct, index[:, j] = np.unique(n[:, j], return_inverse=True)
            tables.append(gammaincinv(a[j] + distinct[:, None], points[None, :, j]))
        e = np.asarray(exposure_days, dtype=float) / RATE_DAYS
        return cls(quantiles=tuple(tables), index=index, shape=a[None, :] + n, rate=b[None, :] + e[:, None])

    def standard(self, rows: slice, j: int) -> np.ndarray:
        """rows x DRAWS draws of type j's Gamma(shape, 1): divided by a rate, draws of Gamma(shape, rate)."""
        out: np.ndarray = self.quantiles[j][self.index[rows, j]]
        return out


def gamma_prior(prior: RatePriors) -> tuple[np.ndarray, np.ndarray]:
    """Shape a and rate b (per RATE_DAYS of exposure) with the prior's mean and variance; a type with no spread
    beyond Poisson noise gets a very large shape (everyone at the mean)."""
    mu = np.maximum(prior.mean, 1e-12)
    var = np.maximum(np.diag(prior.cov), mu * 1e-6)
    return mu**2 / var, mu / var


def _log_sum_exp(v: np.ndarray) -> np.ndarray:
    """log of the sum over draws (axis 1), per row; scipy's logsumexp costs more in checks than in arithmetic here."""
    top = v.max(axis=1)
    return np.asarray(np.log(np.exp(v - top[:, None]).sum(axis=1)) + top)


def induced_hazard(
    post: GammaPosteriors, x: np.ndarray, rate_cols: list[int], mean: np.ndarray, sd: np.ndarray, beta: np.ndarray,
    cumhaz_at_start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """log r = log E[exp(eta) | counts, T >= start] per row, and its gradient in beta (rows x features).

    eta = c0 + c' lambda: x's rate columns are the standardised latent rates (c = beta / sd over them), the other
    columns (attributes) are known. With w = exp(-H exp(eta)) the survival tilt and P the gamma posterior,
    r = E_P[exp(eta) w] / E_P[w]. exp(c' lambda) P is again a product of gammas, rates b + e - c, so the numerator
    is that tilted gamma's normalising constant times its mean of w: both means are of w, bounded, which a few
    dozen quasi-random points read well (exp(eta) itself has a heavy tail). Where c would come within half the
    rate, the draws are tilted by half the rate and the rest of exp(c' lambda) kept as a weight. With q the
    posterior tilted by exp(eta) w, d log r / d beta = E_q[x] - H (E_q[x exp(eta)] - r E_q[x]).
    Arrays are rows x draws, one event type at a time (no rows x draws x types array)."""
    rows, d = x.shape
    rate_set = set(rate_cols)
    fixed = [j for j in range(d) if j not in rate_set]
    c = beta[rate_cols] / sd[rate_cols]
    log_r, grad = np.empty(rows), np.empty((rows, d))
    step = max(1, CHUNK_CELLS // DRAWS)
    for lo in range(0, rows, step):
        sl = slice(lo, min(lo + step, rows))
        h = cumhaz_at_start[sl][:, None]
        known = x[sl][:, fixed]
        c0 = known @ beta[fixed] - float(c @ mean[rate_cols])
        shape, rate = post.shape[sl], post.rate[sl]
        tilt = np.minimum(c[None, :], rate / 2)  # rows x types
        eta_p = np.repeat(c0[:, None], DRAWS, axis=1)
        eta_q = eta_p.copy()
        extra = np.zeros_like(eta_p)  # (c - tilt)' lambda on the tilted draws, where the tilt stops short of c
        std, inv = [], 1.0 / (rate - tilt)  # the posterior's draws are std / rate, the tilted ones std * inv
        for j in range(len(rate_cols)):
            s_j = post.standard(sl, j)
            std.append(s_j)
            eta_p += s_j * (c[j] / rate[:, j])[:, None]
            eta_q += s_j * (c[j] * inv[:, j])[:, None]
            short = c[j] - tilt[:, j]
            if short.any():
                extra += s_j * (short * inv[:, j])[:, None]
        e_q = np.exp(np.minimum(eta_q, _MAX_ETA))
        log_v = extra - h * e_q
        log_norm = (shape * np.log(rate / (rate - tilt))).sum(axis=1)  # E_P[exp(tilt' lambda)]
        lse_v = _log_sum_exp(log_v)
        lr = c0 + log_norm + lse_v - _log_sum_exp(-h * np.exp(np.minimum(eta_p, _MAX_ETA)))
        log_r[sl] = lr
        q = np.exp(log_v - lse_v[:, None])
        qe = q * e_q
        sum_qe = qe.sum(axis=1)
        r = np.exp(lr)
        g = np.empty((q.shape[0], d))
        for j, col in enumerate(rate_cols):  # E_q[z] = (E_q[lambda] - mean) / sd, z the standardised rate
            eq = (np.einsum("rs,rs->r", q, std[j]) * inv[:, j] - mean[col]) / sd[col]
            eqe = (np.einsum("rs,rs->r", qe, std[j]) * inv[:, j] - mean[col] * sum_qe) / sd[col]
            g[:, col] = eq - h[:, 0] * (eqe - r * eq)
        g[:, fixed] = known * (1.0 - h * (sum_qe - r)[:, None])
        grad[sl] = g
    return log_r, grad


@dataclasses.dataclass
class InducedFit:
    """fit_induced's answer: the last Cox fit (its coefficients and variance are the model's), the month rows it
    read (all, or whole customers at random up to MAX_ROWS) with their linearised design and offset, and how the
    iteration went."""

    cox: CountingCox
    intervals: Intervals
    design: np.ndarray
    offset: np.ndarray
    customers: int
    iterations: int
    converged: bool


def bounded(iv: Intervals, x: np.ndarray, seed: int) -> tuple[Intervals, np.ndarray, int]:
    """At most MAX_ROWS month rows: whole customers in a random order (fixed seed) until the rows would pass it.
    -> (intervals, their rows of x, customers kept)."""
    per_customer = np.bincount(iv.who)
    if iv.who.size <= MAX_ROWS:
        return iv, x, int((per_customer > 0).sum())
    order = np.random.default_rng(seed).permutation(per_customer.size)
    kept = order[: int(np.searchsorted(np.cumsum(per_customer[order]), MAX_ROWS, side="right"))]
    keep = np.zeros(per_customer.size, dtype=bool)
    keep[kept] = True
    rows = keep[iv.who]
    sub = dataclasses.replace(
        iv, who=iv.who[rows], start=iv.start[rows], stop=iv.stop[rows], event=iv.event[rows], rates=iv.rates[rows],
        counts=iv.counts[rows], exposure_days=iv.exposure_days[rows],
    )  # fmt: skip
    return sub, x[rows], int(kept.size)


def fit_induced(
    iv: Intervals, x: np.ndarray, rate_cols: list[int], mean: np.ndarray, sd: np.ndarray, beta: np.ndarray,
    names: list[str], penalizer: float, *, seed: int = 0,
) -> InducedFit:  # fmt: skip
    """Gauss-Newton on the induced partial likelihood from `beta` (the regression-calibration fit on x, the month
    rows with standardised shrunk rates), on at most MAX_ROWS of them. Raises lifelines' ConvergenceError when a
    Cox step fails or the steps grow."""
    iv, x, customers = bounded(iv, x, seed)
    post = GammaPosteriors.from_intervals(iv.counts, iv.exposure_days, iv.signup)
    times, cum = breslow(iv.start, iv.stop, iv.event, x @ beta)
    converged, it, last_change = False, 0, np.inf
    for it in range(1, MAX_ITERATIONS + 1):
        # H0 just before the row starts: survival to the month's start (tilting by H0 at the month's middle
        # instead made the iterations run away on issue 16's generator, docs/drivers.md)
        pos = np.searchsorted(times, iv.start, side="right") - 1
        h = np.where(pos >= 0, cum[np.maximum(pos, 0)], 0.0)
        log_r, g = induced_hazard(post, x, rate_cols, mean, sd, beta, h)
        offset = log_r - g @ beta
        cox = CountingCox(penalizer=penalizer).fit(g, iv.start, iv.stop, iv.event, names, offset=offset, init=beta)
        new = cox.params_.to_numpy()
        change = float(np.abs(new - beta).max())
        if not np.isfinite(change) or (it > 2 and change > last_change):
            # Gauss-Newton steps that grow: the linearised hazard is a poor guide here; no estimate is better
            raise ConvergenceError(f"the iterations moved away from a solution (step {change:.3g} at iteration {it})")
        beta, last_change = new, change
        times, cum = breslow(iv.start, iv.stop, iv.event, g @ beta + offset)
        if change < TOL:
            converged = True
            break
    return InducedFit(cox=cox, intervals=iv, design=g, offset=offset, customers=customers, iterations=it,
                      converged=converged)  # fmt: skip
