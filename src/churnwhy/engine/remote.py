"""Exports where the data lives: a URI Spark reads (file://, s3a://, hdfs://, abfss://, gs://...), listed and
sampled through Spark's own filesystem layer (Hadoop's), so the driver needs no credentials or client of its own.

The driver's discovery, sampling and column mapping (load.discover, load.read, load.parse) read a local
mirror of the URI's tree, in a temporary folder:
- files under NATIVE_BYTES, and every format Spark does not read itself as churnwhy does (gzip, JSON, NDJSON,
  Excel), are copied whole (Spark's binaryFile source; its length filter is pushed down, so large files are
  not read for this);
- a plain CSV or Parquet file from NATIVE_BYTES on is copied as a sample only (its first SAMPLE_ROWS rows,
  read by Spark): the sample decides its role, columns and formats exactly as the first rows of a local file
  do, and Spark then reads the whole file where it lies (engine.spark). Such a file that turns out not to be
  an events file Spark reads itself (a customers or survey file, a CSV the default reader has to rewrite) is
  copied whole before it is parsed (`Staged.complete`), so no row is ever lost to the sample.
Files Spark's listing leaves out (names starting with '.' or '_', as _SUCCESS) are not exports.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl
import pyarrow.parquet as pq

from churnwhy.errors import InputError
from churnwhy.load.columns import LINK_KEYS, TableMapping
from churnwhy.load.discover import FORMATS, SourceFile, suffix_of
from churnwhy.load.read import RawTable, read_source
from churnwhy.load.roles import SAMPLE_ROWS

# Formats Spark reads itself from a URI (engine.spark._native); anything else is copied to the driver whole.
SAMPLED = {".csv", ".tsv", ".txt", ".tab", ".parquet", ".pq"}


@dataclasses.dataclass
class Staged:
    """A URI's export files mirrored under `folder` (whole, or a sample for the large CSV/Parquet files)."""

    spark: Any
    uri: str  # as given (normalised by as_uri)
    folder: Path  # the local mirror's root
    path: Path  # what the driver's loader reads: `folder`, or the one file when the URI names a file
    remote: dict[Path, str]  # mirror file -> the file's URI as Spark listed it
    sizes: dict[Path, int]  # mirror file -> its size where it lives
    sampled: set[Path]  # mirror files that hold only their first SAMPLE_ROWS rows

    def uri_of(self, local: Path) -> str:
        """Where a mirrored file (or a folder of them: a Parquet dataset) lives."""
        if local in self.remote:
            return self.remote[local]
        rel = local.relative_to(self.folder).as_posix()
        return self.uri.rstrip("/") + "/" + rel

    def size_of(self, local: Path) -> int:
        """Bytes where the file (or every file under the folder) lives."""
        return sum(n for p, n in self.sizes.items() if p == local or local in p.parents)

    def complete(self, mapped: list[tuple[RawTable, TableMapping]]) -> list[tuple[RawTable, TableMapping]]:
        """The tables with every sampled file that Spark will not read itself as events copied whole and read
        again (its mapping, decided from the sample, stays: the sample is the file's first rows)."""
        from churnwhy.engine.spark import native_kind

        out = []
        for raw, mapping in mapped:
            partial = [p for p in self.sampled if p == raw.source.path or raw.source.path in p.parents]
            # an events file with no key column may be settled as a lookup table (load.roles): read whole
            keyed = any(k in mapping.columns for k in ("customer_id", *LINK_KEYS))
            if partial and not (mapping.role == "events" and keyed and native_kind(raw)):
                self._fetch(partial)
                self.sampled -= set(partial)
                raws, _ = read_source(raw.source)
                raw = next(r for r in raws if r.name == raw.name)
            out.append((raw, mapping))
        return out

    def _fetch(self, files: list[Path]) -> None:
        if not files:
            return
        table = _binary(self.spark, [self.remote[p] for p in files]).select("path", "content").toArrow()
        by_uri = {v: k for k, v in self.remote.items()}
        for uri, content in zip(table["path"].to_pylist(), table["content"].to_pylist(), strict=True):
            by_uri[uri].write_bytes(content)


def _binary(spark: Any, where: str | list[str]) -> Any:
    return spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(where)


def stage(spark: Any, uri: str, folder: Path, native_bytes: int) -> Staged:
    """List the files under `uri` through Spark and mirror them into `folder` (see the module's docstring)."""
    from pyspark.sql import functions as F

    try:
        listing = _binary(spark, uri).select("path", "length").toArrow()
    except Exception as exc:  # noqa: BLE001 (Spark's AnalysisException: no such path, no filesystem for a scheme)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{uri}: Spark cannot list it ({first})",
                         hint="check the URI, and that Spark has the filesystem and credentials for its scheme "
                              "(e.g. hadoop-aws for s3a://, set through --spark-master's cluster or spark-defaults)"
                         ) from None
    paths = listing["path"].to_pylist()
    if not paths:
        raise InputError(f"{uri}: no files found there", hint="check the URI names the folder of exports")
    lengths = [int(n) for n in listing["length"].to_pylist()]
    base = urlsplit(uri).path.rstrip("/")
    single = len(paths) == 1 and urlsplit(paths[0]).path.rstrip("/") == base
    remote: dict[Path, str] = {}
    sizes: dict[Path, int] = {}
    for p, n in zip(paths, lengths, strict=True):
        where = urlsplit(p).path
        if not single and not where.startswith(base + "/"):
            raise InputError(f"{uri}: Spark listed {p}, which is not under it", hint="give the folder's full URI")
        rel = Path(where).name if single else where[len(base):].lstrip("/")
        local = folder / rel
        remote[local], sizes[local] = p, n
    big = {local for local in remote if sizes[local] >= native_bytes and suffix_of(local) in SAMPLED}
    for local in remote:
        local.parent.mkdir(parents=True, exist_ok=True)
    # the small files in one read: the length filter is pushed into the listing, so large files are not read
    rows = _binary(spark, uri).where(F.col("length") < native_bytes).select("path", "content").toArrow()
    by_uri = {v: k for k, v in remote.items()}
    for p, content in zip(rows["path"].to_pylist(), rows["content"].to_pylist(), strict=True):
        by_uri[p].write_bytes(content)
    staged = Staged(spark, uri, folder, next(iter(remote)) if single else folder, remote, sizes, set(big))
    staged._fetch([p for p in remote if sizes[p] >= native_bytes and p not in big])  # large gzip, JSON, Excel
    for local in big:
        if FORMATS.get(suffix_of(local)) == "parquet":
            pq.write_table(spark.read.parquet(remote[local]).limit(SAMPLE_ROWS).toArrow(), local)
        else:  # the header and the first SAMPLE_ROWS lines, as Spark's text source reads them (UTF-8)
            lines = spark.read.text(remote[local]).limit(SAMPLE_ROWS + 1).toArrow()["value"].to_pylist()
            local.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return staged

