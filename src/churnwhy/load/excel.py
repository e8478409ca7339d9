"""Excel workbooks: every sheet a table, its header row found under any title rows, long numbers kept exact.

Sheets are read without a header and as text; the header is the first row that fills most of the sheet's
width (title and note rows above a table fill one or two cells). Excel stores every number as a double, so a
19-digit id cannot survive as a number: the digits in the file are read back from the sheet's XML where the
cell holds them, and a warning says so where the file itself had already lost them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import polars as pl

from churnwhy.errors import InputError
from churnwhy.load.discover import SourceFile

if TYPE_CHECKING:  # read.py imports this module when it reads a workbook
    from churnwhy.load.read import RawTable

HEADER_SEARCH = 30  # rows looked at for a header
EXACT_DIGITS = 15  # a double holds every integer up to 15 digits exactly
_LONG_NUMBER = r"^-?\d{16,}(\.0+)?$|^-?\d(\.\d+)?[eE]\+?\d+$"
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read_excel(src: SourceFile, finish: Callable[..., RawTable], max_mb: int,
               ) -> tuple[list[RawTable], list[tuple[str, str]]]:
    """Tables (RawTable, built by read.finish) and (name, why) notes for sheets that are not tables."""
    from churnwhy.load.read import NULL_TOKENS

    _check_size(src, max_mb)

    sheets = pl.read_excel(src.path, sheet_id=0, has_header=False, infer_schema_length=0, raise_if_empty=False,
                           drop_empty_rows=False, drop_empty_cols=False)
    tables: list[RawTable] = []
    notes: list[tuple[str, str]] = []
    for sheet, grid in sheets.items():
        name = src.name if len(sheets) == 1 else f"{src.name}#{sheet}"
        grid = grid.with_columns(pl.col(pl.String).str.strip_chars().replace(NULL_TOKENS, None))
        if grid.height == 0:
            notes.append((name, "empty sheet"))
            continue
        at = header_row(grid)
        grid = grid.with_row_index(GRID_ROW)
        header = _unique([_name(v, i) for i, v in enumerate(grid.row(at)[1:])])
        frame = grid.slice(at + 1).filter(~pl.all_horizontal(pl.exclude(GRID_ROW).is_null()))
        positions = dict(zip(header, range(len(header))))
        frame = frame.rename(dict(zip(grid.columns[1:], header)))
        frame = frame.select(GRID_ROW, *[c for c in header if not (c.startswith("column_") and frame[c].null_count() == frame.height)])
        sheet_notes: list[str] = []
        if at:
            sheet_notes.append(f"{name}: header on row {at + 1} of the sheet's used range; the {at} row"
                               f"{'s' if at > 1 else ''} above it (a title?) not read")
        if frame.height == 0:
            notes.append((name, "a header and no rows" if at else "empty sheet"))
            continue
        frame, long_notes = _exact_long_numbers(src, sheet, frame, name, positions)
        tables.append(finish(src, name, frame.drop(GRID_ROW).lazy(), tuple(sheet_notes + long_notes)))
    return tables, notes


GRID_ROW = "__grid_row"


def _check_size(src: SourceFile, max_mb: int) -> None:
    """A workbook is a zip: one whose parts inflate past the limit (a zip bomb) is refused before it is read.
    The sizes come from the archive's directory, which the reader would trust as well."""
    try:
        with zipfile.ZipFile(src.path) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the reader says what is wrong with it
    if total > max_mb * 1024 * 1024:
        raise InputError(
            f"{src.name}: decompresses to more than {max_mb} MB ({total / 1e6:,.0f} MB; the workbook is "
            f"{src.path.stat().st_size / 1e6:.1f} MB)",
            hint=f"if the file is genuine, raise the limit in churnwhy.toml:  max_decompressed_mb = {max_mb * 4}; "
                 "otherwise remove it from the folder")


def header_row(grid: pl.DataFrame) -> int:
    """The first row that fills at least half the sheet's width with text that is not (all) numbers."""
    head = grid.head(HEADER_SEARCH)
    filled = head.select(pl.sum_horizontal(pl.all().is_not_null())).to_series().to_list()
    width = max(filled) if filled else 0
    numeric = head.select(pl.sum_horizontal(pl.all().str.contains(r"^[+-]?[\d.,eE:/ -]+$").fill_null(False))).to_series()
    for i, n in enumerate(filled):
        if n >= max(1, (width + 1) // 2) and numeric[i] < n:
            return i
    return 0


def _name(value: str | None, i: int) -> str:
    return value if value else f"column_{i + 1}"


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k + 1}")
    return out


def _exact_long_numbers(src: SourceFile, sheet: str, frame: pl.DataFrame, name: str,
                        positions: dict[str, int]) -> tuple[pl.DataFrame, list[str]]:
    """Columns holding numbers of more than 15 digits (ids) with the digits the sheet's XML writes: the reader
    gives them as doubles, rounded. Where the XML holds them rounded too, the workbook lost them: a note says so."""
    long_cols = [c for c in frame.columns if c != GRID_ROW and frame[c].drop_nulls().str.contains(_LONG_NUMBER).any()]
    if not long_cols:
        return frame, []
    cells = _sheet_numbers(src, sheet)
    notes = []
    for col in long_cols:
        mine = cells.filter(pl.col("col") == positions[col]).select(GRID_ROW, "text") if cells is not None else None
        joined = (frame.select(GRID_ROW, col).join(mine, on=GRID_ROW, how="left", maintain_order="left")
                  if mine is not None else None)
        same = joined is not None and joined.filter(pl.col("text").is_not_null()).select(
            (pl.col(col).cast(pl.Float64, strict=False) == pl.col("text").cast(pl.Float64, strict=False)).all()).item()
        if same and joined is not None:  # the cells line up: each long number as written in the file
            exact = pl.col("text").str.contains(r"^-?\d+(\.0+)?$").fill_null(False)
            fixed = joined.select(
                pl.when(exact).then(pl.col("text").str.replace(r"\.0+$", "")).otherwise(pl.col(col)).alias(col))
            frame = frame.with_columns(fixed.to_series())
            lost = joined.filter(~exact & pl.col(col).str.contains(_LONG_NUMBER).fill_null(False)).height
        else:
            lost = int(frame[col].drop_nulls().str.contains(_LONG_NUMBER).sum())
        if lost:
            notes.append(f"{name}: column {col!r} holds {lost} numbers longer than {EXACT_DIGITS} digits that the "
                         "workbook stores rounded (Excel keeps 15 digits): ids among them may collide; re-export "
                         "that column as text")
    return frame, notes


def _sheet_numbers(src: SourceFile, sheet: str) -> pl.DataFrame | None:
    """__grid_row, col (0-based, from the sheet's first used row and column, as the reader counts) and text of
    every numeric cell in one sheet's XML. Only read for sheets with long numbers (a loop over the XML)."""
    try:
        with zipfile.ZipFile(src.path) as z:
            book = ElementTree.fromstring(z.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            rid = next(s.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
                       for s in book.iterfind("m:sheets/m:sheet", _NS) if s.get("name") == sheet)
            target = next(r.attrib["Target"] for r in rels if r.get("Id") == rid)  # KeyError: not read
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            rows, cols, texts, used_rows, used_cols = [], [], [], [], []
            with z.open(path) as f:
                for _, el in ElementTree.iterparse(f):
                    if el.tag.endswith("}c"):
                        v = el.find("m:v", _NS)
                        if v is None and el.find("m:is", _NS) is None:
                            continue
                        r, c = _cell(el.get("r", ""))
                        used_rows.append(r)
                        used_cols.append(c)
                        if el.get("t") in (None, "n") and v is not None and v.text:
                            rows.append(r)
                            cols.append(c)
                            texts.append(v.text)
                    elif el.tag.endswith("}row"):
                        el.clear()
    except (KeyError, StopIteration, zipfile.BadZipFile, ElementTree.ParseError, ValueError):
        return None
    if not used_rows:
        return None
    top, left = min(used_rows), min(used_cols)
    return pl.DataFrame({GRID_ROW: [r - top for r in rows], "col": [c - left for c in cols], "text": texts},
                        schema={GRID_ROW: pl.UInt32, "col": pl.Int64, "text": pl.String})


def _cell(ref: str) -> tuple[int, int]:
    m = re.match(r"([A-Z]+)(\d+)$", ref)
    if m is None:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col
