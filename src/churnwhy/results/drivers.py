"""Results of the behavioural driver models: hazard ratios, attributable churn, reasons for the silent.

Data only: frozen dataclasses, `to_dict()` (JSON-safe, deterministic, NaN -> None) and `to_frame()`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from churnwhy.results._json import json_safe

import polars as pl

EFFECT_COLUMNS = (
    "feature", "family", "why_side", "unit", "hazard_ratio", "ci_low", "ci_high", "p_value", "hr_per_sd",
    "hr_per_sd_ci_low", "hr_per_sd_ci_high", "sd", "ph_p_value", "ph_violated", "p_holm", "kind", "reference",
    "estimable", "not_estimable_reason",
)  # fmt: skip


def _clean(value: Any) -> Any:
    return json_safe(value)


def _frame(rows: tuple[Any, ...], cls: type) -> pl.DataFrame:
    names = [f.name for f in dataclasses.fields(cls)]
    data = {n: [getattr(r, n) for r in rows] for n in names}
    # tuples (feature lists) become list columns; strict=False lets an all-None column take the schema's type
    return pl.DataFrame(data, strict=False)


@dataclasses.dataclass(frozen=True)
class DriverEffect:
    """One feature's Cox hazard ratio, on its interpretable unit and per standard deviation."""

    feature: str
    family: str  # product | experience | price | other
    why_side: str | None  # brand_failed | better_offer | None (points neither way)
    unit: str  # e.g. "per event per 30 days"
    hazard_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    hr_per_sd: float
    hr_per_sd_ci_low: float
    hr_per_sd_ci_high: float
    sd: float  # the feature's SD in the fitted sample, to convert between the two scales
    ph_p_value: float = math.nan  # Schoenfeld-residual test of proportional hazards (NaN: not tested)
    ph_violated: bool = False
    p_holm: float = math.nan  # Holm-adjusted across every estimable driver of the model (p_value is the raw one)
    kind: str = "behaviour"  # behaviour | attribute (a customer attribute's level against its reference)
    reference: str | None = None  # attribute levels: "<column>=<reference level>"
    estimable: bool = True  # False: no hazard ratio is given (separation, or an interval wider than 1,000x)
    not_estimable_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class FamilyAttribution:
    """Share of churn within the horizon attributable to one driver family."""

    family: str
    features: tuple[str, ...]
    share: float  # (mean P_obs - mean P_cf) / mean P_obs: churn removed by moving this family to its best level
    ci_low: float
    ci_high: float
    shapley_share: float  # this family's Shapley part of the explained churn, as a share of predicted churn
    shapley_ci_low: float
    shapley_ci_high: float
    sentence: str  # plain words, e.g. "38% of 12-month churn is attributable to experience failures (95% CI 33-43%)"


@dataclasses.dataclass(frozen=True)
class DriversResult:
    """Cox driver model: effects per feature, attributable churn per family, and how it was fitted."""

    effects: tuple[DriverEffect, ...] = ()
    attribution: tuple[FamilyAttribution, ...] = ()
    horizon_days: int = 365
    n_customers: int = 0
    n_events: int = 0
    n_fit: int = 0  # rows the Cox model was fitted on (a stratified sample at large n)
    n_fit_events: int = 0
    concordance: float = math.nan
    concordance_n: int = 0  # rows the concordance index was computed on
    penalizer: float = 0.0
    strata: tuple[str, ...] = ()
    predicted_churn: float = math.nan  # mean model probability of churning within the horizon
    explained_share: float = math.nan  # share of that churn removed with every family at its best level
    family_share_sum: float = math.nan  # the families' shares added up: they overlap, so need not equal explained_share
    model: str = "cox_ph"  # cox_ph (one row per customer) | counting_process (month-by-month, time-varying rates)
    interpretation: str = ""  # what the numbers can and cannot mean, said once
    notes: tuple[str, ...] = ()  # what was dropped, refitted, flagged and why
    rules: tuple[str, ...] = ()  # the bounded sampling rules used, in words
    skipped: str | None = None  # why no model was fitted (too few events, no features)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(self)
        return out

    def to_frame(self) -> pl.DataFrame:
        """One row per feature (columns EFFECT_COLUMNS), ordered by hazard ratio per SD, most harmful first."""
        if not self.effects:
            return pl.DataFrame(schema={c: (pl.Boolean if c in ("ph_violated", "estimable") else pl.Float64 if c not in (
                "feature", "family", "why_side", "unit", "kind", "reference", "not_estimable_reason") else pl.String)
                for c in EFFECT_COLUMNS})  # fmt: skip
        return _frame(self.effects, DriverEffect).select(EFFECT_COLUMNS)

    def attribution_frame(self) -> pl.DataFrame:
        """One row per family with attributable and Shapley shares."""
        if not self.attribution:
            return pl.DataFrame(schema={"family": pl.String, "share": pl.Float64})
        return _frame(self.attribution, FamilyAttribution)


@dataclasses.dataclass(frozen=True)
class SilentModel:
    """The classifier for one reason dimension (why or what) and whether it was trusted to infer."""

    dimension: str  # why | what
    n_labels: int
    classes: tuple[str, ...]
    cv_accuracy: float
    baseline_accuracy: float  # majority-class share among labelled churners
    cv_folds: int
    inferred: bool
    refused: str | None = None  # why it did not infer


@dataclasses.dataclass(frozen=True)
class ReasonShare:
    """Share of churners with a reason label, stated + inferred, with a 95% CI."""

    dimension: str
    label: str
    share: float
    ci_low: float
    ci_high: float
    n_stated: int
    n_inferred: float  # expected count: sum of inferred probabilities


@dataclasses.dataclass(frozen=True)
class SilentResult:
    """Reasons inferred for churners who gave none, and the combined reason mix."""

    models: tuple[SilentModel, ...] = ()
    mix: tuple[ReasonShare, ...] = ()
    n_churned: int = 0
    n_stated: int = 0
    n_silent: int = 0
    n_inferred: int = 0
    notes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(self)
        return out

    def to_frame(self) -> pl.DataFrame:
        """The combined mix: one row per (dimension, label)."""
        if not self.mix:
            return pl.DataFrame(schema={"dimension": pl.String, "label": pl.String, "share": pl.Float64})
        return _frame(self.mix, ReasonShare)
