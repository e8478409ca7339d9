"""Atomic file writes: a temporary name in the same folder, then a rename, so a failed run leaves no half file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path | str, document: Any) -> None:
    write_text(path, dumps(document))


def dumps(document: Any) -> str:
    """The one JSON encoding churnwhy emits: sorted keys, 2-space indent, no NaN, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_frame(path: Path | str, frame: pl.DataFrame, writer: Callable[[pl.DataFrame, Path], None] | None = None) -> None:
    """Parquet by default (or CSV for a .csv name), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if writer is not None:
            writer(frame, tmp)
        elif path.suffix.lower() == ".csv":
            frame.write_csv(tmp)
        else:
            frame.write_parquet(tmp, compression="zstd", statistics=True)
