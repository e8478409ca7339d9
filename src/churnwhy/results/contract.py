"""What every JSON document churnwhy prints or writes starts with: the schema version and the churnwhy version.

One place, so `analyze`, `check`, `diff`, `inspect`, `reasons`, `drivers`, `survival` and `risk` can never
disagree on the version of the contract they follow (src/churnwhy/schemas/ describes each document)."""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "1.0"


def stamped(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with `schema_version` and `churnwhy_version` first (a document's own keys never override them)."""
    from churnwhy import __version__

    return {**document, "schema_version": SCHEMA_VERSION, "churnwhy_version": __version__}
