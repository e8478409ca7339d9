"""Atomic file writes: a temporary name in the same folder, then a rename, so a failed run leaves no half file.

Files are created with the permissions the user's umask gives (mkstemp's 0600 is for secrets, and these are
reports); output paths are checked before any analysis runs (`check_output_file`, `check_output_dir`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from churnwhy.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror})", hint="choose a folder you can write to") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except OSError as exc:  # disk full, a folder at `path`, permissions changed mid-run: exit 2, not a bug
        raise OutputError(f"could not write {path} ({exc.strerror or exc}); nothing was changed there",
                          hint="check the free space and permissions there") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask sets it to read it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path | str, document: Any) -> None:
    write_text(path, dumps(document))


def dumps(document: Any) -> str:
    """The one JSON encoding churnwhy emits: sorted keys, 2-space indent, no NaN, trailing newline. JSON escapes
    C0 controls itself; DEL, C1 controls (U+009B is a terminal's CSI) and bidi overrides are escaped too, so a
    document printed to a terminal shows them instead of obeying them."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def write_frame(path: Path | str, frame: pl.DataFrame, writer: Callable[[pl.DataFrame, Path], None] | None = None) -> None:
    """Parquet by default (or CSV, formula-safe, for a .csv name), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if writer is not None:
            writer(frame, tmp)
        elif path.suffix.lower() == ".csv":
            formula_safe(frame).write_csv(tmp)
        else:
            frame.write_parquet(tmp, compression="zstd", statistics=True)


def write_csv(path: Path | str, frame: pl.DataFrame) -> None:
    """A CSV for people to open in a spreadsheet, whatever the file's suffix: formula-safe, atomically."""
    write_frame(path, frame, writer=lambda f, p: formula_safe(f).write_csv(p))


_FORMULA = r"^[=+\-@\t\r]"  # what Excel, LibreOffice and Sheets read as the start of a formula (OWASP)
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"  # "-5" or "+1.5e3" is a number, not a formula


def formula_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula ("=HYPERLINK(...)", "@SUM(...)") get a leading
    apostrophe, which spreadsheets show as text; plain signed numbers are left as they are."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA) & ~pl.col(c).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def check_output_file(path: Path | str, inputs: Path | str | None = None, *, flag: str = "--output") -> Path:
    """Before any analysis: `path` can be written as a file (not a folder, in a writable folder, not where
    the next run would read it as an export). OutputError (exit 2) naming the flag otherwise."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder", hint=f"give a file name, e.g. {flag} {path / 'out'}")
    if inputs is not None and _reads(Path(inputs), path):
        raise OutputError(f"{flag} {path} is inside the input {inputs}: the next run would read it as an export",
                          hint="write it outside the input folder")
    _check_writable(_existing_parent(path.parent), flag, path)
    return path


def check_output_dir(path: Path | str, inputs: Path | str | None = None, *, flag: str = "--out",
                     ours: Callable[[Path], bool] = lambda p: False) -> Path:
    """Before any analysis: `path` can be (re)placed by a folder of outputs. It is not a file, not inside the
    input (the next run would read the outputs), and holds nothing but outputs of an earlier run (`ours`),
    since the whole folder is swapped for the new set."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path} is a file, not a folder", hint=f"give a folder, e.g. {flag} {path.with_suffix('')}-results")
    if inputs is not None:
        inside, root = _inside(Path(inputs), path)
        if inside:
            raise OutputError(f"{flag} {path} is inside the input folder {root}: the next run would read the outputs "
                              "as exports", hint="write the outputs outside the input folder")
    if path.is_dir():
        others = sorted(p.name for p in path.iterdir() if not ours(p))
        if others:
            raise OutputError(f"{flag} {path} holds other files ({', '.join(others[:3])}{', ...' if others[3:] else ''}); "
                              "churnwhy replaces the whole folder with the new outputs",
                              hint=f"give a new or empty folder, e.g. {flag} {path / 'churnwhy'}")
    _check_writable(_existing_parent(path.parent), flag, path)
    return path


def _inside(inputs: Path, path: Path) -> tuple[bool, Path]:
    root = (inputs if inputs.is_dir() else inputs.parent).resolve()
    target = path.resolve()
    return (target == root or root in target.parents) and inputs.is_dir(), root


def _reads(inputs: Path, path: Path) -> bool:
    """Would a run on `inputs` read `path`? The file itself, or an export-like file under the input folder."""
    from churnwhy.load.discover import FORMATS, suffix_of

    if inputs.is_file() or not inputs.exists():
        return path.resolve() == inputs.resolve()
    if not _inside(inputs, path)[0] or suffix_of(path) not in FORMATS:
        return False
    return not any(part.startswith(".") for part in path.resolve().relative_to(inputs.resolve()).parts)


def _existing_parent(folder: Path) -> Path:
    folder = folder.resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _check_writable(folder: Path, flag: str, path: Path) -> None:
    if not folder.is_dir():
        raise OutputError(f"{flag} {path}: {folder} is a file, not a folder", hint="choose another place to write")
    try:  # a real probe: os.access is wrong for root, ACLs and read-only mounts
        fd, probe = tempfile.mkstemp(prefix=".churnwhy-probe.", dir=folder)
    except OSError as exc:
        raise OutputError(f"{flag} {path}: cannot write in {folder} ({exc.strerror})",
                          hint="choose a folder you can write to") from None
    os.close(fd)
    os.unlink(probe)
