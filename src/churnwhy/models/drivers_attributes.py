"""Customer attributes (contract, plan, region, charges, age...) as drivers beside behaviour.

Encoding (docs/drivers.md):
- a text column, or a numeric one with at most `MAX_NUMERIC_LEVELS` distinct values, is categorical: one 0/1
  column per level against a stated reference level, the largest one (its hazard ratio is 1 by definition).
  Levels below min_segment_size customers and beyond max_segment_levels are pooled into "other", nulls are
  their own "(missing)" level, as in the survival curves (survival.segment_labels).
- a numeric column with more distinct values is cut at its quartiles into up to four bins, the lowest bin
  being the reference: no straight line is assumed (age and charges rarely act linearly on churn).
- outcome columns are never drivers: the loader's list when it gives one, and any column whose name says it
  is a churn flag, label, model score, status or stated reason (OUTCOME_NAME).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import polars as pl

from churnwhy.models.survival import OTHER, segment_labels

ATTR_PREFIX = "attr_"  # the loader's attribute columns (table.py)
MAX_NUMERIC_LEVELS = 10
N_BINS = 4
ATTR_SEP = "="
MISSING = "(missing)"
_BIN = re.compile(r"^\[(\S+), (\S+)([)\]])$")  # a numeric bin as encode names it: "[lo, hi)", the last "[lo, hi]"
# Names that say a column is the outcome (or derived from it): never a driver, whatever the loader said.
# ("status" alone, or a churn/account/customer status: a marital status is an attribute.)
OUTCOME_NAME = re.compile(
    r"churn|attrit|exited|^exit$|label|target|^status$|(churn|account|customer|member|subscription)[_ ]?status"
    r"|reason|cancel|predict|classifier|propensity|probabilit|^score$|risk[_ ]?score|model[_ ]?score|leav"
    r"|terminat|closed|deactivat",
    re.IGNORECASE,
)
# Columns the table itself computes (dates, tenure, survey and reason columns): never attributes.
_TABLE_COLUMNS = {
    "customer_id", "start_date", "end_date", "tenure_days", "churned", "churn_source", "last_score", "score_scale",
    "reason_code", "reason_text", "competitor", "surveyed", "exposure_days", "amount_window", "amount_total",
    "days_since_last_event", "activity_change", "why", "what", "reason_source", "reason_confidence",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Encoded:
    """Attribute columns as a 0/1 matrix, one column per non-reference level."""

    x: np.ndarray  # n x q float
    names: tuple[str, ...]  # "<column>=<level>"
    column_of: dict[str, str]  # encoded name -> attribute column
    reference: dict[str, str]  # attribute column -> its reference level
    notes: tuple[str, ...]


def is_outcome(name: str, declared: Sequence[str] = ()) -> bool:
    """True for a column the loader declared an outcome, or whose name says it is one."""
    return name in set(declared) or bool(OUTCOME_NAME.search(name))


def attribute_columns(
    frame: pl.DataFrame, candidates: Sequence[str], outcomes: Sequence[str], *, display: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """(usable attribute columns, notes): candidates present in the frame, outcome columns and table columns out.
    `display` names a column for people (attr_plan -> plan); the outcome rule reads that name."""
    display = display or {}
    cols, notes, left_out = [], [], []
    for c in dict.fromkeys(candidates):
        if c not in frame.columns or c in _TABLE_COLUMNS or c.startswith(("n_", "rate_", "__")):
            continue
        if is_outcome(display.get(c, c), outcomes) or c in set(outcomes):
            left_out.append(display.get(c, c))
            continue
        cols.append(c)
    if left_out:
        notes.append(
            f"left out of the drivers as outcome columns (a churn flag, label, score, status or reason says "
            f"who left, not why): {', '.join(left_out)}"
        )
    return cols, notes


def encode(
    frame: pl.DataFrame, columns: Sequence[str], *, min_size: int, max_levels: int, display: Mapping[str, str] | None = None
) -> Encoded:
    """One-hot (categorical) or quartile-bin (numeric) encoding of `columns` over every row of `frame`; levels are
    named "<display name>=<level>"."""
    display = display or {}
    blocks: list[np.ndarray] = []
    names: list[str] = []
    column_of: dict[str, str] = {}
    reference: dict[str, str] = {}
    notes: list[str] = []
    n = frame.height
    for col in columns:
        s = frame[col].rename(display.get(col, col))  # notes name the column as people know it
        labels, ref, order, how = _levels(s, min_size=min_size, max_levels=max_levels)
        if labels is None or ref is None or order is None:  # all three, or none of them
            notes.append(f"{display.get(col, col)}: {how[0]}; not used as a driver")
            continue
        notes.extend(how)
        codes = labels.to_numpy()
        others = [lv for lv in order if lv != ref]
        if not others:
            notes.append(f"{display.get(col, col)}: one level only after pooling; not used as a driver")
            continue
        block = np.zeros((n, len(others)))
        for j, lv in enumerate(others):
            block[:, j] = codes == lv
            name = f"{display.get(col, col)}{ATTR_SEP}{lv}"
            names.append(name)
            column_of[name] = col
        blocks.append(block)
        reference[col] = ref
    x = np.hstack(blocks) if blocks else np.empty((n, 0))
    return Encoded(x=x, names=tuple(names), column_of=column_of, reference=reference, notes=tuple(notes))


_Levels = tuple[pl.Series | None, str | None, list[str] | None, tuple[str, ...]]


def _levels(s: pl.Series, *, min_size: int, max_levels: int) -> _Levels:
    """(labels, reference level, levels in order, notes) or (None, None, None, why not)."""
    values = _parsed(s)
    numeric = values.dtype.is_numeric() or values.dtype == pl.Boolean
    present = values.drop_nulls()
    if present.len() == 0:
        return None, None, None, ("no values",)
    distinct = present.n_unique()
    if distinct < 2:
        return None, None, None, ("the same value for every customer",)
    if numeric and values.dtype != pl.Boolean and distinct > MAX_NUMERIC_LEVELS:
        x = values.cast(pl.Float64)
        cuts = np.unique(np.quantile(present.cast(pl.Float64).to_numpy(), np.linspace(0, 1, N_BINS + 1)[1:-1]))
        edges = [float(cast(float, present.min())), *cuts.tolist(), float(cast(float, present.max()))]
        idx = np.searchsorted(cuts, x.fill_null(np.nan).to_numpy(), side="right")
        labels_list = [f"[{_num(edges[i])}, {_num(edges[i + 1])}{']' if i == len(cuts) else ')'}" for i in range(len(cuts) + 1)]
        lab = np.array(labels_list, dtype=object)[idx]
        lab = np.where(x.is_null().to_numpy(), "(missing)", lab)
        labels = pl.Series(s.name, lab, dtype=pl.String)
        order = labels_list + (["(missing)"] if x.null_count() else [])
        sizes = [int((labels == lv).sum()) for lv in order]  # at most five levels
        order, sizes = [lv for lv, k in zip(order, sizes, strict=True) if k], [k for k in sizes if k]
        return _fold_tiny(labels, order, sizes, min_size, s.name, ())
    if numeric and values.dtype != pl.Boolean:
        as_float = values.cast(pl.Float64)
        uniq = as_float.drop_nulls().unique().to_list()  # at most MAX_NUMERIC_LEVELS values to name
        values = as_float.replace_strict(uniq, [_num(u) for u in uniq], default=None, return_dtype=pl.String)
    labels, notes = segment_labels(values.cast(pl.String).rename(s.name), min_size=min_size, max_levels=max_levels)
    notes = tuple(n for n in notes if "curve" not in n)  # survival's wording; folded below instead
    counts = labels.value_counts(name="n").sort(["n", labels.name], descending=[True, False])
    return _fold_tiny(labels, counts[labels.name].to_list(), counts["n"].to_list(), min_size, s.name, notes)


def _fold_tiny(labels: pl.Series, order: list[str], sizes: list[int], min_size: int, name: str,
               notes: tuple[str, ...]) -> _Levels:
    """Levels under min_size customers (even after pooling) counted with the reference (order[0]): too few to
    compare with anything, they would only be levels of noise. -> (labels, reference, order, notes)."""
    tiny = [lv for lv, k in zip(order, sizes, strict=True) if k < min_size and lv != order[0]]
    if tiny:
        labels = labels.replace(tiny, [order[0]] * len(tiny))
        notes = (*notes, f"{name}: {sum(k for lv, k in zip(order, sizes, strict=True) if lv in tiny)} customer(s) in "
                         f"level(s) too small to compare ({', '.join(tiny)}) counted with the reference '{order[0]}'")
        order = [lv for lv in order if lv not in tiny]
    return labels, order[0], order, notes


def _parsed(s: pl.Series) -> pl.Series:
    """Text that is all numbers ("1,234", " 56 ") as numbers; anything else as it is."""
    if s.dtype == pl.String:
        as_num = s.str.strip_chars().str.replace_all(",", "").cast(pl.Float64, strict=False)
        if as_num.null_count() == s.null_count() and s.drop_nulls().len():
            return as_num
    return s


def level_columns(values: pl.Series, levels: Sequence[str], named: set[str]) -> np.ndarray:
    """One 0/1 column per attribute level in `levels` (as encode names them): 1.0 where a customer is in it, read
    by what the level names, so that any table is read on the fitted levels (not its own quartiles, commonest
    level or pooling): a value; a bin "[lo, hi)" of a number by its edges (the last bin, "[lo, hi]", open-ended:
    a value above the fit's maximum is still in the top bin); "(missing)"; "other" = a value in none of `named`
    (every level the fit encoded, with its reference). The column is parsed once, then compared with each level."""
    parsed = _parsed(values)
    numeric = parsed.dtype.is_numeric() and parsed.dtype != pl.Boolean
    v = parsed.cast(pl.Float64).fill_null(np.nan).to_numpy() if numeric else None
    text: pl.Series | None = None
    out = np.zeros((values.len(), len(levels)))
    for k, level in enumerate(levels):
        bin_ = _BIN.match(level)
        if level == MISSING:
            out[:, k] = values.is_null().to_numpy()
        elif bin_ is not None and v is not None:
            lo, hi = float(bin_[1]), float(bin_[2])
            out[:, k] = (v >= lo) & ((v < hi) if bin_[3] == ")" else True)
        else:
            if text is None:  # numbers named as encode names them (_num), text as it is
                if numeric:
                    uniq = parsed.cast(pl.Float64).drop_nulls().unique().to_list()
                    text = parsed.cast(pl.Float64).replace_strict(uniq, [_num(u) for u in uniq], default=None,
                                                                  return_dtype=pl.String)
                else:
                    text = values.cast(pl.String)
            hit = (text.is_not_null() & ~text.is_in(sorted(named))) if level == OTHER else (text == level)
            out[:, k] = hit.fill_null(False).to_numpy()
    return out


def _num(x: float) -> str:
    return f"{x:.4g}" if x is not None and np.isfinite(x) else "(missing)"
