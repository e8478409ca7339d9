"""Read one export into a LazyFrame of its own columns, plus the facts a message needs (encoding, delimiter).

Text formats are read as strings: identifiers keep leading zeros, and dates are parsed later with a format
detected per column (3-6x faster than letting the reader guess datetimes).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import mmap
from pathlib import Path

import numpy as np
import polars as pl
from fastexcel import FastExcelError  # what Polars' Excel reader raises for a file that is not a workbook

from churnwhy.errors import InputError
from churnwhy.load.discover import SourceFile

ROW = "__row"  # 1-based data row (header excluded), for rejects
SOURCE = "__source"
NULL_TOKENS = ["", "NA", "N/A", "n/a", "na", "null", "NULL", "Null", "None", "none", "nan", "NaN", "#N/A", "-"]
DELIMITERS = (",", ";", "\t", "|")
# Files up to this size are checked whole for UTF-8 (and transcoded if not); larger ones by their first part.
WHOLE_CHECK_BYTES = 256 * 1024 * 1024
SAMPLE_BYTES = 4 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class RawTable:
    """An export as read: its columns untouched (names and values). Rows are counted by the pass that reads
    them (load.exports), not here: a count of its own was one more pass over a large CSV."""

    source: SourceFile
    name: str  # source name, plus '#sheet' for Excel sheets
    frame: pl.LazyFrame  # original columns + __row
    columns: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None


def read_source(src: SourceFile) -> tuple[list[RawTable], list[tuple[str, str]]]:
    """Tables in one export, and (name, why) notes for parts that are not tables."""
    try:
        if src.format == "csv":
            return [_read_csv(src)], []
        if src.format in ("parquet", "parquet-hive"):
            lf = pl.scan_parquet(src.path, hive_partitioning=src.format == "parquet-hive")
            return [_finish(src, src.name, lf)], []
        if src.format == "ndjson":
            data = _bytes(src) if src.compressed else None
            lf = pl.scan_ndjson(io.BytesIO(data) if data is not None else src.path, infer_schema_length=10_000)
            return [_finish(src, src.name, lf)], []
        if src.format == "json":
            return _read_json(src)
        if src.format == "excel":
            return _read_excel(src)
    except InputError:
        raise
    except (pl.exceptions.PolarsError, FastExcelError, OSError, ValueError, json.JSONDecodeError, EOFError) as exc:
        raise InputError(
            f"{src.name}: cannot be read as {src.format} ({short_error(exc)})",
            hint="check the file opens in a spreadsheet; re-export it, or move it out of the folder",
        ) from None
    raise AssertionError(src.format)


def _finish(src: SourceFile, name: str, lf: pl.LazyFrame, **facts: str | None) -> RawTable:
    lf = lf.with_row_index(ROW, offset=1)
    columns = tuple(c for c in lf.collect_schema().names() if c != ROW)
    return RawTable(src, name, lf, columns, **facts)


def _bytes(src: SourceFile) -> bytes:
    raw = src.path.read_bytes()
    return gzip.decompress(raw) if src.compressed else raw


def _read_csv(src: SourceFile) -> RawTable:
    size = src.path.stat().st_size
    # An ASCII file (most exports) is UTF-8: checked whole in place, then Polars reads the file itself.
    ascii_file = not src.compressed and size <= WHOLE_CHECK_BYTES and _ascii(src.path)
    whole = src.compressed or (size <= WHOLE_CHECK_BYTES and not ascii_file)
    data: bytes | None = _bytes(src) if whole else None
    head = data[:SAMPLE_BYTES] if data is not None else src.path.open("rb").read(SAMPLE_BYTES)
    if not head.strip():
        raise InputError(f"{src.name}: the file is empty", hint="re-export it with its header row, or remove it")
    encoding = "utf-8" if ascii_file else _encoding(data if data is not None else head, partial=data is None)
    if encoding != "utf-8":
        assert data is not None or True
        data = (data if data is not None else src.path.read_bytes()).decode(encoding).encode("utf-8")
        head = data[:SAMPLE_BYTES]
    text = head.decode("utf-8", errors="replace")
    delimiter = _sniff_delimiter(text, src)
    options = dict(
        separator=delimiter, infer_schema=False, null_values=None, truncate_ragged_lines=False,
        raise_if_empty=True, quote_char='"', glob=False,  # a file named "data[1].csv" is that file, not a pattern
    )
    # Values are trimmed where they are read (values.text), not here for every column of every row.
    lf = pl.scan_csv(io.BytesIO(data) if data is not None else src.path, **options)  # type: ignore[arg-type]
    # The null tokens, matched as the reader's null_values would (a whole field, quoted or not, before trimming;
    # an empty field), by one set lookup a value: the reader compares each field with each token in turn.
    lf = lf.with_columns(pl.when(pl.all().is_in(NULL_TOKENS)).then(None).otherwise(pl.all()).name.keep())
    return _finish(src, src.name, lf, encoding=encoding, delimiter=delimiter)


def _ascii(path: Path) -> bool:
    """Whether every byte of the file is below 128, without reading it into memory (a memory map)."""
    if path.stat().st_size == 0:
        return True
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = np.frombuffer(mapped, dtype=np.uint8)
        try:
            return int(view.max()) < 128
        finally:
            del view  # the map cannot close while an array points into it


def _encoding(data: bytes, *, partial: bool) -> str:
    """UTF-8 (with or without BOM) if it decodes; otherwise Windows-1252, the superset of Latin-1 offices use."""
    sample = data
    if sample.isascii():  # ASCII is UTF-8; checked without decoding a copy of the file
        return "utf-8"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(sample) - 4:  # a character cut at the sample's end
            return "utf-8"
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"  # decodes any byte string


def _sniff_delimiter(text: str, src: SourceFile) -> str:
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may cut the last line
    best, best_score = None, (0.0, 0)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = delim, score
    if best is None:
        if src.path.suffix.lower() == ".tsv":
            return "\t"
        if len(lines) and len(lines[0]) > 0:
            return ","  # a single-column file
        raise InputError(f"{src.name}: cannot find the delimiter", hint="export with commas, semicolons, tabs or pipes")
    return best


def _read_json(src: SourceFile) -> tuple[list[RawTable], list[tuple[str, str]]]:
    data = _bytes(src)
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        # One object per line is NDJSON with a .json name; a single object is not a table.
        try:
            lf = pl.read_ndjson(io.BytesIO(data), infer_schema_length=10_000).lazy()
            if lf.collect_schema().len() > 1 or stripped.count(b"\n") > 1:
                return [_finish(src, src.name, lf)], []
        except pl.exceptions.PolarsError:
            pass
        return [], [(src.name, "a JSON object, not a list of records")]
    frame = pl.read_json(io.BytesIO(data), infer_schema_length=10_000)
    return [_finish(src, src.name, frame.lazy())], []


def _read_excel(src: SourceFile) -> tuple[list[RawTable], list[tuple[str, str]]]:
    # All sheets, all text; a blank sheet is noted below, not an unreadable workbook.
    sheets = pl.read_excel(src.path, sheet_id=0, infer_schema_length=0, raise_if_empty=False)
    tables, notes = [], []
    for sheet, frame in sheets.items():
        name = src.name if len(sheets) == 1 else f"{src.name}#{sheet}"
        if frame.height == 0:
            notes.append((name, "empty sheet"))
            continue
        frame = frame.with_columns(pl.col(pl.String).str.strip_chars().replace(NULL_TOKENS, None))
        tables.append(_finish(src, name, frame.lazy()))
    return tables, notes


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
