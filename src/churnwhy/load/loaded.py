"""What loading returns: the exports, loaded (`Exports`), and what happened to each file (`FileReport`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from churnwhy.load.codes import EventCodes
from churnwhy.load.read import READ_REASONS

if TYPE_CHECKING:  # the table module imports this one
    from churnwhy.table import EventAggregates

REJECT_REASONS = {
    "missing_id": "no customer id (or linked identifier)",
    "bad_date": "a date that cannot be read",
    "missing_date": "an event without a time",
    "bad_number": "a number that cannot be read",
    "duplicate_customer": "customer id repeated in one customers file (first row kept)",
    "duplicate_row": "exact duplicate of an earlier event row",
    "unknown_customer": "links to no customer in the customers files",
    "end_before_start": "churn date before signup date",
    "empty_response": "survey row with no score, reason or text",
    "bad_flag": "a churn flag that is not a yes/no word",
    **READ_REASONS,
}
REJECT_SCHEMA = {"source": pl.String, "row": pl.Int64, "reason": pl.String, "column": pl.String, "value": pl.String}


class HeldRejects(Protocol):
    """Rejected rows another engine holds (churnwhy.engine.spark): counted and written there, never brought here
    whole (most of 10^9 rows rejected would not fit this process)."""

    counts: pl.DataFrame  # source, reason, len: what the files' accounting adds up

    def write(self, path: Path | str, others: pl.DataFrame, safe: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
        """The rejects file at `path`: these rows and `others` (rows rejected here, REJECT_SCHEMA) in file and row
        order, as CSV with a `file` column, each batch passed through `safe` (formula-safe cells)."""

    def rows(self) -> pl.DataFrame:
        """The rows here, REJECT_SCHEMA (for tests and small data)."""



@dataclasses.dataclass(frozen=True)
class FileReport:
    """What happened to one export."""

    name: str
    format: str
    role: str
    role_reason: str
    rows_read: int
    rows_loaded: int
    rejected: dict[str, int]
    mapping: dict[str, str]
    encoding: str | None = None
    delimiter: str | None = None
    date_formats: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "notes": list(self.notes),
                "delimiter": {"\t": "tab"}.get(self.delimiter or "", self.delimiter)}




@dataclasses.dataclass(frozen=True)
class Exports:
    """The exports, loaded: typed, canonical, validated. Events are held as compact codes (`event_codes`);
    `events` builds the text view on first use."""

    customers: pl.DataFrame | None  # one row per customer; None when there is no customers file
    event_codes: EventCodes | EventAggregates | None  # EventAggregates: held by another engine (churnwhy.engine)
    surveys: pl.DataFrame | None  # customer_id, survey_date, score, reason_code, reason_text, competitor
    files: tuple[FileReport, ...]
    skipped: tuple[tuple[str, str], ...]
    rejects: pl.DataFrame  # source, row, reason, column, value (under another engine, rows rejected here only)
    segments: tuple[str, ...]
    warnings: tuple[str, ...]
    data_end: dt.date | None  # the latest date anywhere in the data
    # What churnwhy decided for itself (a file named as the event type, columns left out of segments):
    # shown to the user, but unlike warnings not an error under --strict.
    notes: tuple[str, ...] = ()
    # Export columns that describe the outcome (churn flags, labels, values, scores, categories, reasons,
    # status; by name or because their values separate churners): never segments, attributes or drivers.
    outcome_columns: tuple[str, ...] = ()
    # Customer attributes a model may use, as columns of `customers` (and of the customer table):
    # attr_<name> -> "number" (Float64) or "category" (String); outcome columns and identifiers are never here.
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    attribute_sources: Mapping[str, str] = dataclasses.field(default_factory=dict)  # attr_<name> -> export column
    # Lookup tables (a key other than the customer id): {"name", "joined_on" (its column), "status"}
    lookups: tuple[Mapping[str, str | None], ...] = ()
    # The events' rejected rows when another engine holds them (`rejects` then has the others); their counts are
    # in `files` as always.
    held_rejects: HeldRejects | None = None

    @functools.cached_property
    def events(self) -> pl.DataFrame | None:
        """customer_id, event_time, event_type, amount, __source (large: models should use event_codes); None
        when there are no events, or when another engine holds them (only their sums come back)."""
        return self.event_codes.to_events() if isinstance(self.event_codes, EventCodes) else None

    def without_event_rows(self) -> Exports:
        """These exports without the event rows; the files' accounting, rejects and everything else kept. For
        callers done with the events once the customer table is built: they take ~23 bytes an event (1.15 GB at
        50M), which the models after the table would otherwise carry for nothing."""
        return dataclasses.replace(self, event_codes=None)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    def reject_counts(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.rejected)
        return dict(sorted(total.items()))
