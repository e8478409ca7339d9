"""Results of acting on it: customers at risk, how far the scores hold (calibration), actions, beliefs, revenue,
and where churn concentrates.

Data only: frozen dataclasses with `to_dict()` (JSON-safe, aggregates only: no customer id ever) and, where a
per-customer table exists, `frame` (the analyst's own data, written to at_risk.parquet on request).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import polars as pl

from churnwhy.results._json import json_safe

NO_CALL = "no call"


def _clean(obj: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: json_safe(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in drop}


@dataclasses.dataclass(frozen=True)
class CalibrationBin:
    """One decile of predicted risk: mean predicted probability against the observed share (95% CI)."""

    decile: int  # 1 = lowest predicted risk
    n: int
    predicted: float
    observed: float
    ci_low: float
    ci_high: float


@dataclasses.dataclass(frozen=True, eq=False)
class Calibration:
    """How well the risk scores matched what happened: a backtest, or cross-validated without dates."""

    method: str  # backtest | cross_validated
    horizon_days: int
    cutoff: dt.date | None = None  # the backtest's "as of" (analysis date - horizon)
    n_scored: int = 0
    n_churned: int = 0  # among the scored, churned by the analysis date (backtest) / in the data (cross-validated)
    n_fit: int = 0
    bins: tuple[CalibrationBin, ...] = ()
    brier: float = math.nan
    brier_baseline: float = math.nan  # Brier of predicting the observed base rate for everyone
    concordance: float = math.nan
    top_decile_lift: float = math.nan  # observed churn in the top decile / overall
    note: str = ""
    notes: tuple[str, ...] = ()
    skipped: str | None = None
    scores: pl.DataFrame | None = None  # backtest: customer_id, churn_probability, churned (never in to_dict)

    def to_dict(self) -> dict[str, Any]:
        if self.skipped:
            return {"status": "skipped", "reason": self.skipped, "method": self.method}
        return {"status": "ok", **_clean(self, drop=("skipped", "scores"))}


@dataclasses.dataclass(frozen=True)
class ReasonCall:
    """The silent-reason classifier applied to active customers, on one axis."""

    dimension: str  # why | what
    called: bool  # False: "no call" for everyone (the classifier is no better than the majority class)
    cv_accuracy: float
    baseline_accuracy: float
    refused: str | None = None


@dataclasses.dataclass(frozen=True)
class Tally:
    """Active customers in one group, the churners expected among them within the horizon, and revenue at risk."""

    key: str
    customers: int
    expected_churners: float
    revenue_at_risk: float | None  # sum of probability x monthly value; None without amounts


@dataclasses.dataclass(frozen=True, eq=False)
class AtRiskResult:
    """Who is about to leave (aggregates), why, what to do, and how far the scores hold."""

    horizon_days: int
    n_active: int = 0
    expected_churners: float = math.nan
    revenue_at_risk: float | None = None
    monthly_value_active: float | None = None
    n_fit: int = 0
    features: tuple[str, ...] = ()
    reason_models: tuple[ReasonCall, ...] = ()
    by_why: tuple[Tally, ...] = ()
    by_what: tuple[Tally, ...] = ()
    actions: tuple[Tally, ...] = ()
    factors: tuple[Tally, ...] = ()  # how often a feature is among the top three of the top decile's customers
    risk_bands: tuple[Tally, ...] = ()  # deciles of risk among active customers, highest first
    calibration: Calibration | None = None
    playbook: tuple[tuple[str, str], ...] = ()  # (rule, action) as applied
    notes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    skipped: str | None = None
    frame: pl.DataFrame | None = None  # one row per active customer (at_risk.parquet), never in to_dict

    def to_dict(self) -> dict[str, Any]:
        out = _clean(self, drop=("skipped", "frame", "calibration", "playbook"))
        out["playbook"] = [{"rule": r, "action": a} for r, a in self.playbook]
        out["calibration"] = (self.calibration.to_dict() if self.calibration is not None
                              else {"status": "skipped", "reason": "not computed", "method": "none"})
        return out


@dataclasses.dataclass(frozen=True)
class BeliefCheck:
    """One belief (or benchmark figure) beside the measured share and a verdict."""

    statement: str
    axis: str  # why | what | compare
    label: str
    believed: float | None  # None for a comparison
    measured: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # consistent | overstated | understated | contradicted | undecided | not measured


@dataclasses.dataclass(frozen=True)
class BeliefsResult:
    """[beliefs] from churnwhy.toml against the evidence, or the published benchmark when none are stated."""

    source: str  # beliefs | external_benchmark
    checks: tuple[BeliefCheck, ...] = ()
    note: str = ""
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(self, drop=("skipped",))


@dataclasses.dataclass(frozen=True)
class MonthlyChurn:
    month: str  # YYYY-MM
    active_start: int
    churned: int
    rate: float
    revenue_start: float | None
    revenue_churned: float | None
    revenue_rate: float | None


@dataclasses.dataclass(frozen=True)
class ReasonValue:
    """A reason's share of churners by head count and by monthly revenue lost (value vs voice), 95% CIs."""

    axis: str
    label: str
    churners: int
    share: float
    share_ci_low: float
    share_ci_high: float
    revenue_lost: float | None
    revenue_ci_low: float | None
    revenue_ci_high: float | None
    revenue_share: float | None
    revenue_share_ci_low: float | None
    revenue_share_ci_high: float | None


@dataclasses.dataclass(frozen=True)
class RevenueResult:
    months: tuple[MonthlyChurn, ...] = ()
    by_reason: tuple[ReasonValue, ...] = ()
    revenue_lost: float | None = None  # monthly value of every churner
    has_amounts: bool = False
    rules: tuple[str, ...] = ()
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(self, drop=("skipped",))


@dataclasses.dataclass(frozen=True)
class SegmentRatio:
    """Observed churners in a segment level against those expected from the overall churn curve, 95% CI."""

    segment: str
    level: str
    customers: int
    observed: int
    expected: float
    ratio: float
    ci_low: float
    ci_high: float


@dataclasses.dataclass(frozen=True)
class ConcentrationResult:
    rows: tuple[SegmentRatio, ...] = ()  # highest observed / expected first
    rules: tuple[str, ...] = ()
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(self, drop=("skipped",))
