"""load_exports: discover -> read -> map columns -> parse and validate -> tables of customers, events, surveys.

Every input row ends either loaded or in `rejects` with a reason; FileReport.rows_read always equals
rows_loaded + sum(rejected).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import fnmatch
import functools
import operator
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from churnwhy.config import Config
from churnwhy.errors import InputError
from churnwhy.load import values as V
from churnwhy.load.columns import LINK_KEYS, TableMapping, guess_role, map_columns
from churnwhy.load.customers import Part, join_customers, link_table
from churnwhy.load.dates import DateSpec, detect, fixed_width, implausible, parse_expr, without_open_end
from churnwhy.load.discover import discover
from churnwhy.load.read import READ_REASONS, READ_REJECT, READ_VALUE, ROW, RawTable, read_source, short_error
from churnwhy.load.roles import settle

if TYPE_CHECKING:  # the table module imports this one
    from churnwhy.table import EventAggregates

SRC = "__src"

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
REASON = "__reject"
HASH_SLICE = 5_000_000  # event rows hashed at a time in the duplicate check (bounds its temporaries)
SPILL_SLICE = 2_500_000  # event rows read at a time (a thread) when the events are spilled to disk
SPILL_PARTITION = 25_000_000  # hashes sorted at a time when spilled (200 MB)
CODE_COLUMNS = [SRC, "__cidx", "event_time", "event_type", "amount"]
REJECT_COL = "__reject_col"
REJECT_VAL = "__reject_val"


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

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "notes": list(self.notes),
                "delimiter": {"\t": "tab"}.get(self.delimiter or "", self.delimiter)}


@dataclasses.dataclass(frozen=True)
class EventCodes:
    """The valid events, compact for aggregation (about 23 bytes an event instead of ~90 with text columns):
    customers as positions in `ids`, event types as an Enum, the source file as a position in `sources`; rows
    in file, then row, order (row numbers are needed only until duplicates are found, so they are not kept).

    Held in memory, or, above `Config.spill_events_above` rows, in Arrow IPC files in a temporary folder that
    readers take a slice at a time (`slice`, `lazy`), so that memory does not grow with the events. The folder
    goes with this object."""

    data: pl.DataFrame | tuple[Path, ...]  # __src u16, __cidx u32, event_time, event_type Enum, amount f64
    ids: pl.Series  # customer_id of each __cidx; with a customers file, exactly Exports.customers["customer_id"]
    sources: tuple[str, ...]
    folder: object = dataclasses.field(default=None, compare=False, repr=False)  # spilled: its TemporaryDirectory

    @property
    def spilled(self) -> bool:
        return not isinstance(self.data, pl.DataFrame)

    def lazy(self) -> pl.LazyFrame:
        if isinstance(self.data, pl.DataFrame):
            return self.data.lazy()
        return pl.scan_ipc(list(self.data)).select(CODE_COLUMNS)

    @functools.cached_property
    def height(self) -> int:
        return self.data.height if isinstance(self.data, pl.DataFrame) else self.lazy().select(pl.len()).collect().item()

    @functools.cached_property
    def schema(self) -> pl.Schema:
        return self.lazy().collect_schema()

    def slice(self, offset: int, length: int) -> pl.DataFrame:
        """Rows offset .. offset + length: a view in memory, read from disk when spilled."""
        if isinstance(self.data, pl.DataFrame):
            return self.data.slice(offset, length)
        return self.lazy().slice(offset, length).collect()

    @property
    def frame(self) -> pl.DataFrame:
        """Every event in memory (spilled codes are read whole: for small exports and tests)."""
        return self.data if isinstance(self.data, pl.DataFrame) else self.lazy().collect()

    def to_events(self) -> pl.DataFrame:
        """customer_id, event_time, event_type, amount, __source: the events as text, in file and row order."""
        f = self.frame
        return pl.DataFrame({
            "customer_id": self.ids.gather(f["__cidx"]), "event_time": f["event_time"],
            "event_type": f["event_type"].cast(pl.String), "amount": f["amount"],
            "__source": pl.Series(self.sources, dtype=pl.String).gather(f[SRC]),
        })


@dataclasses.dataclass(frozen=True)
class Exports:
    """The exports, loaded: typed, canonical, validated. Events are held as compact codes (`event_codes`);
    `events` builds the text view on first use."""

    customers: pl.DataFrame | None  # one row per customer; None when there is no customers file
    event_codes: EventCodes | EventAggregates | None  # EventAggregates: held by another engine (churnwhy.engine)
    surveys: pl.DataFrame | None  # customer_id, survey_date, score, reason_code, reason_text, competitor
    files: tuple[FileReport, ...]
    skipped: tuple[tuple[str, str], ...]
    rejects: pl.DataFrame  # source, row, reason, column, value
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


@dataclasses.dataclass
class _Parsed:
    raw: RawTable
    mapping: TableMapping
    # canonical columns + __row + reject columns; events: a LazyFrame of canonical columns + __row + __reject
    # (reject columns and values are looked up afterwards for the few rejected rows, see _event_rejects)
    frame: pl.DataFrame | pl.LazyFrame
    date_formats: dict[str, str]
    notes: list[str]
    segment_sources: dict[str, str]  # source column -> segment name (customers tables)
    checks: tuple = ()  # events: (is_bad, reason, column, raw value), the id check, the key used, and the
    # step computing what they read, for _event_rejects
    n_rows: int | None = None  # rows in the file, counted by the pass that reads them (events: in _events)


# (events files as parsed, customers, link tables) -> (events, their rejected rows): see load_exports
EventsReader = Callable[[list[_Parsed], pl.DataFrame | None, dict[str, pl.DataFrame] | None],
                        tuple["EventAggregates", pl.DataFrame]]


def load_exports(path: Path | str, config: Config | None = None, *, events_reader: EventsReader | None = None) -> Exports:
    """Read every export under `path` into validated customers, events and surveys tables.

    `events_reader` replaces the in-process events pass (_events) for another engine (churnwhy.engine.spark):
    it gets the events files as parsed (mapping and formats decided from a sample, as here), the customers
    and the link tables, sets each file's `n_rows` and returns the events and their rejected rows."""
    config = config or Config()
    found = discover(Path(path))
    skipped = list(found.skipped) + list(found.unreadable)
    mapped: list[tuple[RawTable, TableMapping]] = []
    # Inputs that could not be read are warnings (errors under --strict), never a silent loss.
    warnings: list[str] = [f"{name}: {why}" for name, why in found.unreadable]
    notes: list[str] = []
    for src in found.files:
        raws, read_notes = read_source(src, max_decompressed_mb=config.max_decompressed_mb)
        skipped += read_notes
        for raw in raws:
            mapping = _mapping_for(raw, config)
            if mapping is None:
                continue
            if mapping.role == "skip":
                skipped.append((raw.name, "skipped by [files] in churnwhy.toml"))
                continue
            mapped.append((raw, mapping))
    tables, lookups, lookup_skips = settle(mapped, notes)
    skipped += lookup_skips
    if not tables:
        raise InputError(
            f"{path}: no file has a customer id column",
            hint='name the id column (e.g. "customer_id"), or map it in churnwhy.toml:  [columns]  customer_id = "Your Column"',
        )
    parsed = {role: [_parse_or_explain(raw, m, config) for raw, m in tables if m.role == role]
              for role in ("customers", "events", "surveys")}
    joined = join_customers([Part(p.raw.name, _valid(p), p.segment_sources, p.mapping) for p in parsed["customers"]],
                            lookups, config, notes, has_events=bool(parsed["events"]))
    customers = joined.frame
    warnings += joined.warnings
    late: list[pl.DataFrame] = []
    links = None
    if customers is not None:
        customers, bad = _end_before_start(customers, parsed["customers"])
        late.append(bad)
        customers = customers.drop([c for c in customers.columns if c.startswith("__row_")])
        links = link_table(customers)
    events: EventCodes | EventAggregates | None = None
    surveys = None
    if parsed["events"]:
        try:
            events, bad = (_events(parsed["events"], customers, links, config.spill_events_above)
                           if events_reader is None else events_reader(parsed["events"], customers, links))
        except pl.exceptions.ComputeError as exc:  # the events files are read here, in one lazy pass
            names = ", ".join(p.raw.name for p in parsed["events"])
            raise InputError(f"{names}: cannot be read ({short_error(exc)})",
                             hint="check the file opens in a spreadsheet; re-export it, or move it out of the folder") from None
        late.append(bad)
    if parsed["surveys"]:
        surveys, bad = _surveys(parsed["surveys"], customers, links)
        late.append(bad)
    if customers is None and events is None:
        raise InputError(
            f"{path}: found surveys but no customers or events file",
            hint="add the customer export (ids, signup dates) or the event export next to the surveys",
        )
    reports, rejects = _account(parsed, late)
    notes += [n for p in sum(parsed.values(), []) for n in p.notes]
    data_end = _data_end(customers, events, surveys)
    return Exports(
        customers=customers, event_codes=events, surveys=surveys, files=tuple(reports), skipped=tuple(skipped),
        rejects=rejects, segments=joined.segments, warnings=tuple(dict.fromkeys(warnings)), data_end=data_end,
        notes=tuple(dict.fromkeys(notes)), outcome_columns=joined.outcome_columns, attributes=joined.attributes,
        attribute_sources=joined.attribute_sources, lookups=joined.lookups,
    )


# --- mapping -------------------------------------------------------------------------------------------------


def _names(name: str, pattern: str) -> bool:
    """A churnwhy.toml key names this file: exactly (as `init` writes it, brackets and all) or as a glob."""
    base = name.rsplit("/", 1)[-1]
    return pattern in (name, base) or fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(base, pattern)


def _mapping_for(raw: RawTable, config: Config) -> TableMapping | None:
    role, reason = guess_role(raw.name, raw.columns)
    for pattern, forced in config.files.items():
        if _names(raw.name, pattern):
            role, reason = forced, "set in churnwhy.toml"
    if role == "skip":
        return TableMapping("skip", {}, reason)
    overrides = dict(config.columns)
    for pattern, cols in config.file_columns.items():
        if _names(raw.name, pattern):
            overrides.update(cols)
    return map_columns(raw.name, role, raw.columns, overrides, reason)


# --- parsing one table ---------------------------------------------------------------------------------------


def _parse_or_explain(raw: RawTable, mapping: TableMapping, config: Config) -> _Parsed:
    """_parse, with read errors that surface only when the lazy frame runs (a CSV row with more fields than
    its header, a damaged Parquet page) turned into a message naming the file."""
    try:
        return _parse(raw, mapping, config)
    except pl.exceptions.PolarsError as exc:
        ragged = "more fields" in str(exc)
        raise InputError(
            f"{raw.name}: cannot be read ({'a row has more fields than the header' if ragged else short_error(exc)})",
            hint=("quote text that contains the delimiter, or re-export the file" if ragged
                  else "check the file opens in a spreadsheet; re-export it, or move it out of the folder"),
        ) from None


def _parse(raw: RawTable, mapping: TableMapping, config: Config) -> _Parsed:
    schema = raw.frame.collect_schema()
    m = mapping.columns
    notes: list[str] = list(raw.notes)
    date_cols = [c for c in ("signup_date", "churn_date", "event_time", "survey_date") if c in m]
    # Formats come from a sample of each column; the whole column is then parsed with them.
    id_src = m.get("customer_id")
    sampled = list(dict.fromkeys([m[c] for c in date_cols] + [m[c] for c in ("customer_id", "status") if c in m]))
    sample = raw.frame.select(sampled).head(20_000).collect() if sampled else None
    # Ids exported as floats ('1.0') in one file and as integers in another must match: '.0' goes in this file.
    float_like = bool(id_src and schema[id_src] == pl.String
                      and sample[id_src].str.strip_chars().str.contains(V.FLOAT_LIKE_ID).any())  # type: ignore[index]
    if id_src and schema[id_src] == pl.String:
        rounded = sample[id_src].str.strip_chars().str.contains(V.SCIENTIFIC_ID).sum()  # type: ignore[index]
        if rounded:
            notes.append(f"{raw.name}: {rounded} ids in {id_src!r} are written like 1.23457E+18: their digits were "
                         "lost when the file was saved (a spreadsheet?); re-export that column as text")
    specs: dict[str, DateSpec] = {}
    for canon in date_cols:
        src = m[canon]
        configured = config.date_formats.get(src) or config.date_formats.get(canon) or config.date_format
        specs[canon] = detect(sample[src], column=src, table=raw.name, configured=configured)  # type: ignore[index]

    # Three steps, each value computed once (Polars does not share repeated sub-expressions, and the checks
    # below reuse the values: before, every event's time was trimmed four times and parsed twice):
    # 1. `inputs`: each text column trimmed, empty as null (values.text); 2. `exprs`: the canonical columns,
    # from those; 3. the reject checks, on the canonical columns and the trimmed inputs.
    inputs = _Inputs(schema)
    exprs: list[pl.Expr] = [pl.col(ROW)]
    key_exprs: list[pl.Expr] = []
    checks: list[tuple[pl.Expr, str, str | None, pl.Expr | None]] = []  # (is_bad, reason, column, raw value)
    if READ_REJECT in schema:  # rows the reader could not read (_first_reason puts these first)
        seen = inputs.text(READ_REJECT)
        checks += [(seen == why, why, None, inputs.text(READ_VALUE)) for why in READ_REASONS]
    if "customer_id" in m:
        src = m["customer_id"]
        key_exprs.append(V.identifier(src, schema[src], inputs.text(src), float_like=float_like).alias("customer_id"))
    elif mapping.row_ids:  # no id column: the file and row number stand for the customer (never reported)
        key_exprs.append(pl.format("{}:{}", pl.lit(raw.name), pl.col(ROW)).alias("customer_id"))
    key_exprs += [V.link_key(k, m[k], inputs.text(m[k])).alias(k) for k in LINK_KEYS if k in m]
    key_names = [e.meta.output_name() for e in key_exprs]
    exprs += key_exprs
    if mapping.role == "events" and "event_time" in m:
        src = m["event_time"]
        checks.append((inputs.absent(src), "missing_date", src, None))
    for canon, spec in specs.items():
        src = m[canon]
        text = inputs.text(src) if spec.kind != "native" and schema[src] == pl.String else None
        seen = sample[src].drop_nulls()  # type: ignore[index]
        fixed = {f: v for f in spec.formats if (v := fixed_width(f, seen)) is not None} if text is not None else {}
        cache = seen.n_unique() < 0.5 * seen.len()  # timestamps rarely repeat; dates do
        exprs.append(parse_expr(src, spec, schema[src], text, step=inputs.step, fixed=fixed, cache=cache).alias(canon))
        raw_value = inputs.raw(src)
        odd = implausible(pl.col(canon), open_end=canon == "churn_date")  # year 9999, 1753...
        if spec.kind != "native":  # a typed date column (Parquet) cannot fail to parse
            odd = odd | (raw_value.is_not_null() & pl.col(canon).is_null())
        checks.append((odd, "bad_date", src, raw_value))
    for canon in ("amount", "score", "tenure"):
        if canon in m:
            src = m[canon]
            numeric = schema[src].is_numeric()
            exprs.append(V.number(src, schema[src], None if numeric else inputs.text(src), inputs.step).alias(canon))
            raw_value = inputs.raw(src)
            odd = V.implausible_number(canon)  # inf, NaN, 1e300, a negative tenure
            if not numeric:  # a numeric column casts without failures
                odd = odd | (raw_value.is_not_null() & pl.col(canon).is_null())
            checks.append((odd, "bad_number", src, raw_value))
    for canon in ("reason_code", "reason_text", "competitor", "status"):
        if canon in m:
            exprs.append(inputs.text(m[canon]).alias(canon))
    if "status" in m and V.reads_as_flags(sample[m["status"]]):  # type: ignore[index]
        # A status column of churn words: a value that is none of them is rejected, as a churn flag's would be
        # (a status of tiers or anything else decides nothing, and is left alone).
        src = m["status"]
        checks.append((inputs.text(src).is_not_null() & V.flag(src, inputs.text(src)).is_null(), "bad_flag", src,
                       inputs.raw(src)))
    if "churned" in m:
        src = m["churned"]
        exprs.append(V.flag(src, inputs.text(src)).alias("churned"))
        # A flag that is not a yes/no word is a rejected row: counted as active, it would hide a churner.
        checks.append((inputs.text(src).is_not_null() & pl.col("churned").is_null(), "bad_flag", src, inputs.raw(src)))
    if mapping.role == "events":
        if "event_type" not in m:  # an orders export: the file is the event type
            stem = V.snake(re.sub(r"(\.[a-z0-9]+)+$", "", raw.name.rsplit("/", 1)[-1].split("#")[0].lower()))
            exprs.append(pl.lit(stem).cast(pl.Categorical).alias("event_type"))
            notes.append(f"{raw.name}: no event type column; every row is a '{stem}' event")
        else:
            # Categorical here, names normalised once per distinct value after loading (_event_types): text
            # functions on every one of millions of rows were the loader's hot spot.
            exprs.append(pl.col(m["event_type"]).cast(pl.String).cast(pl.Categorical).alias("event_type"))
        if "event_time" not in m:
            raise InputError(
                f"{raw.name}: looks like an events file but has no date or time column",
                hint=f'map it in churnwhy.toml:  [columns."{raw.name}"]  event_time = "Your Date Column"',
            )
    if mapping.role == "surveys":
        content = [m[c] for c in ("score", "reason_code", "reason_text", "competitor") if c in m]
        empty = pl.all_horizontal([inputs.text(c).is_null() for c in content]) if content else pl.lit(True)
        checks.append((empty, "empty_response", None, None))
    segment_sources: dict[str, str] = {}
    if mapping.role == "customers":
        for col in mapping.extra:
            segment_sources[col] = V.snake(col)
            exprs.append(inputs.text(col).alias(f"__seg__{col}"))

    # A customers table with an id column needs the id itself; others may be keyed by a link (email...).
    id_names = key_names[:1] if (mapping.role == "customers" and ("customer_id" in m or mapping.row_ids)) else key_names
    id_missing = pl.all_horizontal([pl.col(n).is_null() for n in id_names])
    dates = {m[c]: s.describe() for c, s in specs.items()}
    values = functools.partial(inputs.values, exprs=exprs)
    if mapping.role == "events":
        # Duplicates compare whole rows as exported: the columns not mapped (a quantity, an order number) are
        # hashed into one column, so two same-day purchases of different quantities are not one event repeated.
        rest = [c for c in raw.columns if c not in m.values()]
        if rest:
            exprs.append(pl.struct([pl.col(c) for c in rest]).hash(7).alias(XHASH))
        # The reason as an Enum: a text column is 16 bytes a row even when (nearly) all null.
        reason = _first_reason(checks, id_missing)[0].cast(pl.Enum(list(REJECT_REASONS)))
        lazy = values(raw.frame).with_columns(reason).drop(inputs.helpers)
        used = pl.coalesce([pl.col(n) for n in key_names]) if key_names else pl.lit(None, pl.String)
        return _Parsed(raw, mapping, lazy, dates, notes, {}, (tuple(checks), id_missing, used, values))
    df = values(raw.frame).with_columns(_first_reason(checks, id_missing)).drop(inputs.helpers)
    if "churn_date" in specs:
        df = df.with_columns(without_open_end("churn_date"))
    df = df.collect()
    if mapping.role == "customers":
        df = _dedupe_customers(df)
    return _Parsed(raw, mapping, df, dates, notes, segment_sources, n_rows=df.height)


class _Inputs:
    """The source columns as the canonical values and the checks read them, each computed once."""

    def __init__(self, schema: pl.Schema) -> None:
        self.schema = schema
        self.texts: dict[str, pl.Expr] = {}  # helper column -> the source trimmed (empty made null in `values`)
        self.kept: dict[str, pl.Expr] = {}  # helper column -> a typed source column, as it is
        self.steps: dict[str, pl.Expr] = {}  # helper column -> an expression the canonical values read twice

    def text(self, src: str) -> pl.Expr:
        """The column trimmed, empty as null (values.text)."""
        name = f"__text__{src}"
        self.texts.setdefault(name, pl.col(src).cast(pl.String).str.strip_chars().alias(name))
        return pl.col(name)

    def raw(self, src: str) -> pl.Expr:
        """The value a reject shows: the trimmed text, or a typed value as text."""
        return self.text(src) if self.schema[src] == pl.String else self._kept(src).cast(pl.String)

    def absent(self, src: str) -> pl.Expr:
        # Without casting a typed column to text (that cast, on every event time, cost more than the parse).
        return (self.text(src) if self.schema[src] == pl.String else self._kept(src)).is_null()

    def _kept(self, src: str) -> pl.Expr:
        """A typed source column, carried as it is for the checks."""
        name = f"__kept__{src}"
        self.kept.setdefault(name, pl.col(src).alias(name))
        return pl.col(name)

    def step(self, expr: pl.Expr) -> pl.Expr:
        """`expr` computed as a column of its own, after the texts and before the canonical columns."""
        name = f"__step__{len(self.steps)}"
        self.steps[name] = expr.alias(name)
        return pl.col(name)

    @property
    def helpers(self) -> list[str]:
        return [*self.texts, *self.kept]

    def values(self, lf: pl.LazyFrame, exprs: list[pl.Expr]) -> pl.LazyFrame:
        """Steps 1 and 2: `exprs` (the canonical columns) and the helper columns the checks read."""
        staged = lf
        if self.texts:  # values.text in two steps, so that each value is trimmed once
            staged = lf.with_columns(list(self.texts.values())).with_columns(
                pl.when(pl.col(n).str.len_bytes() > 0).then(pl.col(n)).alias(n) for n in self.texts)
        if self.steps:
            staged = staged.with_columns(list(self.steps.values()))
        return staged.select(*exprs, *[pl.col(n) for n in self.texts], *self.kept.values())


def _first_reason(checks: list, id_missing: pl.Expr) -> list[pl.Expr]:
    """The first failing check names the row's reject reason, column and offending value; rows the reader
    could not read come first (their other columns are empty or cut)."""
    first = [c for c in checks if c[1] in READ_REASONS]
    ordered = [*first, (id_missing, "missing_id", None, None), *[c for c in checks if c[1] not in READ_REASONS]]
    bad, why, col, val = ordered[0]
    reason = pl.when(bad).then(pl.lit(why))
    column = pl.when(bad).then(pl.lit(col, pl.String))
    value = pl.when(bad).then(val if val is not None else pl.lit(None, pl.String))
    for bad, why, col, val in ordered[1:]:
        reason = reason.when(bad).then(pl.lit(why))
        column = column.when(bad).then(pl.lit(col, pl.String))
        value = value.when(bad).then(val if val is not None else pl.lit(None, pl.String))
    return [reason.otherwise(None).alias(REASON), column.otherwise(None).alias(REJECT_COL),
            value.otherwise(None).alias(REJECT_VAL)]


def _dedupe_customers(df: pl.DataFrame) -> pl.DataFrame:
    ok = pl.col(REASON).is_null()
    first = pl.col("customer_id").is_first_distinct().over(ok)
    return df.with_columns(
        pl.when(ok & ~first & pl.col("customer_id").is_not_null()).then(pl.lit("duplicate_customer"))
        .otherwise(pl.col(REASON)).alias(REASON),
        pl.when(ok & ~first & pl.col("customer_id").is_not_null()).then(pl.lit("customer_id"))
        .otherwise(pl.col(REJECT_COL)).alias(REJECT_COL),
        pl.when(ok & ~first & pl.col("customer_id").is_not_null()).then(pl.col("customer_id"))
        .otherwise(pl.col(REJECT_VAL)).alias(REJECT_VAL),
    )


# --- customers ----------------------------------------------------------------------------------------------


def _rejects_of(p: _Parsed) -> pl.DataFrame:
    return p.frame.filter(pl.col(REASON).is_not_null()).select(
        pl.lit(p.raw.name).alias("source"), pl.col(ROW).cast(pl.Int64).alias("row"), pl.col(REASON).alias("reason"),
        pl.col(REJECT_COL).alias("column"), pl.col(REJECT_VAL).alias("value"),
    )


def _valid(p: _Parsed) -> pl.DataFrame:
    return p.frame.filter(pl.col(REASON).is_null()).drop(REASON, REJECT_COL, REJECT_VAL)


def _resolve(df: pl.DataFrame, customers: pl.DataFrame | None, links: dict[str, pl.DataFrame] | None) -> pl.DataFrame:
    """customer_id from the id column, else through a link key; rows linking to no customer are marked."""
    if "customer_id" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("customer_id"))
    present = [k for k in LINK_KEYS if k in df.columns]
    df = df.with_columns(pl.col("customer_id").alias("__id_raw"))
    if customers is None:
        ids = pl.coalesce("customer_id", *present) if present else pl.col("customer_id")
        return df.with_columns(ids.alias("customer_id")).drop(present)
    for k in present:
        if links and k in links:
            df = df.join(links[k], left_on=k, right_on="__link", how="left").with_columns(
                pl.coalesce("customer_id", "__linked").alias("customer_id")).drop("__linked")
    # The membership test once, as a column: an expression used three times is computed three times (0.7 s
    # for 700k survey rows against a million customers).
    df = df.with_columns((~pl.col("customer_id").is_in(customers["customer_id"].implode())).fill_null(True).alias("__unknown"))
    unknown = pl.col("__unknown")
    key_used = pl.coalesce(pl.col("__id_raw"), *[pl.col(k) for k in present]) if present else pl.col("__id_raw")
    return df.with_columns(
        pl.when(unknown).then(pl.lit("unknown_customer")).alias(REASON),
        pl.when(unknown).then(pl.lit(None, pl.String)).alias(REJECT_COL),
        pl.when(unknown).then(key_used).alias(REJECT_VAL),
    ).drop(*present, "__unknown")


def _stack(tables: list[_Parsed]) -> pl.DataFrame:
    parts = [_valid(p).with_columns(pl.lit(p.raw.name).alias("__source")) for p in tables]
    return pl.concat(parts, how="diagonal_relaxed")


def _split(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    bad = df.filter(pl.col(REASON).is_not_null()).select(
        pl.col("__source").alias("source"), pl.col(ROW).cast(pl.Int64).alias("row"), pl.col(REASON).alias("reason"),
        pl.col(REJECT_COL).alias("column"), pl.col(REJECT_VAL).alias("value"),
    )
    return df.filter(pl.col(REASON).is_null()).drop(REASON, REJECT_COL, REJECT_VAL, "__id_raw", strict=False), bad



def _end_before_start(customers: pl.DataFrame, tables: list[_Parsed]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Customers whose churn date is before their signup: every row of theirs in the customers files is rejected."""
    if not {"churn_date", "signup_date"} <= set(customers.columns):
        return customers, pl.DataFrame(schema=REJECT_SCHEMA)
    bad = customers.filter(pl.col("churn_date") < pl.col("signup_date"))
    records = [
        bad.filter(pl.col(f"__row_{i}").is_not_null()).select(
            pl.lit(p.raw.name).alias("source"), pl.col(f"__row_{i}").cast(pl.Int64).alias("row"),
            pl.lit("end_before_start").alias("reason"),
            pl.lit(p.mapping.columns.get("churn_date"), pl.String).alias("column"),
            pl.col("churn_date").dt.date().cast(pl.String).alias("value"),
        )
        for i, p in enumerate(tables)
    ]
    return customers.filter(~pl.col("customer_id").is_in(bad["customer_id"].implode())), pl.concat(records)


def _events(tables: list[_Parsed], customers: pl.DataFrame | None, links: dict[str, pl.DataFrame] | None,
            spill_above: int | None = None) -> tuple[EventCodes, pl.DataFrame]:
    """Every events file in one streaming pass into compact codes; rejected rows (file/row/reason) apart.

    Only the columns a table needs are read (projection pushdown); text is touched once per row (the id, by a
    join to the customer list) and event types once per distinct value. The rejected rows' columns and values
    are read again afterwards for those rows alone, so the common case (no or few rejects) pays nothing.
    Above `spill_above` (estimated) rows the pass writes to disk instead of memory (_spill)."""
    plans = []
    for i, p in enumerate(tables):
        lf = p.frame.with_columns(pl.lit(i, pl.UInt16).alias(SRC))
        if "customer_id" not in lf.collect_schema().names():
            lf = lf.with_columns(pl.lit(None, pl.String).alias("customer_id"))
        plans.append(lf)
    stacked = pl.concat(plans, how="diagonal_relaxed") if len(plans) > 1 else plans[0]
    present = [k for k in LINK_KEYS if k in stacked.collect_schema().names()]
    for k in present:
        if links and k in links:
            stacked = stacked.join(links[k].lazy(), left_on=k, right_on="__link", how="left").with_columns(
                pl.coalesce("customer_id", "__linked").alias("customer_id")).drop("__linked")
    if customers is None:  # ids come from the events themselves (every linked key is its own customer)
        if present:
            stacked = stacked.with_columns(pl.coalesce("customer_id", *present).alias("customer_id"))
        ids = (stacked.filter(pl.col(REASON).is_null()).select(pl.col("customer_id").drop_nulls().unique())
               .collect(engine="streaming").to_series().sort())
    else:
        ids = customers["customer_id"]
    index = pl.DataFrame({"customer_id": ids, "__cidx": pl.arange(0, ids.len(), dtype=pl.UInt32, eager=True)})
    whole_rows = XHASH in stacked.collect_schema().names()
    cols = [SRC, ROW, "__cidx", "event_time", "event_type", "amount", REASON, *([XHASH] if whole_rows else [])]
    stacked = stacked.with_columns(pl.lit(None, pl.Float64).alias("amount")) if "amount" not in stacked.collect_schema().names() else stacked
    # maintain_order: the rows stay in file and row order (no slower here), so the codes need no row numbers
    # once duplicates are found, and the same input gives the same frame on every run.
    query = (stacked.join(index.lazy(), on="customer_id", how="left", maintain_order="left")
             .select(pl.col(SRC), pl.col(ROW).cast(pl.UInt32), *cols[2:]))
    sources = tuple(p.raw.name for p in tables)
    if spill_above is not None and _estimated_rows(tables) > spill_above:
        codes, marked, dups = _spill(query, tables, ids, sources, _same(whole_rows))
        return codes, _event_rejects(tables, pl.concat([marked, dups]))
    frame = query.collect(engine="streaming")
    # Every row of every file is in `frame` here: the files' row counts come from it, not from a pass of their own.
    if len(tables) == 1:
        tables[0].n_rows = frame.height
    else:
        counts = dict(frame.group_by(SRC).len().iter_rows())
        for i, p in enumerate(tables):
            p.n_rows = counts.get(i, 0)
    marked = _marked(frame)
    if marked.height:
        frame = frame.filter(~FLAGGED)
    frame = _event_types(frame.drop(REASON), *_type_names(frame["event_type"].unique()))
    same = _same(whole_rows)
    key_hash = _key_hash(same)
    # Overlapping monthly exports repeat rows: the first copy (by file, then row) is kept. Exact duplicates hash
    # alike; only rows sharing a hash are compared value by value. The hashes are written slice by slice into
    # one array that is sorted in place (a sorted copy is another 400 MB at the loader's peak; is_duplicated's
    # hash table cost 10x the time).
    hashes = np.empty(frame.height, np.uint64)

    def fill(a: int) -> None:  # slices on two threads: Polars releases the GIL, one select alone used ~1 core
        hashes[a:a + HASH_SLICE] = frame.slice(a, HASH_SLICE).select(key_hash).to_series().to_numpy()

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(fill, range(0, frame.height, HASH_SLICE)))
    repeated = _repeated(hashes)
    del hashes
    dups = _duplicates(frame.filter(key_hash.is_in(pl.Series(repeated).implode())) if repeated.size else None, same)
    if dups.height:
        frame = frame.join(dups.select(SRC, ROW), on=[SRC, ROW], how="anti", maintain_order="left")
    return EventCodes(frame.drop(ROW, XHASH, strict=False), ids, sources), _event_rejects(tables, pl.concat([marked, dups]))


# Rows already rejected in their file, and rows whose id names no customer.
FLAGGED = pl.col(REASON).is_not_null() | pl.col("__cidx").is_null()
# What makes two events the same; one hash per column, xor-ed (seeds keep equal values in different columns
# apart): 0.6 s at 50M rows against 2.8 s for the hash of the struct. A collision only makes rows candidates
# for the exact comparison (_duplicates).
SAME_EVENT = ("__cidx", "event_time", "event_type", "amount")
XHASH = "__xhash"  # a hash of an event row's other exported columns (when it has any)


def _same(whole_rows: bool) -> tuple[str, ...]:
    return (*SAME_EVENT, XHASH) if whole_rows else SAME_EVENT


def _key_hash(same: tuple[str, ...]) -> pl.Expr:
    return functools.reduce(operator.xor, [pl.col(c).hash(i) for i, c in enumerate(same)])




def _marked(frame: pl.DataFrame) -> pl.DataFrame:
    """__src, __row, reason of the flagged rows."""
    return frame.filter(FLAGGED).select(
        SRC, ROW, pl.coalesce(pl.col(REASON).cast(pl.String), pl.lit("unknown_customer")).alias("reason"))


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """The hash values that occur more than once (sorts `hashes` in place)."""
    hashes.sort()
    return np.unique(hashes[1:][hashes[1:] == hashes[:-1]])


def _no_rows() -> pl.DataFrame:
    """__src, __row, reason with no rows."""
    return pl.DataFrame(schema={SRC: pl.UInt16, ROW: pl.UInt32, "reason": pl.String})


def _duplicates(candidates: pl.DataFrame | None, same: tuple[str, ...] = SAME_EVENT) -> pl.DataFrame:
    """__src, __row, reason of the rows that repeat an earlier row (by file, then row) exactly."""
    if candidates is None or candidates.height == 0:
        return _no_rows()
    return (candidates.sort(SRC, ROW).filter(~pl.struct(*same).is_first_distinct())
            .select(SRC, ROW, pl.lit("duplicate_row").alias("reason")))


def _estimated_rows(tables: list[_Parsed]) -> int:
    """Event rows before reading them: Parquet footers count them; text exports are guessed at 40 bytes a row
    (a compressed one at 5 times its size), which errs towards spilling."""
    total = 0
    for p in tables:
        src = p.raw.source
        if src.format.startswith("parquet"):
            total += int(p.raw.frame.select(pl.len()).collect().item())
            continue
        files = [src.path] if src.path.is_file() else [f for f in src.path.rglob("*") if f.is_file()]
        total += sum(f.stat().st_size for f in files) * (5 if src.compressed else 1) // 40
    return total


def _spill(query: pl.LazyFrame, tables: list[_Parsed], ids: pl.Series, sources: tuple[str, ...],
           same: tuple[str, ...] = SAME_EVENT) -> tuple[EventCodes, pl.DataFrame, pl.DataFrame]:
    """The events pass through files in a temporary folder, so that memory does not grow with the events: the
    pass is sunk to disk as it streams; the checks read it back SPILL_SLICE rows at a time (two slices on two
    threads); the duplicate check sorts its hashes one hash range (about SPILL_PARTITION hashes) at a time. Same
    codes, rejects and counts as in memory, at the cost of writing and reading the events a few times."""
    folder = tempfile.TemporaryDirectory(prefix="churnwhy-events-")
    tmp = Path(folder.name)
    query.sink_ipc(tmp / "read.arrow")
    read = pl.scan_ipc(tmp / "read.arrow")
    # 1. rows per file, the rejected rows, the exported event types, a slice at a time and only the columns they
    # need (a query over the whole file reads whole columns: 2.2 GB for the filter at 200M rows)
    n = int(read.select(pl.len()).collect().item())
    per_file = np.zeros(len(tables), np.int64)
    marked_parts, exported = [], []
    for a in range(0, n, SPILL_SLICE):
        part = read.slice(a, SPILL_SLICE).select(SRC, ROW, REASON, "__cidx", "event_type").collect()
        per_file += np.bincount(part[SRC].to_numpy(), minlength=len(tables))
        marked_parts.append(_marked(part))
        exported.append(part.filter(~FLAGGED)["event_type"].unique())  # as in memory: the valid rows' types
    for i, p in enumerate(tables):
        p.n_rows = int(per_file[i])
    marked = pl.concat(marked_parts) if marked_parts else _no_rows()
    names, enum = _type_names(pl.concat(exported).unique() if exported else pl.Series("event_type", [], pl.Categorical))
    # 2. the valid rows with their types named, written in parts; their hashes, by hash range, to files (two
    # slices at a time: Polars and numpy release the GIL)
    ranges = max(1, -(-n // SPILL_PARTITION))
    starts = list(range(0, n, SPILL_SLICE)) or [0]  # no rows at all: one empty part keeps the schema
    parts = [tmp / f"valid-{k:06d}.arrow" for k in range(len(starts))]

    def write(k: int) -> None:
        part = _event_types(read.slice(starts[k], SPILL_SLICE).collect().filter(~FLAGGED).drop(REASON), names, enum)
        part.write_ipc(parts[k])
        h = part.select(_key_hash(same)).to_series().to_numpy()
        which = (h >> np.uint64(40)) * ranges >> 24  # equal hashes, equal range
        for r in range(ranges):
            h[which == r].tofile(tmp / f"hashes-{r}-{k:06d}.u64")

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(write, range(len(starts))))
    (tmp / "read.arrow").unlink()
    per_range = []
    for r in range(ranges):  # one hash range (about SPILL_PARTITION hashes) in memory at a time, no concat copy
        files = sorted(tmp.glob(f"hashes-{r}-*.u64"))
        hashes = np.empty(sum(f.stat().st_size for f in files) // 8, np.uint64)
        at = 0
        for f in files:  # one slice's share of the range: small
            chunk = np.fromfile(f, np.uint64)
            hashes[at:at + chunk.size] = chunk
            at += chunk.size
            f.unlink()
        per_range.append(_repeated(hashes))
        del hashes
    repeated = np.concatenate(per_range)
    dups = _no_rows()
    if repeated.size:  # 3. the rows sharing a hash, compared exactly; the parts rewritten without the repeats
        wanted = _key_hash(same).is_in(pl.Series(repeated).implode())
        dups = _duplicates(pl.concat([pl.read_ipc(f).filter(wanted) for f in parts]), same)
        if dups.height:
            drop = dups.select(SRC, ROW)
            for f in parts:
                pl.read_ipc(f).join(drop, on=[SRC, ROW], how="anti", maintain_order="left").write_ipc(f)
    return EventCodes(tuple(parts), ids, sources, folder), marked, dups


def _type_names(exported: pl.Series) -> tuple[pl.DataFrame, pl.Enum]:
    """'Delivery Failed' / 'delivery-failed' -> 'delivery_failed', worked out once per distinct exported value
    (a Categorical series): the exported values with their names, and the Enum of the names."""
    names = exported.to_frame("event_type").select(
        pl.col("event_type"), V.event_type(pl.coalesce(V.text("event_type"), pl.lit("unknown"))).alias("__name"))
    return names, pl.Enum(sorted(set(names["__name"].to_list())))


def _event_types(frame: pl.DataFrame, names: pl.DataFrame, enum: pl.Enum) -> pl.DataFrame:
    """The event type column as its names (`_type_names`); rows are mapped by the Categorical's codes."""
    if frame.height == 0:  # no valid event (a header-only file, every row rejected): replace_strict keeps u32
        return frame.with_columns(pl.Series("event_type", [], dtype=enum))
    phys = pl.col("event_type").to_physical().fill_null(2**32 - 1)  # a missing type is 'unknown'
    codes = names.select(phys.alias("__code"), "__name")
    return frame.with_columns(phys.replace_strict(codes["__code"], codes["__name"], return_dtype=enum).alias("event_type"))


def _event_rejects(tables: list[_Parsed], marked: pl.DataFrame) -> pl.DataFrame:
    """The rejected event rows as records: column and value read back from their files for those rows only."""
    parts = [pl.DataFrame(schema=REJECT_SCHEMA)]
    for i, p in enumerate(tables):
        mine = marked.filter(pl.col(SRC) == i)
        if not mine.height:
            continue
        checks, id_missing, used, values = p.checks
        reason, column, value = _first_reason(list(checks), id_missing)
        detail = (values(p.raw.frame.filter(pl.col(ROW).is_in(mine[ROW].implode())))
                  .select(pl.col(ROW).cast(pl.UInt32), column, value, used.alias("__key")).collect())
        rows = mine.join(detail, on=ROW, how="left")
        parts.append(rows.select(
            pl.lit(p.raw.name).alias("source"), pl.col(ROW).cast(pl.Int64).alias("row"), pl.col("reason"),
            pl.when(pl.col("reason") == "duplicate_row").then(None).otherwise(pl.col(REJECT_COL)).alias("column"),
            pl.when(pl.col("reason") == "unknown_customer").then(pl.col("__key"))
            .when(pl.col("reason") == "duplicate_row").then(None).otherwise(pl.col(REJECT_VAL)).alias("value"),
        ))
    return pl.concat(parts, how="vertical_relaxed")


def _surveys(tables, customers, links) -> tuple[pl.DataFrame, pl.DataFrame]:
    df = _resolve(_stack(tables), customers, links)
    if REASON not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias(REASON), pl.lit(None, pl.String).alias(REJECT_COL),
                             pl.lit(None, pl.String).alias(REJECT_VAL))
    kept, bad = _split(df)
    for c, t in (("survey_date", pl.Datetime("us")), ("score", pl.Float64), ("reason_code", pl.String),
                 ("reason_text", pl.String), ("competitor", pl.String)):
        if c not in kept.columns:
            kept = kept.with_columns(pl.lit(None, t).alias(c))
    return kept.select("customer_id", "survey_date", "score", "reason_code", "reason_text", "competitor", "__source"), bad


def _account(parsed: dict[str, list[_Parsed]], late: list[pl.DataFrame]) -> tuple[list[FileReport], pl.DataFrame]:
    own = [_rejects_of(p) for role, ps in parsed.items() if role != "events" for p in ps]  # events' are in `late`
    rejects = pl.concat(own + late, how="vertical_relaxed")
    rejects = rejects.sort("source", "row")
    counts = rejects.group_by("source", "reason").len()
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


def _data_end(customers, events: EventCodes | EventAggregates | None, surveys) -> dt.date | None:
    ends = []
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
