"""Read one export into a LazyFrame of its own columns, plus the facts a message needs (encoding, delimiter).

Text formats are read as strings: identifiers keep leading zeros, and dates are parsed later with a format
detected per column (3-6x faster than letting the reader guess datetimes). Lines the reader cannot make into
a row of the table (more fields than the header, a line that is not JSON) are kept as rows marked with a
reason in READ_REJECT, so that the loader rejects and counts them like any other bad row.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import io
import json
import mmap
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastexcel import FastExcelError  # what Polars' Excel reader raises for a file that is not a workbook

from churnwhy.errors import InputError
from churnwhy.load.decode import (
    DEFAULT_MAX_DECOMPRESSED_MB, csv_field_limit, read_bytes, requote, to_utf8, unclosed_quote,
)
from churnwhy.load.discover import SourceFile

ROW = "__row"  # 1-based data row (header excluded), for rejects
SOURCE = "__source"
READ_REJECT = "__read_reject"  # why the reader could not read this row (READ_REASONS), else null
READ_VALUE = "__read_value"  # what it could not read (the extra fields, the line), for the rejects file
READ_REASONS = {
    "ragged_row": "more fields than the header (a delimiter inside an unquoted value?)",
    "bad_json": "a line that is not a JSON object",
}
NULL_TOKENS = ["", "NA", "N/A", "n/a", "na", "null", "NULL", "Null", "None", "none", "nan", "NaN", "#N/A", "-"]
DELIMITERS = (",", ";", "\t", "|")
WHITESPACE = "\x1f"  # columns aligned with spaces are re-delimited with the unit separator, a byte no text holds
EXTRA_FIELDS = 4  # columns past the header that catch a ragged row's extra fields
# Files up to this size are checked whole for UTF-8 (and transcoded if not); larger ones by their first part.
WHOLE_CHECK_BYTES = 256 * 1024 * 1024
SAMPLE_BYTES = 4 * 1024 * 1024
_NUMERIC_CELL = re.compile(r"^[+-]?[\d.,:/ -]+$")


@dataclasses.dataclass(frozen=True)
class RawTable:
    """An export as read: its columns untouched (names and values). Rows are counted by the pass that reads
    them (load.exports), not here: a count of its own was one more pass over a large CSV."""

    source: SourceFile
    name: str  # source name, plus '#sheet' for Excel sheets
    frame: pl.LazyFrame  # original columns + __row (+ READ_REJECT, READ_VALUE where the reader rejects rows)
    columns: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None
    notes: tuple[str, ...] = ()  # what the reader decided (columns left out, rows decoded as 1252...)


def read_source(src: SourceFile, *, max_decompressed_mb: int = DEFAULT_MAX_DECOMPRESSED_MB
                ) -> tuple[list[RawTable], list[tuple[str, str]]]:
    """Tables in one export, and (name, why) notes for parts that are not tables."""
    try:
        if src.format == "csv":
            return [_read_csv(src, max_decompressed_mb)], []
        if src.format in ("parquet", "parquet-hive"):
            lf = pl.scan_parquet(src.path, hive_partitioning=src.format == "parquet-hive")
            return [_finish(src, src.name, lf)], []
        if src.format == "ndjson":
            return [_read_ndjson(src, read_bytes(src.path, src.name, compressed=src.compressed,
                                                 max_mb=max_decompressed_mb))], []
        if src.format == "json":
            return _read_json(src, max_decompressed_mb)
        if src.format == "excel":
            from churnwhy.load.excel import read_excel

            return read_excel(src, _finish, max_decompressed_mb)
    except InputError:
        raise
    except (pl.exceptions.PolarsError, FastExcelError, OSError, ValueError, EOFError) as exc:
        raise InputError(
            f"{src.name}: cannot be read as {src.format} ({short_error(exc)})",
            hint="check the file opens in a spreadsheet; re-export it, or move it out of the folder",
        ) from None
    raise AssertionError(src.format)


def _finish(src: SourceFile, name: str, lf: pl.LazyFrame, notes: tuple[str, ...] = (), **facts: str | None) -> RawTable:
    """The table with its row numbers; nested columns (lists, objects) are left out, with a note."""
    schema = lf.collect_schema()
    nested = [c for c, t in schema.items() if t.is_nested()]
    if nested:
        lf = lf.drop(nested)
        notes = (*notes, f"{name}: column{'s' if len(nested) > 1 else ''} {', '.join(map(repr, nested))} "
                 "hold nested values (lists or objects) and were not read")
    if ROW not in schema:
        lf = lf.with_row_index(ROW, offset=1)
    columns = tuple(c for c in lf.collect_schema().names() if c not in (ROW, READ_REJECT, READ_VALUE))
    return RawTable(src, name, lf, columns, notes=notes, **facts)


def _read_csv(src: SourceFile, max_mb: int) -> RawTable:
    size = src.path.stat().st_size
    # An ASCII file (most exports) is UTF-8: checked whole in place, then Polars reads the file itself.
    ascii_file, quotes = (False, 0)
    if not src.compressed and size <= WHOLE_CHECK_BYTES:
        ascii_file, quotes = _ascii_and_quotes(src.path)
    whole = src.compressed or (size <= WHOLE_CHECK_BYTES and not ascii_file)
    data: bytes | None = read_bytes(src.path, src.name, compressed=src.compressed, max_mb=max_mb) if whole else None
    head = data[:SAMPLE_BYTES] if data is not None else _head(src.path)
    if not head.strip():
        raise InputError(f"{src.name}: the file is empty", hint="re-export it with its header row, or remove it")
    notes: tuple[str, ...] = ()
    encoding = "utf-8"
    if data is None and not ascii_file and _encoding(head, partial=True) != "utf-8":
        data = src.path.read_bytes()  # a large file that is not UTF-8: transcoded whole
    if data is None and b"\r" in head and b"\n" not in head:
        data = src.path.read_bytes()  # CR-only line endings: rewritten below
    if data is not None:
        text = to_utf8(data, src.name)
        data, encoding, notes = text.data, text.encoding, text.notes
        head = data[:SAMPLE_BYTES]
        quotes = data.count(b'"')
    sample = head.decode("utf-8", errors="replace")
    delimiter, title = _sniff_delimiter(sample, src)
    if delimiter == WHITESPACE:
        data = _realign(data if data is not None else src.path.read_bytes())
        head = data[:SAMPLE_BYTES]
        sample = head.decode("utf-8", errors="replace")
        notes = (*notes, f"{src.name}: columns aligned with spaces; read as whitespace-separated")
    elif quotes % 2 or _stray_quote(sample, delimiter):
        whole_text = (data if data is not None else src.path.read_bytes()).decode("utf-8", errors="replace")
        line = unclosed_quote(whole_text, delimiter)
        if line is not None:
            raise InputError(f"{src.name}: line {line} opens a quoted value (\") that is never closed",
                             hint="close the quote on that line (or remove the stray quote) and re-export")
        # A quote inside an unquoted value (12" screen) is text; Polars' reader would pair it with the next one.
        data = requote(whole_text, delimiter)
        notes = (*notes, f"{src.name}: quote characters inside unquoted values read as text")
    source = io.BytesIO(data) if data is not None else src.path
    options: dict[str, Any] = dict(separator=delimiter, quote_char='"', glob=False,  # "data[1].csv" is that file, not a pattern
                   skip_lines=title)
    if title:
        notes = (*notes, f"{src.name}: the {title} line{'s' if title > 1 else ''} above the header (a title?) not read")
    with csv_field_limit():
        first = next(csv.reader([sample.split("\n", title + 1)[title]], delimiter=delimiter), [])
    has_header = not _headerless(first)
    if has_header:
        names = pl.read_csv(source, n_rows=0, infer_schema=False, **options).columns
    else:
        names = [f"column_{i + 1}" for i in range(len(first))]
        notes = (*notes, f"{src.name}: no header row (the first row holds values); columns named column_1 ... "
                 f"column_{len(first)}")
    if isinstance(source, io.BytesIO):
        source.seek(0)
    extra = [f"__extra_{i}" for i in range(EXTRA_FIELDS)]
    schema = {**{n: pl.String for n in names}, **{e: pl.String for e in extra}}
    # Values are trimmed where they are read (values.text), not here for every column of every row. Columns
    # past the header catch a ragged row's extra fields: that row is marked, not the whole file lost.
    lf = pl.scan_csv(source, has_header=has_header, schema=schema, missing_columns="insert",
                     truncate_ragged_lines=True, raise_if_empty=True, **options)
    lf = csv_rows_read(lf, names, delimiter)
    shown = "whitespace" if delimiter == WHITESPACE else delimiter
    return _finish(src, src.name, lf, notes, encoding=encoding, delimiter=shown)


def csv_rows_read(lf: pl.LazyFrame, names: list[str], delimiter: str) -> pl.LazyFrame:
    """A CSV read as text with EXTRA_FIELDS columns past the header: rows with extra fields marked ragged_row,
    the null tokens made null (also run by churnwhy.engine.spark on the rows Spark reads)."""
    extra = [f"__extra_{i}" for i in range(EXTRA_FIELDS)]
    ragged = pl.any_horizontal(pl.col(extra).is_not_null())
    lf = lf.with_columns(
        pl.when(ragged).then(pl.lit("ragged_row")).alias(READ_REJECT),
        pl.when(ragged).then(pl.concat_str(extra, separator=" " if delimiter == WHITESPACE else delimiter,
                                           ignore_nulls=True)).alias(READ_VALUE),
    ).drop(extra)
    # The null tokens, matched as the reader's null_values would (a whole field, quoted or not, before trimming;
    # an empty field), by one set lookup a value: the reader compares each field with each token in turn.
    return lf.with_columns(pl.when(pl.col(names).is_in(NULL_TOKENS)).then(None).otherwise(pl.col(names)).name.keep())


def _stray_quote(sample: str, delimiter: str) -> bool:
    """A quote with text on both sides (not doubled, not at a value's edge): a literal quote in an unquoted value."""
    d = re.escape(delimiter)
    return re.search(f'[^{d}"\r\n]"[^{d}"\r\n]', sample) is not None


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(SAMPLE_BYTES)


def _ascii_and_quotes(path: Path) -> tuple[bool, int]:
    """Whether every byte of the file is below 128, and how many quote characters it holds, without reading
    it into memory (a memory map). An odd count of quotes is checked for a quoted value left open."""
    if path.stat().st_size == 0:
        return True, 0
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = np.frombuffer(mapped, dtype=np.uint8)
        try:
            if int(view.max()) >= 128 or int(view.min()) == 0:  # a zero byte: UTF-16 or binary (decoded or refused)
                return False, 0
            step = 1 << 24  # counted a slice at a time: a comparison over the whole map is a copy of its size
            return True, sum(int(np.count_nonzero(view[a:a + step] == ord('"'))) for a in range(0, view.size, step))
        finally:
            del view  # the map cannot close while an array points into it


def _encoding(data: bytes, *, partial: bool) -> str:
    """UTF-8 if the sample decodes (a character cut at a partial sample's end is fine); else not."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 4:
            return "utf-8"
    return "other"


def _headerless(first: list[str]) -> bool:
    """A first row of numbers and dates only is data, not a header (a log exported without column names)."""
    cells = [c.strip() for c in first]
    return len(cells) >= 2 and all(c and _NUMERIC_CELL.match(c) for c in cells)


def _sniff_delimiter(text: str, src: SourceFile) -> tuple[str, int]:
    """The delimiter, and how many lines above the header are a title (a line or two of few fields: "Customer
    report, March 2024"; at most TITLE_LINES)."""
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may cut the last line
    best, best_score, best_title = None, (0.0, 0), 0
    with csv_field_limit():  # a 200 KB free-text field is a value, not an error
        for delim in DELIMITERS:
            counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
            if not counts:
                continue
            title = _title(counts)
            rest = counts[title:]
            if not rest or rest[0] < 2:
                continue
            consistent = sum(c == rest[0] for c in rest) / len(rest)
            score = (consistent, rest[0])
            if score > best_score:
                best, best_score, best_title = delim, score, title
    if best_score[0] < 0.9 and _aligned(lines):
        return WHITESPACE, 0
    if best is None:
        if src.path.suffix.lower() == ".tsv":
            return "\t", 0
        if len(lines) and len(lines[0]) > 0:
            return ",", 0  # a single-column file
        raise InputError(f"{src.name}: cannot find the delimiter", hint="export with commas, semicolons, tabs or pipes")
    if best_title:  # counted without blank lines: the header's line number in the file
        nonblank = [i for i, ln in enumerate(text.splitlines()) if ln.strip()]
        best_title = nonblank[best_title]
    return best, best_title


TITLE_LINES = 5


def _title(counts: list[int]) -> int:
    """Leading lines with at most half the fields most lines have (and at most 2): a title above the header."""
    mode = collections.Counter(counts).most_common(1)[0][0]
    n = 0
    while n < min(TITLE_LINES, len(counts) - 1) and counts[n] <= min(2, mode // 2):
        n += 1
    return n


_RUNS = (re.compile(r"[ \t]+"), re.compile(r"[ \t]{2,}"))  # one space apart; two or more (names with spaces)
_RUNS_B = (re.compile(rb"[ \t]+"), re.compile(rb"[ \t]{2,}"))


def _aligned(lines: list[str]) -> int | None:
    """Which spacing splits every line into the same number (>= 2) of columns: 1 (any run of spaces), 2 (two or
    more: header names holding one space), or None."""
    if len(lines) < 2:
        return None
    for k, runs in enumerate(_RUNS, 1):
        counts = [len(runs.split(ln.strip())) for ln in lines]
        if counts[0] >= 2 and sum(c == counts[0] for c in counts) >= 0.95 * len(counts):
            return k
    return None


def _realign(data: bytes) -> bytes:
    """Space-aligned columns as WHITESPACE-separated ones (a regex over the bytes, no loop over rows)."""
    data = data.replace(b"\r\n", b"\n")
    lines = [ln for ln in data[:SAMPLE_BYTES].decode("utf-8", "replace").splitlines()[:200] if ln.strip()]
    runs = _RUNS_B[(_aligned(lines) or 1) - 1]
    data = re.sub(rb"(?m)^[ \t]+|[ \t]+$", b"", data)
    return runs.sub(WHITESPACE.encode(), data)


def _read_ndjson(src: SourceFile, data: bytes) -> RawTable:
    """One JSON object a line. Types come from every line (a field that is a number in the first rows and text
    later is text); a line that is not a JSON object is a rejected row (bad_json), not the whole file lost."""
    text = to_utf8(data, src.name)
    try:
        schema = pl.scan_ndjson(io.BytesIO(text.data), infer_schema_length=None).collect_schema()
        lf = pl.read_ndjson(io.BytesIO(text.data), schema=schema).lazy()
        return _finish(src, src.name, lf, text.notes, encoding=text.encoding)
    except pl.exceptions.PolarsError:
        pass
    # Some line is broken, or a field's types have no common type (a list here, a number there): each line is
    # read on its own (only here: a file the fast reader could not read).
    lines = [ln for ln in text.data.split(b"\n") if ln.strip()]
    good, bad = [], []
    keys: dict[str, None] = {}
    nested: set[str] = set()
    for i, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            bad.append(i)
            continue
        good.append(i)
        keys.update(dict.fromkeys(obj))
        nested.update(k for k, v in obj.items() if isinstance(v, dict | list))
    if not good:
        raise InputError(f"{src.name}: no line is a JSON object (line 1: {_clip(lines[0])!r})",
                         hint="export one JSON object per line (NDJSON), or a JSON array of records")
    body = b"\n".join(lines[i - 1] for i in good)
    notes = text.notes
    try:
        frame = pl.read_ndjson(io.BytesIO(body), infer_schema_length=None)
    except pl.exceptions.PolarsError:  # no common type: every field as text, nested ones left out
        frame = pl.read_ndjson(io.BytesIO(body), schema={k: pl.String for k in keys}).drop(sorted(nested))
        if nested:
            notes = (*notes, f"{src.name}: column{'s' if len(nested) > 1 else ''} {', '.join(map(repr, sorted(nested)))} "
                     "hold nested values (lists or objects) and were not read")
    frame = frame.with_columns(pl.Series(ROW, good, dtype=pl.UInt32))
    rejected = pl.DataFrame({ROW: pl.Series(bad, dtype=pl.UInt32), READ_REJECT: ["bad_json"] * len(bad),
                             READ_VALUE: [_clip(lines[i - 1]) for i in bad]})
    lf = pl.concat([frame, rejected], how="diagonal_relaxed").sort(ROW).lazy()
    return _finish(src, src.name, lf, notes, encoding=text.encoding)


def _clip(line: bytes) -> str:
    return line[:200].decode("utf-8", errors="replace")


def _read_json(src: SourceFile, max_mb: int) -> tuple[list[RawTable], list[tuple[str, str]]]:
    data = to_utf8(read_bytes(src.path, src.name, compressed=src.compressed, max_mb=max_mb), src.name).data
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        # One object per line is NDJSON with a .json name; a single object (even over several lines) is not a
        # table. The whole-document parse fails at once (at line 2) on NDJSON.
        try:
            single = isinstance(json.loads(data), dict)
        except ValueError:
            single = False
        if single and stripped.count(b"\n") > 1:
            return [], [(src.name, "a JSON object, not a list of records")]
        return [_read_ndjson(src, data)], []
    try:
        frame = pl.read_json(io.BytesIO(data), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise InputError(f"{src.name}: not valid JSON (line {getattr(exc, 'lineno', '?')}: {getattr(exc, 'msg', exc)})",
                             hint="fix or re-export the file, or move it out of the folder") from None
        if not (isinstance(value, list) and sum(isinstance(v, dict) for v in value[:1000]) * 2 > min(len(value), 1000)):
            return [], [(src.name, "JSON that is not a list of records (objects)")]
        # Records whose fields have no common type: read one by one, as NDJSON lines (a record that is not
        # an object is a bad_json row)
        return [_read_ndjson(src, b"\n".join(json.dumps(r).encode() for r in value))], []
    return [_finish(src, src.name, frame.lazy())], []


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.replace("\x00", "")[:200]
