"""How far to trust the risk scores: an honest backtest, or cross-validated calibration when there are no dates.

Backtest (exports with dates): the customer table is rebuilt as of cutoff = analysis date - horizon from the
same exports, so churn, tenure and behaviour are what was known then (events after the cutoff are not read;
churn flags, statuses and exported tenures describe today, so they are left out of the rebuilt table when
start dates exist). The risk model is fitted on that table, scores the customers active at the cutoff, and
the scores are compared with who had churned by the analysis date: calibration by decile of predicted risk
(observed share with a 95% Wilson interval), Brier score (and that of predicting the base rate for everyone),
concordance (the probability that a churner was scored above a stayer) and the lift of the top decile.

Cross-validated calibration (tenure + flag exports, no dates): there is no past to go back to, so k-fold
cross-validation with landmarks: each held-out customer still active at tenure L (L = 0, h, 2h, ...) is
scored for churn within h days of L by a model fitted on the other folds; the observed share per decile is
1 - Kaplan-Meier at h, because a customer still active today may not have been followed the whole h days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from churnwhy.config import Config
from churnwhy.models.drivers_prep import stratified_sample
from churnwhy.models.features import Prepared, feature_matrix
from churnwhy.models.reason_shares import wilson
from churnwhy.models.risk import RiskModel, RiskSettings
from churnwhy.models.survival import kaplan_meier
from churnwhy.results.risk import Calibration, CalibrationBin
from churnwhy.table import CustomerTable, build_customer_table

# Exported columns that describe the customer today, not at a past date: never read when rebuilding the past.
_PRESENT_TENSE = ("churned", "status", "tenure")
MAX_LANDMARKS = 12


def cutoff_of(table: CustomerTable, horizon: int) -> dt.date | None:
    """The backtest's cutoff, or None when the data has no dates (tenure + flag exports)."""
    if table.as_of is None or table.frame["start_date"].null_count() == table.frame.height:
        return None
    return table.as_of - dt.timedelta(days=horizon)


def table_as_of(exports, config: Config, cutoff: dt.date) -> CustomerTable:  # type: ignore[no-untyped-def]
    """The customer table as it stood on `cutoff`: only what was known then (see the module docstring)."""
    customers = exports.customers
    if customers is not None and "signup_date" in customers.columns:
        customers = customers.drop([c for c in _PRESENT_TENSE if c in customers.columns])
    past = dataclasses.replace(exports, customers=customers)
    return build_customer_table(past, dataclasses.replace(config, as_of=cutoff))


def backtest(past: CustomerTable, now: CustomerTable, settings: RiskSettings, families=None) -> Calibration:  # type: ignore[no-untyped-def]
    """Fit on `past` (the table as of the cutoff), score its active customers, compare with churn by now."""
    h = settings.horizon_days
    matrix = feature_matrix(past) if past.features else None  # built once: the fit and the scores read it
    model = RiskModel(settings, families=families).fit(past, matrix=matrix)
    if model.skipped_:
        return Calibration(method="backtest", horizon_days=h, cutoff=past.as_of, skipped=f"backtest: {model.skipped_}")
    active = ~past.frame["churned"].fill_null(True).to_numpy()
    rows = np.flatnonzero(active)
    if rows.size == 0:
        return Calibration(method="backtest", horizon_days=h, cutoff=past.as_of, skipped="no customer was active at the cutoff")
    _, lp = model.linear_predictor(past, rows, matrix=matrix)
    tenure = past.frame["tenure_days"].to_numpy()[rows].astype(float)
    p = model.conditional(tenure, lp, h)
    ids = past.frame["customer_id"].gather(rows)
    outcome = (pl.DataFrame({"customer_id": ids}).join(now.frame.select("customer_id", "churned"), on="customer_id",
                                                        how="left", maintain_order="left")["churned"].fill_null(False).to_numpy())
    scores = pl.DataFrame({"customer_id": ids, "churn_probability": p, "churned": outcome})
    bins, brier, base, conc, lift = _binary_metrics(p, outcome.astype(float))
    notes = list(model.notes_)
    if (tenure + h > model.max_event_time_).mean() > 0.05:
        notes.append("some customers' tenure plus the horizon lies past the longest tenure with a churn in the past data: "
                     "their probabilities extend the hazard of the longest tenures")
    return Calibration(
        method="backtest", horizon_days=h, cutoff=past.as_of, n_scored=int(rows.size), n_churned=int(outcome.sum()),
        n_fit=model.n_fit_, bins=bins, brier=brier, brier_baseline=base, concordance=conc, top_decile_lift=lift,
        note=(f"fitted on the customer table as of {past.as_of} (analysis date - {h} days) on what was known then; "
              f"scored the {rows.size:,} customers active then; observed = churned by the analysis date"),
        notes=tuple(notes), scores=scores,
    )


def cross_validated(table: CustomerTable, settings: RiskSettings, families=None,  # type: ignore[no-untyped-def]
                    matrix: Prepared | None = None) -> Calibration:
    """k-fold landmark calibration for exports without dates (see the module docstring); `matrix`: the table's
    feature_matrix when the caller has it."""
    if matrix is None and table.features:
        matrix = feature_matrix(table)  # once for every fold
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
        model = RiskModel(settings, families=families).fit(table, rows=train, matrix=matrix)
        if model.skipped_:
            return Calibration(method="cross_validated", horizon_days=h, skipped=f"cross-validated calibration: {model.skipped_}")
        notes.extend(n for n in model.notes_ if n not in notes)
        _, lp = model.linear_predictor(table, test, matrix=matrix)
        tt, ee = t[test], e[test]
        for land in landmarks:
            at = tt > land
            if not at.any():
                continue
            preds.append(model.conditional(np.full(int(at.sum()), land), lp[at], h))
            resid.append(tt[at] - land)
            event.append(ee[at])
            mark.append(np.full(int(at.sum()), land))
    if not preds:
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
        note=(f"no dates in these exports, so no backtest: {k}-fold cross-validated calibration instead. Each held-out "
              f"customer still active at tenure 0, {h}, {2 * h}, ... days (up to {len(landmarks)} landmarks) is scored for "
              f"churn within {h} days; observed = 1 - Kaplan-Meier at {h} days per decile (customers still active today "
              "count while followed). Brier, concordance and lift use the scored rows whose outcome is known; concordance and "
              "the top decile are taken among customers at the same landmark (the same tenure), so that tenure alone "
              "(whole years, say) cannot look like skill"),
        notes=tuple(notes),
    )


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


def _binary_metrics(p: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    bins = []
    for i, idx in enumerate(_deciles(p)):
        lo, hi = wilson(y[idx].sum(), idx.size)
        bins.append(CalibrationBin(decile=i + 1, n=int(idx.size), predicted=float(p[idx].mean()),
                                   observed=float(y[idx].mean()), ci_low=float(lo), ci_high=float(hi)))
    brier = float(np.mean((p - y) ** 2))
    base = float(np.mean((y.mean() - y) ** 2))
    lift = bins[-1].observed / y.mean() if y.mean() > 0 else float("nan")
    return tuple(bins), brier, base, _auc(p, y), float(lift)
