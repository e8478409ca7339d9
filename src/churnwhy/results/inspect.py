"""What `inspect` reports: how the exports were read and what the customer table holds. Aggregates only."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import polars as pl

from churnwhy.load import Exports
from churnwhy.table import CustomerTable

from churnwhy.results.contract import stamped


@dataclasses.dataclass(frozen=True)
class InspectResult:
    path: str
    files: tuple[dict[str, Any], ...]
    skipped: tuple[tuple[str, str], ...]
    as_of: dt.date | None  # None for tenure-and-flag exports without any date
    customers: int
    churned: int
    churn_sources: dict[str, int]
    churn_rule: str
    segments: tuple[str, ...]
    event_types: tuple[str, ...]
    date_ranges: dict[str, tuple[str | None, str | None]]
    rows_read: int
    rows_loaded: int
    rejected: dict[str, int]
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()
    outcome_columns: tuple[str, ...] = ()  # export columns: churn labels, scores, status... never segments or drivers
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)  # attr_<name> -> number | category
    tenure_unit: str = ""  # "months, from its values 0 to 61"; empty: no tenure column
    lookups: tuple[str, ...] = ()  # "zip.csv: joined through 'Zip Code'"

    @classmethod
    def from_loaded(cls, path: str, exports: Exports, table: CustomerTable) -> InspectResult:
        df = table.frame
        ranges: dict[str, tuple[str | None, str | None]] = {}
        codes = exports.event_codes
        events = (codes.lazy().select(pl.col("event_time").min().alias("lo"), pl.col("event_time").max().alias("hi"))
                  .collect(engine="streaming").select(pl.concat_list("lo", "hi").explode().alias("event_time"))
                  if codes is not None else None)  # spilled events are read a slice at a time
        for label, frame, col in (("signup", df, "start_date"), ("end", df, "end_date"), ("events", events, "event_time"),
                                  ("surveys", exports.surveys, "survey_date")):
            if frame is not None and col in frame.columns and frame[col].drop_nulls().len():
                lo, hi = frame[col].min(), frame[col].max()
                ranges[label] = (_day(lo), _day(hi))
        sources = dict(sorted(df.group_by("churn_source").len().iter_rows()))
        return cls(
            path=path, files=tuple(f.to_dict() for f in exports.files), skipped=exports.skipped, as_of=table.as_of,
            customers=table.n_customers, churned=table.n_churned, churn_sources=sources, churn_rule=table.churn_rule,
            segments=table.segments, event_types=table.event_types, date_ranges=ranges,
            rows_read=exports.rows_read, rows_loaded=exports.rows_loaded, rejected=exports.reject_counts(),
            warnings=exports.warnings, notes=exports.notes, outcome_columns=tuple(exports.outcome_columns),
            attributes=dict(table.attributes),
            tenure_unit=f"{table.tenure_unit}, {table.tenure_unit_reason}" if table.tenure_unit else "",
            lookups=tuple(f"{lk['name']}: joined through {lk['joined_on']!r}" for lk in exports.lookups),
        )

    def to_dict(self) -> dict[str, Any]:
        return stamped({
            "path": self.path,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "customers": self.customers,
            "churned": self.churned,
            "churn_rate": round(self.churned / self.customers, 6) if self.customers else None,
            "churn_rule": self.churn_rule,
            "churn_sources": self.churn_sources,
            "segments": list(self.segments),
            "outcome_columns": list(self.outcome_columns),
            "attributes": dict(self.attributes),
            "tenure_unit": self.tenure_unit or None,
            "lookups": list(self.lookups),
            "event_types": list(self.event_types),
            "date_ranges": {k: list(v) for k, v in self.date_ranges.items()},
            "rows": {"read": self.rows_read, "loaded": self.rows_loaded, "rejected": self.rejected},
            "files": list(self.files),
            "skipped": [{"name": n, "why": w} for n, w in self.skipped],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        })


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def rejects_frame(exports: Exports) -> pl.DataFrame:
    return exports.rejects
