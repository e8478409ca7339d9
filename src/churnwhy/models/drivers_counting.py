"""Noisy behaviour rates: gamma-Poisson shrinkage and the counting-process (monthly start/stop) layout.

A customer's rate of an event type is a count over an exposure. Over a short exposure it is mostly Poisson
noise, and a Cox model on noisy rates pulls every hazard ratio towards 1 (measurement error). Two things
undo that here (docs/drivers.md):

1. Shrinkage. Each customer's latent rate lambda (events per 30 days) is taken to be gamma across customers,
   with shape a and rate b fitted by moments on the whole table. Given n events over e months of exposure,
   E[lambda | n, e] = (n + a) / (e + b): the observed rate n/e weighted by the reliability e / (e + b), the
   rest the population rate a/b. A long history counts almost as observed; a week is mostly the average.
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


@dataclasses.dataclass(frozen=True)
class RatePriors:
    """Gamma shape `a` and rate `b` (per RATE_DAYS of exposure) per event type; the mean rate is a / b."""

    a: np.ndarray
    b: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.a / self.b

    def reliability(self, exposure_days: np.ndarray) -> np.ndarray:
        """e / (e + b) per customer and type: the weight the customer's own rate gets."""
        e = np.asarray(exposure_days, dtype=float)[:, None] / RATE_DAYS
        return e / (e + self.b[None, :])

    def shrink(self, counts: np.ndarray, exposure_days: np.ndarray) -> np.ndarray:
        """E[lambda | counts, exposure] per customer (rows) and type (columns), events per RATE_DAYS."""
        e = np.asarray(exposure_days, dtype=float)[:, None] / RATE_DAYS
        return (np.asarray(counts, dtype=float) + self.a[None, :]) / (e + self.b[None, :])


def fit_priors(counts: np.ndarray, exposure_days: np.ndarray) -> RatePriors:
    """Method of moments for a gamma-Poisson mixture with unequal exposures: E[n] = mu e, Var[n] = mu e + tau^2 e^2.

    A type whose counts show no spread beyond Poisson noise (tau^2 <= 0) gets a tiny variance: every
    customer is then read at the population rate, and the feature carries (correctly) no information."""
    e = np.asarray(exposure_days, dtype=float) / RATE_DAYS
    n = np.asarray(counts, dtype=float)
    mu = n.sum(axis=0) / max(e.sum(), 1e-12)
    resid = (n - mu[None, :] * e[:, None]) ** 2 - mu[None, :] * e[:, None]
    tau2 = np.maximum(resid.sum(axis=0) / max((e**2).sum(), 1e-12), _MIN_VAR)
    mu = np.maximum(mu, 1e-12)
    b = mu / tau2
    return RatePriors(a=mu * b, b=b)


@dataclasses.dataclass(frozen=True)
class Intervals:
    """Start/stop rows of a counting-process Cox model: one per customer and 30-day month of life."""

    who: np.ndarray  # index into the customers passed in
    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray  # churned at the end of this interval
    rates: np.ndarray  # rows x types: shrunk rate from the months before this one


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
    m = counts["month"].to_numpy().astype(np.int64)
    inside = m < width
    np.add.at(
        cube,
        (counts["__pos"].to_numpy()[inside], m[inside] + 1, col_of[counts["type"].to_numpy().astype(np.int64)][inside]),
        counts["n"].to_numpy()[inside].astype(float),
    )
    a_m, b_m = risk_set_priors(cube[:, 1:, :], tenure, months, priors)
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
    rates = (seen + a_m[month]) / (exposure[:, None] / RATE_DAYS + b_m[month])
    return Intervals(who=who, start=start, stop=stop, event=churned[who] & last, rates=rates)


MIN_AT_RISK = 200  # customers at risk in a month for its own prior; fewer: the month before's


def risk_set_priors(
    by_month: np.ndarray, tenure: np.ndarray, months: np.ndarray, fallback: RatePriors
) -> tuple[np.ndarray, np.ndarray]:
    """Gamma priors (a, b per month x type) of the rates among the customers still at risk in each month, by
    moments from that month's own counts. Churn thins out the customers whose rates drive it, so the spread of
    rates among those at risk drifts with tenure; a customer's past counts update the prior of the month they
    are compared in (their past is independent of having survived, given their rate), not the prior at signup.
    A loop over months (at most a few hundred), not over customers."""
    width, k = by_month.shape[1], by_month.shape[2]
    a_m, b_m = np.empty((width, k)), np.empty((width, k))
    prev = fallback
    for m in range(width):
        at_risk = months > m
        if at_risk.sum() >= MIN_AT_RISK:
            exposure = np.clip(tenure[at_risk] - m * MONTH_DAYS, 0.5, MONTH_DAYS)
            prev = fit_priors(by_month[at_risk, m, :], exposure)
        a_m[m], b_m[m] = prev.a, prev.b
    return a_m, b_m


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

