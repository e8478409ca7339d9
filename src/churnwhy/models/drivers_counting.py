"""Noisy behaviour rates: gamma-Poisson shrinkage and the counting-process (monthly start/stop) layout.

A customer's rate of an event type is a count over an exposure. Over a short exposure it is mostly Poisson
noise, and a Cox model on noisy rates pulls every hazard ratio towards 1 (measurement error). Two things
undo that here (docs/drivers.md):

1. Shrinkage (regression calibration). Each customer's latent rates lambda (events per 30 days, one per
   event type) vary across customers with mean mu and covariance S, fitted by moments. Given the observed
   rates r = n / e over e months, the best linear predictor is E[lambda | r] = mu + K (r - mu) with the
   gain K = S (S + diag(mu) / e)^-1. With one type this is exactly the gamma-Poisson posterior mean
   (n + a) / (e + b), the observed rate weighted by its reliability e / (e + b); with several, correlated
   behaviours (tickets and complaints come together) also inform each other, so the effect of the one with
   more events is not credited to its noisier partner. A long history counts almost as observed; a week is
   mostly the average.
2. A counting-process Cox model. Each customer's life is cut into 30-day months; in month m the covariate
   is the shrunk rate from the `window` months before m only (the past, never the future), so a customer
   who leaves in week 2 enters the model with the population rate (what was knowable), not with two
   noisy weeks read as a rate measured up to the day they left (whose length is the outcome itself).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import polars as pl

from churnwhy.table import MONTH_DAYS, RATE_DAYS, MonthlyCounts

_MIN_VAR = 1e-9
SIGNIFICANT = 3.0  # standard errors a latent covariance between two event types must stand out by


@dataclasses.dataclass(frozen=True)
class RatePriors:
    """Mean `mean` (k) and covariance `cov` (k x k) of the latent rates across customers, per RATE_DAYS."""

    mean: np.ndarray
    cov: np.ndarray

    def subset(self, idx: list[int]) -> RatePriors:
        return RatePriors(mean=self.mean[idx], cov=self.cov[np.ix_(idx, idx)])

    def gain(self, exposure_days: float) -> np.ndarray:
        """K = S (S + diag(mu) / e)^-1 for one exposure (0: K = 0, nothing observed)."""
        e = float(exposure_days) / RATE_DAYS
        k = self.mean.size
        if e <= 0:
            return np.zeros((k, k))
        return np.linalg.solve(self.cov + np.diag(self.mean / e), self.cov).T  # S symmetric: (A^-1 S)^T = S A^-1

    def reliability(self, exposure_days: np.ndarray) -> np.ndarray:
        """diag(K) per customer: the weight each customer's own rate of each type gets."""
        values, inverse = np.unique(np.asarray(exposure_days, dtype=float), return_inverse=True)
        return np.stack([np.diag(self.gain(v)) for v in values])[inverse]

    def shrink(self, counts: np.ndarray, exposure_days: np.ndarray) -> np.ndarray:
        """E[lambda | counts, exposure] per customer (rows) and type (columns), events per RATE_DAYS. One gain
        per distinct exposure (whole days: at most lookback_days + 1 of them), not one per customer."""
        counts = np.asarray(counts, dtype=float)
        exposure = np.asarray(exposure_days, dtype=float)
        out = np.empty_like(counts)
        values, inverse = np.unique(exposure, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(values.size + 1))
        for j, v in enumerate(values):  # distinct exposures, not rows
            rows = order[bounds[j]:bounds[j + 1]]
            if v <= 0:
                out[rows] = self.mean
                continue
            r = counts[rows] * (RATE_DAYS / v) - self.mean
            out[rows] = self.mean + r @ self.gain(v).T
        return out


def fit_priors(counts: np.ndarray, exposure_days: np.ndarray) -> RatePriors:
    """Moments of a Poisson mixture with unequal exposures: E[n] = mu e, Cov[n] = S e^2 + diag(mu e) (Poisson
    noise is independent across types given the rates). Off-diagonal terms within 3 standard errors of 0 are
    set to 0, then S is made positive semi-definite; a type with no spread beyond Poisson noise gets a tiny
    variance, so every customer reads as the population rate on it."""
    e = np.asarray(exposure_days, dtype=float) / RATE_DAYS
    n = np.asarray(counts, dtype=float)
    mu = np.maximum(n.sum(axis=0) / max(e.sum(), 1e-12), 1e-12)
    d = n - mu[None, :] * e[:, None]
    scale = max((e**2).sum(), 1e-12)
    cov = (d.T @ d - np.diag(mu * e.sum())) / scale
    # A covariance between two types is kept only when it stands out of its own noise (3 standard errors):
    # a spurious one would make an unrelated type a proxy for a strong driver's leftover measurement error.
    se = np.sqrt((d**2).T @ (d**2)) / scale
    off = ~np.eye(mu.size, dtype=bool)
    cov[off & (np.abs(cov) < SIGNIFICANT * se)] = 0.0
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    floor = _MIN_VAR * max(1.0, float(np.abs(w).max()) if w.size else 1.0)
    cov = (v * np.maximum(w, floor)) @ v.T
    return RatePriors(mean=mu, cov=cov)


@dataclasses.dataclass(frozen=True)
class Intervals:
    """Start/stop rows of a counting-process Cox model: one per customer and 30-day month of life."""

    who: np.ndarray  # index into the customers passed in
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray  # churned at the end of this interval
    rates: np.ndarray  # rows x types: shrunk rate from the months before this one
    counts: np.ndarray  # rows x types: events in the window before this month
    exposure_days: np.ndarray  # rows: the window's length
    signup: RatePriors  # the latent rates' moments in month 0 (everyone at risk)


def monthly_intervals(
    monthly: MonthlyCounts,
    ids: np.ndarray,
    tenure: np.ndarray,
    churned: np.ndarray,
    type_index: np.ndarray,
    priors: RatePriors,
    window_months: int,
) -> Intervals:
    """Intervals for the customers `ids` (with their tenure and churn), rates of the types `type_index`
    (positions in CustomerTable.event_types) read over the `window_months` months before each interval."""
    n, k = ids.size, type_index.size
    months = np.maximum(np.ceil(np.maximum(tenure, 0) / MONTH_DAYS).astype(np.int64), 1)  # tenure 0: one interval
    width = int(months.max()) if n else 1
    counts = monthly.counts.filter(pl.col("type").is_in(type_index.tolist()))
    pos = pl.DataFrame({"customer_id": ids, "__pos": np.arange(n, dtype=np.int64)})
    counts = counts.join(pos, on="customer_id", how="inner")
    col_of = np.full(int(type_index.max()) + 1 if k else 1, -1, dtype=np.int64)
    col_of[type_index] = np.arange(k)
    cube = np.zeros((n, width + 1, k))  # cube[i, m + 1] = events in month m; a leading month of zeros
    month_of = counts["month"].to_numpy().astype(np.int64)
    inside = month_of < width
    np.add.at(
        cube,
        (counts["__pos"].to_numpy()[inside], month_of[inside] + 1, col_of[counts["type"].to_numpy().astype(np.int64)][inside]),
        counts["n"].to_numpy()[inside].astype(float),
    )
    by_month = risk_set_priors(cube[:, 1:, :], tenure, months, priors)
    cum = np.cumsum(cube, axis=1)  # cum[i, m] = events in months < m
    who = np.repeat(np.arange(n), months)
    month = np.arange(who.size) - np.repeat(np.cumsum(months) - months, months)
    first = np.maximum(month - window_months, 0)
    seen = cum[who, month] - cum[who, first]
    exposure = (month - first) * MONTH_DAYS
    start = (month * MONTH_DAYS).astype(float)
    stop = np.minimum((month + 1) * MONTH_DAYS, tenure[who]).astype(float)
    stop = np.where(stop > start, stop, start + 0.5)  # churn on the signup day: a half-day interval (lifelines #768)
    last = month == months[who] - 1
    rates = np.empty((who.size, k))
    order = np.argsort(month, kind="stable")
    bounds = np.searchsorted(month[order], np.arange(width + 1))
    for m in range(width):  # months, not rows: every row of month m has the same exposure
        rows = order[bounds[m]:bounds[m + 1]]
        if rows.size:
            rates[rows] = by_month[m].shrink(seen[rows], exposure[rows])
    return Intervals(who=who, start=start, stop=stop, event=churned[who] & last, rates=rates, counts=seen,
                     exposure_days=exposure.astype(float), signup=by_month[0])


MIN_AT_RISK = 200  # customers at risk in a month for its own prior; fewer: the month before's


def risk_set_priors(
    by_month: np.ndarray, tenure: np.ndarray, months: np.ndarray, fallback: RatePriors
) -> list[RatePriors]:
    """The latent rates' mean and covariance among the customers still at risk in each month, by moments from
    that month's own counts. Churn thins out the customers whose rates drive it, so the rates among those at
    risk drift with tenure; a customer's past counts update the prior of the month they are compared in
    (given their rates, their past does not depend on having survived), not the prior at signup.
    A loop over months (at most a few hundred), not over customers."""
    out: list[RatePriors] = []
    prev = fallback
    for m in range(by_month.shape[1]):
        at_risk = months > m
        if at_risk.sum() >= MIN_AT_RISK:
            exposure = np.clip(tenure[at_risk] - m * MONTH_DAYS, 0.5, MONTH_DAYS)
            prev = fit_priors(by_month[at_risk, m, :], exposure)
        out.append(prev)
    return out


def interval_frame(
    iv: Intervals, fixed_z: np.ndarray, rate_cols: list[int], names: list[str], mean: np.ndarray, sd: np.ndarray
) -> pd.DataFrame:
    """The lifelines CoxTimeVaryingFitter frame: `fixed_z` (customers x standardised features) repeated per
    interval, with the columns `rate_cols` replaced by the interval's shrunk rates, standardised alike."""
    x = fixed_z[iv.who].copy()
    if rate_cols:
        x[:, rate_cols] = (iv.rates - mean[rate_cols]) / sd[rate_cols]
    df = pd.DataFrame(x, columns=names)
    df["__id"], df["__start"], df["__stop"], df["__event"] = iv.who, iv.start, iv.stop, iv.event.astype(int)
    return df

