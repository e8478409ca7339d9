"""Every events file in one streaming pass into compact codes (EventCodes); rejected rows as records."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import polars as pl

from churnwhy.load.codes import SRC, EventCodes, named_types, type_names
from churnwhy.load.columns import LINK_KEYS
from churnwhy.load.duplicates import FLAGGED, duplicate_rows, event_hash, marked_rows, repeated_hashes, same_columns
from churnwhy.load.loaded import REJECT_SCHEMA
from churnwhy.load.parse import REASON, REJECT_COL, REJECT_VAL, XHASH, Parsed, first_reason
from churnwhy.load.read import ROW
from churnwhy.load.spill import estimated_rows, spill_events
from churnwhy.workers import worker_count

HASH_SLICE = 5_000_000  # event rows hashed at a time in the duplicate check (bounds its temporaries)


def read_events(tables: list[Parsed], customers: pl.DataFrame | None, links: dict[str, pl.DataFrame] | None,
                spill_above: int | None = None) -> tuple[EventCodes, pl.DataFrame]:
    """Every events file in one streaming pass into compact codes; rejected rows (file/row/reason) apart.

    Only the columns a table needs are read (projection pushdown); text is touched once per row (the id, by a
    join to the customer list) and event types once per distinct value. The rejected rows' columns and values
    are read again afterwards for those rows alone, so the common case (no or few rejects) pays nothing.
    Above `spill_above` (estimated) rows the pass writes to disk instead of memory (spill_events)."""
    plans = []
    for i, p in enumerate(tables):
        lf = p.plan.with_columns(pl.lit(i, pl.UInt16).alias(SRC))
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
    if spill_above is not None and estimated_rows(tables) > spill_above:
        codes, marked, dups = spill_events(query, tables, ids, sources, same_columns(whole_rows))
        return codes, event_rejects(tables, pl.concat([marked, dups]))
    frame = query.collect(engine="streaming")
    # Every row of every file is in `frame` here: the files' row counts come from it, not from a pass of their own.
    if len(tables) == 1:
        tables[0].n_rows = frame.height
    else:
        counts = dict(frame.group_by(SRC).len().iter_rows())
        for i, p in enumerate(tables):
            p.n_rows = counts.get(i, 0)
    marked = marked_rows(frame)
    if marked.height:
        frame = frame.filter(~FLAGGED)
    frame = named_types(frame.drop(REASON), *type_names(frame["event_type"].unique()))
    same = same_columns(whole_rows)
    key_hash = event_hash(same)
    # Overlapping monthly exports repeat rows: the first copy (by file, then row) is kept. Exact duplicates hash
    # alike; only rows sharing a hash are compared value by value. The hashes are written slice by slice into
    # one array that is sorted in place (a sorted copy is another 400 MB at the loader's peak; is_duplicated's
    # hash table cost 10x the time).
    hashes = np.empty(frame.height, np.uint64)

    def fill(a: int) -> None:  # slices on worker_count() threads: Polars releases the GIL, one select alone used ~1 core
        hashes[a:a + HASH_SLICE] = frame.slice(a, HASH_SLICE).select(key_hash).to_series().to_numpy()

    with concurrent.futures.ThreadPoolExecutor(max_workers=worker_count()) as pool:
        list(pool.map(fill, range(0, frame.height, HASH_SLICE)))
    repeated = repeated_hashes(hashes)
    del hashes
    dups = duplicate_rows(frame.filter(key_hash.is_in(pl.Series(repeated).implode())) if repeated.size else None, same)
    if dups.height:
        frame = frame.join(dups.select(SRC, ROW), on=[SRC, ROW], how="anti", maintain_order="left")
    return EventCodes(frame.drop(ROW, XHASH, strict=False), ids, sources), event_rejects(tables, pl.concat([marked, dups]))


def event_rejects(tables: list[Parsed], marked: pl.DataFrame) -> pl.DataFrame:
    """The rejected event rows as records: column and value read back from their files for those rows only."""
    parts = [pl.DataFrame(schema=REJECT_SCHEMA)]
    for i, p in enumerate(tables):
        mine = marked.filter(pl.col(SRC) == i)
        if not mine.height:
            continue
        checks, id_missing, used, values = p.checks
        reason, column, value = first_reason(list(checks), id_missing)
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
