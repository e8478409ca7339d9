"""Who is about to leave, why, and what to do: the risk model scored on every active customer, the silent-reason
classifier applied to them, their top risk factors and the playbook's action; with the backtest (or
cross-validated calibration) that says how far the probabilities hold.

`fit_at_risk(table, config)` is the library entry point. `table` is the customer table with stated reasons
(why / what / reason_source); `past` is the table as of the backtest cutoff (models.risk_eval.table_as_of),
None for exports without dates.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from churnwhy.config import Config
from churnwhy.models.actions import applied_rules, assign, playbook
from churnwhy.models.drivers_families import DriverSettings
from churnwhy.models.features import Prepared, feature_matrix
from churnwhy.models.revenue import monthly_value
from churnwhy.models.risk import RiskModel, RiskSettings
from churnwhy.models.risk_eval import backtest, cross_validated
from churnwhy.models.silent import STATED, UNKNOWN, SilentReasonClassifier
from churnwhy.results.risk import NO_CALL, AtRiskResult, Calibration, ReasonCall, Tally
from churnwhy.table import CustomerTable

FACTORS = ("factor_1", "factor_2", "factor_3")
FRAME_COLUMNS = ("customer_id", "churn_probability", "monthly_value", "revenue_at_risk", "why", "what",
                 "reason_confidence", *FACTORS, "action")


def fit_at_risk(table: CustomerTable, config: Config, *, horizon_days: int | None = None,
                past: CustomerTable | None = None, calibrate: bool = True, matrix: Prepared | None = None) -> AtRiskResult:
    """Score the active customers of `table`; calibrate by backtest on `past`, or cross-validated without dates.
    `matrix`: the table's feature_matrix, as the pipeline hands it to every model (built here when not given)."""
    if matrix is None and table.features:
        matrix = feature_matrix(table)
    settings = RiskSettings.from_config(config, horizon_days=horizon_days)
    rules_map = playbook(getattr(config, "actions", None))
    families = DriverSettings.from_config(config).families
    h = settings.horizon_days
    model = RiskModel(settings, families=families).fit(table, matrix=matrix)
    if model.skipped_:
        return AtRiskResult(horizon_days=h, skipped=model.skipped_)
    frame = table.frame
    rows = np.flatnonzero(~frame["churned"].fill_null(True).to_numpy())
    if rows.size == 0:
        return AtRiskResult(horizon_days=h, skipped="no active customers to score")
    z, lp = model.linear_predictor(table, rows, matrix=matrix)
    tenure = frame["tenure_days"].cast(pl.Float64).to_numpy()[rows]
    p = model.conditional(np.nan_to_num(tenure), lp, h)
    factors = model.top_factors(z)
    why, what, conf, calls = _reasons(table, config, rows, matrix)
    family = model.family_of(factors[0])
    action = assign(why, what, family, rules_map)
    value = monthly_value(frame)
    v = value[rows] if value is not None else None
    out = pl.DataFrame({
        "customer_id": frame["customer_id"].gather(rows),
        "churn_probability": p,
        "monthly_value": v if v is not None else np.full(rows.size, np.nan),
        "revenue_at_risk": p * v if v is not None else np.full(rows.size, np.nan),
        "why": why, "what": what, "reason_confidence": conf,
        **{name: f.alias(name) for name, f in zip(FACTORS, factors, strict=True)},
        "action": action,
    }).with_columns(pl.col("monthly_value", "revenue_at_risk", "reason_confidence").fill_nan(None))
    out = out.sort(["churn_probability", "customer_id"], descending=[True, False])
    notes = list(model.notes_)
    if (np.nan_to_num(tenure) + h > model.max_event_time_).mean() > 0.05:
        notes.append(f"for some customers tenure + {h} days is past the longest tenure with a churn "
                     f"({model.max_event_time_:.0f} days): their probabilities extend the hazard of the longest tenures")
    calibration: Calibration | None = None
    if calibrate:
        calibration = backtest(past, table, settings, families) if past is not None else cross_validated(table, settings, families, matrix)
    has_value = v is not None
    return AtRiskResult(
        horizon_days=h, n_active=int(rows.size), expected_churners=float(p.sum()),
        revenue_at_risk=float(np.sum(p * v)) if has_value else None,
        monthly_value_active=float(v.sum()) if v is not None else None,
        n_fit=model.n_fit_, features=model.features_, reason_models=tuple(calls),
        by_why=_tally(out, "why", has_value), by_what=_tally(out, "what", has_value),
        actions=_tally(out, "action", has_value), factors=_factor_tally(out), risk_bands=_bands(out, has_value),
        calibration=calibration, playbook=applied_rules(rules_map), notes=tuple(notes),
        rules=(
            f"P(churn within {h} days | active today, tenure so far) from a Cox model on behaviour and segment levels, "
            f"fitted on {model.n_fit_:,} customers (churn-stratified sample of at most {settings.max_fit_rows:,}), Breslow baseline",
            "revenue at risk = probability x recent monthly value (event amounts in the lookback window per 30 days)",
            "likely reason: the silent-reason classifier (trained on churners' stated reasons) applied to active customers; "
            f"'{NO_CALL}' on an axis where its cross-validated accuracy is not clearly above the majority class",
            "top factors: the features raising a customer's log-hazard most against the average customer (coefficient x "
            "standardised value > 0)",
            "action: the playbook rule for the reason cell (why/what), else why, else what, else the top factor's family, else default",
        ),
        frame=out.select(FRAME_COLUMNS),
    )


def _reasons(table: CustomerTable, config: Config, rows: np.ndarray,
             matrix: Prepared | None) -> tuple[pl.Series, pl.Series, np.ndarray, list[ReasonCall]]:
    """why / what / confidence for `rows` from classifiers trained on churners' stated reasons."""
    frame = table.frame
    n = rows.size
    labels = {dim: pl.Series(dim, [NO_CALL] * n, dtype=pl.String) for dim in ("why", "what")}
    conf = np.full(n, np.nan)
    calls: list[ReasonCall] = []
    if not {"why", "what", "reason_source"} <= set(frame.columns) or matrix is None:
        why_not = "no stated reasons to learn from" if "reason_source" not in frame.columns else "no behaviour features"
        return labels["why"], labels["what"], conf, [ReasonCall(d, False, math.nan, math.nan, why_not) for d in ("why", "what")]
    s = DriverSettings.from_config(config)
    stated = (frame["churned"].fill_null(False) & (frame["reason_source"].cast(pl.String) == STATED).fill_null(False)).to_numpy()
    x = matrix.x
    x_rows = x[rows]
    for dim in ("why", "what"):
        col = frame[dim].cast(pl.String)
        known = stated & (col.is_not_null() & (col != UNKNOWN)).fill_null(False).to_numpy()
        clf = SilentReasonClassifier(
            min_labels=s.silent_min_labels, min_per_class=s.silent_min_per_class, cv_folds=s.silent_cv_folds,
            max_rows=s.silent_max_rows, cv_rows=s.silent_cv_rows, C=s.silent_c, random_state=s.seed,
        ).fit(x[known], col.filter(pl.Series(known)).to_numpy().astype(object))
        called = clf.refused_ is None
        calls.append(ReasonCall(dim, called, clf.cv_accuracy_, clf.baseline_accuracy_, clf.refused_))
        if called:
            proba = clf.predict_proba(x_rows)
            labels[dim] = pl.Series(dim, clf.classes_, dtype=pl.String).gather(proba.argmax(axis=1))
            conf = np.fmin(conf, proba.max(axis=1))
    return labels["why"], labels["what"], conf, calls


def _group(keys: pl.Series, out: pl.DataFrame, has_value: bool) -> list[tuple[str, int, float, float | None]]:
    """(key, customers, expected churners, revenue at risk) per key, summed by numpy: a Polars group-by adds floats
    in an order that varies between runs, and the same input must give the same report."""
    keys = keys.cast(pl.String).fill_null("(none)")
    code = keys.rank("dense").cast(pl.Int64).to_numpy() - 1
    names = keys.unique().sort().to_list()
    count = np.bincount(code, minlength=len(names))
    expected = np.bincount(code, weights=out["churn_probability"].to_numpy(), minlength=len(names))
    revenue = (np.bincount(code, weights=out["revenue_at_risk"].fill_null(0.0).to_numpy(), minlength=len(names))
               if has_value else [None] * len(names))
    return [(k, int(n), float(e), None if r is None else float(r)) for k, n, e, r in zip(names, count, expected, revenue, strict=True)]


def _tally(out: pl.DataFrame, key: str, has_value: bool) -> tuple[Tally, ...]:
    rows = sorted(_group(out[key], out, has_value), key=lambda r: (-round(r[2], 9), r[0]))
    return tuple(Tally(*r) for r in rows)


def _bands(out: pl.DataFrame, has_value: bool) -> tuple[Tally, ...]:
    """Deciles of risk among active customers, highest first: "0-10%" is the riskiest tenth (out is sorted by risk)."""
    band = pl.Series("band", np.arange(out.height) * 10 // max(out.height, 1) + 1).cast(pl.String).str.zfill(2)
    return tuple(Tally(f"{(int(b) - 1) * 10}-{int(b) * 10}%", n, e, r) for b, n, e, r in _group(band, out, has_value))


def _factor_tally(out: pl.DataFrame) -> tuple[Tally, ...]:
    """How often each feature is among the top three factors of the top decile's customers."""
    top = out.head(max(1, out.height // 10))
    long = pl.concat([top.select(pl.col(f).alias("factor"), "churn_probability") for f in FACTORS]).drop_nulls("factor")
    if long.is_empty():
        return ()
    rows = sorted(_group(long["factor"], long, False), key=lambda r: (-r[1], r[0]))[:10]
    return tuple(Tally(*r) for r in rows)
