"""Small helpers the load, table and inspect tests share: write generated exports into a folder, load them."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from churnwhy.config import Config
from churnwhy.load import Exports, load_exports
from churnwhy.table import CustomerTable, build_customer_table


def write(folder: Path, files: dict[str, str | bytes | pl.DataFrame]) -> Path:
    """Write each file (text as UTF-8, bytes as given, frames by suffix) under `folder`; return the folder."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif name.endswith(".parquet"):
            content.write_parquet(path)
        elif name.endswith(".xlsx"):
            content.write_excel(path)
        else:
            raise ValueError(name)
    return folder


def load(folder: Path, **settings) -> Exports:  # type: ignore[no-untyped-def]
    return load_exports(folder, Config.from_mapping(settings))


def table(folder: Path, **settings) -> CustomerTable:  # type: ignore[no-untyped-def]
    config = Config.from_mapping(settings)
    return build_customer_table(load_exports(folder, config), config)


def report(exports: Exports, name: str):  # type: ignore[no-untyped-def]
    return next(f for f in exports.files if f.name == name)


def row(t: CustomerTable, customer_id: str) -> dict:
    return t.frame.filter(pl.col("customer_id") == customer_id).row(0, named=True)
