"""Customers files joined on the id into one row per customer; lookup tables joined through their key; each
other column decided as an outcome (never a segment or driver), a customer attribute (number or category),
and/or a segment.

Outcome columns are churn flags, labels, values, scores, categories, reasons and status columns: by name
(churn, attrition, exited, status...) and by content (a column that is a function of churned: its values
separate churners from the others, as a leaked model score does).
"""

from __future__ import annotations

import dataclasses
import re

import polars as pl

from churnwhy.config import Config
from churnwhy.errors import InputError
from churnwhy.load import values as V
from churnwhy.load.columns import ALIASES, LINK_KEYS, TableMapping, key
from churnwhy.load.roles import END_WORDS, NOT_LIFETIME, Lookup, lookup_frame

CUSTOMER_FIELDS = ("signup_date", "churn_date", "churned", "status", "tenure", "score", "reason_code",
                   "reason_text", "competitor", *LINK_KEYS)
# Canonical columns that describe the outcome itself: listed as outcome columns, never segments or drivers.
OUTCOME_FIELDS = ("churned", "status", "reason_code", "reason_text", "competitor")
ATTR_PREFIX = "attr_"  # customer attributes in the customers frame and the customer table: attr_<name>
OUTCOME_NAME = re.compile(r"churn|attrit|exited|^exit|cancell?ation|^(customer|account|subscription|member|client|"
                          r"user|contract)?status$")
MAX_CATEGORY_LEVELS = 50  # a text column with more distinct values is free text or an identifier, not an attribute
PURE_SHARE = 0.99  # a category whose levels (10+ rows each) are all-churned or none-churned for 99% of rows
SEPARATION = 0.98  # a number whose AUC against churned is >= 0.98 (or <= 0.02)
MIN_CLASS = 20  # churners and non-churners needed before content can call a column an outcome


@dataclasses.dataclass(frozen=True)
class Part:
    """One customers file, parsed: valid rows with canonical columns, __row and __seg__<source> text columns."""

    name: str
    frame: pl.DataFrame
    segment_sources: dict[str, str]  # source column -> name
    mapping: TableMapping


@dataclasses.dataclass(frozen=True)
class Joined:
    frame: pl.DataFrame | None  # customer_id, canonical fields, segments, attr_* and __row_<i> columns
    segments: tuple[str, ...] = ()
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)  # attr_<name> -> "number" | "category"
    attribute_sources: dict[str, str] = dataclasses.field(default_factory=dict)  # attr_<name> -> export column
    outcome_columns: tuple[str, ...] = ()  # export column names
    lookups: tuple[dict[str, str | None], ...] = ()
    warnings: tuple[str, ...] = ()


def join_customers(parts: list[Part], lookups: list[Lookup], config: Config, notes: list[str],
                   has_events: bool = False) -> Joined:
    """The customers files joined on the id, and what each other column is (notes are appended to `notes`)."""
    lookup_report = tuple({"name": lk.name, "joined_on": lk.on, "status": "joined"} for lk in lookups)
    if not parts:
        return Joined(None, lookups=lookup_report)
    warnings: list[str] = []
    frames: list[pl.DataFrame] = []
    seg_names: dict[str, str] = {}  # frame column -> source column
    outcomes: list[str] = []
    for i, p in enumerate(parts):
        df = p.frame
        outcomes += [p.mapping.columns[c] for c in OUTCOME_FIELDS if c in p.mapping.columns]
        if "customer_id" not in df.columns:
            link = next(k for k in LINK_KEYS if k in df.columns)
            df = df.with_columns(pl.col(link).alias("customer_id"))
            warnings.append(f"{p.name}: no customer id column; its {link} is used as the id")
        renames = {"__row": f"__row_{i}"}
        for src, name in p.segment_sources.items():
            # Same-named columns in several files coalesce in the join; a canonical name is never reused.
            final = name if name not in ("customer_id", *CUSTOMER_FIELDS) else f"{name}_{i}"
            # Within one file only ("Plan Type" beside "plan_type"): across files the same name is the same column.
            while final in renames.values():
                final = f"{final}_{i + 1}"
            renames[f"__seg__{src}"] = final
            seg_names[final] = src
        frames.append(df.rename(renames))
    joined = frames[0]
    for df in frames[1:]:
        joined = joined.join(df, on="customer_id", how="full", coalesce=True, suffix="__dup", nulls_equal=False)
        dups = [c for c in joined.columns if c.endswith("__dup")]
        joined = joined.with_columns(
            [pl.coalesce(pl.col(c.removesuffix("__dup")), pl.col(c)).alias(c.removesuffix("__dup")) for c in dups]
        ).drop(dups)
    _disagreement(joined, parts, notes)
    for lk in lookups:
        joined = _join_lookup(joined, lk, seg_names, notes)
    warnings += _unused_end_dates(joined, seg_names, has_events)
    churn = _churn_vector(joined)
    found = [src for col, src in seg_names.items() if _is_outcome(joined[col], src, churn)]
    outcome_cols = {col for col, src in seg_names.items() if src in found}
    outcomes += found
    kept = {c: s for c, s in seg_names.items() if c not in outcome_cols}
    attrs, kinds, sources = _attributes(joined, kept)
    score_src = next((p.mapping.columns["score"] for p in parts if "score" in p.mapping.columns), None)
    if score_src is not None and _is_outcome(joined["score"].cast(pl.String), score_src, churn):
        outcomes.append(score_src)
    elif score_src is not None:
        # A score in the customers file (satisfaction, NPS at the snapshot) describes the customer: an attribute.
        name = f"{ATTR_PREFIX}{V.snake(score_src)}"
        if name not in kinds and joined["score"].drop_nulls().n_unique() >= 2:
            attrs.append(pl.col("score").cast(pl.Float64).alias(name))
            kinds[name], sources[name] = "number", score_src
    outcomes = list(dict.fromkeys(outcomes))
    if outcomes:
        notes.append(f"outcome columns (not used as segments or drivers): {', '.join(outcomes)}")
    segments = _pick_segments(joined, kept, config, notes, outcome_sources=[seg_names[c] for c in outcome_cols])
    keep = ["customer_id", *[c for c in CUSTOMER_FIELDS if c in joined.columns], *segments,
            *[c for c in joined.columns if c.startswith("__row_")]]
    frame = joined.select(keep).with_columns(attrs).sort("customer_id")
    return Joined(frame, segments, kinds, sources, tuple(outcomes), lookup_report, tuple(warnings))


def _disagreement(joined: pl.DataFrame, parts: list[Part], notes: list[str]) -> None:
    """Say when customers files keyed by id do not list the same customers."""
    keyed = [(i, p) for i, p in enumerate(parts) if not p.mapping.row_ids]
    if len(keyed) < 2:
        return
    for i, p in keyed:
        missing = joined[f"__row_{i}"].null_count()
        if missing:
            notes.append(f"customers files disagree on who the customers are: {missing:,} customer(s) of the other "
                         f"customers files are not in {p.name}")


def _join_lookup(joined: pl.DataFrame, lk: Lookup, seg_names: dict[str, str], notes: list[str]) -> pl.DataFrame:
    """The lookup's other columns, joined through the customers' column named like its key."""
    target = next((c for c, s in seg_names.items() if s == lk.to), None)
    if target is None:
        return joined
    table = lookup_frame(lk)
    assert lk.on is not None
    renames = {lk.on: "__lookup_key"}
    for c in table.columns:
        if c == lk.on:
            continue
        name = V.snake(c)
        while name in joined.columns or name in renames.values() or name in ("customer_id", *CUSTOMER_FIELDS):
            name = f"{name}_{V.snake(lk.name.rsplit('/', 1)[-1].split('.')[0])}"
        renames[c] = name
        seg_names[name] = c
    table = table.rename(renames)
    out = joined.with_columns(pl.col(target).str.replace(r"\.0+$", "").alias("__lookup_key")).join(
        table, on="__lookup_key", how="left", maintain_order="left")
    matched = int(out["__lookup_key"].is_in(table["__lookup_key"].implode()).sum())
    notes.append(f"{lk.name}: a lookup table (its key is not a customer id), joined through {lk.on!r} to the "
                 f"customers' {lk.to!r}: {matched:,} of {out.height:,} customers matched")
    return out.drop("__lookup_key")


def _unused_end_dates(joined: pl.DataFrame, seg_names: dict[str, str], has_events: bool) -> list[str]:
    """Zero churners while a column named like an end date (closed, cancelled...) has values: say which."""
    if has_events:
        return []  # cancellation events or inactivity may still find the churners
    churn = _churn_vector(joined, min_class=0)
    if churn is not None and churn.any():
        return []
    return [f"no customer churned, yet column {src!r} looks like an end date and has {joined[col].drop_nulls().len():,} "
            f"values; if it is the churn date, set it in churnwhy.toml:  [columns]  churn_date = \"{src}\""
            for col, src in seg_names.items()
            if END_WORDS.search(key(src)) and not NOT_LIFETIME.search(key(src)) and joined[col].drop_nulls().len()]


def _churn_vector(joined: pl.DataFrame, min_class: int = MIN_CLASS) -> pl.Series | None:
    """churned as far as the customers files say it (flag, churn date, status), for the content tests."""
    parts = []
    if "churned" in joined.columns:
        parts.append(pl.col("churned"))
    if "churn_date" in joined.columns:
        parts.append(pl.when(pl.col("churn_date").is_not_null()).then(True))
    if "status" in joined.columns:
        parts.append(V.flag("status"))
    if not parts:
        return None
    s = joined.select(pl.coalesce(parts).alias("churn")).to_series()
    n_true, n_false = int(s.sum() or 0), int((~s.drop_nulls()).sum())
    return s if n_true >= min_class and n_false >= min_class else None


def _is_outcome(values: pl.Series, source: str, churn: pl.Series | None) -> bool:
    k = key(source)
    if OUTCOME_NAME.search(k) or k in ALIASES["churned"]:
        return True
    if churn is None:
        return False
    frame = pl.DataFrame({"v": values, "churn": churn}).filter(pl.col("churn").is_not_null())
    num = frame["v"].cast(pl.Float64, strict=False)
    numeric = values.drop_nulls().len() > 0 and num.null_count() == frame["v"].null_count()
    if numeric and num.drop_nulls().n_unique() > 10:
        return _separates(num, frame["churn"])
    levels = frame.group_by("v").agg(pl.len().alias("n"), pl.col("churn").mean().alias("rate"))
    if levels.height < 2 or levels.height > MAX_CATEGORY_LEVELS:
        return False
    pure = levels.filter((pl.col("n") >= 10) & pl.col("rate").is_in([0.0, 1.0]))["n"].sum()
    return pure >= PURE_SHARE * frame.height


def _separates(x: pl.Series, churn: pl.Series) -> bool:
    """Whether x ranks churners apart from the others (AUC >= SEPARATION or <= 1 - SEPARATION)."""
    df = pl.DataFrame({"x": x, "y": churn}).drop_nulls()
    n1 = int(df["y"].sum())
    n0 = df.height - n1
    if n1 < MIN_CLASS or n0 < MIN_CLASS or df.height < 0.5 * x.len():
        return False
    ranks = df["x"].rank("average")
    auc = (float(ranks.filter(df["y"]).sum()) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return auc >= SEPARATION or auc <= 1 - SEPARATION


def _attributes(joined: pl.DataFrame, kept: dict[str, str],
                ) -> tuple[list[pl.Expr | pl.Series], dict[str, str], dict[str, str]]:
    """attr_<name> columns: numbers as Float64 (every value reads as a number), categories as text (2 to
    MAX_CATEGORY_LEVELS distinct values). Constants, identifiers and free text are left out."""
    exprs: list[pl.Expr | pl.Series] = []
    kinds: dict[str, str] = {}
    sources: dict[str, str] = {}
    for col, src in kept.items():
        s = joined[col]
        present = s.drop_nulls()
        if present.n_unique() < 2:
            continue
        num = joined.select(V.number(col, pl.String).alias("n")).to_series()
        name = f"{ATTR_PREFIX}{col}"
        if num.null_count() == s.null_count():
            if present.n_unique() == present.len() and present.str.contains(r"^-?\d+$").all() and present.len() > 50:
                continue  # whole numbers unique per customer: an identifier
            exprs.append(num.alias(name))
            kinds[name] = "number"
        elif present.n_unique() <= MAX_CATEGORY_LEVELS:
            exprs.append(pl.col(col).alias(name))
            kinds[name] = "category"
        else:
            continue
        sources[name] = src
    return exprs, kinds, sources


def _pick_segments(df: pl.DataFrame, seg_names: dict[str, str], config: Config, notes: list[str],
                   outcome_sources: list[str]) -> tuple[str, ...]:
    if config.segments is not None:
        wanted = {key(s) for s in config.segments}
        chosen = [c for c, src in seg_names.items() if key(c) in wanted or key(src) in wanted]
        outcome = wanted & {key(s) for s in outcome_sources}
        if outcome:
            raise InputError(
                f"segments {sorted(outcome)} set in churnwhy.toml are outcome columns (they describe churn itself)",
                hint="remove them from segments; churnwhy reports churn by segment, not by the churn label",
            )
        missing = wanted - {key(c) for c in chosen} - {key(seg_names[c]) for c in chosen}
        if missing:
            raise InputError(
                f"segments {sorted(missing)} set in churnwhy.toml are not columns of the customers files",
                hint=f"use some of: {', '.join(sorted(seg_names.values()))}",
            )
        return tuple(chosen)
    chosen, ignored = [], []
    n = max(df.height, 1)
    for col, src in seg_names.items():
        s = df[col].drop_nulls()
        levels = s.n_unique()
        numeric = s.str.contains(r"^-?[\d.,]+$").all() if s.len() else False
        small = levels <= 20 or levels <= 0.05 * n
        if 2 <= levels <= 50 and small and (not numeric or levels <= 10) and s.len() >= 0.5 * n:
            chosen.append(col)
        else:
            ignored.append(src)
    if ignored:
        notes.append(f"customer columns not used as segments (too many or too few distinct values, or numbers): {', '.join(ignored)}")
    return tuple(chosen)


def link_table(customers: pl.DataFrame) -> dict[str, pl.DataFrame]:
    links = {}
    for k in LINK_KEYS:
        if k in customers.columns:
            links[k] = (customers.select(pl.col(k).alias("__link"), pl.col("customer_id").alias("__linked"))
                        .drop_nulls().unique("__link", keep="first", maintain_order=True))
    return links
