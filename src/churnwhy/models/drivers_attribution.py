"""Attributable churn per driver family, from a fitted Cox model.

For customer i with (standardised) features z_i, the model's probability of churning by the horizon h is
P_i = 1 - exp(-H0(h) exp(β·(z_i - z̄))). A family's counterfactual moves each of its features to its
best level: a harmful feature (β > 0) down to its `best_quantile` quantile (0 for a rate with many
zeros), a protective one (β < 0) up to its 1 - best_quantile quantile; customers already better than
that keep their value. (With [drivers] counterfactual = "zero" every feature of the family is set to 0
instead: its effect removed, the definition the demo generator's truth uses.) Then

    attributable share(F) = (mean P_obs - mean P_cf(F)) / mean P_obs

(the population attributable fraction: the share of expected churners who would not have churned).
Shares of overlapping families need not add up; the Shapley split of v(S) = mean P(families outside S at
their best) - mean P(all at their best) does, to the explained churn.

CIs: `n_bootstrap` draws, each with β ~ N(β̂, V̂) (the Cox estimate's sampling distribution) and a
resample of the evaluated customers (multinomial weights). Each draw computes the same share as the estimate,
"best" included: a feature's best level follows the sign of the draw's own coefficient (a coefficient that
flips sign in a draw is moved the other way), so every draw's share lies in [0, 1] like the estimate's. The
95% interval is a normal one on the logit scale, expit(logit(share) ± 1.96 × sd of the draws' logits): it
always holds the estimate and stays inside [0, 1]. (Percentile intervals of a share computed through a
clipped counterfactual could exclude the estimate itself, "5% (95% CI 0% to 1%)"; an interval symmetric on
the share's own scale could leave [0, 1], "42% (95% CI -106% to 100%)".) With counterfactual = "zero" a share
can be negative (a protective family: churn it prevents) but never above 1: its interval is normal on the
log of P_cf / P_obs. H0 is held fixed (its uncertainty is small next to β's at the sizes where these numbers
are read). No refit per draw: that is what keeps this bounded at 1M customers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churnwhy.models.drivers_families import DriverSettings
from churnwhy.models.drivers_prep import stratified_sample
from churnwhy.models.shapley import shapley_values
from churnwhy.results.drivers import FamilyAttribution

_MAX_LP = 50.0  # exp overflow guard; P is 1 far below this
Z95 = 1.959963984540054

INTERPRETATION = (
    "These are associations in this data, not causes: a hazard ratio says that customers with more of a "
    "behaviour (or in a level, against its reference) left sooner or later, holding the other drivers fixed; a "
    "share says how much predicted churn goes with a family being at its best observed level, if the model is "
    "right. Neither says what would happen if you changed that behaviour: a driver can stand in for something "
    "not measured. Family shares overlap (each moves one family with the others as they are) and need not add "
    "up; the Shapley column splits the total so that it does."
)

@dataclasses.dataclass(frozen=True)
class Attribution:
    """Point estimates and 95% percentile intervals, keyed by family."""

    predicted_churn: float
    explained_share: tuple[float, float, float]  # point, low, high
    share: Mapping[str, tuple[float, float, float]]
    shapley_share: Mapping[str, tuple[float, float, float]]


def best_levels(x: np.ndarray, q: float, is_rate: np.ndarray) -> np.ndarray:
    """2 x columns: row 0, the best level of a harmful column (0 for a rate: no such events; else the
    q-quantile), row 1 that of a protective one (the (1-q)-quantile: there is no natural ceiling, so the best
    observed level). Which row applies follows the sign of the coefficient."""
    lo = np.where(is_rate, 0.0, np.quantile(x, q, axis=0))
    hi = np.quantile(x, 1 - q, axis=0)
    return np.vstack([lo, hi])


def attribute(
    z: np.ndarray,
    z_center: np.ndarray,
    beta: np.ndarray,
    cov: np.ndarray,
    h0: np.ndarray,
    groups: Mapping[str, Sequence[int]],
    best_z: np.ndarray,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
    clip: bool = True,
) -> Attribution:
    """Attributable and Shapley shares per family (see the module docstring). `h0` is H0(h) per row (strata).
    `best_z`: 2 x p, the best level of each column if harmful (row 0) and if protective (row 1), or p.

    clip=False sets the family's columns to best_z outright (used for "zero": remove the effect entirely,
    so a protective family gets a negative share: churn it prevents)."""
    n, p = z.shape
    draws = rng.multivariate_normal(beta, cov, size=n_bootstrap, method="eigh") if n_bootstrap else np.empty((0, p))
    betas = np.column_stack([beta, draws.T]) if p else np.zeros((0, n_bootstrap + 1))  # p x (B+1); column 0 = point
    # bootstrap weights: how many times each customer appears in each resample; column 0 = the sample itself
    counts = np.ones((n, n_bootstrap + 1))
    if n_bootstrap:
        picks = rng.integers(0, n, size=(n_bootstrap, n))
        offsets = (np.arange(n_bootstrap) * n)[:, None]
        counts[:, 1:] = np.bincount((picks + offsets).ravel(), minlength=n * n_bootstrap).reshape(n_bootstrap, n).T
    zc = z - z_center
    best_c = np.atleast_2d(best_z) - z_center
    # Each column at its best if harmful (min with row 0) and if protective (max with row 1); a draw takes,
    # column by column, the one its own coefficient's sign asks for (clip=False: the level itself, either way).
    lowered = np.full_like(zc, 0.0) + best_c[0] if not clip else np.minimum(zc, best_c[0])
    raised = np.full_like(zc, 0.0) + best_c[-1] if not clip else np.maximum(zc, best_c[-1])
    up, down = betas * (betas > 0), betas * (betas <= 0)
    players = [f for f, cols in groups.items() if len(cols)]
    cache: dict[frozenset[str], np.ndarray] = {}

    def mean_p(observed: frozenset[str]) -> np.ndarray:
        """Mean churn probability by the horizon with families outside `observed` at their best level."""
        if observed not in cache:
            moved = [j for fam in players if fam not in observed for j in groups[fam]]
            stay = np.setdiff1d(np.arange(p), moved)
            lp = zc[:, stay] @ betas[stay] + lowered[:, moved] @ up[moved] + raised[:, moved] @ down[moved]
            prob = -np.expm1(-h0[:, None] * np.exp(np.minimum(lp, _MAX_LP)))
            cache[observed] = (counts * prob).sum(axis=0) / counts.sum(axis=0)
        return cache[observed]

    everyone = frozenset(players)
    p_obs = mean_p(everyone)
    p_none = mean_p(frozenset())
    safe = np.where(p_obs > 0, p_obs, np.nan)

    # "best": every share lies in [0, 1] (logit scale); "zero": a share is 1 - P_cf / P_obs, below 1 but of
    # either sign (log-ratio scale); a Shapley value under "zero" is a signed split (normal scale).
    share_scale = "logit" if clip else "ratio"
    share = {f: interval((p_obs - mean_p(everyone - {f})) / safe, share_scale) for f in players}
    phi = shapley_values(players, lambda s: mean_p(frozenset(str(f) for f in s)) - p_none)
    shap = {f: interval(np.asarray(phi[f]) / safe, "logit" if clip else "normal") for f in players}
    return Attribution(
        predicted_churn=float(p_obs[0]),
        explained_share=interval((p_obs - p_none) / safe, share_scale),
        share=share,
        shapley_share=shap,
    )


_EPS = 1e-9  # a share this close to 0 or 1 is read at this distance from it on the logit scale


def interval(values: np.ndarray, scale: str) -> tuple[float, float, float]:
    """(estimate, low, high) from values[0] (the estimate) and values[1:] (bootstrap draws): a normal 95%
    interval on `scale` ("logit": a share in [0, 1]; "ratio": a share 1 - r with r > 0, on log r; "normal"),
    mapped back. Always holds the estimate, and never leaves the range the scale allows."""
    est = float(values[0])
    rest = values[1:][np.isfinite(values[1:])]
    if rest.size < 2 or not np.isfinite(est):
        return est, float("nan"), float("nan")
    if scale == "normal":
        half = Z95 * float(rest.std(ddof=1))
        return est, est - half, est + half
    if scale == "ratio":
        log_r = np.log(np.maximum(1.0 - rest, _EPS))
        half = Z95 * float(log_r.std(ddof=1))
        r = max(1.0 - est, _EPS)
        return est, float(1.0 - r * np.exp(half)), float(1.0 - r * np.exp(-half))
    est = min(max(est, 0.0), 1.0)  # a share in [0, 1]: -1e-16 is rounding (nobody moved), not a negative share
    draws = np.clip(rest, _EPS, 1 - _EPS)
    centre = float(np.clip(est, _EPS, 1 - _EPS))
    if np.ptp(draws) == 0.0:  # nothing varies between draws (no customer moves): a point
        return est, est, est
    half = Z95 * float(np.std(np.log(draws / (1 - draws)), ddof=1))
    logit = np.log(centre / (1 - centre))
    lo, hi = (1.0 / (1.0 + np.exp(-(logit + d))) for d in (-half, half))
    return est, float(min(lo, est)), float(max(hi, est))


def baseline_at(times: np.ndarray, cumhaz: np.ndarray, horizon: float) -> float:
    """H0 at the horizon: the step function's value at the last event time <= horizon (0 before the first)."""
    k = int(np.searchsorted(times, horizon, side="right"))
    return float(cumhaz[k - 1]) if k else 0.0


def horizon_label(days: int) -> str:
    """365 -> "12-month", 90 -> "3-month", 45 -> "45-day": how the sentence names the horizon."""
    months = {30: 1, 60: 2, 90: 3, 180: 6, 182: 6, 183: 6, 270: 9, 360: 12, 365: 12, 730: 24}
    return f"{months[days]}-month" if days in months else f"{days}-day"


FAMILY_PHRASES = {
    "experience": "experience failures",
    "price": "price",
    "product": "product use and engagement",
    "other": "other behaviour",
    "attributes": "customer attributes (who the customers are)",
}


def sentence(family: str, share: float, lo: float, hi: float, horizon_days: int) -> str:
    """'38% of 12-month churn is associated with experience failures (95% CI 33% to 43%)'."""
    what = FAMILY_PHRASES.get(family, family)
    ci = f" (95% CI {lo * 100:.0f}% to {hi * 100:.0f}%)" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{share * 100:.0f}% of {horizon_label(horizon_days)} churn is associated with {what}{ci}"


def breslow(start: np.ndarray, stop: np.ndarray, event: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow cumulative baseline hazard at lp = 0 from start/stop rows: (event times, H0 at each).

    At an event time t the risk set is every row with start < t <= stop; its weight sum is
    sum(w; stop >= t) - sum(w; start >= t), from two sorted cumulative sums (no loop over rows)."""
    w = np.exp(np.minimum(lp, _MAX_LP))
    times, deaths = np.unique(stop[event], return_counts=True)
    order_stop, order_start = np.argsort(stop), np.argsort(start)
    tail_stop = np.concatenate([np.cumsum(w[order_stop][::-1])[::-1], [0.0]])
    tail_start = np.concatenate([np.cumsum(w[order_start][::-1])[::-1], [0.0]])
    at_risk = (tail_stop[np.searchsorted(stop[order_stop], times, side="left")]
               - tail_start[np.searchsorted(start[order_start], times, side="left")])  # fmt: skip
    return times, np.cumsum(deaths / np.maximum(at_risk, 1e-300))


@dataclasses.dataclass(frozen=True)
class FamilyShares:
    """attribute_families' answer: rows for the result, and what to say about how they were computed."""

    rows: tuple[FamilyAttribution, ...]
    predicted_churn: float
    explained_share: float
    family_share_sum: float
    notes: tuple[str, ...]
    rule: str


def attribute_families(
    *,
    beta: np.ndarray,
    cov: np.ndarray,
    baseline: pd.DataFrame,
    x_all: np.ndarray,
    e_all: np.ndarray,
    fit_idx: np.ndarray,
    strata_all: np.ndarray | None,
    names: Sequence[str],
    mean: np.ndarray,
    sd: np.ndarray,
    groups: Mapping[str, Sequence[int]],
    is_rate: np.ndarray,
    is_attribute: np.ndarray,
    settings: DriverSettings,
    rng: np.random.Generator,
) -> FamilyShares:
    """Attributable churn by the horizon per group of drivers (behaviour families, attributes), averaged over a
    churn-stratified sample of customers. `baseline`: cumulative baseline hazard, one column per stratum."""
    s = settings
    h = s.horizon_days
    notes: list[str] = []
    times = baseline.index.to_numpy(dtype=float)
    if not times.size or times.min() > h:
        # Every share would be 0 / 0 ("nan% of 12-month churn"): the model predicts no churn by the horizon.
        first = f" (the first is on day {times.min():.0f})" if times.size else ""
        return FamilyShares(
            rows=(), predicted_churn=0.0, explained_share=float("nan"), family_share_sum=float("nan"),
            notes=(f"no customer churned within {h} days of signup in this data{first}: no share of "
                   f"{horizon_label(h)} churn can be associated with the drivers; set [drivers] horizon_days "
                   "past it to read one",),
            rule=f"attributable churn by day {h}: not computed (no churn by then)",
        )  # fmt: skip
    if times.size and h > times.max():
        notes.append(
            f"the horizon ({h} days) is past the longest observed tenure with churn ({times.max():.0f} days): "
            "probabilities stop growing there, so attributable shares are for the observed span"
        )
    eval_idx = stratified_sample(e_all, s.eval_rows, rng)
    if strata_all is None:
        h0 = np.full(eval_idx.size, baseline_at(times, baseline.iloc[:, 0].to_numpy(), h))
    else:
        by_level = {str(c): baseline_at(times, baseline[c].ffill().fillna(0.0).to_numpy(), h) for c in baseline.columns}
        h0 = np.array([by_level.get(str(v), np.nan) for v in strata_all[eval_idx]])
        seen = np.isfinite(h0)
        if not seen.all():
            notes.append(f"{int((~seen).sum())} evaluated customer(s) in a segment level absent from the fit left out")
            eval_idx, h0 = eval_idx[seen], h0[seen]
    z_eval = (x_all[eval_idx] - mean) / sd
    if s.counterfactual == "zero":
        best_x = np.zeros((2, len(names)))
    else:
        best_x = best_levels(x_all[fit_idx], s.best_quantile, is_rate)
        # An attribute level's best is not being in it (against the reference); never "everyone in it".
        best_x = np.where(is_attribute[None, :], 0.0, best_x)
    best_z = (best_x - mean) / sd
    att = attribute(
        z_eval, np.zeros(len(names)), beta, cov, h0, groups, best_z, n_bootstrap=s.n_bootstrap, rng=rng,
        clip=s.counterfactual != "zero",
    )  # fmt: skip
    rule = (
        f"attributable churn by day {h}: averaged over {eval_idx.size:,} customers (churn-stratified sample, at most "
        f"{s.eval_rows:,}); "
        + (
            "counterfactual: each family's features set to 0 (effect removed)"
            if s.counterfactual == "zero"
            else f"best level = 0 for a harmful rate, else the {s.best_quantile:.0%} quantile of a harmful feature, "
            f"the {1 - s.best_quantile:.0%} quantile of a protective one"
        )
        + f"; 95% CIs: normal on the logit of the share (on log(1 - share) with the 'zero' counterfactual), from "
        f"{s.n_bootstrap} draws of the coefficients (normal, from the Cox fit) with the customers resampled and each "
        "draw's best levels following its own coefficients' signs, baseline hazard held fixed: the interval "
        "holds the estimate and stays within 0-100%"
    )
    rows = []
    for w, cols in groups.items():
        if w not in att.share:
            continue
        sh, lo, hi = att.share[w]
        ssh, slo, shi = att.shapley_share[w]
        rows.append(
            FamilyAttribution(
                family=w, features=tuple(names[j] for j in cols), share=sh, ci_low=lo, ci_high=hi,
                shapley_share=ssh, shapley_ci_low=slo, shapley_ci_high=shi, sentence=sentence(w, sh, lo, hi, h),
            )  # fmt: skip
        )
    return FamilyShares(
        rows=tuple(sorted(rows, key=lambda r: (-r.share, r.family))),
        predicted_churn=att.predicted_churn,
        explained_share=att.explained_share[0],
        family_share_sum=float(sum(r.share for r in rows)),
        notes=tuple(notes),
        rule=rule,
    )
