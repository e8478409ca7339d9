"""churnwhy: why customers left, from the exports a business already has.

Library first: `load_exports` -> `build_customer_table` -> models -> `Report`; the CLI is a thin layer:

    import churnwhy
    report = churnwhy.analyze("exports/")
    report.to_dict()            # exactly what `churnwhy analyze exports/ --format json` prints
"""

from __future__ import annotations

__version__ = "0.1.0"

from churnwhy.config import Config
from churnwhy.errors import ChurnwhyError
from churnwhy.load import Exports, load_exports
from churnwhy.pipeline import analyze, load_table
from churnwhy.report import Report
from churnwhy.table import CustomerTable, LoadedTable, build_customer_table

__all__ = [
    "ChurnwhyError", "Config", "CustomerTable", "Exports", "LoadedTable", "Report", "__version__", "analyze",
    "build_customer_table", "load_exports", "load_table",
]
