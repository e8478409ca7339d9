"""Survival results: Kaplan-Meier curves and summaries, log-rank tests, cohort matrix, incidence per reason.

Data only: frozen dataclasses with `to_dict()` (JSON-safe, deterministic) and `to_frame()`; no printing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any, overload

from churnwhy.results._json import json_safe

import polars as pl

# Display units. A month is the mean Gregorian month so that 12 months make 365.25 days.
TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12}
OVERALL = "(all)"  # the `by` and `group` of the curve over every customer


@overload
def to_unit(days: float, unit: str = "days") -> float: ...
@overload
def to_unit(days: None, unit: str = "days") -> None: ...
@overload
def to_unit(days: float | None, unit: str = "days") -> float | None: ...
def to_unit(days: float | None, unit: str = "days") -> float | None:
    """Days converted to weeks or months for display; None stays None."""
    if unit not in TIME_UNITS:
        raise ValueError(f"unit must be one of {', '.join(TIME_UNITS)}, got {unit!r}")
    return None if days is None else days / TIME_UNITS[unit]


def _clean(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json_safe(value)  # a mapping comes back a dict
    return out


def frame_records(frame: pl.DataFrame, sort_by: list[str]) -> list[dict[str, Any]]:
    """Rows of a frame as JSON-safe dicts, sorted by `sort_by`, keys sorted."""
    rows = frame.sort(sort_by, nulls_last=True).to_dicts() if frame.height else []
    return [_clean(r) for r in rows]


@dataclasses.dataclass(frozen=True)
class HorizonRetention:
    """Kaplan-Meier retention S(h) at one horizon; None where h is beyond the group's last follow-up."""

    horizon_days: int
    survival: float | None
    ci_low: float | None
    ci_high: float | None
    at_risk: int  # customers with tenure >= h


@dataclasses.dataclass(frozen=True)
class GroupSummary:
    """One curve: size, churners, median tenure with its 95% CI (None = not reached), retention at horizons."""

    by: str
    group: str
    n: int
    events: int
    zero_tenure: int
    median_days: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    horizons: tuple[HorizonRetention, ...]

    @property
    def median_reached(self) -> bool:
        return self.median_days is not None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["median_reached"] = self.median_reached
        return _clean(d)


@dataclasses.dataclass(frozen=True)
class LogRankRecord:
    """A log-rank test: "multivariate" across every group of `by`, or "pairwise"; p_holm is Holm-adjusted."""

    by: str
    test: str
    groups: tuple[str, ...]
    statistic: float
    df: int
    p_value: float
    p_holm: float | None = None  # fit_survival: across every test of the report; logrank_tests: its pairs

    def to_dict(self) -> dict[str, Any]:
        return _clean(dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True, eq=False)
class CohortMatrix:
    """Retention by signup cohort and periods since signup; `frame` is long.

    Columns: cohort (date the period starts), cohort_size, period (k = 0, 1, ...), period_end, active, retention.
    retention(c, k) = share of cohort c still active at the end of calendar period c + k (a customer who churned
    on or before that day is not active). A cell whose period end is after as_of is null, never 0.
    """

    period: str
    as_of: dt.date
    frame: pl.DataFrame
    notes: tuple[str, ...] = ()

    def to_frame(self, wide: bool = False) -> pl.DataFrame:
        """Long frame, or the triangle: one row per cohort, one column per period k (null = not observable yet)."""
        if not wide:
            return self.frame
        if self.frame.height == 0:
            return pl.DataFrame(schema={"cohort": pl.Date, "cohort_size": pl.Int64})
        wide_frame = self.frame.pivot(on="period", index=["cohort", "cohort_size"], values="retention",
                                      sort_columns=False)
        ks = sorted(int(c) for c in wide_frame.columns if c not in ("cohort", "cohort_size"))
        return wide_frame.select("cohort", "cohort_size", *[str(k) for k in ks]).sort("cohort")

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "period": self.period,
                "cells": frame_records(self.frame, ["cohort", "period"])}


@dataclasses.dataclass(frozen=True, eq=False)
class SurvivalResult:
    """Everything `churnwhy survival` reports.

    curves: [by, group, time_days, survival, ci_low, ci_high, at_risk, events, censored], one row per distinct
    tenure (plus day 0) per group; the 95% CI is Greenwood's with the log(-log) transform (R conf.type="log-log").
    incidence: [axis, cause, time_days, incidence, se, ci_low, ci_high, at_risk] (Aalen-Johansen, cmprsk variance).
    """

    as_of: dt.date | None
    by: tuple[str, ...]
    horizons: tuple[int, ...]
    curves: pl.DataFrame
    groups: tuple[GroupSummary, ...]
    logrank: tuple[LogRankRecord, ...]
    cohorts: CohortMatrix | None
    incidence: pl.DataFrame
    notes: tuple[str, ...] = ()

    def group(self, by: str, group: str) -> GroupSummary:
        """The summary of one curve; KeyError if absent."""
        for g in self.groups:
            if g.by == by and g.group == group:
                return g
        raise KeyError((by, group))

    @property
    def overall(self) -> GroupSummary:
        return self.group(OVERALL, OVERALL)

    def to_frame(self, kind: str = "curves") -> pl.DataFrame:
        """A tabular part: "curves", "groups", "logrank", "incidence" or "cohorts"."""
        if kind == "curves":
            return self.curves
        if kind == "incidence":
            return self.incidence
        if kind == "cohorts":
            return self.cohorts.to_frame() if self.cohorts is not None else pl.DataFrame()
        if kind == "groups":
            rows = []
            for g in self.groups:
                row = {k: v for k, v in dataclasses.asdict(g).items() if k != "horizons"}
                for h in g.horizons:
                    row[f"retention_{h.horizon_days}d"] = h.survival
                rows.append(row)
            return pl.DataFrame(rows, infer_schema_length=None)
        if kind == "logrank":
            rows = [{**dataclasses.asdict(r), "groups": list(r.groups)} for r in self.logrank]
            return pl.DataFrame(rows, infer_schema_length=None)
        raise ValueError(f"unknown kind {kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe and deterministic: rows sorted, keys sorted, NaN/inf -> None, no wall-clock."""
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "by": list(self.by),
            "cohorts": self.cohorts.to_dict() if self.cohorts is not None else None,
            "curves": frame_records(self.curves, ["by", "group", "time_days"]),
            "groups": [g.to_dict() for g in sorted(self.groups, key=lambda g: (g.by != OVERALL, g.by, g.group))],
            "horizons": list(self.horizons),
            "incidence": frame_records(self.incidence, ["axis", "cause", "time_days"]),
            "logrank": [r.to_dict() for r in sorted(self.logrank, key=lambda r: (r.by, r.test, r.groups))],
            "notes": list(self.notes),
        }
