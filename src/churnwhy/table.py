"""The per-customer table: one row per customer, the input of every model.

Contract (column -> dtype); models may rely on these names:

    customer_id         str      identifier, kept exactly as exported (leading zeros...)
    start_date          date     signup (or first event); null when the export has only a tenure
    end_date            date     churn date for churners, as_of for active customers; null with tenure only
    tenure_days         i64      whole days from start to end (>= 0)
    churned             bool
    churn_source        str      explicit_date | flag_tenure | cancel_event | flag_last_event | inactivity | active
                                 (flag_last_event: a churn flag without a date or tenure, dated by the customer's
                                 last activity; an assumption the churn rule states)
    <segment columns>   str      listed in CustomerTable.segments (plan, region, ...)
    attr_<name>         f64|str  customer attributes (CustomerTable.attributes: name -> "number" | "category";
                                 attribute_sources: name -> export column): every customer column that is not
                                 an outcome (churn label, score, status...), an identifier, free text or a
                                 constant. Numbers are Float64, categories text; segments are also here.
    last_score          f64      latest survey score on or before end_date (null: none)
    score_scale         str      nps | csat5 | csat10 | unknown (how last_score reads)
    reason_code         str      latest stated reason code (any time; exit surveys come after churn)
    reason_text         str      latest stated free-text reason
    competitor          str      competitor named in a survey, if any
    surveyed            bool     the customer answered at least one survey
    exposure_days       i64      days observed inside the lookback window before end_date (>= 1)
    n_<event_type>      i64      count of that event type in the window, strictly before end_date
    rate_<event_type>   f64      that count per 30 days of exposure (what models should use)
    amount_window       f64      sum of event amounts in the window (0 when no amounts)
    amount_total        f64      lifetime sum of amounts strictly before end_date (value at risk)
    days_since_last_event f64    end_date - last event before it (null: no events)
    activity_change     f64      (second half - first half) / (first half + 1) of the window's event counts; null
                                 when the window's first half starts before signup (no change can be read
                                 from days the customer was not yet a customer)

`CustomerTable.monthly` holds, for a stated random sample of customers, their event counts per type in each
30-day month of their observed life (strictly before end_date): what the drivers' counting-process model reads.

Models add: why, what, reason_source (stated | inferred | none), reason_confidence.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeAlias, cast, runtime_checkable

import numpy as np
import polars as pl

from churnwhy.config import Config
from churnwhy.errors import InputError
from churnwhy.load import Exports
from churnwhy.load.codes import EventCodes
from churnwhy.workers import worker_count

CHURN_SOURCES = ("explicit_date", "flag_tenure", "cancel_event", "flag_last_event", "inactivity", "active")
COUNT_PREFIX = "n_"
RATE_PREFIX = "rate_"
RATE_DAYS = 30


@dataclasses.dataclass(frozen=True)
class CustomerTable:
    """The customer table with what a model needs to read it."""

    frame: pl.DataFrame
    as_of: dt.date | None  # None only for tenure-and-flag exports without any date
    segments: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()  # normalised names: n_<t>, rate_<t> exist for each
    lookback_days: int = 180
    churn_rule: str = ""  # a sentence: which rule decided churn, for reports
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)  # attr_<name> -> number | category
    attribute_sources: Mapping[str, str] = dataclasses.field(default_factory=dict)  # attr_<name> -> export column
    tenure_unit: str | None = None  # the exported tenure's unit (days/weeks/months/years); None: no tenure column
    tenure_unit_reason: str = ""  # how it was decided: "column name", "values 0-10", "churnwhy.toml"
    monthly: MonthlyCounts | None = None  # event counts per month of life for a sample (None: no events)

    @property
    def features(self) -> tuple[str, ...]:
        """Behaviour features a model may use (rates, amounts, recency, trend)."""
        names = [f"{RATE_PREFIX}{t}" for t in self.event_types]
        names += [c for c in ("amount_window", "days_since_last_event", "activity_change") if c in self.frame.columns]
        return tuple(names)

    @property
    def n_customers(self) -> int:
        return self.frame.height

    @property
    def n_churned(self) -> int:
        return int(self.frame["churned"].sum())


@dataclasses.dataclass(frozen=True)
class LoadedTable:
    """Exports as loaded (with their row accounting), the customer table built from them, and the settings."""

    exports: Exports
    table: CustomerTable
    config: Config


@dataclasses.dataclass(frozen=True)
class MonthlyCounts:
    """Event counts per customer, type and 30-day month of life, for a random sample of customers.

    `customer_ids`: the sampled customers (every one of them, with or without events); `counts`: one row per
    (customer_id, month, type) with at least one event: month = (event day - start_date) // 30, type = index
    into CustomerTable.event_types, n = events. Only events strictly before the customer's end date count."""

    customer_ids: pl.Series
    counts: pl.DataFrame  # customer_id str, month i32, type i16, n i32
    n_population: int  # customers the sample was drawn from

    @property
    def sampled(self) -> bool:
        return self.customer_ids.len() < self.n_population


@runtime_checkable
class EventAggregates(Protocol):
    """Events held by another engine (churnwhy.engine.spark): the per-customer sums the table reads, computed
    where the events are. Customers are numbered as in load.exports.EventCodes (`ids`), event types are the
    codes of the Enum in `schema["event_type"]`; each method returns what the in-process function named in its
    docstring computes from EventCodes, row for row (tests/test_engine_spark.py compares them)."""

    ids: pl.Series

    @property
    def schema(self) -> pl.Schema: ...

    def lazy(self) -> pl.LazyFrame:
        """A frame whose event_time column holds at least the first and the last event (the loader's date
        range checks read its min and max)."""

    def first_days(self) -> pl.DataFrame:
        """__cidx, start_date (first event day) of the customers with events, by __cidx (_base_customers)."""

    def event_summary(self, as_of: dt.date, cancel_codes: list[int]) -> pl.DataFrame:
        """_event_summary: __cidx 0..n-1, first_event, last_event, first_cancel."""

    def type_counts(self) -> pl.DataFrame:
        """event_type (str), len: events per type."""

    def behaviour_sums(self, spans: pl.DataFrame, lookback: int, groups: list[list[int]], names: list[str]) -> pl.DataFrame:
        """_behaviour_sums."""

    def monthly_counts(self, spans: pl.DataFrame, groups: list[list[int]], pick: np.ndarray) -> pl.DataFrame:
        """_monthly_counts' counts (customer_id, month, type, n) for the customer numbers in `pick`."""


Events: TypeAlias = "EventCodes | EventAggregates"  # the loaded events: in memory (or spilled), or held by another engine


# --- building the table --------------------------------------------------------------------------------------

DAYS_PER = {"days": 1.0, "weeks": 7.0, "months": 30.4375, "years": 365.25}
MAX_EVENT_TYPES = 30  # rarer types are summed into `other_events` so the table stays narrow
CIDX = "__cidx"  # a customer's number in the loaded event codes
MONTHLY_CUSTOMERS = 20_000  # customers whose month-by-month counts are kept (all when fewer)
MONTH_DAYS = 30
BEHAVIOUR_CHUNK = 1_000_000  # event rows per slice in _behaviour_sums (bounds its temporary arrays)
_TIME_PER_DAY = {"ns": 86_400_000_000_000, "us": 86_400_000_000, "ms": 86_400_000}


def build_customer_table(exports: Exports, config: Config | None = None) -> CustomerTable:
    """One row per customer from loaded exports: tenure, churn (and how it was decided), surveys, behaviour.

    Churn is decided in this order: an explicit churn date; a churn flag or status (with a tenure when there
    are no dates); a cancellation-like event; inactivity (last event at least `inactivity_days` before as_of,
    churn date = last event). Behaviour features use only events strictly before each customer's end date.
    """
    config = config or Config()
    as_of = config.as_of or exports.data_end
    if as_of is None and not _tenure_only(exports):
        raise InputError("no dates anywhere in the exports, so there is no analysis date",
                         hint="pass --as-of YYYY-MM-DD, or add signup / event dates")
    events = exports.event_codes
    cancel_re = f"(?i){config.cancel_event_pattern}"
    base = _base_customers(exports, events)
    summary = _event_summary(events, as_of, cancel_re) if events is not None and as_of is not None else None
    if summary is not None:
        base = base.join(summary, on=CIDX, how="left", maintain_order="left")
    else:
        base = base.with_columns(pl.lit(None, pl.Date).alias(c) for c in ("first_event", "last_event", "first_cancel"))
    tenure_days_col, unit, unit_reason = _tenure_days(base, exports, config)
    decided = _decide_churn(base.with_columns(tenure_days_col.alias("__tenure_in")), as_of, config)
    frame = decided.lazy()
    frame = _with_surveys(frame, exports, as_of)
    types: tuple[str, ...] = ()
    monthly: MonthlyCounts | None = None
    if events is not None:
        frame, types, monthly = _with_behaviour(frame, events, config.lookback_days, cancel_re)
    else:
        frame = frame.with_columns(
            pl.lit(config.lookback_days, pl.Int64).alias("exposure_days"),
            pl.lit(0.0).alias("amount_window"), pl.lit(0.0).alias("amount_total"),
            pl.lit(None, pl.Float64).alias("days_since_last_event"), pl.lit(None, pl.Float64).alias("activity_change"),
        )
    segments = tuple(exports.segments)
    attributes = dict(getattr(exports, "attributes", {}) or {})
    ordered = ["customer_id", "start_date", "end_date", "tenure_days", "churned", "churn_source", *segments, *attributes,
               "last_score", "score_scale", "reason_code", "reason_text", "competitor", "surveyed", "exposure_days",
               *[f"{COUNT_PREFIX}{t}" for t in types], *[f"{RATE_PREFIX}{t}" for t in types],
               "amount_window", "amount_total", "days_since_last_event", "activity_change"]
    # Rows keep the customers file's order through every join; sort by id only when that order is not already
    # sorted (exports usually are): the sort copies the whole table, 300+ MB at a million customers.
    ordered_frame = frame.select(ordered)
    df = (ordered_frame if decided["customer_id"].is_sorted() else ordered_frame.sort("customer_id")).collect()
    return CustomerTable(df, as_of, segments, types, config.lookback_days, _churn_rule(df, config, as_of),
                         attributes, dict(getattr(exports, "attribute_sources", {}) or {}), unit, unit_reason,
                         monthly=monthly)


def _tenure_only(exports: Exports) -> bool:
    """A CRM export with a churn flag and a tenure per customer (no dates) needs no analysis date."""
    c = exports.customers
    # Customers without a tenure value stay in the counts and are left out of survival (with a note there).
    return (c is not None and exports.event_codes is None and "tenure" in c.columns
            and c["tenure"].drop_nulls().len() > 0 and ("churned" in c.columns or "status" in c.columns))


def _base_customers(exports: Exports, events: Events | None) -> pl.DataFrame:
    if exports.customers is not None:
        c = exports.customers
        cols = [pl.col("customer_id")]
        cols.append(pl.col("signup_date").dt.date().alias("start_date") if "signup_date" in c.columns
                    else pl.lit(None, pl.Date).alias("start_date"))
        cols.append(pl.col("churn_date").dt.date().alias("churn_date") if "churn_date" in c.columns
                    else pl.lit(None, pl.Date).alias("churn_date"))
        flag = pl.lit(None, pl.Boolean)
        if "churned" in c.columns:
            flag = pl.col("churned")
        if "status" in c.columns:
            from churnwhy.load.values import flag as parse_flag

            flag = pl.coalesce(flag, parse_flag("status"))
        cols.append(flag.alias("churn_flag"))
        cols.append(pl.col("tenure") if "tenure" in c.columns else pl.lit(None, pl.Float64).alias("tenure"))
        extra = [s for s in exports.segments] + [a for a in getattr(exports, "attributes", {}) or {}] + [
            k for k in ("score", "reason_code", "reason_text", "competitor") if k in c.columns]
        # event codes number customers by their row here (EventCodes.ids is this customer_id column)
        cols.append(pl.int_range(pl.len(), dtype=pl.UInt32).alias(CIDX))
        return c.select(cols + [pl.col(e).alias(f"__cust_{e}") if e in ("score", "reason_code", "reason_text", "competitor") else pl.col(e) for e in extra])
    assert events is not None  # without a customers file the loader only returns exports that have events
    first = (events.first_days() if isinstance(events, EventAggregates) else
             events.lazy().group_by(CIDX).agg(pl.col("event_time").min().dt.date().alias("start_date"))
             .collect(engine="streaming").sort(CIDX))
    return first.with_columns(
        events.ids.gather(first[CIDX]).alias("customer_id"),
        pl.lit(None, pl.Date).alias("churn_date"), pl.lit(None, pl.Boolean).alias("churn_flag"),
        pl.lit(None, pl.Float64).alias("tenure"),
    )


def _type_names(events: Events) -> pl.Series:
    """The event type names, in the order of their physical codes (the Enum's categories)."""
    return cast(pl.Enum, events.schema["event_type"]).categories


def _type_codes(events: Events, pattern: str, *, cancel: bool) -> list[int]:
    """Physical codes of the event types that match (or not) the cancellation pattern: the regex runs on the
    handful of type names, and rows are compared as small integers (string tests per row were the hot spot)."""
    names = pl.Series(_type_names(events))
    hit = names.str.contains(pattern)
    return [i for i, h in enumerate(hit.to_list()) if h == cancel]


def _event_summary(events: Events, as_of: dt.date, cancel_re: str) -> pl.DataFrame:
    """Per customer number: first event, last non-cancellation event and first cancellation, up to as_of."""
    if isinstance(events, EventAggregates):
        return events.event_summary(as_of, _type_codes(events, cancel_re, cancel=True))
    n, lo, hi = events.ids.len(), np.iinfo(np.int32).min, np.iinfo(np.int32).max
    cancel = np.zeros(len(_type_names(events)), dtype=bool)
    cancel[_type_codes(events, cancel_re, cancel=True)] = True
    cutoff = (as_of - dt.date(1970, 1, 1)).days

    def add(acc: list[np.ndarray], ev: pl.DataFrame) -> None:
        day, cidx = event_days(ev), ev[CIDX].to_numpy()
        seen = day <= cutoff
        is_cancel = cancel[ev["event_type"].to_physical().to_numpy()]
        np.minimum.at(acc[0], cidx[seen], day[seen])
        keep = seen & ~is_cancel
        np.maximum.at(acc[1], cidx[keep], day[keep])
        keep = seen & is_cancel
        np.minimum.at(acc[2], cidx[keep], day[keep])

    first, last, first_cancel = _reduce_slices(
        events, lambda: [np.full(n, hi, np.int32), np.full(n, lo, np.int32), np.full(n, hi, np.int32)],
        add, (np.minimum, np.maximum, np.minimum))
    return pl.DataFrame({CIDX: np.arange(n, dtype=np.uint32)}).with_columns(
        pl.Series("first_event", first).replace(hi, None).cast(pl.Date),
        pl.Series("last_event", last).replace(lo, None).cast(pl.Date),
        pl.Series("first_cancel", first_cancel).replace(hi, None).cast(pl.Date),
    )


def _tenure_days(base: pl.DataFrame, exports: Exports, config: Config) -> tuple[pl.Expr, str | None, str]:
    """The exported tenure in days, its unit and how the unit was decided: `tenure_unit` in churnwhy.toml, else
    the column's name (days, weeks, months, years), else its values (whole years run 0-10, months up to 120,
    anything longer is days)."""
    values = base["tenure"].drop_nulls()
    if values.len() == 0:
        return pl.lit(None, pl.Float64), None, ""
    source = next((f.mapping["tenure"] for f in exports.files if "tenure" in f.mapping), "tenure")
    unit, reason = tenure_unit(source, values, config.tenure_unit)
    return (pl.col("tenure") * DAYS_PER[unit]).round(0), unit, reason


def tenure_unit(source: str, values: pl.Series, configured: str = "auto") -> tuple[str, str]:
    """(unit, why) for an exported tenure column named `source` holding `values`."""
    if configured != "auto":
        return configured, "set in churnwhy.toml"
    name = source.lower()
    for unit in ("day", "week", "month", "year"):
        if unit in name or (unit == "month" and "mths" in name) or (unit == "year" and "yrs" in name):
            return f"{unit}s", f"from the column name {source!r}"
    hi = float(cast(float, values.max()))  # a numeric column without nulls
    span = f"values {float(cast(float, values.min())):g} to {hi:g}"
    if hi <= 10:
        return "years", f"from its {span}"
    if hi <= 120:
        return "months", f"from its {span}"
    return "days", f"from its {span}"


def _decide_churn(base: pl.DataFrame, as_of: dt.date | None, config: Config) -> pl.DataFrame:
    start, churn_date, flag = pl.col("start_date"), pl.col("churn_date"), pl.col("churn_flag")
    as_of_lit = pl.lit(as_of, pl.Date)
    has_date = churn_date.is_not_null() & (churn_date <= as_of_lit)
    has_cancel = pl.col("first_cancel").is_not_null() & (start.is_null() | (pl.col("first_cancel") >= start))
    inactive = (
        pl.lit(config.inactivity_days > 0) & pl.col("last_event").is_not_null()
        & ((as_of_lit - pl.col("last_event")).dt.total_days() >= config.inactivity_days)
    )
    source = (
        pl.when(has_date).then(pl.lit("explicit_date"))
        .when(flag == True).then(  # noqa: E712 (polars expression)
            pl.when(pl.col("__tenure_in").is_not_null()).then(pl.lit("flag_tenure"))
            .when(has_cancel).then(pl.lit("cancel_event"))
            .when(pl.col("last_event").is_not_null()).then(pl.lit("flag_last_event"))
            .otherwise(pl.lit("flag_tenure")))
        .when(flag == False).then(pl.lit("active"))  # noqa: E712
        .when(has_cancel).then(pl.lit("cancel_event"))
        .when(inactive).then(pl.lit("inactivity"))
        .otherwise(pl.lit("active"))
    )
    df = base.with_columns(source.alias("churn_source"))
    src = pl.col("churn_source")
    end = (
        pl.when(src == "explicit_date").then(churn_date)
        .when(src == "cancel_event").then(pl.col("first_cancel"))
        .when(src.is_in(["inactivity", "flag_last_event"])).then(pl.col("last_event"))
        .when((src == "flag_tenure") & start.is_not_null() & pl.col("__tenure_in").is_not_null())
        .then(start + pl.duration(days=pl.col("__tenure_in").cast(pl.Int64)))
        .when(src == "active").then(pl.when(start.is_not_null() | pl.col("__tenure_in").is_null()).then(as_of_lit))
    )
    df = df.with_columns(end.alias("end_date"), (src != "active").alias("churned"))
    tenure = pl.coalesce((pl.col("end_date") - start).dt.total_days(), pl.col("__tenure_in").cast(pl.Int64))
    df = df.with_columns(tenure.cast(pl.Int64).alias("tenure_days"))
    # Not yet a customer on as_of (a back-dated --as-of): left out, like the future.
    return df.filter(start.is_null() | (start <= as_of_lit))


def _with_surveys(frame: pl.LazyFrame, exports: Exports, as_of: dt.date | None) -> pl.LazyFrame:
    names = frame.collect_schema().names()
    cust = {k: pl.col(f"__cust_{k}") if f"__cust_{k}" in names else pl.lit(None, t)
            for k, t in (("score", pl.Float64), ("reason_code", pl.String), ("reason_text", pl.String), ("competitor", pl.String))}
    s = exports.surveys
    if s is None:
        out = frame.with_columns(
            cust["score"].alias("last_score"), cust["reason_code"].alias("reason_code"),
            cust["reason_text"].alias("reason_text"), cust["competitor"].alias("competitor"),
            pl.lit(False).alias("surveyed"),
        )
        scale = _score_scale(exports.customers["score"] if exports.customers is not None and "score" in exports.customers.columns else None)
        return out.with_columns(pl.lit(scale).alias("score_scale"))
    # Surveys find their customer's number once (one join on the text id); the group-by and the join back
    # then run on integers (0.6 s -> 0.25 s at a million customers). Same-day surveys keep their file order.
    ends = frame.select("customer_id", CIDX, "end_date")
    ordered = (s.lazy().join(ends, on="customer_id", how="inner", maintain_order="left")
               .sort("survey_date", nulls_last=False, maintain_order=True))
    before_end = pl.col("survey_date").is_null() | (pl.col("survey_date").dt.date() <= pl.col("end_date"))
    agg = ordered.group_by(CIDX).agg(
        pl.col("score").filter(before_end & pl.col("score").is_not_null()).last().alias("__s_score"),
        pl.col("reason_code").drop_nulls().last().alias("__s_code"),
        pl.col("reason_text").drop_nulls().last().alias("__s_text"),
        pl.col("competitor").drop_nulls().last().alias("__s_comp"),
        pl.len().alias("__s_n"),
    )
    out = frame.join(agg, on=CIDX, how="left", maintain_order="left").with_columns(
        pl.coalesce("__s_score", cust["score"]).alias("last_score"),
        pl.coalesce("__s_code", cust["reason_code"]).alias("reason_code"),
        pl.coalesce("__s_text", cust["reason_text"]).alias("reason_text"),
        pl.coalesce("__s_comp", cust["competitor"]).alias("competitor"),
        pl.col("__s_n").is_not_null().alias("surveyed"),
    )
    return out.with_columns(pl.lit(_score_scale(s["score"])).alias("score_scale"))


def _score_scale(scores: pl.Series | None) -> str:
    if scores is None or scores.drop_nulls().len() == 0:
        return "unknown"
    lo, hi = cast(float, scores.min()), cast(float, scores.max())  # numbers, at least one
    if lo >= 1 and hi <= 5:
        return "csat5"
    if lo >= 0 and hi <= 10:
        return "nps"
    return "unknown"


def _with_behaviour(frame: pl.LazyFrame, events: Events, lookback: int, cancel_re: str,
                    ) -> tuple[pl.LazyFrame, tuple[str, ...], MonthlyCounts]:
    """Counts, rates, amounts, recency and trend from events strictly before each customer's end date.

    Each event finds its customer's dates by position (customers are numbered 0..n-1 in the event codes);
    the sums are dense per-customer arrays (_behaviour_sums)."""
    cats = _type_names(events).to_list()
    counts = (events.type_counts() if isinstance(events, EventAggregates) else
              events.lazy().group_by("event_type").len().collect(engine="streaming")
              .with_columns(pl.col("event_type").cast(pl.String)))
    counts = counts.sort(["len", "event_type"], descending=[True, False])
    not_cancel = set(_type_codes(events, cancel_re, cancel=False))
    kept = [t for t in counts["event_type"].to_list() if cats.index(t) in not_cancel]
    types = sorted(kept[:MAX_EVENT_TYPES]) + (["other_events"] if len(kept) > MAX_EVENT_TYPES else [])
    spans = frame.select(CIDX, "start_date", "end_date").collect()
    groups = ([[cats.index(t)] for t in types if t != "other_events"]
              + ([[cats.index(t) for t in kept[MAX_EVENT_TYPES:]]] if len(kept) > MAX_EVENT_TYPES else []))
    names = [f"{COUNT_PREFIX}{t}" for t in types]
    agg = (events.behaviour_sums(spans, lookback, groups, names) if isinstance(events, EventAggregates)
           else _behaviour_sums(events, spans, lookback, groups, names))
    monthly = _monthly_counts(events, spans, groups)
    # The window's first half lies before signup: there is no "before" to compare with (it is not zero change).
    half_before_signup = pl.col("start_date").is_not_null() & (
        pl.col("start_date") > pl.col("end_date") - pl.duration(days=lookback))
    exposure = (pl.col("end_date") - pl.max_horizontal(pl.col("start_date"), pl.col("end_date") - pl.duration(days=lookback)))
    out = (
        frame.join(agg.lazy(), on=CIDX, how="left", maintain_order="left")
        .with_columns(
            pl.max_horizontal(pl.coalesce(exposure.dt.total_days(), pl.lit(lookback)), pl.lit(1)).cast(pl.Int64).alias("exposure_days"),
            *[pl.col(f"{COUNT_PREFIX}{t}").fill_null(0).cast(pl.Int64) for t in types],
            pl.col("amount_window").fill_null(0.0), pl.col("amount_total").fill_null(0.0),
            (pl.col("end_date") - pl.col("__last_before_end")).dt.total_days().cast(pl.Float64).alias("days_since_last_event"),
            pl.when(half_before_signup).then(None).otherwise(
                (pl.col("__second_half").fill_null(0) - pl.col("__first_half").fill_null(0))
                / (pl.col("__first_half").fill_null(0) + 1)).cast(pl.Float64).alias("activity_change"),
        )
        .with_columns(
            [(pl.col(f"{COUNT_PREFIX}{t}") / pl.col("exposure_days") * RATE_DAYS).alias(f"{RATE_PREFIX}{t}") for t in types]
        )
    )
    return out, tuple(types), monthly


def _dense_spans(spans: pl.DataFrame, n: int, missing: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end day (days since 1970, int32) of customer numbers 0..n-1; `missing` where unknown."""
    dense = (pl.DataFrame({CIDX: pl.arange(0, n, dtype=pl.UInt32, eager=True)})
             .join(spans, on=CIDX, how="left", maintain_order="left"))
    start = dense["start_date"].to_physical().fill_null(missing).to_numpy().astype(np.int32)
    end = dense["end_date"].to_physical().fill_null(missing).to_numpy().astype(np.int32)
    return start, end


def _monthly_counts(events: Events, spans: pl.DataFrame, groups: list[list[int]]) -> MonthlyCounts:
    """Counts per (sampled customer, month of life, type) from the events strictly before each end date.

    The sample (MONTHLY_CUSTOMERS, drawn with a fixed seed over customer numbers, so the same input gives the
    same sample) bounds the work: the drivers fit their counting-process model on it. Vectorised per slice."""
    n = events.ids.len()
    lo = np.iinfo(np.int32).min
    start, end = _dense_spans(spans, n, lo)
    eligible = np.flatnonzero((start != lo) & (end != lo))
    pick = eligible if eligible.size <= MONTHLY_CUSTOMERS else np.sort(
        np.random.default_rng(0).choice(eligible, MONTHLY_CUSTOMERS, replace=False))
    ids = events.ids.gather(pl.Series(pick.astype(np.uint32)))
    counts = (events.monthly_counts(spans, groups, pick) if isinstance(events, EventAggregates)
              else _monthly_sums(events, groups, pick, start, end))
    return MonthlyCounts(ids.alias("customer_id"), counts, int(eligible.size))


def _monthly_sums(events: EventCodes, groups: list[list[int]], pick: np.ndarray, start: np.ndarray, end: np.ndarray) -> pl.DataFrame:
    """_monthly_counts' counts, from the event codes in memory, a slice at a time."""
    n = events.ids.len()
    ncodes = len(_type_names(events))
    chosen = np.zeros(n, dtype=bool)
    chosen[pick] = True
    type_of = np.full(ncodes, -1, dtype=np.int16)  # physical event code -> index of its type (-1: not a feature)
    for i, group in enumerate(groups):
        type_of[group] = i
    parts: list[pl.DataFrame] = []
    for a in range(0, events.height, BEHAVIOUR_CHUNK):
        ev = events.slice(a, min(BEHAVIOUR_CHUNK, events.height - a))
        cidx = ev[CIDX].to_numpy()
        day = event_days(ev)
        kind = type_of[ev["event_type"].to_physical().to_numpy()]
        keep = np.flatnonzero(chosen[cidx] & (kind >= 0) & (day < end[cidx]) & (day >= start[cidx]))
        if keep.size:
            c = cidx[keep]
            parts.append(pl.DataFrame({CIDX: c, "month": ((day[keep] - start[c]) // MONTH_DAYS).astype(np.int32),
                                       "type": kind[keep]}))
    if not parts:
        return pl.DataFrame(schema=MONTHLY_SCHEMA)
    return monthly_by_id(pl.concat(parts).group_by(CIDX, "month", "type").agg(pl.len().cast(pl.Int32).alias("n")), events.ids)


MONTHLY_SCHEMA = {"customer_id": pl.String, "month": pl.Int32, "type": pl.Int16, "n": pl.Int32}


def monthly_by_id(counts: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """__cidx, month, type, n -> MonthlyCounts.counts: sorted by customer number, month, type; ids as text."""
    counts = counts.sort(CIDX, "month", "type")
    return counts.select(ids.gather(counts[CIDX]).alias("customer_id"), pl.col("month").cast(pl.Int32),
                         pl.col("type").cast(pl.Int16), pl.col("n").cast(pl.Int32))


def _behaviour_sums(events: EventCodes, spans: pl.DataFrame, lookback: int, groups: list[list[int]],
                    names: list[str]) -> pl.DataFrame:
    """Per-customer sums over the events strictly before each customer's end date (and within the lookback
    window), one row per customer number 0..n-1.

    Customers are numbered by position in the event codes, so each sum is a `ufunc.at` into a dense array
    indexed by that number (_reduce_slices): no hash group-by over a million groups in random order, which was
    the table's hot spot (7 s at 50M events). Money is summed in whole cents, exactly, so the same input gives
    the same table on every run whatever the slicing."""
    n = events.ids.len()
    ncodes = len(_type_names(events))
    lo = np.iinfo(np.int32).min
    start, end = _dense_spans(spans, n, lo)  # no end date: no event before it

    # Counts by (customer, type, half of the window): the halves are their sums over types, so one `ufunc.at`
    # fills both (a customer's counters share cache lines). Row n is a spare slot for events outside every
    # customer's span (cheaper than dropping them).
    by_code, window_cents, total_cents, last = _reduce_slices(
        events, lambda: [np.zeros((n + 1, ncodes, 2), np.int32), np.zeros(n + 1), np.zeros(n + 1), np.full(n + 1, lo, np.int32)],
        lambda acc, part: _add_slice(acc, part, start, end, lookback),
        (np.add, np.add, np.add, np.maximum))
    by_code = by_code[:n]
    counts = by_code[:, :, 0] + by_code[:, :, 1]  # elementwise: reducing the short last axis is 10x slower
    cols: dict[str, object] = {CIDX: np.arange(n, dtype=np.uint32)}
    for name, group in zip(names, groups, strict=True):
        cols[name] = counts[:, group[0]].astype(np.int64) if len(group) == 1 else counts[:, group].sum(axis=1, dtype=np.int64)
    halves = by_code.sum(axis=1, dtype=np.int64)
    cols["amount_window"] = window_cents[:n] / 100
    cols["__first_half"] = halves[:, 0]
    cols["__second_half"] = halves[:, 1]
    cols["amount_total"] = total_cents[:n] / 100
    return pl.DataFrame(cols).with_columns(pl.Series("__last_before_end", last[:n]).replace(lo, None).cast(pl.Date))


def _reduce_slices(events: EventCodes, init: Callable[[], list[np.ndarray]],
                   add: Callable[[list[np.ndarray], pl.DataFrame], None], combine: Sequence[np.ufunc]) -> list[np.ndarray]:
    """Per-customer reductions over the event codes, BEHAVIOUR_CHUNK rows at a time, on worker_count() threads.

    `init()` makes one thread's accumulators, `add(acc, slice)` folds a slice into them, `combine` holds the
    ufunc that merges the threads' results, one per accumulator. Slices bound the temporary arrays (and,
    for events spilled to disk, what is read at a time); numpy releases the GIL, so every thread keeps a core busy; every
    reduction used is exact and order-free (integer sums, min, max), so the result does not depend on the
    slicing."""
    slices = [(i, min(i + BEHAVIOUR_CHUNK, events.height)) for i in range(0, events.height, BEHAVIOUR_CHUNK)]

    def run(mine: list[tuple[int, int]]) -> list[np.ndarray]:
        acc = init()
        for a, b in mine:
            add(acc, events.slice(a, b - a))
        return acc

    k = min(worker_count(), max(1, len(slices)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=k) as pool:
        first, *rest = pool.map(run, [slices[i::k] for i in range(k)])
    for other in rest:  # in place into the first thread's accumulators: no extra copy
        first = [f(x, y, out=x) for f, x, y in zip(combine, first, other, strict=True)]
    return first


def event_days(ev: pl.DataFrame) -> np.ndarray:
    """Event dates as days since 1970 (int32), floored like dt.date."""
    dtype = cast(pl.Datetime, ev.schema["event_time"])
    if dtype.time_zone is None:
        days: np.ndarray = (ev["event_time"].to_physical().to_numpy() // _TIME_PER_DAY[dtype.time_unit]).astype(np.int32)
        return days
    return ev["event_time"].dt.date().to_physical().to_numpy()


def event_cents(ev: pl.DataFrame) -> np.ndarray:
    """Event amounts in whole cents (float64 holding integers; no amount: 0): sums of them are exact."""
    amount = ev["amount"].cast(pl.Float64).to_numpy()
    cents: np.ndarray = np.rint(np.where(np.isnan(amount), 0.0, amount) * 100)
    return cents


def _add_slice(acc: list[np.ndarray], ev: pl.DataFrame, start: np.ndarray, end: np.ndarray, lookback: int) -> None:
    """Fold one slice of the event codes into (counts by customer, code and half, window cents, cents, last day).

    Unbuffered `ufunc.at` adds straight into the accumulators: no per-slice array the size of the customers.
    Nearly every event falls inside its customer's span, so those outside go to the spare row n rather than
    being filtered out (three copies of the slice); about a third fall in the lookback window, so those are
    picked by index."""
    by_code, window_cents, total_cents, last = acc
    n = last.size - 1
    cidx = ev[CIDX].to_numpy()
    day = event_days(ev)
    e = end[cidx]
    before = (day < e) & (day >= start[cidx])
    slot = np.where(before, cidx, n)
    np.maximum.at(last, slot, day)
    cents = event_cents(ev)
    np.add.at(total_cents, slot, cents)
    win_start = e - lookback
    w = np.flatnonzero(before & (day >= win_start))
    cw = cidx[w].astype(np.int64)
    late = day[w] >= win_start[w] + lookback // 2
    code = ev["event_type"].to_physical().to_numpy()[w]
    np.add.at(by_code.reshape(-1), (cw * by_code.shape[1] + code) * 2 + late, 1)
    np.add.at(window_cents, cw, cents[w])


def _churn_rule(df: pl.DataFrame, config: Config, as_of: dt.date | None) -> str:
    counts = dict(df.filter(pl.col("churned"))["churn_source"].value_counts().iter_rows())
    words = {
        "explicit_date": "explicit churn dates", "flag_tenure": "churn flags (or status)",
        "cancel_event": "cancellation events", "inactivity": f"inactivity (no event for {config.inactivity_days}+ days before {as_of})",
        "flag_last_event": "churn flags without a churn date (assumed: the churn date is the customer's last activity)",
    }
    parts = [f"{words[k]}: {counts[k]}" for k in CHURN_SOURCES if k in counts]
    return "churn from " + "; ".join(parts) if parts else "no churn found"
