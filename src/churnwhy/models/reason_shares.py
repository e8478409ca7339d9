"""Reason shares among churners, with 95% intervals; the non-response correction; satisfied-but-left.

- **Count shares** use the Wilson score interval (Wilson 1927): for k of n,
  centre (k + z²/2)/(n + z²), half-width z·sqrt(k(n-k)/n + z²/4)/(n + z²).
- **Value shares** (each churner weighted by lifetime spend, `amount_total`) use the same interval on the
  Kish effective sample size n_eff = (Σw)²/Σw², the usual linearisation of a ratio estimator's variance.
- **Non-response**: P(answered) is modelled by logistic regression on behaviour rates, amounts and segments
  (standardised; fitted on at most MAX_FIT_ROWS churners, stratified); respondents get stabilised inverse
  propensity weights mean(p)/p, clipped at the [trim, 1-trim] quantiles only when [reasons] trim asks
  (default 0: no clipping). Clipping trades bias for variance, and only the variance shows in the interval:
  the rare answers (switching, under-represented among respondents) carry the largest weights, so clipping
  the top 1% took 2-6% of the weight mass from them and left the reweighted mix 3.5-4.8 points short of the
  truth at 3 of 10 demo seeds (tests/test_acceptance_reasons.py); unclipped, the Kish effective size behind
  the interval widens it for extreme weights instead.
  Reweighted shares and their intervals are value-style shares with those weights.

Known categories are shares among churners whose reason is known on that axis (`among = "known"`, with the
count left out in `left_out`); every mix also has an `unknown` row, its share among every stated answer.
"""

from __future__ import annotations


import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from churnwhy.models.drivers_prep import stratified_sample
from churnwhy.models.reason_correction import corrected_mix
from churnwhy.models.reason_taxonomy import UNKNOWN, ReasonSettings, settings_from_config
from churnwhy.models.threads import single_blas_thread
from churnwhy.results.reasons import Classification, NonResponse, ReasonsResult, Reweighted, SatisfiedButLeft, Share
from churnwhy.table import CustomerTable

Z = 1.959963984540054
AXES = ("why", "what")
MAX_FIT_ROWS = 200_000
MIN_RESPONDENTS = 20


def wilson(k: np.ndarray | float, n: np.ndarray | float, z: float = Z) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n (n may be an effective, non-integer size)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def fit_reasons(
    table: CustomerTable,
    classification: Classification,
    config: Any | None = None,
    *,
    by: str | None = None,
    period: str | None = None,
    examples: bool = False,
) -> ReasonsResult:
    """Shares of why, what and why x what among churners of a table that has why/what/reason_source."""
    settings = settings_from_config(config)
    frame = table.frame
    churners = frame.filter(pl.col("churned"))
    period = period or (settings.period if settings.period != "auto" else _auto_period(churners))
    stated = churners.filter(pl.col("reason_source") == "stated")
    stated = stated.with_columns(cell=_cell())
    shares: list[Share] = []
    groups: list[tuple[str, pl.Expr]] = [("all", pl.lit("all"))]
    if by:
        groups.append((by, pl.col(by).cast(pl.String).fill_null("(missing)")))
    if "end_date" in stated.columns and stated["end_date"].drop_nulls().len():
        groups.append(("period", _period_label(pl.col("end_date"), period)))
    value_ok = "amount_total" in stated.columns and float(stated["amount_total"].fill_null(0).sum()) > 0
    for by_name, key in groups:
        g = stated.with_columns(__group=key)
        for axis in (*AXES, "cell"):
            shares += _shares(g, axis, by_name, "count")
            if value_ok:
                shares += _shares(g, axis, by_name, "value")
    shares = _correct(shares, stated, groups, classification, settings.seed)
    with single_blas_thread():  # see models/threads.py
        nonresponse = _nonresponse(churners, table, settings)
    satisfied = _satisfied(stated, churners, settings)
    return ReasonsResult(
        n_customers=frame.height, n_churned=churners.height, classification=classification,
        shares=tuple(shares), nonresponse=nonresponse, satisfied=satisfied, by=by, period=period,
        labels=dict(settings.labels), examples=examples,
    )


def _cell() -> pl.Expr:
    known = (pl.col("why") != UNKNOWN) & (pl.col("what") != UNKNOWN)
    return pl.when(known).then(pl.concat_str("why", pl.lit("/"), "what")).otherwise(pl.lit(UNKNOWN))


def _correct(shares: list[Share], stated: pl.DataFrame, groups: list[tuple[str, pl.Expr]],
             classification: Classification, seed: int) -> list[Share]:
    """Head-count shares of known categories, overall and per segment and period, corrected for the learned
    layer's cross-validated confusion where it read answers (models/reason_correction.py): answers read from
    codes and rules are taken as given, those the learned layer read (`reason_method` = model) are corrected,
    and the interval redraws all three. A group where the learned layer read nothing keeps its Wilson interval."""
    pairs = getattr(classification, "cv_confusion", ())
    if not pairs or "reason_method" not in stated.columns or not (stated["reason_method"] == "model").any():
        return shares
    at = {(s.axis, s.by, s.group, s.category): i for i, s in enumerate(shares)
          if s.basis == "count" and s.among == "known" and s.axis in AXES}
    out = list(shares)
    for axis, pos in (("why", 0), ("what", 1)):
        known_rows = stated.filter(pl.col(axis) != UNKNOWN)
        read = set(known_rows.filter(pl.col("reason_method") == "model")[axis].unique().to_list())
        classes = sorted(({t.split("/")[pos] for t, _, _ in pairs} | {p.split("/")[pos] for _, p, _ in pairs} | read)
                         - {UNKNOWN})
        idx = {c: i for i, c in enumerate(classes)}
        val = np.zeros((len(classes), len(classes)))
        for t, p, n in pairs:  # confusion cells, not rows
            a, b = t.split("/")[pos], p.split("/")[pos]
            if a in idx and b in idx:
                val[idx[a], idx[b]] += n
        for by_name, key in groups:
            counts = (known_rows.with_columns(__group=key, __model=pl.col("reason_method") == "model")
                      .group_by("__group", axis, "__model").len())
            for (group,), part in counts.group_by("__group"):  # groups (segments, periods), not rows
                model = {lab: n for lab, m, n in part.select(axis, "__model", "len").iter_rows() if m}
                if not model:
                    continue
                given = {lab: n for lab, m, n in part.select(axis, "__model", "len").iter_rows() if not m}
                labels = tuple(classes) + tuple(sorted(set(given) - set(classes)))
                mix = corrected_mix(labels, np.array([given.get(lab, 0) for lab in labels], dtype=float),
                                    np.array([model.get(c, 0) for c in classes], dtype=float), val, seed=seed)
                for j, lab in enumerate(labels):
                    i = at.get((axis, by_name, str(group), lab))
                    if i is not None:
                        out[i] = dataclasses.replace(out[i], share=float(mix.share[j]), lo=float(mix.lo[j]),
                                                     hi=float(mix.hi[j]), corrected=True)
    return out


def _auto_period(churners: pl.DataFrame) -> str:
    if "end_date" not in churners.columns or churners["end_date"].drop_nulls().len() == 0:
        return "month"
    span = (cast(dt.date, churners["end_date"].max()) - cast(dt.date, churners["end_date"].min())).days
    return "quarter" if span > 2 * 365 else "month"


def _period_label(expr: pl.Expr, period: str) -> pl.Expr:
    if period == "quarter":
        return pl.concat_str(expr.dt.year().cast(pl.String), pl.lit("-Q"), expr.dt.quarter().cast(pl.String))
    return expr.dt.strftime("%Y-%m")


def _shares(g: pl.DataFrame, axis: str, by: str, basis: str) -> list[Share]:
    """Known categories as shares among the known (with the count left out), plus an `unknown` row: its share
    among every stated answer of the group."""
    col = axis
    if g.height == 0:
        return []
    weight = pl.col("amount_total").fill_null(0).clip(lower_bound=0) if basis == "value" else pl.lit(1.0)
    per = (
        g.with_columns(__w=weight, __known=pl.col(col) != UNKNOWN)
        .group_by("__group", col)
        .agg(n=pl.len(), w=pl.col("__w").sum(), w2=(pl.col("__w") ** 2).sum(), known=pl.col("__known").first())
        .with_columns(
            total=pl.col("n").filter(pl.col("known")).sum().over("__group"),
            wt=pl.col("w").filter(pl.col("known")).sum().over("__group"),
            wt2=pl.col("w2").filter(pl.col("known")).sum().over("__group"),
            all_n=pl.col("n").sum().over("__group"),
            all_w=pl.col("w").sum().over("__group"),
            all_w2=pl.col("w2").sum().over("__group"),
            left_out=pl.col("n").filter(~pl.col("known")).sum().over("__group"),
        )
        .sort("__group", col)
    )
    known = per.filter(pl.col("known") & (pl.col("wt") > 0))
    out = _share_rows(known, axis, by, basis, col, "known", "total", "wt", "wt2")
    unknown = per.filter(~pl.col("known") & (pl.col("all_w") > 0))
    out += _share_rows(unknown, axis, by, basis, col, "all", "all_n", "all_w", "all_w2")
    return sorted(out, key=lambda s: (s.group, s.category))


def _share_rows(per: pl.DataFrame, axis: str, by: str, basis: str, col: str, among: str, total: str, wt: str,
                wt2: str) -> list[Share]:
    if per.height == 0:
        return []
    share = (per["w"] / per[wt]).to_numpy()
    n_eff = (per[wt] ** 2 / per[wt2]).to_numpy() if basis == "value" else per[total].to_numpy().astype(float)
    lo, hi = wilson(share * n_eff, n_eff)
    left = per["left_out"].fill_null(0) if among == "known" else pl.Series([0] * per.height)
    return [
        Share(axis=axis, by=by, group=str(grp), category=str(cat), basis=basis, n=int(n), total=int(tot),
              share=float(s), lo=float(a), hi=float(b), weighted_total=float(w) if basis == "value" else None,
              among=among, left_out=int(lft))
        for grp, cat, n, tot, w, s, a, b, lft in zip(
            per["__group"], per[col], per["n"], per[total], per[wt], share, lo, hi, left, strict=True)
    ]


def _design(churners: pl.DataFrame, table: CustomerTable) -> tuple[np.ndarray, tuple[str, ...]]:
    """Behaviour rates, amounts (log), recency and segments (one-hot) as a standardised design matrix."""
    numeric = [f for f in table.features if f in churners.columns]
    numeric += [c for c in ("amount_total",) if c in churners.columns]
    exprs = [pl.col(c).cast(pl.Float64).fill_nan(None).fill_null(pl.col(c).cast(pl.Float64).median()).fill_null(0.0)
             for c in numeric]
    cols = list(numeric)
    x = churners.select(exprs).to_numpy() if exprs else np.empty((churners.height, 0))
    if "amount_total" in numeric:
        i = numeric.index("amount_total")
        x[:, i] = np.log1p(np.clip(x[:, i], 0, None))
    dummies = []
    for seg in table.segments:
        if seg in churners.columns:
            d = churners.select(pl.col(seg).cast(pl.String).fill_null("(missing)")).to_dummies(drop_first=True)
            dummies.append(d.to_numpy().astype(float))
            cols += d.columns
    if dummies:
        x = np.hstack([x, *dummies])
    keep = x.std(axis=0) > 0 if x.shape[1] else np.zeros(0, bool)
    return x[:, keep], tuple(c for c, k in zip(cols, keep, strict=True) if k)


def _nonresponse(churners: pl.DataFrame, table: CustomerTable, settings: ReasonSettings) -> NonResponse:
    answered = ((churners["reason_source"] == "stated") & (churners["why"] != UNKNOWN)).fill_null(False).to_numpy()
    n, k = churners.height, int(answered.sum())
    lo, hi = wilson(k, n) if n else (np.nan, np.nan)
    base: dict[str, Any] = dict(n_churned=n, n_respondents=k, response_rate=k / n if n else float("nan"), lo=float(lo), hi=float(hi))
    naive_rows = _weighted_rows(churners.filter(pl.Series(answered)), np.ones(k))
    unknown = _unknown_counts(churners)
    if k < MIN_RESPONDENTS or k == n:
        why = "fewer than 20 churners stated a reason" if k < MIN_RESPONDENTS else "every churner stated a reason"
        return NonResponse(**base, rows=tuple(_merge(naive_rows, naive_rows, unknown)), note=f"no reweighting: {why}")
    x, names = _design(churners, table)
    if x.shape[1] == 0:
        return NonResponse(**base, rows=tuple(_merge(naive_rows, naive_rows, unknown)),
                           note="no reweighting: no behaviour or segment columns to model who answered")
    rng = np.random.default_rng(settings.seed)
    fit_rows = stratified_sample(answered, MAX_FIT_ROWS, rng, floor=1)
    scaler = StandardScaler().fit(x[fit_rows])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x[fit_rows]), answered[fit_rows])
    p = model.predict_proba(scaler.transform(x[answered]))[:, 1]
    w = answered.mean() / np.clip(p, 1e-6, None)  # stabilised: weights average ~1
    lo_w, hi_w = np.quantile(w, [settings.trim, 1 - settings.trim])
    w = np.clip(w, lo_w, hi_w)
    rows = _weighted_rows(churners.filter(pl.Series(answered)), w)
    return NonResponse(
        **base, features=names, weight_bounds=(float(lo_w), float(hi_w)),
        effective_n=float(w.sum() ** 2 / (w**2).sum()), rows=tuple(_merge(naive_rows, rows, unknown)),
    )


_Rows = dict[tuple[str, str], tuple[float, float, float]]  # (axis, category) -> share, lo, hi


def _weighted_rows(respondents: pl.DataFrame, w: np.ndarray) -> _Rows:
    out: _Rows = {}
    for axis in AXES:
        labels = respondents[axis].to_numpy()
        mask = labels != UNKNOWN
        if not mask.any():
            continue
        ww, ll = w[mask], labels[mask]
        total, n_eff = ww.sum(), ww.sum() ** 2 / (ww**2).sum()
        for cat in sorted(set(ll.tolist())):
            s = ww[ll == cat].sum() / total
            lo, hi = wilson(s * n_eff, n_eff)
            out[(axis, cat)] = (float(s), float(lo), float(hi))
    return out


def _merge(naive: _Rows, reweighted: _Rows, unknown: dict[str, tuple[int, int]] | None = None) -> list[Reweighted]:
    """Known categories (naive and reweighted, among the known), then each axis's `unknown` row: its unweighted
    share among every stated answer (no response weights exist for answers that could not be read)."""
    unknown = unknown or {}
    rows = [Reweighted(axis, cat, *naive[(axis, cat)], *reweighted.get((axis, cat), naive[(axis, cat)]),
                       left_out=unknown.get(axis, (0, 0))[0]) for axis, cat in sorted(naive)]
    for axis, (k, n) in sorted(unknown.items()):
        if n:
            lo, hi = wilson(k, n)
            rows.append(Reweighted(axis, UNKNOWN, k / n, float(lo), float(hi), k / n, float(lo), float(hi), among="all"))
    return rows


def _unknown_counts(churners: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Per axis: (stated answers unknown on it, stated answers)."""
    stated = churners.filter(pl.col("reason_source") == "stated")
    return {axis: (int((stated[axis] == UNKNOWN).sum()), stated.height) for axis in AXES}


def _satisfied(stated: pl.DataFrame, churners: pl.DataFrame, settings: ReasonSettings) -> SatisfiedButLeft:
    thresholds = dict(settings.satisfied)
    if "last_score" not in churners.columns or "score_scale" not in churners.columns:
        return SatisfiedButLeft(0, 0, float("nan"), float("nan"), float("nan"), thresholds)
    threshold = pl.col("score_scale").replace_strict(thresholds, default=None, return_dtype=pl.Float64)
    high = (pl.col("last_score") >= threshold).fill_null(False)
    scored = churners.filter(pl.col("last_score").is_not_null() & threshold.is_not_null())
    n_sat = int(scored.select(high.sum()).item()) if scored.height else 0
    lo, hi = wilson(n_sat, scored.height) if scored.height else (np.nan, np.nan)
    happy = stated.filter(high).with_columns(__group=pl.lit("satisfied"))
    shares = tuple(_shares(happy, "why", "satisfied", "count") + _shares(happy, "what", "satisfied", "count"))
    share = n_sat / scored.height if scored.height else float("nan")
    return SatisfiedButLeft(scored.height, n_sat, share, float(lo), float(hi), thresholds, shares)


def headline(result: ReasonsResult, axis: str) -> Sequence[Share]:
    """The overall count shares on one axis (for views)."""
    return [s for s in result.shares if s.axis == axis and s.by == "all" and s.basis == "count"]



