"""Every input row loaded or rejected with a reason: the files' reports (rows read = loaded + rejected), the
rejects in file and row order, and the latest date in the data."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl

from churnwhy.load.codes import EventCodes
from churnwhy.load.loaded import REJECT_SCHEMA, FileReport
from churnwhy.load.parse import REASON, REJECT_COL, REJECT_VAL, Parsed
from churnwhy.load.read import ROW

if TYPE_CHECKING:  # the table module imports this one
    from churnwhy.table import EventAggregates


def _rejects_of(p: Parsed) -> pl.DataFrame:
    return p.rows.filter(pl.col(REASON).is_not_null()).select(
        pl.lit(p.raw.name).alias("source"), pl.col(ROW).cast(pl.Int64).alias("row"), pl.col(REASON).alias("reason"),
        pl.col(REJECT_COL).alias("column"), pl.col(REJECT_VAL).alias("value"),
    )



def account(parsed: dict[str, list[Parsed]], late: list[pl.DataFrame], counted: pl.DataFrame | None = None
            ) -> tuple[list[FileReport], pl.DataFrame]:
    """The files' reports and the rejected rows; `counted` (source, reason, len) adds rows counted by another
    engine that holds them (load.loaded.HeldRejects)."""
    own = [_rejects_of(p) for role, ps in parsed.items() if role != "events" for p in ps]  # events' are in `late`
    rejects = pl.concat([pl.DataFrame(schema=REJECT_SCHEMA), *own, *late], how="vertical_relaxed")
    rejects = rejects.sort("source", "row")
    counts = rejects.group_by("source", "reason").len()
    if counted is not None:
        counts = (pl.concat([counts, counted.select(pl.col("source").cast(pl.String), pl.col("reason").cast(pl.String),
                                                    pl.col("len").cast(counts.schema["len"]))])
                  .group_by("source", "reason").agg(pl.col("len").sum()))
    by_source: dict[str, dict[str, int]] = {}
    for source, reason, n in counts.iter_rows():
        by_source.setdefault(source, {})[reason] = n
    reports = []
    for p in sum(parsed.values(), []):
        rejected = dict(sorted(by_source.get(p.raw.name, {}).items()))
        assert p.n_rows is not None, p.raw.name
        loaded = p.n_rows - sum(rejected.values())
        assert loaded >= 0, (p.raw.name, rejected)  # a row rejected twice would be an accounting bug
        reports.append(FileReport(
            name=p.raw.name, format=p.raw.source.format, role=p.mapping.role, role_reason=p.mapping.role_reason,
            rows_read=p.n_rows, rows_loaded=loaded, rejected=rejected, mapping=dict(sorted(p.mapping.columns.items())),
            encoding=p.raw.encoding, delimiter=p.raw.delimiter, date_formats=p.date_formats, notes=tuple(p.notes),
        ))
    return sorted(reports, key=lambda r: r.name), rejects


def latest_date(customers: pl.DataFrame | None, events: EventCodes | EventAggregates | None, surveys: pl.DataFrame | None) -> dt.date | None:
    ends: list[Any] = []  # the columns' latest values (datetimes; polars types a max as any scalar)
    for df, cols in ((customers, ("signup_date", "churn_date")), (surveys, ("survey_date",))):
        if df is None:
            continue
        for c in cols:
            if c in df.columns and df[c].drop_nulls().len():
                ends.append(df[c].max())
    if events is not None:
        last = events.lazy().select(pl.col("event_time").max()).collect().item()
        if last is not None:
            ends.append(last)
    return max(ends).date() if ends else None
