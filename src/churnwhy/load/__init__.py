"""Loading exports: discover -> read -> map columns -> parse and validate."""

from churnwhy.load.exports import REJECT_REASONS, Exports, FileReport, load_exports

__all__ = ["REJECT_REASONS", "Exports", "FileReport", "load_exports"]
