"""Cumulative incidence of churn per cause (Aalen-Johansen), computed directly in numpy.

Why not lifelines' AalenJohansenFitter: it breaks ties between causes with random jitter (biased and
seed-dependent) and drops events at the first time, i.e. day-0 churn (REFERENCES.md section 4d).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import norm

from churnwhy.errors import InputError

UNKNOWN_CAUSE = "unknown"
INCIDENCE_COLUMNS = ("cause", "time_days", "incidence", "se", "ci_low", "ci_high", "at_risk")


def _whole_days(durations: Any) -> np.ndarray:
    """Durations as whole days: float near-ties (e.g. from timestamps) would otherwise split tied events."""
    t = np.asarray(durations, dtype=float)
    if t.ndim != 1:
        raise InputError("durations must be one-dimensional")
    if np.isnan(t).any() or np.isinf(t).any():
        raise InputError("durations contain missing or infinite values", hint="drop or fix those customers upstream")
    t = np.rint(t)
    if (t < 0).any():
        raise InputError(
            f"{int((t < 0).sum())} negative tenure(s): a customer cannot leave before signing up",
            hint="check start and end dates upstream (the loader should reject these rows)",
        )
    days: np.ndarray = t.astype(np.int64)
    return days


def _as_series(causes: Any) -> pl.Series:
    """A typed Series: object arrays and lists with None (e.g. [1, 2, None]) get a real dtype, None staying null."""
    arr = np.asarray(causes)
    values = arr.tolist() if arr.dtype == object else arr
    return pl.Series("cause", values, strict=False)


def aalen_johansen(
    durations: Any, causes: Sequence[Any] | np.ndarray | pl.Series, *, censored: Any = None, alpha: float = 0.05
) -> dict[Any, dict[str, np.ndarray]]:
    """Per-cause CIF at each distinct time with cmprsk::cuminc's variance; rows whose cause equals `censored` are censored.

    CIF_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j with S the all-cause Kaplan-Meier. Events are counted before
    censorings at the same time (R's convention). The variance is Gray's (1988) delta-method estimator as
    implemented in cmprsk's `cinc` Fortran routine (not survfit's infinitesimal jackknife). CIs use the
    log(-log) transform, F^exp(+-z se / (F log F)), which keeps them inside [0, 1].
    """
    t = _whole_days(durations)
    c = causes if isinstance(causes, pl.Series) else _as_series(causes)
    if c.len() != t.size:
        raise InputError(f"durations ({t.size}) and causes ({c.len()}) differ in length")
    # Null (and float NaN) always means "no event"; `censored` names an extra censoring code such as 0.
    is_censored = c.is_null().to_numpy()
    if c.dtype.is_float():
        is_censored |= c.is_nan().fill_null(True).to_numpy()
    if censored is not None:
        is_censored |= (c == censored).fill_null(True).to_numpy()
    events = c.filter(pl.Series(~is_censored))
    labels = events.unique().sort().to_list()
    code = np.full(t.size, -1, dtype=np.int64)
    if labels:
        code[~is_censored] = np.searchsorted(np.array(labels), events.to_numpy())
    times, inverse = np.unique(t, return_inverse=True)
    n_times = times.size
    # Events and exits per distinct time; at_risk counts everyone with duration >= t.
    exits = np.bincount(inverse, minlength=n_times).astype(float)
    at_risk = np.cumsum(exits[::-1])[::-1]
    d_by = {k: np.bincount(inverse[code == i], minlength=n_times).astype(float) for i, k in enumerate(labels)}
    d_all = np.sum(list(d_by.values()), axis=0) if labels else np.zeros(n_times)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, d_all / at_risk, 0.0)
    s_after = np.cumprod(1.0 - hazard)
    s_before = np.concatenate(([1.0], s_after[:-1]))
    z = norm.ppf(1 - alpha / 2)
    out: dict[Any, dict[str, np.ndarray]] = {}
    for k in labels:
        d_k = d_by[k]
        cif = np.cumsum(np.where(at_risk > 0, s_before * d_k / np.where(at_risk > 0, at_risk, 1), 0.0))
        var = _cmprsk_variance(cif, d_k, d_all - d_k, at_risk, s_before, s_after)
        se = np.sqrt(np.maximum(var, 0.0))
        lo, hi = _loglog_ci(cif, se, z)
        out[k] = {"time": times, "cif": cif, "se": se, "ci_low": lo, "ci_high": hi, "at_risk": at_risk}
    return out


def _cmprsk_variance(
    cif: np.ndarray, d1: np.ndarray, d2: np.ndarray, n: np.ndarray, s_before: np.ndarray, s_after: np.ndarray
) -> np.ndarray:
    """cmprsk `cinc`: three running sums v1, v2, v3; var(t) = v1 + F^2 v3 - 2 F v2 (vectorised cumsums)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_s = np.where(s_after > 0, 1.0 / s_after, 0.0)
        n_m1 = np.where(n > 1, n - 1.0, 1.0)

        def term(d: np.ndarray) -> np.ndarray:
            tie = np.where(d > 1, 1.0 - (d - 1.0) / n_m1, 1.0)  # hypergeometric correction for tied events
            return np.where(n > 0, s_before**2 * tie * d / np.where(n > 0, n, 1) ** 2, 0.0)

        # Other-cause events: Fortran skips them once S has dropped to zero.
        t6_other = np.where((d2 > 0) & (s_after > 0), term(d2), 0.0)
        t3_o, t4_o = inv_s, cif * inv_s
        t6_own = np.where(d1 > 0, term(d1), 0.0)
        t3_k, t4_k = inv_s, 1.0 + inv_s * cif
    v1 = np.cumsum(t4_o**2 * t6_other + t4_k**2 * t6_own)
    v2 = np.cumsum(t3_o * t4_o * t6_other + t3_k * t4_k * t6_own)
    v3 = np.cumsum(t3_o**2 * t6_other + t3_k**2 * t6_own)
    variance: np.ndarray = v1 + cif**2 * v3 - 2 * cif * v2
    return variance


def _loglog_ci(est: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """log(-log) CI of a probability; undefined (NaN) where the estimate is 0 or 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (est > 0) & (est < 1)
        k = np.where(ok, z * se / (est * np.log(est)), np.nan)
        lo = np.where(ok, est ** np.exp(-k), np.nan)
        hi = np.where(ok, est ** np.exp(k), np.nan)
    # A zero incidence with zero variance has a degenerate but well-defined interval.
    lo = np.where((est == 0) & (se == 0), 0.0, lo)
    hi = np.where((est == 0) & (se == 0), 0.0, hi)
    return np.minimum(lo, hi), np.maximum(lo, hi)


def cumulative_incidence(
    durations: Any, causes: Sequence[Any] | np.ndarray | pl.Series, *, censored: Any = None, alpha: float = 0.05
) -> pl.DataFrame:
    """Long frame [cause, time_days, incidence, se, ci_low, ci_high, at_risk], one row per cause per distinct time.

    A row whose cause equals `censored` (default: null) is censored; durations are rounded to whole days.
    Rows are sorted by cause then time; a time-0 row with incidence 0 is added when nobody left on day 0.
    """
    fits = aalen_johansen(durations, causes, censored=censored, alpha=alpha)
    frames = []
    for k, f in fits.items():
        time, cif, se, lo, hi, risk = f["time"], f["cif"], f["se"], f["ci_low"], f["ci_high"], f["at_risk"]
        if time.size and time[0] > 0:
            time, cif, se = np.r_[0, time], np.r_[0.0, cif], np.r_[0.0, se]
            lo, hi, risk = np.r_[0.0, lo], np.r_[0.0, hi], np.r_[risk[0], risk]
        frames.append(
            pl.DataFrame(
                {"cause": [str(k)] * time.size, "time_days": time, "incidence": cif, "se": se,
                 "ci_low": lo, "ci_high": hi, "at_risk": risk.astype(np.int64)},
                schema={"cause": pl.String, "time_days": pl.Int64, "incidence": pl.Float64, "se": pl.Float64,
                        "ci_low": pl.Float64, "ci_high": pl.Float64, "at_risk": pl.Int64},
            )
        )
    if not frames:
        return empty_incidence()
    return pl.concat(frames).with_columns(pl.col("ci_low", "ci_high").fill_nan(None)).sort("cause", "time_days")


def empty_incidence() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"cause": pl.String, "time_days": pl.Int64, "incidence": pl.Float64, "se": pl.Float64,
                "ci_low": pl.Float64, "ci_high": pl.Float64, "at_risk": pl.Int64}
    )


def incidence_at(frame: pl.DataFrame, cause: str, times: Sequence[float]) -> np.ndarray:
    """Step-function lookup (right-continuous) of one cause's incidence at arbitrary times; 0 before the first row."""
    sub = frame.filter(pl.col("cause") == cause).sort("time_days")
    t = sub["time_days"].to_numpy()
    v = sub["incidence"].to_numpy()
    idx = np.searchsorted(t, np.asarray(times, dtype=float), side="right") - 1
    return np.where(idx >= 0, v[np.clip(idx, 0, None)], 0.0)


def table_incidence(frame: pl.DataFrame, axis: str, *, alpha: float = 0.05) -> pl.DataFrame:
    """Incidence per reason on one axis of the customer table (`why` or `what`); a churner with no reason is "unknown"."""
    causes = frame.select(
        pl.when(pl.col("churned")).then(pl.col(axis).cast(pl.String).fill_null(UNKNOWN_CAUSE)).otherwise(None)
    ).to_series()
    out = cumulative_incidence(frame["tenure_days"].to_numpy(), causes, alpha=alpha)
    return out.select(pl.lit(axis).alias("axis"), pl.all())
