"""Append-only file writers with fixed bytes for a fixed input (no timestamps, fixed compression)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

PARQUET_COMPRESSION = "zstd"


class Sink:
    """Writes DataFrames chunk by chunk to one file: csv, csv.gz, parquet or ndjson."""

    def __init__(self, path: Path, fmt: str, *, separator: str = ",", encoding: str = "utf-8") -> None:
        self.path, self.fmt, self.separator, self.encoding = path, fmt, separator, encoding
        self.rows = 0
        self._raw: io.BufferedWriter | None = None
        self._gz: gzip.GzipFile | None = None
        self._pq: pq.ParquetWriter | None = None

    def write(self, df: pl.DataFrame) -> None:
        if df.height == 0 and self.rows > 0:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "parquet":
            table = df.to_arrow()
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema, compression=PARQUET_COMPRESSION)
            self._pq.write_table(table)
        else:
            if self._raw is None:
                self._raw = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                if self.fmt == "csv.gz":  # mtime 0 and no file name: the same bytes every run
                    self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
            if self.fmt == "ndjson":
                data = df.write_ndjson().encode()
            else:
                data = df.write_csv(include_header=self.rows == 0, separator=self.separator).encode(self.encoding)
            (self._gz or self._raw).write(data)
        self.rows += df.height

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
        if self._raw is not None:
            self._raw.close()
        if self._pq is not None:
            self._pq.close()
