"""Who is about to leave: the probability that an active customer churns within a horizon, given survival so far.

A Cox proportional-hazards model (lifelines) on the customer table's behaviour features (the filled matrix the
drivers and the silent-reason classifier share, models.features.feature_matrix) plus customer attributes
(one 0/1 column per segment level, the commonest level the reference). For a customer at tenure a with linear
predictor lp the conditional probability of churning within h days is

    P(T <= a + h | T > a, x) = 1 - exp(-(H0(a + h) - H0(a)) * exp(lp))

with H0 the Breslow baseline cumulative hazard of the fitted sample (computed here, on the same standardised
matrix, so the baseline and the coefficients cannot disagree about centring). Past the longest tenure with a
churn the baseline is extended at the average hazard of the last tenth of churn times (noted when it matters).

Bounded work: the fit runs on a churn-stratified sample of at most `max_fit_rows` customers; scoring is one
matrix product over every active customer. `RiskModel` follows the lifelines convention (fit() returns self,
fitted state ends in `_`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from churnwhy.config import Config
from churnwhy.errors import ConfigError
from churnwhy.models.drivers_families import assign_families
from churnwhy.models.drivers_prep import screen_columns, stratified_sample
from churnwhy.models.features import Prepared, feature_matrix
from churnwhy.models.threads import single_blas_thread
from churnwhy.table import COUNT_PREFIX, RATE_DAYS, RATE_PREFIX, CustomerTable

__all__ = ["RiskModel", "RiskSettings", "segment_dummies"]

# (penalizer, step size): unpenalised first, then smaller Newton steps and a light ridge (lifelines #398, #364).
_ATTEMPTS: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.01, 0.5), (0.1, 0.5), (1.0, 0.5))
_T, _E = "__tenure", "__churned"
# Features that measure how long a customer was observed rather than how they behave: the table reads them at
# each customer's end date, so a churner who left on day 40 has every event in the window's second half
# (activity_change high) or none at all (no last event), while the stayers they are compared with at day 40 are
# read at their own, later end. In a Cox fit they stand in for "left early" and score every new customer as about
# to leave (a planted-hazard simulation put the top decile at 37% against a true 6%). Rates (per day observed)
# and recency do not have this problem.
EXPOSURE_ARTEFACTS = ("activity_change", "days_since_last_event_missing")
MISSING_LEVEL = "(missing)"

DEFAULTS: Mapping[str, Any] = {
    "horizon_days": 90,  # "about to leave": churn within this many days
    "max_fit_rows": 50_000,  # Cox fit on a churn-stratified sample of this size
    "min_events": 20,  # fewer churners than this: no model
    "cv_folds": 5,  # cross-validated calibration for data without dates
    "cv_rows": 50_000,  # customers the cross-validated calibration uses at most
    "top": 10,  # customers listed in the terminal (ids shown only there and in at_risk.parquet)
}


@dataclasses.dataclass(frozen=True)
class RiskSettings:
    """The [risk] table of churnwhy.toml, validated; flags win."""

    horizon_days: int = 90
    max_fit_rows: int = 50_000
    min_events: int = 20
    cv_folds: int = 5
    cv_rows: int = 50_000
    top: int = 10
    seed: int = 0
    min_segment_size: int = 30
    max_segment_levels: int = 20

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> RiskSettings:
        raw = dict(getattr(config, "risk", None) or {})
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"[risk] unknown key(s): {', '.join(unknown)}", hint=f"valid keys are: {', '.join(sorted(DEFAULTS))}")
        values = {**DEFAULTS, **raw, **{k: v for k, v in overrides.items() if v is not None}}
        for key, v in values.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < (2 if key == "cv_folds" else 1):
                raise ConfigError(f"[risk] {key} must be a positive whole number{' (at least 2)' if key == 'cv_folds' else ''}, got {v!r}")
        return cls(seed=config.seed, min_segment_size=config.min_segment_size,
                   max_segment_levels=config.max_segment_levels, **values)


def segment_dummies(frame: pl.DataFrame, segments: tuple[str, ...], *, min_size: int, max_levels: int,
                    levels: Mapping[str, tuple[str, ...]] | None = None,
                    rows: np.ndarray | None = None) -> tuple[np.ndarray, list[str], dict[str, tuple[str, ...]]]:
    """0/1 columns `segment=level` for every level but the commonest (the reference). Levels held by fewer than
    `min_size` customers stay in the reference; a segment with more than `max_levels` levels is left out.
    `levels` (from a fit) fixes the columns, so a scored table gets exactly the fitted ones; levels are chosen
    on every row, the columns built for `rows` only (default all)."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    chosen: dict[str, tuple[str, ...]] = {}
    for seg in segments:
        if seg not in frame.columns:
            continue
        values = frame[seg].cast(pl.String).fill_null(MISSING_LEVEL)
        if levels is None:
            counts = values.value_counts(sort=True).sort(["count", seg], descending=[True, False])
            if counts.height < 2 or counts.height > max_levels:
                continue
            keep = tuple(str(v) for v, c in list(counts.iter_rows())[1:] if c >= min_size)
        else:
            keep = levels.get(seg, ())
        if not keep:
            continue
        chosen[seg] = keep
        picked = values if rows is None else values.gather(rows)
        for lv in keep:
            cols.append((picked == lv).to_numpy().astype(float))
            names.append(f"{seg}={lv}")
    x = np.stack(cols).T if cols else np.empty((frame.height if rows is None else rows.size, 0))
    return x, names, chosen


def design(table: CustomerTable, settings: RiskSettings, levels: Mapping[str, tuple[str, ...]] | None = None,
           rows: np.ndarray | None = None, matrix: Prepared | None = None):  # type: ignore[no-untyped-def]
    """The model's raw matrix for `rows` (default all): the table's filled behaviour features (rates shrunk, see
    shrunk_rate), then segment-level columns. Statistics (shrinkage, levels) come from every row; only the rows
    asked for are copied (a fit sample of 50,000, not a million)."""
    parts, names = [], []
    n = table.frame.height if rows is None else rows.size
    if table.features:
        prepared = matrix if matrix is not None else feature_matrix(table)  # the pipeline hands the shared one
        cols = [j for j, nm in enumerate(prepared.names) if nm not in EXPOSURE_ARTEFACTS]
        x = np.empty((n, len(cols)), order="F")  # the shared matrix is read-only: fill a copy, column by column
        for k, j in enumerate(cols):
            shrunk = shrunk_rate(table.frame, prepared.names[j])
            column = shrunk if shrunk is not None else prepared.x[:, j]
            x[:, k] = column if rows is None else column[rows]
        parts.append(x)
        names += [prepared.names[j] for j in cols]
    dummies, dnames, chosen = segment_dummies(table.frame, table.segments, min_size=settings.min_segment_size,
                                              max_levels=settings.max_segment_levels, levels=levels, rows=rows)
    parts.append(dummies)
    names += dnames
    x = np.hstack(parts) if parts else np.empty((n, 0))
    return x, names, chosen


def shrunk_rate(frame: pl.DataFrame, feature: str) -> np.ndarray | None:
    """An event rate per 30 days shrunk towards the average by how long the customer was observed (Poisson-gamma
    empirical Bayes, gamma prior fitted by exposure-weighted moments): (count + a) / (exposure / 30 + b). A customer seen for 5 days
    with 2 logins has a raw rate of 12 a month; scored as such, new customers fill the lowest and highest risk
    deciles by chance (a simulation put the lowest decile at 2.4% predicted against a true 5.0%). None for a
    feature that is not a rate."""
    if not feature.startswith(RATE_PREFIX):
        return None
    count_col = COUNT_PREFIX + feature[len(RATE_PREFIX):]
    if count_col not in frame.columns or "exposure_days" not in frame.columns:
        return None
    periods = (frame["exposure_days"].cast(pl.Float64).fill_null(1.0).clip(1.0, None) / RATE_DAYS).to_numpy()
    count = frame[count_col].cast(pl.Float64).fill_null(0.0).to_numpy()
    raw = count / periods
    # Moments weighted by the time observed, so that the noisiest rates (a day or two) barely move the prior:
    # E[w (raw - mu)^2] = var(rate) E[w] + mu (the Poisson part) with w = periods.
    w = periods / periods.sum()
    mu = float(count.sum() / periods.sum())
    prior_var = float(np.sum(w * (raw - mu) ** 2)) - mu * raw.size / float(periods.sum())
    if mu <= 0 or prior_var <= 0:  # no spread beyond Poisson noise: one rate for all, a constant column (dropped)
        return np.zeros(raw.shape)
    a, b = mu * mu / prior_var, mu / prior_var
    return (count + a) / (periods + b)


def breslow(t: np.ndarray, e: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow baseline cumulative hazard: (event times, H0 at each), for risk scores exp(lp)."""
    order = np.argsort(t, kind="stable")
    ts, es, r = t[order], e[order].astype(float), np.exp(lp[order] - lp.max())
    at_risk = np.cumsum(r[::-1])[::-1]  # sum of risk over customers with tenure >= ts[i]
    times, first = np.unique(ts, return_index=True)
    deaths = np.add.reduceat(es, first)
    h = deaths / at_risk[first]
    keep = deaths > 0
    return times[keep], np.cumsum(h[keep]) * np.exp(-lp.max())


class RiskModel:
    """Cox model of churn on behaviour and customer attributes, scored as P(churn within h | survived to now)."""

    def __init__(self, settings: RiskSettings | None = None, *, families: Mapping[str, tuple[str, str | None]] | None = None):
        self.settings = settings if settings is not None else RiskSettings()
        self.families = dict(families or {})

    def fit(self, table: CustomerTable, rows: np.ndarray | None = None, matrix: Prepared | None = None) -> RiskModel:
        """Fit on the table's customers (or on `rows` of it); skipped_ says why when it cannot. `matrix`: the
        table's feature_matrix when the caller has it (else it is built)."""
        s = self.settings
        self.notes_: list[str] = []
        self.skipped_: str | None = None
        frame = table.frame
        t = frame["tenure_days"].cast(pl.Float64).to_numpy()
        e = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
        valid = np.isfinite(t) & (t >= 0)
        if rows is not None:
            valid &= np.isin(np.arange(frame.height), rows)
        idx = np.flatnonzero(valid)
        self.n_events_ = int(e[idx].sum())
        if self.n_events_ < s.min_events:
            return self._skip(f"only {self.n_events_} churner(s); a risk model needs at least {s.min_events}")
        rng = np.random.default_rng(s.seed)
        fit = idx[stratified_sample(e[idx], s.max_fit_rows, rng)]
        self.n_fit_ = int(fit.size)
        x, names, self.levels_ = design(table, s, rows=fit, matrix=matrix)
        keep, _ = screen_columns(x, names, max_abs_r=0.95, max_vif=np.inf)
        self.features_ = tuple(names[j] for j in keep)
        xf = x[:, keep] if keep else np.empty((fit.size, 0))
        self.mean_ = xf.mean(axis=0) if keep else np.zeros(0)
        self.sd_ = xf.std(axis=0) if keep else np.ones(0)
        z = (xf - self.mean_) / self.sd_ if keep else xf
        self.beta_ = self._fit_cox(z, t[fit], e[fit])
        if self.beta_ is None:
            return self._skip("the Cox model did not converge, even with a penalizer")
        self.times_, self.cumhaz_ = breslow(t[fit], e[fit], z @ self.beta_)
        self.max_event_time_ = float(self.times_[-1]) if self.times_.size else 0.0
        fams, _ = assign_families([f for f in self.features_ if "=" not in f], self.families)
        self.feature_families_ = tuple(fams.get(f, ("other", None))[0] for f in self.features_)
        return self

    def _skip(self, reason: str) -> RiskModel:
        self.skipped_ = reason
        return self

    def _fit_cox(self, z: np.ndarray, t: np.ndarray, e: np.ndarray) -> np.ndarray | None:
        from lifelines import CoxPHFitter
        from lifelines.exceptions import ConvergenceError

        if z.shape[1] == 0:
            self.penalizer_ = 0.0
            return np.zeros(0)
        cols = [f"x{j}" for j in range(z.shape[1])]
        df = pd.DataFrame(z, columns=cols)
        df[_T], df[_E] = t, e.astype(int)
        last = None
        for pen, step in _ATTEMPTS:
            with warnings.catch_warnings(record=True) as caught, single_blas_thread():
                warnings.simplefilter("always")
                try:
                    cox = CoxPHFitter(penalizer=pen).fit(df, duration_col=_T, event_col=_E, fit_options={"step_size": step})
                except (ConvergenceError, np.linalg.LinAlgError, ValueError):
                    continue
            last = (cox, pen)
            if any("failed to converge" in str(w.message) for w in caught):
                continue
            self.penalizer_ = pen
            if pen:
                self.notes_.append(f"risk model fitted with an L2 penalizer of {pen:g} (it did not converge without)")
            return cox.params_.reindex(cols).to_numpy()
        if last is None:
            return None
        # Newton-Raphson stopped short of its tolerance at every strength: the most penalised fit is still a usable
        # ranking (a separated feature keeps a large coefficient), and the calibration check says how far it holds.
        cox, self.penalizer_ = last
        self.notes_.append(f"the risk model's Newton-Raphson did not fully converge (L2 penalizer {self.penalizer_:g}); "
                           "read its calibration before trusting the probabilities")
        return cox.params_.reindex(cols).to_numpy()

    # -- scoring -------------------------------------------------------------------------------
    def linear_predictor(self, table: CustomerTable, rows: np.ndarray | None = None,
                         matrix: Prepared | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(standardised matrix z, linear predictor) for the table's rows, on the fitted columns."""
        picked, names, _ = design(table, self.settings, levels=self.levels_, rows=rows, matrix=matrix)
        index = {n: j for j, n in enumerate(names)}
        cols = [index.get(f) for f in self.features_]
        z = np.zeros((picked.shape[0], len(cols)))
        for k, j in enumerate(cols):  # a column absent from this table (a constant): its mean, z = 0
            if j is not None:
                z[:, k] = (picked[:, j] - self.mean_[k]) / self.sd_[k]
        return z, z @ self.beta_ if len(cols) else np.zeros(picked.shape[0])

    def cumhaz(self, t: np.ndarray) -> np.ndarray:
        """Baseline cumulative hazard at tenure(s) t: the Breslow step function up to the last churn, then a straight
        line at the average hazard of the last tenth of churn times (the step function alone would stay flat there,
        and score the longest-standing customers as never leaving)."""
        i = np.searchsorted(self.times_, t, side="right")
        inside = np.where(i > 0, self.cumhaz_[np.maximum(i - 1, 0)], 0.0)
        if self.times_.size < 2:
            return inside
        last, ref = self.times_.size - 1, int(0.9 * (self.times_.size - 1))
        span = self.times_[last] - self.times_[ref]
        slope = (self.cumhaz_[last] - self.cumhaz_[ref]) / span if span > 0 else 0.0
        return np.where(t > self.times_[last], self.cumhaz_[last] + slope * (t - self.times_[last]), inside)

    def conditional(self, tenure: np.ndarray, lp: np.ndarray, horizon: int) -> np.ndarray:
        """P(churn within `horizon` days | survived to `tenure`, linear predictor lp)."""
        dh = self.cumhaz(tenure + horizon) - self.cumhaz(tenure)
        return -np.expm1(-dh * np.exp(lp))

    def top_factors(self, z: np.ndarray, k: int = 3) -> list[pl.Series]:
        """Per customer the k features that raise its risk most against the average customer (beta_j * z_j > 0),
        as k text Series of feature names (null where fewer than k raise it)."""
        names = pl.Series("factor", [*self.features_, None], dtype=pl.String)
        none = len(self.features_)
        if z.shape[1] == 0:
            return [names.gather(np.full(z.shape[0], none)) for _ in range(k)]
        contrib = z * self.beta_
        kk = min(k, contrib.shape[1])
        part = np.argpartition(-contrib, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(contrib, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)  # largest first; ties by column for determinism
        part, vals = np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)
        return [names.gather(np.where(vals[:, j] > 0, part[:, j], none)) if j < kk else names.gather(np.full(z.shape[0], none))
                for j in range(k)]

    def family_of(self, feature: pl.Series) -> pl.Series:
        """The driver family of each feature name (segment levels count as `other`)."""
        lookup = dict(zip(self.features_, self.feature_families_, strict=True))
        return feature.replace_strict(lookup, default=None, return_dtype=pl.String).alias("family")
