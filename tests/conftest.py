"""Fixtures shared across test modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] SparkSession for every test marked `spark` (a start costs seconds; --engine spark finds it
    through getOrCreate). Not skipped when PySpark or Java is missing: CI must run these tests."""
    from churnwhy.engine.spark import spark_session

    session = spark_session("local[2]")
    yield session
    session.stop()
