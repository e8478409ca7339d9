"""Reason shares among churners, with 95% intervals; non-response correction; satisfied-but-left.

Intervals (see docs/reasons.md):
- a head-count share k/n: the Wilson score interval (Wilson 1927), z = 1.959964;
- a weighted share p = sum(w*y)/sum(w) (value lost: w = amount_total; non-response: w = inverse
  response propensity): the linearised (ratio-estimator / sandwich) variance
  v = n/(n-1) * sum(w^2 (y-p)^2) / sum(w)^2, turned into an effective size n* = p(1-p)/v and a Wilson
  interval on (p*n*, n*), which stays inside [0, 1] where a Wald interval would not.
Shares are among churners whose reason is known on that axis; unknowns are counted, not spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression

from churnwhy.errors import InputError
from churnwhy.models.reason_taxonomy import UNKNOWN, WHAT, WHY, ReasonSettings, settings_from_config
from churnwhy.models.reasons import ReasonsFit, attach_stated_reasons
from churnwhy.results.reasons import NonResponse, ReasonsResult, Reweighted, SatisfiedButLeft, Share
from churnwhy.table import CustomerTable

Z95 = 1.959963984540054
KNOWN_WHY = tuple(w for w in WHY if w != UNKNOWN)
KNOWN_WHAT = tuple(w for w in WHAT if w != UNKNOWN)
CELLS = tuple(f"{a}/{b}" for a in KNOWN_WHY for b in KNOWN_WHAT)
AXES = {"why": KNOWN_WHY, "what": KNOWN_WHAT, "cell": CELLS}


def wilson(k: Any, n: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (arrays; k, n may be non-integer)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def weighted_interval(p: Any, n: Any, sw: Any, sw2_in: Any, sw2_all: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Interval of a weighted share from sums: n rows, sum(w), sum(w^2) inside the category and overall."""
    p, n, sw, sw2_in, sw2_all = (np.asarray(a, dtype=float) for a in (p, n, sw, sw2_in, sw2_all))
    with np.errstate(divide="ignore", invalid="ignore"):
        # sum w^2 (y-p)^2 split into the category (y=1) and the rest (y=0).
        ss = (1 - p) ** 2 * sw2_in + p**2 * (sw2_all - sw2_in)
        var = np.where(n > 1, n / (n - 1) * ss / sw**2, np.nan)
        kish = sw**2 / sw2_all
        n_eff = np.where(var > 0, p * (1 - p) / var, kish)
        n_eff = np.where(np.isfinite(n_eff) & (n_eff > 0), n_eff, kish)
    return wilson(p * n_eff, n_eff, z)


def weighted_share(y: np.ndarray, w: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """(share, lo, hi) of sum(w*y)/sum(w) with the linearised interval (see module docstring)."""
    y = np.asarray(y, dtype=bool)
    w = np.asarray(w, dtype=float)
    sw = w.sum()
    p = float((w * y).sum() / sw) if sw > 0 else float("nan")
    lo, hi = weighted_interval(p, len(w), sw, (w[y] ** 2).sum(), (w**2).sum(), z)
    return p, float(lo), float(hi)


def share_rows(frame: pl.DataFrame, axis: str, *, by: str = "all", group: str | None = None, weight: str | None = None) -> list[Share]:
    """Shares of each category of `axis` (why | what | cell) per value of `group` (None: everyone)."""
    cats = AXES[axis]
    col = pl.col("why") + "/" + pl.col("what") if axis == "cell" else pl.col(axis)
    w = pl.col(weight).cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0) if weight else pl.lit(1.0)
    df = frame.select(_g=pl.col(group).cast(pl.String).fill_null("(missing)") if group else pl.lit("all"), _c=col, _w=w)
    df = df.filter(pl.col("_c").is_in(list(cats)))
    if df.is_empty():
        return []
    totals = df.group_by("_g").agg(total=pl.len(), sw_all=pl.col("_w").sum(), sw2_all=(pl.col("_w") ** 2).sum())
    grid = totals.select("_g").join(pl.DataFrame({"_c": list(cats)}), how="cross")
    per = df.group_by("_g", "_c").agg(n=pl.len(), sw=pl.col("_w").sum(), sw2=(pl.col("_w") ** 2).sum())
    t = (
        grid.join(per, on=["_g", "_c"], how="left")
        .join(totals, on="_g", how="left")
        .with_columns(pl.col("n", "sw", "sw2").fill_null(0))
        .with_columns(_order=pl.col("_c").replace_strict(list(cats), list(range(len(cats))), return_dtype=pl.Int64))
        .sort("_g", "_order")
    )
    if weight:
        t = t.filter(pl.col("sw_all") > 0)
        p = (t["sw"] / t["sw_all"]).to_numpy()
        lo, hi = weighted_interval(p, t["total"].to_numpy(), t["sw_all"].to_numpy(), t["sw2"].to_numpy(), t["sw2_all"].to_numpy())
    else:
        p = (t["n"] / t["total"]).to_numpy()
        lo, hi = wilson(t["n"].to_numpy(), t["total"].to_numpy())
    basis = "value" if weight else "count"
    return [
        Share(axis, by, g, c, basis, int(n), int(tot), float(pp), float(l), float(h), float(swa) if weight else None)
        for g, c, n, tot, swa, pp, l, h in zip(t["_g"], t["_c"], t["n"], t["total"], t["sw_all"], p, lo, hi, strict=True)
    ]


def period_column(frame: pl.DataFrame, period: str) -> tuple[pl.DataFrame, str]:
    """Add `_period` (churn month "2024-03" or quarter "2024-Q1") from end_date; auto: month when churn spans <= a year."""
    if period == "auto":
        span = frame.select((pl.col("end_date").max() - pl.col("end_date").min()).dt.total_days()).item()
        period = "month" if span is not None and span <= 366 else "quarter"
    d = pl.col("end_date")
    label = d.dt.strftime("%Y-%m") if period == "month" else d.dt.year().cast(pl.String) + "-Q" + d.dt.quarter().cast(pl.String)
    return frame.with_columns(_period=label), period


def mix(frame: pl.DataFrame, *, by: str | None = None, period: str | None = None, value: bool = False) -> list[Share]:
    """why, what and why x what shares: overall, per `by` column, per churn period; head count and value."""
    weights = [None] + (["amount_total"] if value else [])
    rows: list[Share] = []
    for weight in weights:
        for axis in AXES:
            rows += share_rows(frame, axis, weight=weight)
            if by:
                rows += share_rows(frame, axis, by=by, group=by, weight=weight)
            if period:
                rows += share_rows(frame, axis, by="period", group="_period", weight=weight)
    return rows


def response_weights(churners: pl.DataFrame, features: list[str], segments: list[str], responded: np.ndarray, trim: float, seed: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Stabilised inverse response-propensity weights (mean response / p_i), clipped at the trim quantiles."""
    x = _design(churners, features, segments)
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(x, responded)
    p = np.clip(model.predict_proba(x)[:, 1], 1e-3, 1.0)
    w = responded.mean() / p
    resp = w[responded]
    lo, hi = (float(np.quantile(resp, trim)), float(np.quantile(resp, 1 - trim))) if trim > 0 else (float(resp.min()), float(resp.max()))
    return np.clip(w, lo, hi), (lo, hi)


def _design(frame: pl.DataFrame, features: list[str], segments: list[str]) -> np.ndarray:
    cols = []
    for f in features:
        v = frame[f].cast(pl.Float64)
        if f.startswith("amount"):
            v = v.sign() * v.abs().log1p()  # spend is heavy-tailed
        missing = v.is_null()
        v = v.fill_null(v.median() if v.null_count() < v.len() else 0.0)
        sd = v.std() or 1.0
        cols.append(((v - v.mean()) / sd).fill_nan(0.0).to_numpy())
        if missing.any():
            cols.append(missing.cast(pl.Float64).to_numpy())
    for s in segments:
        dummies = frame.select(pl.col(s).cast(pl.String).fill_null("(missing)")).to_dummies(drop_first=True)
        cols += [dummies[c].cast(pl.Float64).to_numpy() for c in sorted(dummies.columns)]
    return np.column_stack(cols) if cols else np.zeros((frame.height, 1))


def nonresponse(churners: pl.DataFrame, features: list[str], segments: list[str], settings: ReasonSettings) -> NonResponse:
    """Naive (respondents only) vs inverse-propensity-reweighted why and what shares."""
    responded = (churners["why"] != UNKNOWN).to_numpy()
    n, k = churners.height, int(responded.sum())
    lo, hi = wilson(k, n)
    base = dict(n_churned=n, n_respondents=k, response_rate=k / n if n else float("nan"), lo=float(lo), hi=float(hi))
    if not features and not segments:
        return NonResponse(**base, note="no behaviour features or segments to model response on")
    if k < 10 or n - k < 10:
        return NonResponse(**base, note="too few respondents or non-respondents (< 10) to model response")
    w, bounds = response_weights(churners, features, segments, responded, settings.trim, settings.seed)
    resp = churners.filter(pl.Series(responded))
    wr = w[responded]
    rows = []
    for axis in ("why", "what"):
        known = (resp[axis] != UNKNOWN).to_numpy()
        values = resp[axis].to_numpy()[known]
        for cat in AXES[axis]:
            y = values == cat
            nlo, nhi = wilson(y.sum(), len(y))
            p, rlo, rhi = weighted_share(y, wr[known])
            rows.append(Reweighted(axis, cat, float(y.mean()), float(nlo), float(nhi), p, rlo, rhi))
    kish = float(wr.sum() ** 2 / (wr**2).sum())
    return NonResponse(**base, features=tuple(features) + tuple(segments), weight_bounds=bounds, effective_n=kish, rows=tuple(rows))


def satisfied_but_left(churners: pl.DataFrame, settings: ReasonSettings) -> SatisfiedButLeft:
    """Churners whose last score was at or above the [reasons.satisfied] threshold of its scale."""
    thresholds = dict(settings.satisfied)
    if "last_score" not in churners.columns or "score_scale" not in churners.columns:
        return SatisfiedButLeft(0, 0, float("nan"), float("nan"), float("nan"), thresholds)
    limit = pl.col("score_scale").replace_strict(thresholds, default=None, return_dtype=pl.Float64)
    scored = churners.filter(pl.col("last_score").is_not_null() & limit.is_not_null())
    happy = scored.filter(pl.col("last_score") >= limit)
    lo, hi = wilson(happy.height, scored.height)
    share = happy.height / scored.height if scored.height else float("nan")
    rows = [r for axis in AXES for r in share_rows(happy, axis, by="satisfied")]
    return SatisfiedButLeft(scored.height, happy.height, share, float(lo), float(hi), thresholds, tuple(rows))


def analyze_reasons(table: CustomerTable, config: Any | None = None, *, by: str | None = None, fit: ReasonsFit | None = None) -> ReasonsResult:
    """The whole stated-reasons analysis of a customer table (classifies first unless `why` is there)."""
    settings = settings_from_config(config)
    if by is not None and by not in table.frame.columns:
        raise InputError(
            f"--by {by!r}: the customer table has no such column",
            hint=f"segments found: {', '.join(table.segments) or 'none'}",
        )
    if fit is None or "why" not in table.frame.columns:
        table, fit = attach_stated_reasons(table, config)
    churners = table.frame.filter(pl.col("churned").fill_null(False))
    period = None
    if "end_date" in churners.columns and churners["end_date"].null_count() < churners.height:
        churners, period = period_column(churners, settings.period)
    value = "amount_total" in churners.columns and (churners["amount_total"].fill_null(0) > 0).any()
    shares = mix(churners, by=by, period="_period" if period else None, value=bool(value))
    features = [f for f in (*table.features, "amount_total") if f in churners.columns]
    segments = [s for s in table.segments if s in churners.columns]
    return ReasonsResult(
        n_customers=table.n_customers,
        n_churned=churners.height,
        classification=fit.summary,
        shares=tuple(shares),
        nonresponse=nonresponse(churners, list(dict.fromkeys(features)), segments, settings),
        satisfied=satisfied_but_left(churners, settings),
        by=by,
        period=period or "none",
        labels=dict(settings.labels),
    )
