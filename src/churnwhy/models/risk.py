"""Who is about to leave: the probability that an active customer churns within a horizon, given survival so far,
from the drivers model (models.drivers.CoxDrivers: behaviour rates and customer attributes).

For a customer at tenure a with log relative hazard lp the conditional
probability of churning within h days is

    P(T <= a + h | T > a, x) = 1 - exp(-(H0(a + h) - H0(a)) * exp(lp))

where lp is the drivers' log relative hazard of the customer's behaviour and attributes today, recalibrated
on the customers the model was fitted on (see RiskScorer), and H0 the Breslow baseline of that recalibration
on the tenure scale (one per stratum when the drivers stratified by a segment). Past the longest tenure with a
churn the baseline is extended at the average hazard of the last tenth of churn times (the step function alone
would stay flat there and score the longest-standing customers as never leaving).

`RiskScorer(model, table)` reads a fitted CoxDrivers (its features, design and coefficients) and fits only the
one-covariate recalibration. `fit_risk_model` fits the drivers model for the backtest and the cross-validated
calibration (models.risk_eval), where the report does not read its attribution: those fits draw fewer
bootstrap samples (their intervals are never shown).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from churnwhy.config import Config
from churnwhy.errors import ConfigError
from churnwhy.models import drivers_attributes as attrs
from churnwhy.models.drivers import CoxDrivers, DriverSettings
from churnwhy.models.drivers_prep import stratified_sample
from churnwhy.models.features import Prepared
from churnwhy.models.threads import single_blas_thread
from churnwhy.table import CustomerTable

__all__ = ["RiskScorer", "RiskSettings", "fit_risk_model"]

MISSING_LEVEL = "(missing)"
ATTRIBUTE_FAMILY = "other"  # a customer attribute (segment level) among the top factors: no behaviour family

DEFAULTS: Mapping[str, Any] = {
    "horizon_days": 90,  # "about to leave": churn within this many days
    "backtest_rows": 50_000,  # the backtest's table as of the cutoff is built on a random sample of this many customers
    "cv_folds": 5,  # cross-validated calibration for data without dates
    "cv_rows": 50_000,  # customers the cross-validated calibration uses at most
    "top": 10,  # customers listed in the terminal (ids shown only there and in at_risk.parquet)
}


@dataclasses.dataclass(frozen=True)
class RiskSettings:
    """The [risk] table of churnwhy.toml, validated; flags win."""

    horizon_days: int = 90
    backtest_rows: int = 50_000
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


def fit_risk_model(table: CustomerTable, config: Config, *, matrix: Prepared | None = None) -> CoxDrivers:
    """The drivers model fitted on `table` for scoring only (backtest, cross-validated folds, the risk command):
    the same model as `analyze`'s drivers, with 2 bootstrap draws on 1,000 customers for an attribution nobody
    reads, and no induced-hazard fit (it gives hazard ratios, not scores). `matrix`: the table's feature_matrix
    when the caller has it."""
    settings = dataclasses.replace(DriverSettings.from_config(config), n_bootstrap=2, eval_rows=1_000,
                                   concordance_rows=2_000, induced_hazard=False)
    with single_blas_thread():
        return CoxDrivers(settings, max_segment_levels=config.max_segment_levels,
                          min_segment_size=config.min_segment_size).fit(table, matrix=matrix)


def breslow(t: np.ndarray, e: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breslow baseline cumulative hazard of right-censored data: (churn times, H0 at each), for risk scores exp(lp)."""
    order = np.argsort(t, kind="stable")
    ts, es, r = t[order], e[order].astype(float), np.exp(lp[order] - lp.max()) if lp.size else lp
    at_risk = np.cumsum(r[::-1])[::-1]  # sum of risk over customers with tenure >= ts[i]
    times, first = np.unique(ts, return_index=True)
    deaths = np.add.reduceat(es, first) if ts.size else es
    keep = deaths > 0
    h = deaths[keep] / at_risk[first][keep]
    return times[keep], np.cumsum(h) * (np.exp(-lp.max()) if lp.size else 1.0)


MIN_RISK_SET = 100  # customers still at risk below which the Breslow steps are too noisy to read a hazard from


def steady_breslow(t: np.ndarray, e: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Breslow steps while at least MIN_RISK_SET customers are still at risk (all of them when fewer ever
    are); beyond, `extended_cumhaz` continues at the average hazard before. In the last few at risk one churn is
    a step of 1/n: an 800-customer demo's H0 went from 1.5 to 3.8 over its last five churns, and scored every
    long-standing customer at 75% within 90 days against 9% observed."""
    times, cumhaz = breslow(t, e, lp)
    at_risk = t.size - np.searchsorted(np.sort(t), times, side="left")
    keep = at_risk >= MIN_RISK_SET
    return (times[keep], cumhaz[keep]) if keep.sum() >= 2 else (times, cumhaz)


def extended_cumhaz(times: np.ndarray, cumhaz: np.ndarray, t: np.ndarray) -> np.ndarray:
    """H0 at tenure(s) t: the step function up to the last churn, then a straight line at the average hazard of
    the last tenth of churn times."""
    if times.size == 0:
        return np.zeros_like(t, dtype=float)
    i = np.searchsorted(times, t, side="right")
    inside = np.where(i > 0, cumhaz[np.maximum(i - 1, 0)], 0.0)
    if times.size < 2:
        return inside
    last, ref = times.size - 1, int(0.9 * (times.size - 1))
    span = times[last] - times[ref]
    slope = (cumhaz[last] - cumhaz[ref]) / span if span > 0 else 0.0
    return np.where(t > times[last], cumhaz[last] + slope * (t - times[last]), inside)


def cox_slope(lp: np.ndarray, t: np.ndarray, e: np.ndarray, strata: np.ndarray | None = None) -> float:
    """The Cox coefficient of one covariate (Breslow ties, stratified when asked) by Newton-Raphson, vectorised:
    lifelines' Efron loop took 7 s on 100,000 customers with tied tenures. NaN when it does not converge."""
    groups = [np.arange(t.size)] if strata is None else [np.flatnonzero(strata == lv) for lv in np.unique(strata)]
    prepared = []
    for g in groups:
        order = g[np.argsort(t[g], kind="stable")]
        ts, first = np.unique(t[order], return_index=True)
        start = np.repeat(first, np.diff(np.append(first, order.size)))  # each row: first row of its tenure
        prepared.append((lp[order], e[order].astype(bool), start))

    def derivatives(gamma: float) -> tuple[float, float, float]:
        ll = grad = hess = 0.0
        for x, d, start in prepared:
            if not d.any():
                continue
            shift = gamma * x.max() if gamma >= 0 else gamma * x.min()
            w = np.exp(gamma * x - shift)
            s0 = np.cumsum(w[::-1])[::-1][start]  # risk set of each row: everyone with tenure >= its own
            s1 = np.cumsum((w * x)[::-1])[::-1][start]
            s2 = np.cumsum((w * x * x)[::-1])[::-1][start]
            m = s1[d] / s0[d]
            ll += float(np.sum(gamma * x[d] - shift - np.log(s0[d])))
            grad += float(np.sum(x[d] - m))
            hess -= float(np.sum(s2[d] / s0[d] - m * m))
        return ll, grad, hess

    gamma = 1.0
    ll, grad, hess = derivatives(gamma)
    for _ in range(50):
        if hess >= 0 or not np.isfinite(hess):
            return float("nan")
        step = -grad / hess
        for _halving in range(30):
            new = derivatives(gamma + step)
            if np.isfinite(new[0]) and new[0] >= ll - 1e-12:
                break
            step /= 2
        gamma += step
        ll, grad, hess = new
        if abs(step) < 1e-9:
            return gamma
    return float("nan")


class RiskScorer:
    """P(churn within h days | active at tenure a) for a table's customers, from a fitted drivers model.

    The drivers' log hazard is read as a customer stands today (their rates over the lookback window), while a
    counting-process drivers model was fitted on rates read month by month (over the months before each, with
    that month's prior): the same behaviour, read two ways. So the log hazard is recalibrated on the customers it
    was fitted on (`table`), by a one-covariate Cox model of churn on it (the calibration slope, reported) and the
    Breslow baseline of that model, per stratum when the drivers stratified by a segment. A planted-hazard
    simulation put the top decile 2.6 points too high without this step (0.18 against 0.15), 0.3 points off with it.
    """

    def __init__(self, model: CoxDrivers, table: CustomerTable, *, seed: int = 0, max_rows: int = 100_000,
                 matrix: Prepared | None = None) -> None:
        if model.skipped_ or model.cox_ is None:
            raise ValueError(f"the drivers model is not fitted: {model.skipped_}")
        self.model = model
        self.features = tuple(model.features_)
        assert model.fit_ is not None  # fitted: not skipped
        self.beta = model.fit_.params  # the scoring fit's: the hazard given the shrunk rates (docs/drivers.md)
        column_of = getattr(model, "column_of_", {})
        self.families = tuple(ATTRIBUTE_FAMILY if f in column_of else model.families_.get(f, (ATTRIBUTE_FAMILY, None))[0]
                              for f in self.features)
        self._table, self._x = table, self.design(table, matrix)
        self._calibrate(table, seed, max_rows)

    def design(self, table: CustomerTable, matrix: Prepared | None = None) -> np.ndarray:
        """The drivers' design for every row of `table` (CoxDrivers.design_matrix: each attribute level read by what
        it names, as fitted, on any table). `matrix`: this table's feature_matrix, when the caller has it."""
        return self.model.design_matrix(table, matrix)

    def _calibrate(self, table: CustomerTable, seed: int, max_rows: int) -> None:
        # Each customer's tenure as the table has it, the time the scores condition on. (Not the drivers' follow-up:
        # with some churn inferred from inactivity it ends every active customer's time 90 days early, and the
        # baseline then put the 1M demo's deciles 1-3 points too high and its top decile at 35% against 8%.)
        t = table.frame["tenure_days"].cast(pl.Float64).to_numpy()
        e = table.frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
        ok = np.flatnonzero(np.isfinite(t) & (t >= 0))
        rows = ok[stratified_sample(e[ok], max_rows, np.random.default_rng(seed))]
        lp = self.log_hazard(table, rows)
        level = self._levels(table, rows)
        slope = cox_slope(lp, t[rows], e[rows], level)
        self.slope = slope if np.isfinite(slope) and slope > 0 else 1.0  # no recalibration: the drivers' own scale
        self.n_calibration = int(rows.size)
        scaled = self.slope * lp
        if level is None:
            self.baselines: dict[str | None, tuple[np.ndarray, np.ndarray]] = {None: steady_breslow(t[rows], e[rows], scaled)}
        else:
            self.baselines = {str(lv): steady_breslow(t[rows][level == lv], e[rows][level == lv], scaled[level == lv])
                              for lv in np.unique(level)}
        self.max_event_time = max((float(ts[-1]) for ts, _ in self.baselines.values() if ts.size), default=0.0)

    def _levels(self, table: CustomerTable, rows: np.ndarray) -> np.ndarray | None:
        if not self.model.strata_:
            return None
        return table.frame[self.model.strata_[0]].cast(pl.String).fill_null(MISSING_LEVEL).gather(rows).to_numpy()

    def standardised(self, table: CustomerTable, rows: np.ndarray) -> np.ndarray:
        """The drivers' standardised design (z) for `rows` of the table, as the model reads them today."""
        x = self._x if table is self._table else self.design(table)
        z: np.ndarray = x[rows]  # a copy (rows picked): standardised in place
        z -= self.model.mean_
        z /= self.model.sd_
        return z

    def log_hazard(self, table: CustomerTable, rows: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        z = self.standardised(table, rows) if z is None else z
        return np.clip(z @ self.beta, -50.0, 50.0) if z.shape[1] else np.zeros(z.shape[0])

    def probability(self, table: CustomerTable, rows: np.ndarray, tenure: np.ndarray, horizon: int,
                    z: np.ndarray | None = None) -> np.ndarray:
        """P(churn within `horizon` days | survived to `tenure`) for `rows` of the table (NaN in a stratum level
        the calibration did not see)."""
        lp = self.slope * self.log_hazard(table, rows, z)
        level = self._levels(table, rows)
        dh = np.full(rows.size, np.nan)
        for lv, (times, cumhaz) in self.baselines.items():
            at = np.ones(rows.size, bool) if lv is None else level == lv
            dh[at] = extended_cumhaz(times, cumhaz, tenure[at] + horizon) - extended_cumhaz(times, cumhaz, tenure[at])
        p: np.ndarray = -np.expm1(-dh * np.exp(lp))
        return p

    def top_factors(self, z: np.ndarray, k: int = 3) -> list[pl.Series]:
        """Per customer the k features that raise its risk most against the average customer (beta_j * z_j > 0),
        as k text Series of feature names (null where fewer than k raise it)."""
        names = pl.Series("factor", [*self.features, None], dtype=pl.String)
        none = len(self.features)
        if z.shape[1] == 0:
            return [names.gather(np.full(z.shape[0], none)) for _ in range(k)]
        contrib = z * self.beta
        kk = min(k, contrib.shape[1])
        part = np.argpartition(-contrib, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(contrib, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)  # largest first; ties by column for determinism
        part, vals = np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)
        return [names.gather(np.where(vals[:, j] > 0, part[:, j], none)) if j < kk else names.gather(np.full(z.shape[0], none))
                for j in range(k)]

    def family_of(self, feature: pl.Series) -> pl.Series:
        """The driver family of each feature name (customer attributes count as `other`)."""
        lookup = dict(zip(self.features, self.families, strict=True))
        return feature.replace_strict(lookup, default=None, return_dtype=pl.String).alias("family")
