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
from churnwhy.models.drivers import CoxDrivers
from churnwhy.models.features import Prepared, feature_matrix
from churnwhy.models.revenue import monthly_value
from churnwhy.models.risk import RiskScorer, RiskSettings, fit_risk_model
from churnwhy.models.risk_eval import backtest, cross_validated
from churnwhy.models.silent import SilentReasonClassifier, fit_reason_classifiers
from churnwhy.results.risk import NO_CALL, AtRiskResult, Calibration, ReasonCall, Tally
from churnwhy.table import CustomerTable

FACTORS = ("factor_1", "factor_2", "factor_3")
FRAME_COLUMNS = ("customer_id", "churn_probability", "monthly_value", "revenue_at_risk", "why", "what",
                 "reason_confidence", *FACTORS, "action")


def fit_at_risk(table: CustomerTable, config: Config, *, horizon_days: int | None = None,
                past: CustomerTable | None = None, calibrate: bool = True, drivers: CoxDrivers | None = None,
                classifiers: dict[str, SilentReasonClassifier] | None = None,
                matrix: Prepared | None = None) -> AtRiskResult:
    """Score the active customers of `table`; calibrate by backtest on `past`, or cross-validated without dates.

    `drivers` (the fitted drivers model of this table) and `classifiers` (models.silent.fit_reason_classifiers of
    it) are reused when given, as `analyze` does: the probabilities come from the drivers model and the likely
    reasons from the silent-reason classifier, never from a second fit of either. `matrix`: the table's
    feature_matrix, as the pipeline hands it to every model (built here when not given)."""
    if matrix is None and table.features:
        matrix = feature_matrix(table)
    settings = RiskSettings.from_config(config, horizon_days=horizon_days)
    rules_map = playbook(getattr(config, "actions", None))
    h = settings.horizon_days
    frame = table.frame
    tenure_all = frame["tenure_days"].cast(pl.Float64).to_numpy()
    churned = frame["churned"].fill_null(False).to_numpy()
    if churned.any() and not (churned & np.isfinite(tenure_all)).any():
        return AtRiskResult(horizon_days=h, skipped=(
            f"none of the {int(churned.sum()):,} churners has a tenure (no signup or churn dates, and no exported tenure): "
            "there is no time to churn to model, so no probability within a horizon"))
    model = drivers if drivers is not None else fit_risk_model(table, config, matrix=matrix)
    if model.skipped_ or model.cox_ is None:
        return AtRiskResult(horizon_days=h, skipped=f"the drivers model could not be fitted: {model.skipped_}")
    scorer = RiskScorer(model, table, seed=settings.seed, matrix=matrix)
    rows = np.flatnonzero(~frame["churned"].fill_null(True).to_numpy() & np.isfinite(tenure_all))
    if rows.size == 0:
        return AtRiskResult(horizon_days=h, skipped="no active customers to score")
    z = scorer.standardised(table, rows)
    tenure = tenure_all[rows]
    p = scorer.probability(table, rows, tenure, h, z=z)
    factors = scorer.top_factors(z)
    why, what, conf, calls = _reasons(table, config, rows, classifiers, matrix)
    action = assign(why, what, scorer.family_of(factors[0]), rules_map)
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
    }).with_columns(pl.col("churn_probability", "monthly_value", "revenue_at_risk", "reason_confidence").fill_nan(None))
    out = out.sort(["churn_probability", "customer_id"], descending=[True, False], nulls_last=True)
    notes: list[str] = []
    n_unscored = int(np.isnan(p).sum())
    if n_unscored:
        notes.append(f"{n_unscored:,} active customer(s) in a stratum level the drivers model did not see: no probability")
    if (tenure + h > scorer.max_event_time).mean() > 0.05:
        notes.append(f"for some customers tenure + {h} days is past the longest tenure with a churn "
                     f"({scorer.max_event_time:.0f} days): their probabilities extend the hazard of the longest tenures")
    calibration: Calibration | None = None
    if calibrate:
        calibration = backtest(past, table, settings, config) if past is not None else cross_validated(table, settings, config)
        if past is not None and calibration.skipped is not None:
            # Dated, but too little before the cutoff to fit on (few customers had started, few had left):
            # today's customers can still be cross-validated, and the report says why it is not a backtest.
            fallback = cross_validated(table, settings, config, why=f"no backtest ({calibration.skipped.removeprefix('backtest: ')} "
                                                                    f"in the table as of {past.as_of})")
            calibration = fallback if fallback.skipped is None else calibration
    has_value = v is not None
    p0 = np.nan_to_num(p)
    return AtRiskResult(
        horizon_days=h, n_active=int(rows.size), expected_churners=float(p0.sum()),
        revenue_at_risk=float(np.sum(p0 * v)) if v is not None else None,
        monthly_value_active=float(v.sum()) if v is not None else None,
        n_fit=model.n_fit_, features=scorer.features, reason_models=tuple(calls),
        by_why=_tally(out, "why", has_value), by_what=_tally(out, "what", has_value),
        actions=_tally(out, "action", has_value), factors=_factor_tally(out), risk_bands=_bands(out, has_value),
        calibration=calibration, playbook=applied_rules(rules_map), notes=tuple(notes),
        rules=(
            f"P(churn within {h} days | active today, tenure so far) from the drivers model (the Cox model of the drivers "
            f"section, fitted on {model.n_fit_:,} customers{', month by month' if model.counting_process_ else ''}): "
            "1 - exp(-(H0(tenure + h) - H0(tenure)) x relative hazard^s), with the drivers' relative hazard read on each "
            f"customer's behaviour today, recalibrated on {scorer.n_calibration:,} customers by a one-covariate Cox model "
            f"(calibration slope s = {scorer.slope:.2f}) and its Breslow baseline H0"
            + (f" per {model.strata_[0]} level" if model.strata_ else ""),
            "revenue at risk = probability x recent monthly value (event amounts in the lookback window per 30 days)",
            "likely reason: the silent-reason classifier (trained on churners' stated reasons; the same fit that infers "
            f"silent churners' reasons) applied to active customers; '{NO_CALL}' on an axis where its cross-validated "
            "accuracy is not clearly above the majority class",
            "top factors: the drivers raising a customer's log-hazard most against the average customer (coefficient x "
            "standardised value > 0)",
            "action: the playbook rule for the reason cell (why/what), else why, else what, else the top factor's family, else default",
        ),
        frame=out.select(FRAME_COLUMNS),
    )


def _reasons(table: CustomerTable, config: Config, rows: np.ndarray,
             classifiers: dict[str, SilentReasonClassifier] | None,
             matrix: Prepared | None) -> tuple[pl.Series, pl.Series, np.ndarray, list[ReasonCall]]:
    """why / what / confidence for `rows` from the classifiers trained on churners' stated reasons."""
    frame = table.frame
    n = rows.size
    labels = {dim: pl.Series(dim, [NO_CALL] * n, dtype=pl.String) for dim in ("why", "what")}
    conf = np.full(n, np.nan)
    if not {"why", "what", "reason_source"} <= set(frame.columns) or matrix is None:
        why_not = "no stated reasons to learn from" if "reason_source" not in frame.columns else "no behaviour features"
        return labels["why"], labels["what"], conf, [ReasonCall(d, False, math.nan, math.nan, why_not) for d in ("why", "what")]
    fitted = classifiers if classifiers is not None else fit_reason_classifiers(table, config, matrix=matrix)
    x_rows = matrix.x[rows]
    calls: list[ReasonCall] = []
    for dim in ("why", "what"):
        clf = fitted[dim]
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
    uniq = keys.unique().sort()
    # Each key's position among the sorted distinct keys, by a hash lookup (a rank of a million strings sorts them).
    code = keys.replace_strict(uniq, np.arange(uniq.len()), return_dtype=pl.Int64).to_numpy()
    names = uniq.to_list()
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
