"""The JSON contract every command follows: one version stamp and one naming scheme.

Every document churnwhy prints or writes starts with `schema_version` and `churnwhy_version` (`stamped`), and
names things one way (`named`): 95% bounds are `ci_low`/`ci_high` (never `lo`/`hi`), a reason is an `axis`
(why | what) and a `category` (never `dimension`/`label`/`cause`). A breakdown is `by` (the column) and `group`
(its value) in JSON, as survival's curves have always said and readers of report.json rely on; the Parquet
tables say `segment` and `level` instead (`named_frame`), since `by` and `group` are SQL keywords. The result
objects keep their Python attribute names; the names are fixed here, where documents are made, so `analyze`,
`check`, `diff`, `inspect`, `reasons`, `drivers`, `survival` and `risk` can never disagree
(src/churnwhy/schemas/ describes each document; CHANGELOG lists the renames of schema 2.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

SCHEMA_VERSION = "2.0"

RENAMED = {"lo": "ci_low", "hi": "ci_high", "naive_lo": "naive_ci_low", "naive_hi": "naive_ci_high",
           "dimension": "axis", "label": "category", "cause": "category"}
SQL_SAFE = {"by": "segment", "group": "level"}  # Parquet column names: `by` and `group` are SQL keywords
# Mappings keyed by data or by a fixed vocabulary, not by field names: copied as they are.
DATA_MAPS = frozenset({"labels", "attributes", "rejected", "churn_sources", "mapping", "columns", "date_ranges", "date_formats",
                       "thresholds", "ci_methods", "by_input", "by_method", "assumptions"})


def stamped(document: Mapping[str, Any]) -> dict[str, Any]:
    """`document` named (see `named`), with `schema_version` and `churnwhy_version` (never overridden by it)."""
    from churnwhy.version import __version__

    return {**named(document), "schema_version": SCHEMA_VERSION, "churnwhy_version": __version__}


def named(value: Any) -> Any:
    """`value` (a document or a part of one) with every field named the contract's way."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if key in DATA_MAPS:
                out[key] = item
                continue
            out[RENAMED.get(key, key)] = named(item)
        return out
    if isinstance(value, list):
        return [named(v) for v in value]
    return value


def named_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A results table with the contract's column names for Parquet (the files under `--out`)."""
    names = {**RENAMED, **SQL_SAFE}
    return frame.rename({c: names[c] for c in frame.columns if c in names})
