"""The one place that runs the stages in order: load -> customer table -> models -> Report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from churnwhy.config import Config
from churnwhy.errors import StrictModeError
from churnwhy.load import Exports, load_exports
from churnwhy.table import CustomerTable, build_customer_table


@dataclasses.dataclass(frozen=True)
class LoadedTable:
    """Exports as loaded (with their row accounting) and the customer table built from them."""

    exports: Exports
    table: CustomerTable
    config: Config


def load_table(path: Path | str, config: Config | None = None) -> LoadedTable:
    """Load the exports under `path` and build the per-customer table."""
    config = config or Config.load(path)
    exports = load_exports(path, config)
    if config.strict:
        _fail_on_warnings(exports)
    return LoadedTable(exports, build_customer_table(exports, config), config)


def _fail_on_warnings(exports: Exports) -> None:
    counts = exports.reject_counts()
    if counts:
        listed = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        raise StrictModeError(
            f"--strict: {sum(counts.values())} input rows were rejected ({listed})",
            hint="run `churnwhy inspect PATH --rejects rejects.csv` to see each row, fix them, or drop --strict",
        )
    if exports.warnings:
        raise StrictModeError(f"--strict: {exports.warnings[0]}", hint="fix the input, or drop --strict")
