"""How far to trust the risk scores: an honest backtest, or cross-validated calibration when there are no dates.

Backtest (exports with dates): the customer table is rebuilt as of cutoff = analysis date - horizon from the
same exports, so churn, tenure and behaviour are what was known then (events after the cutoff are not read;
churn flags, statuses and exported tenures describe today, so they are left out of the rebuilt table when
start dates exist). Above `[risk] backtest_rows` customers it is rebuilt for a uniform random sample of the
customers who had started by the cutoff (the calibration needs thousands per decile, not a million; the
sample is drawn from the sorted ids, so nothing after the cutoff changes it). The drivers model is fitted on
that table, scores the customers active at the cutoff, and the scores are compared with who had churned by
the analysis date: calibration by decile of predicted risk (observed share with a 95% Wilson interval), Brier
score (and that of predicting the base rate for everyone), concordance (the probability that a churner was
scored above a stayer) and the lift of the top decile.

Cross-validated calibration (tenure + flag exports, no dates): there is no past to go back to, so k-fold
cross-validation with landmarks: each held-out customer still active at tenure L (L = 0, h, 2h, ...) is
scored for churn within h days of L by the drivers model fitted on the other folds; the observed share per
decile is 1 - Kaplan-Meier at h, because a customer still active today may not have been followed the whole
h days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from churnwhy.config import Config
from churnwhy.load import Exports
from churnwhy.load.codes import EventCodes
from churnwhy.models.drivers_prep import stratified_sample
from churnwhy.models.features import feature_matrix
from churnwhy.models.reason_shares import wilson
from churnwhy.models.risk import RiskScorer, RiskSettings, fit_risk_model
from churnwhy.models.survival import kaplan_meier
from churnwhy.results.risk import Calibration, CalibrationBin
from churnwhy.table import CIDX, COUNT_PREFIX, RATE_PREFIX, CustomerTable, build_customer_table

# Exported columns that describe the customer today, not at a past date: never read when rebuilding the past.
_PRESENT_TENSE = ("churned", "status", "tenure")
MAX_LANDMARKS = 12
EVENT_SLICE = 10_000_000  # event rows filtered at a time when the backtest's customers are sampled


def cutoff_of(table: CustomerTable, horizon: int) -> dt.date | None:
    """The backtest's cutoff, or None when the data has no dates (tenure + flag exports)."""
    if table.as_of is None or table.frame["start_date"].null_count() == table.frame.height:
        return None
    return table.as_of - dt.timedelta(days=horizon)


def backtest_sample(table: CustomerTable, cutoff: dt.date, size: int, seed: int) -> pl.Series | None:
    """Ids of the customers the backtest is built on: those who had started by the cutoff, all of them or a
    uniform random sample of `size` (drawn from the ids sorted, so that neither file order nor anything after
    the cutoff changes who is drawn). None: all customers."""
    started = table.frame.filter(pl.col("start_date").is_null() | (pl.col("start_date") <= cutoff))["customer_id"]
    if started.len() <= size:
        return None
    ids = started.sort()
    return ids.gather(np.sort(np.random.default_rng(seed).choice(ids.len(), size, replace=False)))


def table_as_of(exports: Exports, config: Config, cutoff: dt.date, customers: pl.Series | None = None,
                now: CustomerTable | None = None) -> CustomerTable:
    """The customer table as it stood on `cutoff`: only what was known then (see the module docstring), for the
    `customers` given (ids; default every customer). `now` (today's table) dates the churn its flags decided."""
    frame = exports.customers
    if frame is not None:
        frame = _dated_flags(frame, now, cutoff)
    past = dataclasses.replace(exports, customers=frame)
    if customers is not None:
        past = _only(past, customers)
    return _known_types(build_customer_table(past, dataclasses.replace(config, as_of=cutoff)))


def _dated_flags(customers: pl.DataFrame, now: CustomerTable | None, cutoff: dt.date) -> pl.DataFrame:
    """The customers file as of the cutoff. A churn flag, status or exported tenure says who had left by today, not
    by the cutoff, so they go; where a flag decided churn today, the past keeps its definition through the date
    today's table gives that churn (a churn date, signup plus tenure, a cancellation, or the last activity):
    churned by the cutoff when that date is on or before it, active when it is later or the flag says active; a
    flagged churn without a date is left out (unknowable then). Without a flag, churn is decided again as of the
    cutoff from the dates and the events before it."""
    present = [c for c in _PRESENT_TENSE if c in customers.columns]
    if not present:
        return customers
    flag = pl.lit(None, pl.Boolean)
    if "churned" in customers.columns:
        flag = pl.col("churned").cast(pl.Boolean)
    if "status" in customers.columns:
        from churnwhy.load.values import flag as parse_flag

        flag = pl.coalesce(flag, parse_flag("status"))
    out = customers.with_columns(flag.alias("__flag")).drop(present)
    if now is None:
        return out.drop("__flag")
    today = now.frame.select("customer_id", pl.col("end_date").alias("__end"), pl.col("churned").alias("__churned"))
    out = out.join(today, on="customer_id", how="left", maintain_order="left")
    by_cutoff = pl.col("__end") <= pl.lit(cutoff, pl.Date)
    churned = (pl.when(pl.col("__flag").is_null()).then(None)
               .when(~pl.col("__flag") | ~pl.col("__churned").fill_null(False)).then(False)
               .when(pl.col("__end").is_null()).then(None)
               .otherwise(by_cutoff))
    dated: pl.Expr = pl.when(pl.col("__flag").fill_null(False) & by_cutoff.fill_null(False)).then(pl.col("__end").cast(pl.Datetime("us")))
    if "churn_date" in out.columns:
        dated = pl.coalesce(pl.col("churn_date"), dated.cast(out.schema["churn_date"]))
    # A flagged churn without any date: whether it had happened by the cutoff cannot be known, so the customer is
    # left out of the past (scored as active, they would count as a churn within the horizon).
    undated = pl.col("__flag").fill_null(False) & pl.col("__churned").fill_null(False) & pl.col("__end").is_null()
    return (out.filter(~undated).with_columns(churned.alias("churned"), dated.alias("churn_date"))
            .drop("__flag", "__end", "__churned"))


def _known_types(table: CustomerTable) -> CustomerTable:
    """The table without event types nobody had before the cutoff: a type that first appears later (a new
    product, a new kind of ticket) was unknown then, and its all-zero column would still move the fit."""
    seen = [t for t in table.event_types if table.frame[f"{COUNT_PREFIX}{t}"].fill_null(0).sum() > 0]
    if len(seen) == len(table.event_types):
        return table
    gone = [t for t in table.event_types if t not in seen]
    frame = table.frame.drop([f"{p}{t}" for t in gone for p in (COUNT_PREFIX, RATE_PREFIX)])
    monthly = table.monthly
    if monthly is not None:  # type indices into event_types: renumbered (the unseen types have no rows)
        new_index = {table.event_types.index(t): i for i, t in enumerate(seen)}
        counts = monthly.counts.filter(pl.col("type").is_in(list(new_index))).with_columns(
            pl.col("type").replace_strict(new_index, return_dtype=monthly.counts.schema["type"]))
        monthly = dataclasses.replace(monthly, counts=counts)
    return dataclasses.replace(table, frame=frame, event_types=tuple(seen), monthly=monthly)


def _only(exports: Exports, ids: pl.Series) -> Exports:
    """The exports restricted to the customers `ids`: their customer rows, events (renumbered) and surveys.
    Events another engine holds (only their sums come back) cannot be filtered here: every customer is kept."""
    codes = exports.event_codes
    if codes is not None and not isinstance(codes, EventCodes):
        return exports
    if exports.customers is not None:
        universe = exports.customers["customer_id"]
    elif codes is not None:
        universe = codes.ids
    else:
        return exports
    keep = universe.is_in(ids.implode()).to_numpy()
    new_number = np.cumsum(keep, dtype=np.int64) - 1  # old customer number -> new (for the kept ones)
    out: dict[str, Any] = {"customers": exports.customers.filter(pl.Series(keep)) if exports.customers is not None else None}
    if codes is not None:
        parts = []
        for offset in range(0, codes.height, EVENT_SLICE):
            ev = codes.slice(offset, EVENT_SLICE)
            cidx = ev[CIDX].to_numpy()
            mine = keep[cidx]
            parts.append(ev.filter(pl.Series(mine)).with_columns(
                pl.Series(CIDX, new_number[cidx[mine]]).cast(ev.schema[CIDX])))
        data = pl.concat(parts) if parts else codes.slice(0, 0)
        out["event_codes"] = dataclasses.replace(codes, data=data, ids=universe.filter(pl.Series(keep)), folder=None)
    if exports.surveys is not None:
        out["surveys"] = exports.surveys.filter(pl.col("customer_id").is_in(ids.implode()))
    return dataclasses.replace(exports, **out)


def backtest(past: CustomerTable, now: CustomerTable, settings: RiskSettings, config: Config) -> Calibration:
    """Fit the drivers model on `past` (the table as of the cutoff), score its active customers with it, compare
    with churn by now."""
    h = settings.horizon_days
    matrix = feature_matrix(past) if past.features else None  # the past's own (another table than today's)
    model = fit_risk_model(past, config, matrix=matrix)
    if model.skipped_ or model.cox_ is None:
        return Calibration(method="backtest", horizon_days=h, cutoff=past.as_of, skipped=f"backtest: {model.skipped_}")
    tenure_all = past.frame["tenure_days"].cast(pl.Float64).to_numpy()
    rows = np.flatnonzero(~past.frame["churned"].fill_null(True).to_numpy() & np.isfinite(tenure_all))
    if rows.size == 0:
        return Calibration(method="backtest", horizon_days=h, cutoff=past.as_of, skipped="no customer was active at the cutoff")
    scorer = RiskScorer(model, past, seed=settings.seed, matrix=matrix)
    tenure = tenure_all[rows]
    p = scorer.probability(past, rows, tenure, h)
    seen = np.isfinite(p)  # a stratum level absent from the fit has no baseline
    rows, tenure, p = rows[seen], tenure[seen], p[seen]
    ids = past.frame["customer_id"].gather(rows)
    outcome = (pl.DataFrame({"customer_id": ids}).join(now.frame.select("customer_id", "churned"), on="customer_id",
                                                        how="left", maintain_order="left")["churned"].fill_null(False).to_numpy())
    scores = pl.DataFrame({"customer_id": ids, "churn_probability": p, "churned": outcome})
    bins, brier, base, conc, lift = _binary_metrics(p, outcome.astype(float))
    notes = []
    if (tenure + h > scorer.max_event_time).mean() > 0.05:
        notes.append("some customers' tenure plus the horizon lies past the longest tenure with a churn in the past data: "
                     "their probabilities extend the hazard of the longest tenures")
    # Sampled (backtest_sample) unless another engine held the events (_only then keeps every customer).
    sampled = past.frame.height <= settings.backtest_rows < now.frame.filter(
        pl.col("start_date").is_null() | (pl.col("start_date") <= past.as_of)).height
    return Calibration(
        method="backtest", horizon_days=h, cutoff=past.as_of, n_scored=int(rows.size), n_churned=int(outcome.sum()),
        n_fit=model.n_fit_, bins=bins, brier=brier, brier_baseline=base, concordance=conc, top_decile_lift=lift,
        note=(f"the drivers model fitted on the customer table as of {past.as_of} (analysis date - {h} days) on what was "
              f"known then{f', built for a random sample of {past.frame.height:,} of the customers who had started by then' if sampled else ''}; "
              f"scored the {rows.size:,} customers active then; observed = churned by the analysis date"),
        notes=tuple(notes), scores=scores,
    )


def cross_validated(table: CustomerTable, settings: RiskSettings, config: Config,
                    why: str = "no dates in these exports, so no backtest") -> Calibration:
    """k-fold landmark calibration for exports without dates (see the module docstring), or with dates where the
    backtest could not be fitted (`why` says which)."""
    h, k = settings.horizon_days, settings.cv_folds
    frame = table.frame
    t = frame["tenure_days"].cast(pl.Float64).to_numpy()
    e = frame["churned"].fill_null(False).to_numpy()
    ok = np.flatnonzero(np.isfinite(t) & (t >= 0))
    rng = np.random.default_rng(settings.seed)
    rows = ok[stratified_sample(e[ok], settings.cv_rows, rng)]
    fold = rng.permutation(rows.size) % k
    top = float(np.quantile(t[rows], 0.9)) if rows.size else 0.0
    landmarks = np.arange(0, max(top, 1), h)[:MAX_LANDMARKS]
    preds, resid, event, mark = [], [], [], []
    notes: list[str] = []
    for f in range(k):
        test, train = rows[fold == f], rows[fold != f]
        fold_table = _subset(table, train)
        model = fit_risk_model(fold_table, config)
        if model.skipped_ or model.cox_ is None:
            return Calibration(method="cross_validated", horizon_days=h, skipped=f"cross-validated calibration: {model.skipped_}")
        held = _subset(table, test)
        scorer = RiskScorer(model, fold_table, seed=settings.seed)
        z = scorer.standardised(held, np.arange(test.size))
        tt, ee = t[test], e[test]
        for land in landmarks:
            at = tt > land
            if not at.any():
                continue
            idx = np.flatnonzero(at)
            p = scorer.probability(held, idx, np.full(idx.size, land), h, z=z[idx])
            seen = np.isfinite(p)
            preds.append(p[seen])
            resid.append(tt[idx][seen] - land)
            event.append(ee[idx][seen])
            mark.append(np.full(int(seen.sum()), land))
    if not preds or not sum(p.size for p in preds):
        return Calibration(method="cross_validated", horizon_days=h, skipped="no customer to score")
    p, r, d, lm = np.concatenate(preds), np.concatenate(resid), np.concatenate(event), np.concatenate(mark)
    within = d & (r <= h)
    known = within | (r >= h)  # followed the whole horizon, or churned inside it
    bins = []
    for i, idx in enumerate(_deciles(p)):
        obs, lo, hi = _km_churn(np.minimum(r[idx], h), within[idx], h)
        bins.append(CalibrationBin(decile=i + 1, n=int(idx.size), predicted=float(p[idx].mean()), observed=obs, ci_low=lo, ci_high=hi))
    y, q, g = within[known].astype(float), p[known], lm[known]
    brier = float(np.mean((q - y) ** 2)) if y.size else float("nan")
    base = float(np.mean((y.mean() - y) ** 2)) if y.size else float("nan")
    return Calibration(
        method="cross_validated", horizon_days=h, n_scored=int(rows.size), n_churned=int(e[rows].sum()),
        n_fit=int(rows.size - rows.size // k), bins=tuple(bins), brier=brier, brier_baseline=base,
        concordance=_auc_within(q, y, g), top_decile_lift=_lift_within(q, y, g),
        note=(f"{why}: {k}-fold cross-validated calibration instead. Each held-out "
              f"customer still active at tenure 0, {h}, {2 * h}, ... days (up to {len(landmarks)} landmarks) is scored for "
              f"churn within {h} days; observed = 1 - Kaplan-Meier at {h} days per decile (customers still active today "
              "count while followed). Brier, concordance and lift use the scored rows whose outcome is known; concordance and "
              "the top decile are taken among customers at the same landmark (the same tenure), so that tenure alone "
              "(whole years, say) cannot look like skill"),
        notes=tuple(notes),
    )


def _subset(table: CustomerTable, rows: np.ndarray) -> CustomerTable:
    """The table's `rows` (a cross-validation fold) as a table of its own."""
    return dataclasses.replace(table, frame=table.frame[rows])


def _deciles(p: np.ndarray) -> list[np.ndarray]:
    """Ten groups of (nearly) equal size by rank of p, lowest first (ties broken by position, deterministically)."""
    order = np.argsort(p, kind="stable")
    return [g for g in np.array_split(order, 10) if g.size]


def _km_churn(r: np.ndarray, d: np.ndarray, h: float) -> tuple[float, float, float]:
    """1 - Kaplan-Meier survival at h, with its 95% interval."""
    km = kaplan_meier(r, d.astype(float))
    i = int(np.searchsorted(km["time"], h, side="right")) - 1
    return 1 - float(km["survival"][i]), 1 - float(km["ci_high"][i]), 1 - float(km["ci_low"][i])


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    """Concordance of scores with a binary outcome (ties count one half): the Mann-Whitney U over n1 n0."""
    n1, n0 = int(y.sum()), int(y.size - y.sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pl.Series(p).rank("average").to_numpy()
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _auc_within(p: np.ndarray, y: np.ndarray, group: np.ndarray) -> float:
    """Concordance counting only pairs in the same group (customers scored at the same landmark)."""
    u = pairs = 0.0
    for lv in np.unique(group):
        at = group == lv
        n1 = float(y[at].sum())
        n0 = float(at.sum()) - n1
        if n1 and n0:
            ranks = pl.Series(p[at]).rank("average").to_numpy()
            u += ranks[y[at] == 1].sum() - n1 * (n1 + 1) / 2
            pairs += n1 * n0
    return u / pairs if pairs else float("nan")


def _lift_within(p: np.ndarray, y: np.ndarray, group: np.ndarray) -> float:
    """Churn among each landmark's riskiest tenth, pooled, over churn among all scored."""
    top = np.zeros(p.size, bool)
    for lv in np.unique(group):
        idx = np.flatnonzero(group == lv)
        order = idx[np.argsort(-p[idx], kind="stable")]
        top[order[: max(1, idx.size // 10)]] = True
    base = y.mean() if y.size else 0.0
    return float(y[top].mean() / base) if base > 0 else float("nan")


def _binary_metrics(p: np.ndarray, y: np.ndarray) -> tuple[tuple[CalibrationBin, ...], float, float, float, float]:
    bins = []
    for i, idx in enumerate(_deciles(p)):
        lo, hi = wilson(y[idx].sum(), idx.size)
        bins.append(CalibrationBin(decile=i + 1, n=int(idx.size), predicted=float(p[idx].mean()),
                                   observed=float(y[idx].mean()), ci_low=float(lo), ci_high=float(hi)))
    brier = float(np.mean((p - y) ** 2))
    base = float(np.mean((y.mean() - y) ** 2))
    lift = bins[-1].observed / y.mean() if y.mean() > 0 else float("nan")
    return tuple(bins), brier, base, _auc(p, y), float(lift)
