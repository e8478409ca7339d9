"""Decide each date column's format from its values, then parse the whole column with that format.

Formats are decided per column and file: one office may export DD/MM/YYYY and another MM/DD/YYYY. A column
whose values fit both (every day and month <= 12) is an error that names the `[dates]` setting, never a guess.
Results are naive UTC datetimes: values with an offset are converted to UTC first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import TypeVar, cast

import polars as pl

from churnwhy.errors import DateFormatError

ISO = (
    "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S",
    "%Y%m%d",
)
DMY = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S",
       "%d-%m-%Y", "%d-%m-%Y %H:%M:%S", "%d/%m/%y")
MDY = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p",
       "%m-%d-%Y", "%m/%d/%y")
NAMED = ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d-%b-%y", "%a, %d %b %Y %H:%M:%S %z")
SAMPLE = 5000
EXCEL_EPOCH = pl.datetime(1899, 12, 30)
# Dates outside these years are typos or placeholders, not events (a 9999 signup overflows every duration);
# an end date from OPEN_END on is the "no end yet" placeholder of many systems (9999-12-31): no churn.
EARLIEST, LATEST, OPEN_END = dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1), dt.datetime(9000, 1, 1)


def implausible(parsed: pl.Expr, *, open_end: bool = False) -> pl.Expr:
    """True where a parsed date lies outside EARLIEST..LATEST (an end date from OPEN_END on is allowed)."""
    out = ~parsed.is_between(pl.lit(EARLIEST), pl.lit(LATEST), closed="left")
    if open_end:
        out = out & (parsed < pl.lit(OPEN_END))
    return out.fill_null(False)


def without_open_end(column: str) -> pl.Expr:
    """An end date column with the OPEN_END placeholders as null (no end)."""
    return pl.when(pl.col(column) < pl.lit(OPEN_END)).then(pl.col(column)).alias(column)


@dataclasses.dataclass(frozen=True)
class DateSpec:
    """How one column is parsed: string formats (tried in order) or a numeric kind."""

    kind: str  # "native" | "formats" | "excel_serial" | "epoch_s" | "epoch_ms" | "empty"
    formats: tuple[str, ...] = ()

    def describe(self) -> str:
        return " or ".join(self.formats) if self.kind == "formats" else self.kind.replace("_", " ")


def detect(values: pl.Series, *, column: str, table: str, configured: str | None = None) -> DateSpec:
    """The format of a column from a sample of its values."""
    if values.dtype in (pl.Date,) or isinstance(values.dtype, pl.Datetime):
        return DateSpec("native")
    if values.dtype.is_numeric():
        return _numeric_kind(values.drop_nulls().cast(pl.Float64), column=column, table=table)
    sample = values.cast(pl.String).drop_nulls().str.strip_chars()
    sample = sample.filter(sample != "").unique(maintain_order=True).head(SAMPLE)
    if configured:
        return DateSpec("formats", (configured,))
    if sample.len() == 0:
        return DateSpec("empty")
    numeric = sample.str.contains(r"^\d+(\.\d+)?$")
    # Mostly numbers: serials or epochs; the few values that are not are rejected rows, not a lost file.
    if _share(numeric) >= MOSTLY and not sample.str.contains(r"^\d{8}$").all():
        return _numeric_kind(sample.filter(numeric).cast(pl.Float64), column=column, table=table)
    prepared = _prepare(sample)
    hits = {fmt: _parses(prepared, fmt) for fmt in (*ISO, *DMY, *MDY, *NAMED)}
    n = sample.len()
    dmy = max(DMY, key=lambda f: hits[f].sum())
    mdy = max(MDY, key=lambda f: hits[f].sum())
    dmy_all, mdy_all = _union(hits, DMY), _union(hits, MDY)
    drop: tuple[str, ...] = ()
    if dmy_all.any() and mdy_all.any():
        if dmy_all.sum() == mdy_all.sum() and (dmy_all == mdy_all).all():
            example = sample.filter(dmy_all).head(1).item()
            raise DateFormatError(
                f"{table}: column {column!r} has dates like {example!r} that read as both DD/MM/YYYY and MM/DD/YYYY",
                hint=f'set the format in churnwhy.toml:  [dates.columns]  "{column}" = "{dmy}"   (or "{mdy}")',
            )
        drop = MDY if dmy_all.sum() >= mdy_all.sum() else DMY
    chosen: list[str] = []
    covered = pl.Series([False] * n)
    for fmt in sorted((f for f in hits if f not in drop), key=lambda f: -int(hits[f].sum())):
        new = hits[fmt] & ~covered
        if new.any():
            chosen.append(fmt)
            covered = covered | hits[fmt]
    if not chosen:
        raise DateFormatError(
            f"{table}: column {column!r} does not hold dates churnwhy can read (e.g. {sample.head(1).item()!r})",
            hint=f'set its format in churnwhy.toml:  [dates.columns]  "{column}" = "%d/%m/%Y"   (strftime codes)',
        )
    return DateSpec("formats", tuple(chosen))


# Numbers that read as dates, by kind: the range of values each kind takes (about 1902-2173 for serials).
NUMERIC_KINDS = {"excel_serial": (1_000, 100_000), "epoch_s": (1e8, 1e10), "epoch_ms": (1e11, 1e13)}
MOSTLY = 0.9  # share of a column's values that decides its kind; values outside it are bad dates


def _numeric_kind(values: pl.Series, *, column: str, table: str) -> DateSpec:
    if values.len() == 0:
        return DateSpec("empty")
    lo, hi = cast(float, values.min()), cast(float, values.max())  # values is Float64
    for kind, (low, high) in NUMERIC_KINDS.items():
        if _share(values.is_between(low, high, closed="left")) >= MOSTLY:
            return DateSpec(kind)
    raise DateFormatError(
        f"{table}: column {column!r} holds numbers ({lo:g} to {hi:g}) that are not Excel serial dates or epoch times",
        hint=f'map another column, or set its format in churnwhy.toml:  [dates.columns]  "{column}" = "%Y%m%d"',
    )


def _share(mask: pl.Series) -> float:
    """The share of true values of a boolean Series without nulls (Series.mean() is typed as any scalar)."""
    return cast(float, mask.mean())


_Text = TypeVar("_Text", pl.Expr, pl.Series)


def _prepare(expr_or_series: _Text) -> _Text:
    return _zulu(expr_or_series.str.strip_chars())


def _zulu(text: _Text) -> _Text:
    # A trailing Z means UTC; chrono's %z wants an offset.
    return text.str.replace(r"Z$", "+00:00")


def _zulu_matters(fmt: str) -> bool:
    """Whether rewriting a trailing Z as +00:00 can change what `fmt` reads. Without %z, '+', 'Z' or a word code,
    the format's shape matches neither a value ending in Z nor one ending in +00:00: the rewrite (a regex on
    every value) is skipped and the result is the same."""
    return _shape(fmt) is None or any(code in fmt for code in ("%z", "+", "Z", "%b", "%B", "%a", "%p"))


# chrono's %Y takes any number of digits, so "25/01/24" parses as %Y/%m/%d (year 25) and "05/02/24" as
# %d/%m/%Y (year 24). A value must also have the format's shape: four-digit %Y, two-digit %y.
_SHAPES = {"%Y": r"\d{4}", "%y": r"\d{2}", "%m": r"\d{1,2}", "%d": r"\d{1,2}", "%H": r"\d{1,2}", "%I": r"\d{1,2}",
           "%M": r"\d{2}", "%S": r"\d{2}", "%.f": r"(?:\.\d+)?", "%z": r"[+-]\d{2}:?\d{2}", "%b": "[A-Za-z]+",
           "%B": "[A-Za-z]+", "%a": "[A-Za-z]+", "%p": "[AaPp][Mm]"}
_TOKEN = re.compile(r"%\.?[A-Za-z]")


def _shape(fmt: str) -> str | None:
    """An anchored regex for values written in `fmt`; None when the format uses codes not listed here."""
    parts, end = ["^"], 0
    for m in _TOKEN.finditer(fmt):
        if m.group() not in _SHAPES:
            return None
        parts += [re.escape(fmt[end:m.start()]), _SHAPES[m.group()]]
        end = m.end()
    return "".join([*parts, re.escape(fmt[end:]), "$"])


def _to_datetime(text: pl.Expr, fmt: str, parsed: pl.Expr | None = None, *, cache: bool = True) -> pl.Expr:
    if parsed is None:
        parsed = text.str.to_datetime(fmt, strict=False, time_zone="UTC" if "%z" in fmt else None, cache=cache)
    shape = _shape(fmt)
    return parsed if shape is None else pl.when(text.str.contains(shape)).then(parsed)


# Polars reads formats made of fixed-width fields (%Y, %m, %d, %H, %M, %S, %6f...) itself, about 3x faster than
# through chrono; "%.f" (a fraction of any length, or none) always goes through chrono.
FIXED_FRACTIONS = ("", ".%3f", ".%6f")


def fixed_width(fmt: str, sample: pl.Series) -> str | None:
    """`fmt` with its "%.f" written as the fixed-width fraction that reads most of `sample` (None: no such
    variant, or none reads any of it). Whatever the variant reads, `fmt` reads to the same value: it only
    narrows the fraction to exactly 0, 3 or 6 digits (whole microseconds: no rounding)."""
    if "%.f" not in fmt or "%z" in fmt or sample.len() == 0:
        return None
    text = sample.cast(pl.String).str.strip_chars()
    best: str | None = None
    best_hits = 0
    for fraction in FIXED_FRACTIONS:
        variant = fmt.replace("%.f", fraction)
        hits = int(text.str.to_datetime(variant, strict=False, time_unit="us").is_not_null().sum())
        if hits > best_hits:
            best, best_hits = variant, hits
    return best


def _parses(sample: pl.Series, fmt: str) -> pl.Series:
    return pl.select(_to_datetime(pl.lit(sample), fmt).is_not_null()).to_series()


def _union(hits: Mapping[str, pl.Series], formats: tuple[str, ...]) -> pl.Series:
    out = hits[formats[0]]
    for f in formats[1:]:
        out = out | hits[f]
    return out


def parse_expr(
    column: str, spec: DateSpec, dtype: pl.DataType | type[pl.DataType], text: pl.Expr | None = None, *,
    step: Callable[[pl.Expr], pl.Expr] | None = None, fixed: Mapping[str, str] | None = None, cache: bool = True,
) -> pl.Expr:
    """An expression turning the column into naive UTC Datetime('us'); unparseable values become null.

    `text`: a String column already trimmed, empty as null (values.text), when the caller has it computed.
    `fixed`: format -> fixed_width variant; with `step` (computes an expression as a column of its own, before
    this one), each value is read with the variant first and with the format itself only where that failed.
    `cache`: Polars' cache of parsed strings (worth it when values repeat; the same result either way)."""
    col = pl.col(column)
    target = pl.Datetime("us")
    if spec.kind == "empty":
        return pl.lit(None, dtype=target)
    if spec.kind == "native":
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            return col.dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(target)
        return col.cast(target)
    if text is not None and dtype != pl.String:
        text = None  # typed columns are read as they are
    if spec.kind in ("excel_serial", "epoch_s", "epoch_ms"):
        if dtype == pl.String:
            trimmed = col.cast(pl.String).str.strip_chars() if text is None else text
            num = trimmed.cast(pl.Float64, strict=False)
        else:
            num = col.cast(pl.Float64)
        low, high = NUMERIC_KINDS[spec.kind]
        num = pl.when(num.is_between(low, high, closed="left")).then(num)  # outside: a bad date, not 1970
        if spec.kind == "excel_serial":
            return (EXCEL_EPOCH + pl.duration(milliseconds=(num * 86_400_000).round(0).cast(pl.Int64))).cast(target)
        ms = num * 1000 if spec.kind == "epoch_s" else num
        return pl.from_epoch(ms.round(0).cast(pl.Int64), time_unit="ms").cast(target)
    base = col.cast(pl.String).str.strip_chars() if text is None else text
    parsed = []
    for fmt in spec.formats:
        t = _zulu(base) if _zulu_matters(fmt) else base
        variant = (fixed or {}).get(fmt)
        if variant is not None and step is not None:
            quick = step(t.str.to_datetime(variant, strict=False, time_unit="us", cache=cache))
            rest = pl.when(quick.is_null()).then(t)  # null where the variant read it: the format skips those
            read = pl.coalesce(quick, rest.str.to_datetime(fmt, strict=False, cache=cache).cast(target))
            p = _to_datetime(t, fmt, read)
        else:
            p = _to_datetime(t, fmt, cache=cache)
        parsed.append((p.dt.replace_time_zone(None) if "%z" in fmt else p).cast(target))
    return pl.coalesce(parsed) if len(parsed) > 1 else parsed[0]


def reads_as_dates(values: pl.Series, *, column: str, table: str) -> bool:
    """Whether a column holds dates written as text (or typed dates): at least 90% of a sample of its values read
    with the formats `detect` finds. Plain numbers are not taken for dates here (any count between 1,000 and
    100,000 would read as an Excel serial date); a column whose DD/MM or MM/DD reading is undecided does hold
    dates (parsing it later names the setting to add)."""
    if values.dtype == pl.Date or isinstance(values.dtype, pl.Datetime):
        return True
    if values.dtype != pl.String:
        return False
    sample = values.drop_nulls().str.strip_chars()
    sample = sample.filter(sample != "").head(SAMPLE)
    if sample.len() == 0 or _share(sample.str.contains(r"^\d+(\.\d+)?$")) > 0.5:
        return False
    try:
        spec = detect(sample, column=column, table=table)
    except DateFormatError as exc:
        return "both DD/MM/YYYY and MM/DD/YYYY" in exc.message
    if spec.kind != "formats":
        return False
    parsed = sample.to_frame("v").select(parse_expr("v", spec, pl.String)).to_series()
    return _share(parsed.is_not_null()) >= 0.9
