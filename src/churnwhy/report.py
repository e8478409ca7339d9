"""The Report: every section of an analysis as data. `Report.to_dict()` is exactly the CLI's JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from churnwhy.errors import ChurnwhyError
from churnwhy.table import CustomerTable, LoadedTable

from churnwhy.results.contract import SCHEMA_VERSION, named, stamped  # noqa: F401  (SCHEMA_VERSION: kept importable here)


@dataclasses.dataclass(frozen=True, eq=False)
class Section:
    """One part of the analysis: its result, or why it could not be computed (the others still run).

    One way to fail: status "skipped" when the data does not allow it (a ChurnwhyError, or a result that says why:
    `skipped` holds the reason, `hint` what to do), "failed" when churnwhy has a bug (`skipped` holds its one line,
    `error` the exception for --debug; --strict makes it an error). A command that shows one section calls
    `require()`: the same error the model raised, so its exit code and hint are the model's."""

    name: str
    result: Any = None  # an object with to_dict() (it may carry its own reason for being skipped)
    skipped: str | None = None
    error: BaseException | None = None  # what stopped the section: a ChurnwhyError (skipped) or a bug (failed)
    hint: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None and not isinstance(self.error, ChurnwhyError)

    @property
    def ok(self) -> bool:
        return self.result is not None and self.skipped is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "failed" if self.failed else "skipped"

    def require(self) -> Any:
        """The result (which may say itself why it is empty); the error that stopped the section, raised again."""
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise ChurnwhyError(f"the {self.name} section was not computed")
        return self.result

    def to_dict(self) -> dict[str, Any]:
        if not self.ok:
            return {"status": "failed" if self.failed else "skipped", "reason": self.skipped or "not computed"}
        return {"status": "ok", **self.result.to_dict()}


@dataclasses.dataclass(frozen=True, eq=False)
class Report:
    """What `churnwhy analyze` found. Data only; renderers in churnwhy.render turn it into text or files."""

    path: str
    loaded: LoadedTable
    table: CustomerTable  # the customer table with why / what / reason_source / reason_confidence
    reasons: Section = Section("reasons", skipped="not computed")
    inferred: Section = Section("inferred", skipped="not computed")
    drivers: Section = Section("drivers", skipped="not computed")
    survival: Section = Section("survival", skipped="not computed")
    include_examples: bool = False
    at_risk: Section = Section("at_risk", skipped="not computed")
    revenue: Section = Section("revenue", skipped="not computed")
    concentration: Section = Section("concentration", skipped="not computed")
    beliefs: Section = Section("beliefs", skipped="not computed")  # [beliefs] against the headline reason mix

    @property
    def sections(self) -> tuple[Section, ...]:
        return (self.reasons, self.inferred, self.drivers, self.survival, self.at_risk, self.revenue,
                self.concentration, self.beliefs)

    @property
    def failed_sections(self) -> tuple[Section, ...]:
        """Sections stopped by an unexpected error (a bug in churnwhy), each with its one-line reason."""
        return tuple(s for s in self.sections if s.failed)

    @property
    def as_of(self) -> dt.date | None:
        return self.table.as_of

    def summary(self) -> dict[str, Any]:
        t = self.table
        out: dict[str, Any] = {
            "customers": t.n_customers,
            "churned": t.n_churned,
            "churn_rate": _r(t.n_churned / t.n_customers) if t.n_customers else None,
            "median_tenure_days": None,
            "median_reached": False,
            "retention": [],
            "survey_response_rate": None,
            "churn_rule": t.churn_rule,
        }
        if self.survival.ok:
            overall = self.survival.result.overall
            out["median_tenure_days"] = overall.median_days
            out["median_reached"] = overall.median_days is not None
            out["retention"] = [
                {"horizon_days": h.horizon_days, "survival": _r(h.survival), "ci_low": _r(h.ci_low), "ci_high": _r(h.ci_high)}
                for h in overall.horizons
            ]
        if self.reasons.ok:  # churners who stated a reason we could read, as the reasons section counts them
            out["survey_response_rate"] = _r(self.reasons.result.nonresponse.response_rate)
        out["reasons"] = self.headline()
        return out

    def _reasons_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = named({"reasons": {**self.reasons.to_dict(), "inferred": self.inferred.to_dict()}})
        return doc

    def headline(self) -> dict[str, Any]:
        """The reason mix the report leads with, per axis: which estimate (stated + inferred, reweighted
        respondents, or respondents as they are), its caption, and the shares with 95% intervals."""
        from churnwhy.checks import headline_caption, headline_shares, headline_source

        doc = self._reasons_doc()
        return {
            "estimate": {axis: headline_source(doc, axis) for axis in ("why", "what")},
            "caption": headline_caption(doc),
            "shares": [{"axis": axis, **row} for axis in ("why", "what") for row in headline_shares(doc, axis)],
        }

    def assumptions(self) -> dict[str, Any]:
        """What churnwhy assumed to read the exports, for the headline of every output."""
        t, e = self.table, self.loaded.exports
        if t.as_of is None:
            date = "not applicable (tenure and churn flag given, no dates)"
        elif self.loaded.config.as_of is not None:
            date = f"{t.as_of.isoformat()} (set with --as-of or as_of)"
        else:
            date = f"{t.as_of.isoformat()} (the latest date in the data)"
        lookups = [f"{lk['name']}: joined through {lk['joined_on']!r}" for lk in e.lookups]
        lookups += [f"{name}: skipped ({why})" for name, why in e.skipped if "lookup" in why]
        return {
            "churn_rule": t.churn_rule,
            "tenure_unit": f"{t.tenure_unit}, {t.tenure_unit_reason}" if t.tenure_unit else "no tenure column",
            "analysis_date": date,
            "outcome_columns": list(e.outcome_columns),
            "lookups": lookups,
        }

    def data_quality(self) -> dict[str, Any]:
        e = self.loaded.exports
        return {
            "rows": {"read": e.rows_read, "loaded": e.rows_loaded, "rejected": e.reject_counts()},
            "files": [
                {"name": f.name, "role": f.role, "format": f.format, "rows_read": f.rows_read,
                 "rows_loaded": f.rows_loaded, "rejected": f.rejected}
                for f in e.files
            ],
            "skipped_files": [{"name": n, "why": w} for n, w in e.skipped],
            "warnings": list(e.warnings),
            "notes": list(e.notes),
            "churn_sources": dict(sorted(t for t in self.table.frame.group_by("churn_source").len().iter_rows())),
        }

    def examples(self) -> list[dict[str, str]]:
        """With `include_examples` only: up to 3 stated answers per why, masked (emails, phones, long digit runs)
        and cut at 300 characters; every format (table, JSON, Markdown, HTML) shows these same quotes."""
        import polars as pl

        from churnwhy.redact import redact

        df = self.table.frame
        if not self.include_examples or "why" not in df.columns or "reason_text" not in df.columns:
            return []
        quotes = (df.filter(pl.col("churned") & pl.col("reason_text").is_not_null() & (pl.col("reason_source") == "stated"))
                  .sort("customer_id").group_by("why", maintain_order=True).head(3))
        return [{"why": str(w), "quote": redact(str(t))[:300]} for w, t in quotes.select("why", "reason_text").iter_rows()]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document. Floats carry 10 significant digits: multithreaded BLAS sums differ in the last
        bits from run to run, and the same input must give byte-identical output."""
        doc: dict[str, Any] = _stable(stamped(self._document()))
        return doc

    def _document(self) -> dict[str, Any]:
        survival = self.survival.to_dict()
        cohorts = survival.pop("cohorts", None) if self.survival.ok else None
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "input": {
                "path": self.path,
                "segments": list(self.table.segments),
                "event_types": list(self.table.event_types),
                "lookback_days": self.table.lookback_days,
                # only for another engine: the default engine's JSON stays as it was, byte for byte
                **({"engine": self.loaded.config.engine} if self.loaded.config.engine != "local" else {}),
                "outcome_columns": list(self.loaded.exports.outcome_columns),
                "attributes": dict(self.table.attributes),
                "assumptions": self.assumptions(),
            },
            "summary": self.summary(),
            "reasons": {**self.reasons.to_dict(), "inferred": self.inferred.to_dict(),
                        **({"examples": examples} if (examples := self.examples()) else {})},
            "drivers": self.drivers.to_dict(),
            "survival": survival,
            "cohorts": cohorts if cohorts is not None else {"status": "skipped", "reason": "no cohort matrix"},
            "at_risk": self.at_risk.to_dict(),
            "beliefs": self.beliefs.to_dict(),
            "revenue": self.revenue.to_dict(),
            "concentration": self.concentration.to_dict(),
            "data_quality": self.data_quality(),
        }


def _stable(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.10g}") if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    return value


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(float(x), digits)
