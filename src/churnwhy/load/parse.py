"""One export table parsed: canonical columns typed, each row's first reject reason (column, value) beside it."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
from typing import Any

import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from churnwhy.config import Config
from churnwhy.errors import InputError
from churnwhy.load import values as V
from churnwhy.load.columns import LINK_KEYS, TableMapping, guess_role, map_columns
from churnwhy.load.dates import DateSpec, detect, fixed_width, implausible, parse_expr, without_open_end
from churnwhy.load.loaded import REJECT_REASONS
from churnwhy.load.read import READ_REASONS, READ_REJECT, READ_VALUE, ROW, RawTable, short_error

REASON = "__reject"
REJECT_COL = "__reject_col"
REJECT_VAL = "__reject_val"
# A reject check: (is_bad, reason, column, raw value); the first that holds names a row's reject.
Check = tuple[pl.Expr, str, str | None, pl.Expr | None]
XHASH = "__xhash"  # a hash of an event row's other exported columns (when it has any)


@dataclasses.dataclass
class Parsed:
    raw: RawTable
    mapping: TableMapping
    # canonical columns + __row + reject columns; events: a LazyFrame of canonical columns + __row + __reject
    # (reject columns and values are looked up afterwards for the few rejected rows, see event_rejects)
    frame: pl.DataFrame | pl.LazyFrame
    date_formats: dict[str, str]
    notes: list[str]
    segment_sources: dict[str, str]  # source column -> segment name (customers tables)
    checks: tuple[Any, ...] = ()  # events: (is_bad, reason, column, raw value), the id check, the key used, and the
    # step computing what they read, for event_rejects
    n_rows: int | None = None  # rows in the file, counted by the pass that reads them (events: in read_events)

    @property
    def rows(self) -> pl.DataFrame:
        """A customers or surveys table's parsed rows (read when parsed)."""
        assert isinstance(self.frame, pl.DataFrame), self.raw.name
        return self.frame

    @property
    def plan(self) -> pl.LazyFrame:
        """An events table's rows, not read yet: one streaming pass reads every events file (events.read_events)."""
        return self.frame.lazy()


# --- mapping -------------------------------------------------------------------------------------------------


def _names(name: str, pattern: str) -> bool:
    """A churnwhy.toml key names this file: exactly (as `init` writes it, brackets and all) or as a glob."""
    base = name.rsplit("/", 1)[-1]
    return pattern in (name, base) or fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(base, pattern)


def mapping_for(raw: RawTable, config: Config) -> TableMapping | None:
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


def parse_table(raw: RawTable, mapping: TableMapping, config: Config) -> Parsed:
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


def _parse(raw: RawTable, mapping: TableMapping, config: Config) -> Parsed:
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
    checks: list[Check] = []
    if READ_REJECT in schema:  # rows the reader could not read (first_reason puts these first)
        unread = inputs.text(READ_REJECT)
        checks += [(unread == why, why, None, inputs.text(READ_VALUE)) for why in READ_REASONS]
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
        assert sample is not None  # every date column is in the sample
        seen = sample[src].drop_nulls()
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
            # Categorical here, names normalised once per distinct value after loading (named_types): text
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
        reason = first_reason(checks, id_missing)[0].cast(pl.Enum(list(REJECT_REASONS)))
        lazy = values(raw.frame).with_columns(reason).drop(inputs.helpers)
        used = pl.coalesce([pl.col(n) for n in key_names]) if key_names else pl.lit(None, pl.String)
        return Parsed(raw, mapping, lazy, dates, notes, {}, (tuple(checks), id_missing, used, values))
    query = values(raw.frame).with_columns(first_reason(checks, id_missing)).drop(inputs.helpers)
    if "churn_date" in specs:
        query = query.with_columns(without_open_end("churn_date"))
    df = query.collect()
    if mapping.role == "customers":
        df = _dedupe_customers(df)
    return Parsed(raw, mapping, df, dates, notes, segment_sources, n_rows=df.height)


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


def first_reason(checks: list[Check], id_missing: pl.Expr) -> list[pl.Expr]:
    """The first failing check names the row's reject reason, column and offending value; rows the reader
    could not read come first (their other columns are empty or cut)."""
    first = [c for c in checks if c[1] in READ_REASONS]
    ordered = [*first, (id_missing, "missing_id", None, None), *[c for c in checks if c[1] not in READ_REASONS]]
    bad, why, col, val = ordered[0]
    reason: Then | ChainedThen = pl.when(bad).then(pl.lit(why))
    column: Then | ChainedThen = pl.when(bad).then(pl.lit(col, pl.String))
    value: Then | ChainedThen = pl.when(bad).then(val if val is not None else pl.lit(None, pl.String))
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
