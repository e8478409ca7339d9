"""churnwhy: why customers left, from the exports a business already has.

Library first: `load_exports` -> `build_customer_table` -> models -> `Report`; the CLI is a thin layer:

    import churnwhy
    report = churnwhy.analyze("exports/")
    report.to_dict()            # exactly what `churnwhy analyze exports/ --format json` prints
"""

from __future__ import annotations

from churnwhy.config import Config
from churnwhy.errors import (
    ChurnwhyError, ConfigError, DateFormatError, InputError, InternalError, MappingError, OutputError,
    StrictModeError, ThresholdBreached,
)
from churnwhy.load import Exports, load_exports
from churnwhy.pipeline import analyze, load_table
from churnwhy.report import Report
from churnwhy.results.drivers import DriversResult, SilentResult
from churnwhy.results.inspect import InspectResult
from churnwhy.results.reasons import ReasonsResult
from churnwhy.results.risk import AtRiskResult, BeliefsResult, ConcentrationResult, RevenueResult
from churnwhy.results.survival import SurvivalResult
from churnwhy.table import CustomerTable, LoadedTable, build_customer_table
from churnwhy.version import __version__

__all__ = [
    # the library's calls
    "Config", "__version__", "analyze", "build_customer_table", "load_exports", "load_table",
    # what they return: the report and its typed sections
    "AtRiskResult", "BeliefsResult", "ConcentrationResult", "CustomerTable", "DriversResult", "Exports",
    "InspectResult", "LoadedTable", "ReasonsResult", "Report", "RevenueResult", "SilentResult", "SurvivalResult",
    # what they raise: one tree under ChurnwhyError
    "ChurnwhyError", "ConfigError", "DateFormatError", "InputError", "InternalError", "MappingError",
    "OutputError", "StrictModeError", "ThresholdBreached",
]
