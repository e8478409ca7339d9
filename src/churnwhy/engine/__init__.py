"""Where the customer table is built: in this process (Polars and numpy, the default) or on Apache Spark.

Only the events -> per-customer sums step moves (it grows with the events; everything after the table reads one
row per customer). `load_table` is what the pipeline calls; `spark` is imported only when asked for, so the
default engine never pays for PySpark.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from churnwhy.config import Config
from churnwhy.errors import InputError
from churnwhy.load import Exports, load_exports
from churnwhy.load.discover import as_uri

ENGINES = ("local", "spark")


def load_exports_with(path: Path | str, config: Config) -> Exports:
    """The exports under `path`, their events handled by `config.engine`."""
    if config.engine == "local":
        return load_exports(path, config)
    if config.engine != "spark":
        raise InputError(f"unknown engine {config.engine!r}", hint=f"use one of: {', '.join(ENGINES)}")
    try:
        from churnwhy.engine.spark import SparkEventsReader, spark_session
    except ImportError:
        raise InputError("--engine spark needs PySpark, which is not installed",
                         hint="pip install 'churnwhy[spark]' (and Java 17 on the PATH)") from None
    session = spark_session(config.spark_master or None, os.environ.get("SPARK_REMOTE"))
    uri = as_uri(path)
    if uri is None:
        return load_exports(path, config, events_reader=SparkEventsReader(session))
    from churnwhy.engine import spark
    from churnwhy.engine.remote import stage

    # discovery and sampling read a local mirror of the URI, Spark reads the large events files where they are
    with tempfile.TemporaryDirectory(prefix="churnwhy-uri-") as folder:
        staged = stage(session, uri, Path(folder), spark.NATIVE_BYTES)
        return load_exports(staged.path, config, events_reader=SparkEventsReader(session, staged),
                            complete=staged.complete)
