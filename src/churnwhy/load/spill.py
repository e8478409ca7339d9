"""The events pass through a temporary folder when they are too many to hold (Config.spill_events_above)."""

from __future__ import annotations

import concurrent.futures
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from churnwhy.load.codes import SRC, EventCodes, named_types, type_names
from churnwhy.load.duplicates import FLAGGED, SAME_EVENT, duplicate_rows, event_hash, marked_rows, no_rows, repeated_hashes
from churnwhy.load.parse import REASON, Parsed
from churnwhy.load.read import ROW
from churnwhy.workers import worker_count

SPILL_SLICE = 2_500_000  # event rows read at a time (a thread) when the events are spilled to disk
SPILL_PARTITION = 25_000_000  # hashes sorted at a time when spilled (200 MB)


def estimated_rows(tables: list[Parsed]) -> int:
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


def spill_events(query: pl.LazyFrame, tables: list[Parsed], ids: pl.Series, sources: tuple[str, ...],
                 same: tuple[str, ...] = SAME_EVENT) -> tuple[EventCodes, pl.DataFrame, pl.DataFrame]:
    """The events pass through files in a temporary folder, so that memory does not grow with the events: the
    pass is sunk to disk as it streams; the checks read it back SPILL_SLICE rows at a time (a slice per thread, at
    most two: spilling is for bounded memory); the duplicate check sorts its hashes one hash range (about
    SPILL_PARTITION hashes) at a time. Same codes, rejects and counts as in memory, at the cost of writing and
    reading the events a few times."""
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
        marked_parts.append(marked_rows(part))
        exported.append(part.filter(~FLAGGED)["event_type"].unique())  # as in memory: the valid rows' types
    for i, p in enumerate(tables):
        p.n_rows = int(per_file[i])
    marked = pl.concat(marked_parts) if marked_parts else no_rows()
    names, enum = type_names(pl.concat(exported).unique() if exported else pl.Series("event_type", [], pl.Categorical))
    # 2. the valid rows with their types named, written in parts; their hashes, by hash range, to files (a
    # slice per thread, at most two at a time: Polars and numpy release the GIL)
    ranges = max(1, -(-n // SPILL_PARTITION))
    starts = list(range(0, n, SPILL_SLICE)) or [0]  # no rows at all: one empty part keeps the schema
    parts = [tmp / f"valid-{k:06d}.arrow" for k in range(len(starts))]

    def write(k: int) -> None:
        part = named_types(read.slice(starts[k], SPILL_SLICE).collect().filter(~FLAGGED).drop(REASON), names, enum)
        part.write_ipc(parts[k])
        h = part.select(event_hash(same)).to_series().to_numpy()
        which = (h >> np.uint64(40)) * ranges >> 24  # equal hashes, equal range
        for r in range(ranges):
            h[which == r].tofile(tmp / f"hashes-{r}-{k:06d}.u64")

    with concurrent.futures.ThreadPoolExecutor(max_workers=worker_count(cap=2)) as pool:
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
        per_range.append(repeated_hashes(hashes))
        del hashes
    repeated = np.concatenate(per_range)
    dups = no_rows()
    if repeated.size:  # 3. the rows sharing a hash, compared exactly; the parts rewritten without the repeats
        wanted = event_hash(same).is_in(pl.Series(repeated).implode())
        dups = duplicate_rows(pl.concat([pl.read_ipc(f).filter(wanted) for f in parts]), same)
        if dups.height:
            drop = dups.select(SRC, ROW)
            for f in parts:
                pl.read_ipc(f).join(drop, on=[SRC, ROW], how="anti", maintain_order="left").write_ipc(f)
    return EventCodes(tuple(parts), ids, sources, folder), marked, dups
