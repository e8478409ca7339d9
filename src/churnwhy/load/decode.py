"""Bytes in, UTF-8 out: decompression under a size limit, byte-order marks, UTF-16, mixed encodings, line endings.

Exports come from many systems: a gzip can be a bomb, a file saved by Excel can be UTF-16, an export appended to
by two tools can hold UTF-8 rows and Windows-1252 rows. Each is decoded as written, or refused with a message
that names the file; never garbled.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import io
import re
import sys
from pathlib import Path

from churnwhy.errors import InputError

CHUNK = 1 << 20
DEFAULT_MAX_DECOMPRESSED_MB = 1024
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# A line holding a byte that is not UTF-8 (decoded with surrogateescape, such bytes become lone surrogates).
_NOT_UTF8_LINE = re.compile("[^\n]*[\udc80-\udcff][^\n]*")


@dataclasses.dataclass(frozen=True)
class Text:
    """An export's bytes as UTF-8, and how they were written."""

    data: bytes
    encoding: str  # utf-8, cp1252, latin-1, utf-16, utf-8+cp1252 (rows decoded one by one)...
    notes: tuple[str, ...] = ()


def read_bytes(path: Path, name: str, *, compressed: bool, max_mb: int = DEFAULT_MAX_DECOMPRESSED_MB) -> bytes:
    """The file's bytes, gunzipped when `compressed`. Decompression streams and stops past `max_mb` megabytes, so a
    small archive that inflates to gigabytes (a gzip bomb) is refused before it fills memory."""
    if not compressed:
        return path.read_bytes()
    limit = max_mb * 1024 * 1024
    chunks, total = [], 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise InputError(
                        f"{name}: decompresses to more than {max_mb} MB (stopped reading; the compressed file is "
                        f"{path.stat().st_size / 1e6:.1f} MB)",
                        hint=f"if the file is genuine, raise the limit in churnwhy.toml:  max_decompressed_mb = "
                             f"{max_mb * 4}; otherwise remove it from the folder",
                    )
                chunks.append(chunk)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; a cut file ends in EOFError
        raise InputError(f"{name}: not a readable gzip file ({exc or type(exc).__name__})",
                         hint="re-download or re-export it, or remove it from the folder") from None
    return b"".join(chunks)


def to_utf8(data: bytes, name: str) -> Text:
    """`data` as UTF-8: a byte-order mark decides; else UTF-8, with each row that is not UTF-8 decoded as
    Windows-1252 (Latin-1 where 1252 has no character); UTF-16 without a mark is recognised by its zero bytes."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode_whole(data, codec, name, "utf-8" if codec == "utf-8-sig" else codec)
    sample = data[:4096]
    zeros = sample.count(0)
    controls = sum(sample.count(b) for b in (*range(1, 9), 11, 12, *range(14, 32), 127))
    if zeros or controls:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if zeros > len(sample) // 4 and max(even, odd) > 0.9 * zeros:  # ASCII text in UTF-16: every other byte 0
            return _decode_whole(data, "utf-16-be" if even > odd else "utf-16-le", name, "utf-16")
        if zeros > len(sample) // 100 or controls > len(sample) // 20:
            raise InputError(f"{name}: holds binary data (zero bytes), not text",
                             hint="export it as CSV, TSV, Parquet, JSON or Excel, or remove it from the folder")
    if data.isascii():
        return Text(_line_ends(data), "utf-8")
    try:
        data.decode("utf-8")
        return Text(_line_ends(data), "utf-8")
    except UnicodeDecodeError:
        pass
    return _per_row(data, name)


def _decode_whole(data: bytes, codec: str, name: str, label: str) -> Text:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: marked as {label} but byte {exc.start} is not {label}",
                         hint="re-export the file as UTF-8") from None
    return Text(_line_ends(text.encode("utf-8")), label)


def _per_row(data: bytes, name: str) -> Text:
    """Rows that are UTF-8 stay UTF-8; the others are Windows-1252 (a file appended to by two systems). Only the
    rows holding a byte that is not UTF-8 are decoded again (a regex finds them; the rest is untouched)."""
    text = data.decode("utf-8", errors="surrogateescape")
    used: set[str] = set()
    n_fixed = 0

    def redo(m: re.Match[str]) -> str:
        nonlocal n_fixed
        n_fixed += 1
        raw = m.group().encode("utf-8", errors="surrogateescape")
        try:
            used.add("cp1252")
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            used.add("latin-1")
            return raw.decode("latin-1")

    fixed = _NOT_UTF8_LINE.sub(redo, text)
    # Were there UTF-8 rows beside them? Any non-ASCII character left outside the re-decoded rows says so.
    utf8_rows = any(not part.isascii() for part in _NOT_UTF8_LINE.split(text))
    legacy = "cp1252" if "latin-1" not in used else "latin-1"
    notes: tuple[str, ...] = ()
    encoding = legacy
    if utf8_rows:
        encoding = f"utf-8+{legacy}"
        notes = (f"{name}: {n_fixed} rows are not UTF-8 and were read as {_LABEL[legacy]}; the rest as UTF-8",)
    return Text(_line_ends(fixed.encode("utf-8")), encoding, notes)


_LABEL = {"cp1252": "Windows-1252", "latin-1": "Latin-1"}


def _line_ends(data: bytes) -> bytes:
    """Old Mac files end lines with CR alone; the readers want LF."""
    if b"\r" in data and b"\n" not in data:
        return data.replace(b"\r", b"\n")
    return data


def unclosed_quote(text: str, delimiter: str) -> int | None:
    """The line where a quoted value opens and is never closed, or None. Called only when the file holds an odd
    number of quote characters (a quote inside an unquoted value is literal, so an odd count is not yet an error)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last = 0
    with _csv_field_limit():
        try:
            for _ in reader:
                last = reader.line_num
        except csv.Error as exc:
            if "end of data" in str(exc):  # the open quote ran to the end of the file
                return last + 1
    return None


def requote(text: str, delimiter: str) -> bytes:
    """The CSV rewritten with standard quoting (read and written by the csv module): literal quotes inside
    unquoted values become quoted values. Only for files holding such quotes."""
    out = io.StringIO()
    with _csv_field_limit():
        csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(
            csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return out.getvalue().encode("utf-8")


class _csv_field_limit:
    """The csv module refuses fields over 128 KB; exports carry longer free text."""

    def __enter__(self) -> None:
        self.old = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

    def __exit__(self, *exc: object) -> None:
        csv.field_size_limit(self.old)


csv_field_limit = _csv_field_limit
