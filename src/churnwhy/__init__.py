"""churnwhy: why customers left, from the exports a business already has.

Library first: `load_exports` -> `build_customer_table` -> models -> `Report`; the CLI is a thin layer.
"""

from __future__ import annotations

__version__ = "0.1.0"

from churnwhy.config import Config
from churnwhy.errors import ChurnwhyError
from churnwhy.table import CustomerTable

__all__ = ["ChurnwhyError", "Config", "CustomerTable", "__version__"]
