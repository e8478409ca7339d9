"""Stated-reason results: frozen data, JSON-safe to_dict() (NaN -> None), to_frame(); no printing.

By default nothing here reaches an output with free text, customer ids or codes that are not in the
taxonomy: only counts, shares, category names, segment values, taxonomy codes and settings. The answers
themselves (normalised, masked) and the unmapped codes (masked) are kept for `--include-examples` only
(ReasonsResult.examples) and left out of to_dict() and the views otherwise (issue #20).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from churnwhy.redact import looks_personal, redact
from churnwhy.results._json import json_safe

import polars as pl

CI_METHODS = {
    "count": "Wilson score interval, 95%",
    "value": "Wilson interval on the Kish effective sample size from a linearised (ratio-estimator) variance, 95%",
    "reweighted": "as value, with inverse response-propensity weights (stabilised, trimmed)",
    "count_corrected": "overall head count where the learned layer read answers: corrected for its cross-validated "
                       "confusion (matrix inversion), 95% parametric bootstrap interval (shares marked corrected)",
}


def _clean(value: Any) -> Any:
    return json_safe(value, digits=6)


@dataclasses.dataclass(frozen=True)
class UnmappedCode:
    """A reason code with no place in the taxonomy, and the churnwhy.toml line that would map it."""

    code: str
    count: int
    toml_line: str  # goes under [reasons.codes]; the cell is the rule layer's reading of the code

    @property
    def personal(self) -> bool:
        return looks_personal(self.code)

    @property
    def message(self) -> str:
        who = f"({self.count} customer{'s' if self.count != 1 else ''})"
        if self.personal:
            return f"reason code {redact(self.code)!r} {who} looks like personal data, not a reason; it is counted unknown"
        return (f"reason code {self.code!r} {who} is not in the taxonomy; map it in churnwhy.toml under "
                f"[reasons.codes]: {self.toml_line}")

    def to_dict(self) -> dict[str, Any]:
        code = redact(self.code)
        return {"code": code, "count": self.count, "toml_line": None if self.personal else self.toml_line,
                "message": self.message}


@dataclasses.dataclass(frozen=True)
class TopReason:
    """One of the commonest raw reasons in a why/what cell: a taxonomy code, or a normalised answer (masked)."""

    cell: str  # "why/what"
    kind: str  # code | text
    value: str
    count: int
    share: float  # of the cell's stated answers


@dataclasses.dataclass(frozen=True)
class Classification:
    """How the stated reasons were read."""

    n_stated: int  # churners with a reason code or non-blank text
    by_method: Mapping[str, int]  # code | rule | model | none
    by_input: Mapping[str, int]  # ok | empty | numeric | symbols | non_english | non_answer (free text)
    n_truncated: int
    n_train: int  # rows the learned layer was trained on (0: not trained)
    cv_accuracy: float | None  # cross-validated accuracy of the learned layer
    cv_folds: int
    min_confidence: float
    unmapped_codes: tuple[UnmappedCode, ...] = ()
    top_reasons: tuple[TopReason, ...] = ()  # per cell: taxonomy codes (always) and answers (examples only)
    cv_confusion: tuple[tuple[str, str, int], ...] = ()  # learned layer: (true cell, predicted cell, answers) in CV
    read_by: tuple[tuple[str, str, str, int], ...] = ()  # (axis, label, model | given, stated answers)

    @property
    def n_unmapped_rows(self) -> int:
        return sum(u.count for u in self.unmapped_codes)

    def warnings(self, examples: bool = False) -> tuple[str, ...]:
        """Per unmapped code (masked) with `examples`; otherwise one line with the counts."""
        if not self.unmapped_codes:
            return ()
        if examples:
            return tuple(u.message for u in self.unmapped_codes)
        k, n = len(self.unmapped_codes), self.n_unmapped_rows
        return (f"{k} reason code{'s' if k != 1 else ''} ({n:,} customer{'s' if n != 1 else ''}) not in the taxonomy "
                "were read as words where they could be; rerun with --include-examples to see them (masked) and the "
                "churnwhy.toml lines that map them",)

    def drilldown(self, examples: bool = False) -> tuple[TopReason, ...]:
        return tuple(t for t in self.top_reasons if examples or t.kind == "code")

    def to_dict(self, examples: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = _clean(dataclasses.replace(self, unmapped_codes=(), top_reasons=(), cv_confusion=(), read_by=()))
        out["cv_confusion"] = [{"true": t, "predicted": p, "n": n} for t, p, n in self.cv_confusion]
        out["read_by"] = [{"axis": a, "label": lab, "source": src, "n": n} for a, lab, src, n in self.read_by]
        out["n_unmapped_codes"] = len(self.unmapped_codes)
        out["n_unmapped_rows"] = self.n_unmapped_rows
        out["unmapped_codes"] = [u.to_dict() for u in self.unmapped_codes] if examples else []
        out["top_reasons"] = [_clean(t) for t in self.drilldown(examples)]
        return out


@dataclasses.dataclass(frozen=True)
class Share:
    """One category's share of a group of churners, with its 95% interval."""

    axis: str  # why | what | cell ("why/what")
    by: str  # "all", "period", or a segment column
    group: str  # "all", a period label ("2024-03", "2024-Q1") or a segment value
    category: str
    basis: str  # count (head count) | value (amount_total lost)
    n: int  # churners in this category (rows)
    total: int  # churners in the group with a known value on this axis
    share: float
    lo: float
    hi: float
    weighted_total: float | None = None  # value basis: the group's summed amount_total
    among: str = "known"  # known: share among answers known on this axis | all: among every stated answer
    left_out: int = 0  # answers unknown on this axis, left out of the denominator (among = known)
    corrected: bool = False  # overall head count: corrected for the learned layer's confusion (bootstrap interval)


@dataclasses.dataclass(frozen=True)
class Reweighted:
    """Naive (respondents only) vs non-response-reweighted share of one category."""

    axis: str
    category: str
    naive: float
    naive_lo: float
    naive_hi: float
    reweighted: float
    lo: float
    hi: float
    among: str = "known"  # known: among respondents known on this axis | all: among every stated answer (unknown row)
    left_out: int = 0  # stated answers unknown on this axis, left out of the denominator (among = known)

    @property
    def difference(self) -> float:
        return self.reweighted - self.naive

    def to_dict(self) -> dict[str, Any]:
        return {**_clean(self), "difference": _clean(self.difference)}


@dataclasses.dataclass(frozen=True)
class NonResponse:
    """Response among churners and the inverse-propensity correction of the reason mix."""

    n_churned: int
    n_respondents: int  # churners with a classified (why known) stated reason
    response_rate: float
    lo: float
    hi: float
    features: tuple[str, ...] = ()  # what the response model used
    weight_bounds: tuple[float, float] | None = None  # trimming bounds of the stabilised weights
    effective_n: float | None = None  # Kish effective sample size of the weighted respondents
    rows: tuple[Reweighted, ...] = ()
    note: str | None = None  # why no correction was made, when it was not

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(dataclasses.replace(self, rows=()))
        out["rows"] = [r.to_dict() for r in self.rows]
        return out


@dataclasses.dataclass(frozen=True)
class SatisfiedButLeft:
    """Churners whose last score was high, and their reason mix."""

    n_scored: int  # churners with a score on a known scale
    n_satisfied: int
    share: float
    lo: float
    hi: float
    thresholds: Mapping[str, float]
    shares: tuple[Share, ...] = ()


@dataclasses.dataclass(frozen=True)
class ReasonsResult:
    """Why they left, as they said it."""

    n_customers: int
    n_churned: int
    classification: Classification
    shares: tuple[Share, ...]
    nonresponse: NonResponse
    satisfied: SatisfiedButLeft
    by: str | None = None
    period: str = "month"
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ci_methods: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(CI_METHODS))
    examples: bool = False  # --include-examples: answers and unmapped codes (masked) may be shown

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.classification.warnings(self.examples)

    @property
    def drilldown(self) -> tuple[TopReason, ...]:
        return self.classification.drilldown(self.examples)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_customers": self.n_customers,
            "n_churned": self.n_churned,
            "by": self.by,
            "period": self.period,
            "classification": self.classification.to_dict(self.examples),
            "shares": [_clean(s) for s in self.shares],
            "nonresponse": self.nonresponse.to_dict(),
            "satisfied_but_left": _clean(self.satisfied),
            "labels": _clean(dict(self.labels)),
            "ci_methods": _clean(dict(self.ci_methods)),
            "warnings": list(self.warnings),
        }

    def to_frame(self) -> pl.DataFrame:
        """Every share (overall, per segment, per period; count and value) as one long frame."""
        return shares_frame(self.shares)

    def nonresponse_frame(self) -> pl.DataFrame:
        rows = [r.to_dict() for r in self.nonresponse.rows]
        schema = {f: pl.String if f in ("axis", "category", "among") else pl.Int64 if f == "left_out" else pl.Float64
                  for f in ("axis", "category", "naive", "naive_lo", "naive_hi", "reweighted", "lo", "hi", "among",
                            "left_out", "difference")}
        return pl.DataFrame(rows, schema=schema)


def shares_frame(shares: tuple[Share, ...]) -> pl.DataFrame:
    schema = {
        "axis": pl.String, "by": pl.String, "group": pl.String, "category": pl.String, "basis": pl.String,
        "n": pl.Int64, "total": pl.Int64, "share": pl.Float64, "lo": pl.Float64, "hi": pl.Float64,
        "weighted_total": pl.Float64, "among": pl.String, "left_out": pl.Int64, "corrected": pl.Boolean,
    }
    return pl.DataFrame([dataclasses.asdict(s) for s in shares], schema=schema)
