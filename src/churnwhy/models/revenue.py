"""The revenue view (monthly churn by customers and by revenue, revenue lost by reason, value vs voice) and where
churn concentrates (segments by observed / expected churners).

A customer's monthly value is their event amounts in the lookback window per 30 days of exposure
(`amount_window / exposure_days * 30`): what they were paying lately, before they left for churners. Exports
without amounts get the head-count view only.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
from scipy.stats import chi2

from churnwhy.models.reason_shares import wilson
from churnwhy.results.risk import ConcentrationResult, MonthlyChurn, ReasonValue, RevenueResult, SegmentRatio
from churnwhy.table import RATE_DAYS, CustomerTable

Z95 = 1.959963984540054
MAX_MONTHS = 24


def monthly_value(frame: pl.DataFrame) -> np.ndarray | None:
    """Recent monthly value per customer, or None when the exports carry no amounts."""
    if "amount_window" not in frame.columns or not (frame["amount_window"].fill_null(0) != 0).any():
        return None
    return (frame["amount_window"].fill_null(0.0) / frame["exposure_days"].clip(1, None) * RATE_DAYS).to_numpy()


def revenue_view(table: CustomerTable) -> RevenueResult:
    """Monthly churn rates (customers, revenue) over the last MAX_MONTHS whole months, and reasons by count and value."""
    frame = table.frame
    value = monthly_value(frame)
    rules = ["monthly value = event amounts in the lookback window per 30 days of exposure (before the end date)"]
    months = _months(frame, value, table.as_of)
    if months:
        rules.append(f"monthly churn: churners in the month / customers active at its start, last {MAX_MONTHS} whole months at most")
    by_reason = _by_reason(frame, value)
    if by_reason:
        rules.append("reason shares by head count (95% Wilson CI) and by monthly revenue lost (ratio estimator, 95% CI from "
                     "its linearised variance); revenue lost per reason: sum +- 1.96 sqrt(n var); reasons are each churner's "
                     "stated or inferred label")
    churned = frame["churned"].fill_null(False).to_numpy()
    if not months and not by_reason:
        return RevenueResult(skipped="no dates and no reasons: nothing to show by month or by reason")
    return RevenueResult(months=tuple(months), by_reason=tuple(by_reason),
                         revenue_lost=float(value[churned].sum()) if value is not None else None,
                         has_amounts=value is not None, rules=tuple(rules))


def _months(frame: pl.DataFrame, value: np.ndarray | None, as_of: dt.date | None) -> list[MonthlyChurn]:
    if as_of is None or frame["start_date"].null_count() == frame.height:
        return []
    start = frame["start_date"].to_physical().fill_null(np.iinfo(np.int32).max).to_numpy()
    churned = frame["churned"].fill_null(False).to_numpy()
    end = frame["end_date"].to_physical().to_numpy().astype(float)
    end = np.where(churned & np.isfinite(end), end, np.inf)
    first = dt.date.fromordinal(int(start.min()) + dt.date(1970, 1, 1).toordinal())
    last_whole = dt.date(as_of.year, as_of.month, 1)  # the month of as_of is not whole yet
    edges = []
    y, m = first.year, first.month
    while dt.date(y, m, 1) <= last_whole:
        edges.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if as_of.day == _month_end(as_of).day:
        edges.append(as_of + dt.timedelta(days=1))
    edges = edges[-(MAX_MONTHS + 1):]
    out = []
    epoch = dt.date(1970, 1, 1)
    for a, b in zip(edges[:-1], edges[1:], strict=False):
        da, db = (a - epoch).days, (b - epoch).days
        active = (start < da) & (end >= da)
        left = active & (end < db)
        n, k = int(active.sum()), int(left.sum())
        if n == 0:
            continue
        rv = rl = rr = None
        if value is not None:
            rv, rl = float(value[active].sum()), float(value[left].sum())
            rr = rl / rv if rv > 0 else None
        out.append(MonthlyChurn(a.strftime("%Y-%m"), n, k, k / n, rv, rl, rr))
    return out


def _month_end(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _by_reason(frame: pl.DataFrame, value: np.ndarray | None) -> list[ReasonValue]:
    if "why" not in frame.columns:
        return []
    churned = frame["churned"].fill_null(False).to_numpy()
    n = int(churned.sum())
    if n == 0:
        return []
    v = value[churned] if value is not None else None
    total = float(v.sum()) if v is not None else 0.0
    out = []
    for axis in ("why", "what"):
        labels = frame[axis].cast(pl.String).fill_null("unknown").to_numpy()[churned]
        for lab in sorted(set(labels.tolist())):
            hit = labels == lab
            k = int(hit.sum())
            lo, hi = wilson(k, n)
            rev = rlo = rhi = rs = rslo = rshi = None
            if v is not None and total > 0:
                part = np.where(hit, v, 0.0)
                rev = float(part.sum())
                half = Z95 * math.sqrt(n * part.var())
                rlo, rhi = max(0.0, rev - half), rev + half
                rs = rev / total
                se = math.sqrt(float(np.sum((part - rs * v) ** 2))) / total
                rslo, rshi = max(0.0, rs - Z95 * se), min(1.0, rs + Z95 * se)
            out.append(ReasonValue(axis, str(lab), k, k / n, float(lo), float(hi), rev, rlo, rhi, rs, rslo, rshi))
    return out


def concentration(table: CustomerTable, *, min_size: int, max_levels: int) -> ConcentrationResult:
    """Segment levels ranked by observed / expected churners; expected = the overall Nelson-Aalen cumulative hazard
    at each customer's tenure (the churn a customer of that tenure would show at the overall rate)."""
    frame = table.frame
    segments = [s for s in table.segments if s in frame.columns]
    if not segments:
        return ConcentrationResult(skipped="no segment columns")
    t = frame["tenure_days"].cast(pl.Float64).to_numpy()
    e = frame["churned"].fill_null(False).to_numpy()
    ok = np.isfinite(t) & (t >= 0)
    t, e = np.where(ok, t, 0.0), e & ok
    times, inverse = np.unique(t, return_inverse=True)
    removed = np.bincount(inverse, weights=ok.astype(float), minlength=times.size)
    deaths = np.bincount(inverse, weights=e.astype(float), minlength=times.size)
    at_risk = removed[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        cumhaz = np.cumsum(np.where(at_risk > 0, deaths / at_risk, 0.0))
    expected = np.where(ok, cumhaz[inverse], 0.0)
    rows = []
    for seg in segments:
        values = frame[seg].cast(pl.String).fill_null("(missing)")
        if not 2 <= values.n_unique() <= max_levels:
            continue
        # numpy sums, not a Polars group-by: its threads add floats in varying order, and a tie between two
        # levels (a plan and its fee) must sort the same way on every run
        code = values.rank("dense").cast(pl.Int64).to_numpy() - 1
        names = values.unique().sort()
        n_by = np.bincount(code, weights=ok, minlength=names.len())
        o_by = np.bincount(code, weights=e, minlength=names.len())
        x_by = np.bincount(code, weights=expected, minlength=names.len())
        for lv, n, o, x in zip(names.to_list(), n_by.astype(int), o_by.astype(int), x_by, strict=True):
            if n < min_size or x <= 0:
                continue
            lo = chi2.ppf(0.025, 2 * o) / 2 if o > 0 else 0.0
            hi = chi2.ppf(0.975, 2 * (o + 1)) / 2
            rows.append(SegmentRatio(seg, str(lv), int(n), int(o), float(x), float(o / x), float(lo / x), float(hi / x)))
    if not rows:
        return ConcentrationResult(skipped=f"no segment level with at least {min_size} customers")
    rows.sort(key=lambda r: (-round(r.ratio, 9), r.segment, r.level))
    return ConcentrationResult(rows=tuple(rows), rules=(
        "expected churners = the overall Nelson-Aalen cumulative hazard at each customer's tenure, summed over the level "
        "(observed / expected = 1: churns like everyone else at the same tenures); 95% CI exact Poisson on the observed count",
        f"levels held by fewer than {min_size} customers and segments with more than {max_levels} levels left out",
    ))
