"""The events -> per-customer sums step on Apache Spark (PySpark: local mode, a cluster URL, or Spark Connect).

What runs where (docs/scale.md):
- the driver (this process) discovers the files, reads a sample of each and decides its role, column mapping
  and formats exactly as the default engine does (load.parse.parse_table); customers and survey files are read
  here too (one row per customer);
- Spark reads the events files where they live (Parquet and plain CSV natively, split across executors; other
  formats are read here and handed over as Arrow) and runs each file's parse plan, the very Polars
  expressions the default engine runs, on Arrow batches in its Python workers (`mapInArrow`): one definition
  of parsing, dates, numbers, flags and reject reasons for both engines;
- Spark links the events to the customers (by id, or by an email, phone... through the customers' link
  tables), counts rejects by reason, drops exact duplicates and computes the per-customer sums (SparkEvents);
  only those (one row per customer) and the rejects' counts come back, as Arrow. The rejected rows stay in
  Spark, which writes the rejects file (SparkRejects).
The exports may also live at a URI Spark reads (engine.remote).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import os
import sys
import tempfile
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from churnwhy.errors import InputError
from churnwhy.load.codes import type_names
from churnwhy.load.columns import LINK_KEYS
from churnwhy.load.loaded import REJECT_SCHEMA
from churnwhy.load.parse import REASON, REJECT_COL, REJECT_VAL, XHASH, Parsed, first_reason
from churnwhy.load.read import DELIMITERS, EXTRA_FIELDS, READ_REJECT, READ_VALUE, ROW, RawTable, csv_rows_read
from churnwhy.table import CIDX, MONTHLY_SCHEMA, event_cents, event_days, monthly_by_id

if TYPE_CHECKING:
    from churnwhy.engine.remote import Staged

# One row of an events file after its parse plan (the columns Spark works with; text only where needed).
PARSED = pa.schema([
    ("src", pa.int32()), ("pos", pa.int64()), ("file", pa.string()), ("block", pa.int64()),
    ("customer_id", pa.string()), ("key", pa.string()), *[(k, pa.string()) for k in LINK_KEYS],
    ("ts", pa.int64()), ("day", pa.int32()), ("event_type", pa.string()),
    ("amount", pa.float64()), ("cents", pa.float64()), ("xhash", pa.int64()),
    ("reason", pa.string()), ("rcol", pa.string()), ("rval", pa.string()),
])


def spark_session(master: str | None = None, remote: str | None = None) -> Any:
    """A SparkSession: Spark Connect when `remote` (SPARK_REMOTE) is set, else `master` (default local[2]).

    Quiet by default: a JVM started here writes its console (logs, warnings at start) to a file in the temp
    folder, never to stdout (which carries only the requested output); SPARK_LOG_LEVEL=WARN (or INFO) keeps
    them on stderr at that level. Timestamps are read in UTC, like the default engine."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("churnwhy").config("spark.sql.session.timeZone", "UTC")
    level = os.environ.get("SPARK_LOG_LEVEL", "")
    # Spark Connect to a server (sc://host:15002): a client only, no JVM here; the server's settings are its own.
    # Spark Connect with a local master (SPARK_REMOTE=local[2]) starts a Connect server in this process: it is
    # set up as local mode is.
    started_here = not remote or not remote.startswith("sc://")
    try:
        if started_here:
            conf = {"spark.ui.showConsoleProgress": "false", "spark.python.worker.reuse": "true",
                    "spark.log.level": level.upper() or "ERROR"}
            local = remote or master or "local[2]"
            if local.startswith("local"):
                # this machine: no web UI, the driver's memory for the whole job, few shuffle partitions (the
                # default 200 is for clusters), and the workers run this interpreter (it has churnwhy)
                conf.update({"spark.ui.enabled": "false",
                             "spark.driver.memory": os.environ.get("CHURNWHY_SPARK_DRIVER_MEMORY", "4g"),
                             "spark.sql.shuffle.partitions": os.environ.get("CHURNWHY_SPARK_PARTITIONS", "4")})
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            for key, value in conf.items():
                builder = builder.config(key, value)
        with _jvm_console(quiet=not level) if started_here else contextlib.nullcontext():
            session = (builder.remote(remote) if remote else builder.master(master or "local[2]")).getOrCreate()
    except ImportError as exc:  # Spark Connect's client needs grpcio and friends
        raise InputError(f"Spark Connect ({remote}) needs more of PySpark: {exc}",
                         hint="pip install 'churnwhy[spark]' (it brings pyspark[connect])") from None
    except Exception as exc:  # noqa: BLE001 (PySpark raises plain runtime errors when the JVM cannot start)
        if "JAVA_GATEWAY_EXITED" not in str(exc) and "Java gateway" not in str(exc):
            raise
        log = Path(tempfile.gettempdir()) / "churnwhy-spark.log"
        raise InputError(f"Spark could not start ({str(exc).splitlines()[0]})",
                         hint=f"Spark needs Java 17 on the PATH (or JAVA_HOME); its own messages are in {log}") from None
    if not remote:  # a Connect client has no SparkContext; its server's log level is the server's
        session.sparkContext.setLogLevel(level.upper() or "ERROR")
    return session


@contextlib.contextmanager
def _jvm_console(*, quiet: bool) -> Iterator[None]:
    """While the JVM starts (it inherits this process's stdout and stderr): its stdout goes to stderr, and when
    `quiet` both go to churnwhy-spark.log in the temp folder."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = open(Path(tempfile.gettempdir()) / "churnwhy-spark.log", "ab") if quiet else None  # noqa: SIM115 (the JVM keeps it)
    try:
        os.dup2(log.fileno() if log else saved[1], 1)
        if log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        if log:
            log.close()


# --- reading and parsing the events files ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParsePlan:
    """One events file's parse plan, shipped to Spark's Python workers: Arrow batches of its raw columns in,
    PARSED rows out. The expressions are those load.parse.parse_table built from the file's sample."""

    src: int
    plan: tuple[Any, ...]  # Parsed.checks: (checks, id_missing, used, values)
    dtypes: dict[str, pl.DataType]  # raw column -> the type the default engine reads it as
    csv_names: tuple[str, ...] = ()  # natively read CSV: its columns (null tokens and ragged rows as load.read)
    delimiter: str = ","

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        at: dict[tuple[str, int], int] = {}  # rows seen so far in each (file, split): a split is read in order
        for batch in batches:
            df = pl.from_arrow(batch)
            assert isinstance(df, pl.DataFrame)
            if df.height == 0:
                continue
            yield from self.parse(df, at).to_arrow().cast(PARSED).to_batches()

    def parse(self, df: pl.DataFrame, at: dict[tuple[str, int], int]) -> pl.DataFrame:
        """PARSED rows of `df`: raw columns + __row (read here), or + __file, __block (read by Spark)."""
        native = "__file" in df.columns
        if native:
            # a batch may span two splits only at a split's end: counted per (file, split) pair
            keys = df.select("__file", "__block").with_row_index("__i")
            pos = np.empty(df.height, np.int64)
            for (f, b), part in keys.group_by(["__file", "__block"], maintain_order=True):
                idx = part["__i"].to_numpy()
                start = at.get((str(f), int(b)), 0)
                pos[idx] = start + np.arange(idx.size)
                at[(str(f), int(b))] = start + idx.size
            raw = df.drop("__file", "__block")
            if self.csv_names:
                raw = csv_rows_read(raw.lazy(), list(self.csv_names), self.delimiter).collect()
            raw = raw.with_columns(pl.Series(ROW, pos + 1, dtype=pl.UInt32))  # a placeholder: pos is kept apart
        else:
            raw, pos = df, df[ROW].cast(pl.Int64).to_numpy()
        raw = raw.with_columns(pl.col(c).cast(t) for c, t in self.dtypes.items()
                               if c in raw.columns and raw.schema[c] != t and not isinstance(t, pl.Datetime))
        checks, id_missing, used, values = self.plan
        reason, column, value = first_reason(list(checks), id_missing)
        out = values(raw.lazy()).with_columns(reason, column, value, used.alias("__key")).collect()
        if "amount" not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias("amount"))
        if XHASH not in out.columns:
            out = out.with_columns(pl.lit(None, pl.UInt64).alias(XHASH))
        good = out[REASON].is_null().to_numpy()
        # days and cents of rejected rows are never read
        safe = out.with_columns(pl.col("event_time").fill_null(pl.lit(0).cast(pl.Datetime("us"))))
        days = np.where(good, event_days(safe), 0).astype(np.int32)
        none = pl.Series([None] * out.height, dtype=pl.String)
        return pl.DataFrame({
            "src": pl.Series([self.src] * out.height, dtype=pl.Int32), "pos": pos,
            "file": df["__file"] if native else pl.Series([""] * out.height),
            "block": df["__block"].cast(pl.Int64) if native else pl.Series([0] * out.height, dtype=pl.Int64),
            # the id column, the key the row was linked by (its value if unknown), and the link columns
            # (email, phone...) as the default engine normalised them (load.values.link_key)
            "customer_id": out["customer_id"].cast(pl.String) if "customer_id" in out.columns else none,
            "key": out["__key"].cast(pl.String),
            **{k: out[k].cast(pl.String) if k in out.columns else none for k in LINK_KEYS},
            "ts": out["event_time"].dt.epoch("us"), "day": days,
            "event_type": out["event_type"].cast(pl.String), "amount": out["amount"].cast(pl.Float64),
            "cents": event_cents(safe), "xhash": out[XHASH].reinterpret(signed=True),
            "reason": out[REASON].cast(pl.String), "rcol": out[REJECT_COL].cast(pl.String),
            "rval": out[REJECT_VAL].cast(pl.String),
        })


# Files from this size on are read by Spark where they are; smaller ones (and formats Spark does not read as
# churnwhy does) are parsed here and handed over: a Spark read costs a job and seconds, whatever the size.
NATIVE_BYTES = int(os.environ.get("CHURNWHY_SPARK_NATIVE_BYTES", 32 * 1024 * 1024))


def native_kind(raw: RawTable) -> bool:
    """Whether Spark reads this export itself when it is large enough: Parquet (a file or a folder of them), or
    one plain UTF-8 CSV with a header row that the default reader did not have to rewrite first (transcoding,
    title lines, quotes inside values, whitespace alignment all leave notes)."""
    src = raw.source
    if src.format == "parquet":
        return True
    return (src.format == "csv" and raw.encoding == "utf-8"
            and raw.delimiter in DELIMITERS and not raw.notes)


def _native(p: Parsed, staged: Staged | None) -> bool:
    """Whether Spark reads this events file itself: native_kind, and at least NATIVE_BYTES (a file mirrored from
    a URI with only a sample here always is)."""
    src = p.raw.source
    if staged is not None:
        if any(f == src.path or src.path in f.parents for f in staged.sampled):
            return True  # Staged.complete copied every sampled file that is not native_kind
        size = staged.size_of(src.path)
    else:
        files = [src.path] if src.path.is_file() else [f for f in src.path.rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in files)
    return size >= NATIVE_BYTES and native_kind(p.raw) and (src.format != "csv" or src.path.is_file())


def _parsed_here(i: int, p: Parsed) -> pl.DataFrame:
    """PARSED rows of an events file read and parsed in this process (the same plan the workers run)."""
    schema = p.raw.frame.collect_schema()
    keep = [*p.raw.columns, ROW, *[c for c in (READ_REJECT, READ_VALUE) if c in schema]]
    return ParsePlan(i, p.checks, {}).parse(p.raw.frame.select(keep).collect(), {})


def _spark_frame(spark: Any, i: int, p: Parsed, staged: Staged | None) -> Any:
    """The events file as Spark rows of PARSED, read by Spark where it lies and parsed in its workers."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    raw = p.raw
    where = staged.uri_of(raw.source.path) if staged is not None else str(raw.source.path)
    schema = raw.frame.collect_schema()
    dtypes = {c: t for c, t in schema.items() if c in raw.columns}
    plan = ParsePlan(i, p.checks, dtypes)
    meta = [F.col("_metadata.file_path").alias("__file"), F.col("_metadata.file_block_start").alias("__block")]
    if raw.source.format == "csv":
        extra = [f"__extra_{k}" for k in range(EXTRA_FIELDS)]
        fields = [T.StructField(c, T.StringType()) for c in [*raw.columns, *extra]]
        df = (spark.read.option("header", True).option("sep", raw.delimiter).option("quote", '"')
              .option("escape", '"').option("mode", "PERMISSIVE").option("multiLine", False)
              .schema(T.StructType(fields)).csv(where))
        df = df.select(*[F.col(f"`{c}`") for c in [*raw.columns, *extra]], *meta)
        plan = dataclasses.replace(plan, csv_names=tuple(raw.columns), delimiter=raw.delimiter or ",")
    else:
        df = spark.read.parquet(where).select(*[F.col(f"`{c}`") for c in raw.columns], *meta)
    return df.mapInArrow(plan, _spark_schema(PARSED))


def _hand_over(spark: Any, df: pl.DataFrame) -> Any:
    """A driver-side frame as a Spark DataFrame (Arrow has no unsigned types in Spark: they widen to i64)."""
    unsigned = (pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
    df = df.with_columns(pl.col(c).cast(pl.Int64) for c, t in df.schema.items() if t in unsigned)
    df = df.with_columns(pl.col(c).cast(pl.String) for c, t in df.schema.items() if isinstance(t, pl.Categorical | pl.Enum))
    return spark.createDataFrame(df.to_arrow(compat_level=pl.CompatLevel.oldest()))


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql import types as T

    kinds = {pa.int32(): T.IntegerType(), pa.int64(): T.LongType(), pa.string(): T.StringType(),
             pa.float64(): T.DoubleType()}
    return T.StructType([T.StructField(f.name, kinds[f.type]) for f in schema])


class SparkEventsReader:
    """load.exports.EventsReader on Spark: the events files -> SparkEvents and the rejected rows."""

    def __init__(self, spark: Any, staged: Staged | None = None) -> None:
        self.spark, self.staged = spark, staged  # staged: the exports live at a URI (engine.remote)

    def __call__(self, tables: list[Parsed], customers: pl.DataFrame | None,
                 links: dict[str, pl.DataFrame] | None) -> tuple[SparkEvents, SparkRejects]:
        from pyspark import StorageLevel
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        spark = self.spark
        native = [_native(p, self.staged) for p in tables]
        parts = [_spark_frame(spark, i, p, self.staged) for i, p in enumerate(tables) if native[i]]
        here = [_parsed_here(i, p) for i, p in enumerate(tables) if not native[i]]
        if here:
            local = pl.concat(here)
            parts.append(spark.createDataFrame(local.to_arrow().cast(PARSED), schema=_spark_schema(PARSED)))
        parsed = functools.reduce(lambda a, b: a.unionByName(b), parts).persist(StorageLevel.MEMORY_AND_DISK)
        # Row numbers: a split's rows are numbered in the worker; each split starts after the earlier splits of
        # its file (a Parquet source may be a folder of files, read in path order as the default engine does).
        splits = parsed.groupBy("src", "file", "block").agg(F.count(F.lit(1)).alias("n")).toArrow()
        offsets = (_polars(splits).sort("src", "file", "block")
                   .with_columns((pl.col("n").cum_sum().over("src") - pl.col("n")).alias("offset")))
        rows = parsed.join(F.broadcast(_hand_over(spark, offsets.drop("n"))), ["src", "file", "block"])
        rows = rows.withColumn("row", F.col("pos") + F.col("offset") + F.when(F.col("file") == "", 0).otherwise(1))
        for p, n in zip(tables, _counts(offsets, len(tables)), strict=True):
            p.n_rows = n
        # Events keyed by a link (email, phone...): joined through the customers' link tables (load.customers.
        # link_table, on values normalised by the same parse expressions), as load.events.read_events does.
        present = [k for k in LINK_KEYS if any(k in p.mapping.columns for p in tables)]
        linked = [k for k in present if links and k in links]
        for k in linked:
            assert links is not None
            table = links[k].select(pl.col("__link").cast(pl.String).alias(k), pl.col("__linked").cast(pl.String).alias(f"__by_{k}"))
            rows = rows.join(F.broadcast(_hand_over(spark, table)), k, "left")
        if linked:
            rows = rows.withColumn("customer_id", F.coalesce("customer_id", *[f"__by_{k}" for k in linked]))
        if customers is None and present:  # ids from the events themselves: every linked key is its own customer
            rows = rows.withColumn("customer_id", F.coalesce("customer_id", *present))
        # Customers by number: the customers file's order, else the valid ids sorted (as load.events.read_events).
        if customers is not None:
            ids = customers["customer_id"]
        else:
            found = rows.where(F.col("reason").isNull() & F.col("customer_id").isNotNull()).select("customer_id").distinct()
            ids = _polars(found.toArrow())["customer_id"].cast(pl.String).sort()
        index = pl.DataFrame({"customer_id": ids, "cidx": pl.arange(0, ids.len(), dtype=pl.Int32, eager=True)})
        rows = rows.join(_hand_over(spark, index), "customer_id", "left")
        flagged = F.col("reason").isNotNull() | F.col("cidx").isNull()
        valid = rows.where(~flagged)
        # Event type names from the distinct exported values (load.codes.type_names); codes index the Enum.
        exported = _polars(valid.select("event_type").distinct().toArrow())["event_type"]
        names, enum = type_names(exported.cast(pl.Categorical))
        codes = _hand_over(spark, names.select(pl.col("event_type").cast(pl.String).alias("exported"),
                                               pl.col("__name").cast(enum).to_physical().cast(pl.Int32).alias("code")))
        # a missing type is 'unknown' (a null-safe join: type_names names the null value too)
        typed = valid.join(F.broadcast(codes), valid["event_type"].eqNullSafe(codes["exported"]), "left")
        # The one shuffle of the events: by customer. The duplicate check (its keys start with the customer) and
        # every per-customer sum after it (SparkEvents) read this partitioning, so none moves the events again.
        typed = typed.repartition("cidx")
        # Exact duplicates (whole rows as exported): the first copy by file, then row, is kept.
        same = Window.partitionBy("cidx", "ts", "code", "amount", "xhash").orderBy("src", "row")
        typed = typed.withColumn("copy", F.row_number().over(same))
        events = typed.where(F.col("copy") == 1).select("cidx", "day", "code", "cents").persist(StorageLevel.MEMORY_AND_DISK)
        rejected = rows.where(flagged).select(
            "src", "row", F.coalesce("reason", F.lit("unknown_customer")).alias("reason"), "rcol",
            F.when(F.col("reason").isNull(), F.col("key")).otherwise(F.col("rval")).alias("rval"))
        dups = typed.where(F.col("copy") > 1).select("src", "row", F.lit("duplicate_row").alias("reason"),
                                                      F.lit(None).cast("string").alias("rcol"),
                                                      F.lit(None).cast("string").alias("rval"))
        sources = tuple(p.raw.name for p in tables)
        held = SparkEvents(spark, events, ids, sources, enum)  # computes the events while `parsed` is held
        names = _hand_over(spark, pl.DataFrame({"src": list(range(len(sources))), "source": list(sources)},
                                               schema={"src": pl.Int32, "source": pl.String}))
        bad = (rejected.unionByName(dups).join(F.broadcast(names), "src")
               .select("source", F.col("row").cast("long"), "reason", F.col("rcol").alias("column"),
                       F.col("rval").alias("value")).persist(StorageLevel.MEMORY_AND_DISK))
        rejects = SparkRejects(spark, bad)  # counted here, while `parsed` is held; the rows stay in Spark
        parsed.unpersist()
        return held, rejects


_REJECT_COLUMNS = [pl.col(c).cast(t) for c, t in REJECT_SCHEMA.items()]


class SparkRejects:
    """The events' rejected rows, held by Spark (load.loaded.HeldRejects): counted by reason and file there, and
    written there as the rejects file."""

    def __init__(self, spark: Any, frame: Any) -> None:
        self.spark, self.frame = spark, frame
        counts = _polars(frame.groupBy("source", "reason").count().toArrow())
        self.counts = counts.select("source", "reason", pl.col("count").alias("len")) if counts.height else \
            pl.DataFrame(schema={"source": pl.String, "reason": pl.String, "len": pl.Int64})

    def rows(self) -> pl.DataFrame:
        out = _polars(self.frame.toArrow())
        return out.select(_REJECT_COLUMNS) if out.height else pl.DataFrame(schema=REJECT_SCHEMA)

    def write(self, path: Path | str, others: pl.DataFrame, safe: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
        """One CSV at `path`, as the default engine writes it (file, row, reason, column, value; file and row
        order; formula-safe), written by Spark: one sorted partition into a folder beside `path`, whose one part
        file is then renamed to `path` (a local path or a mount every executor sees)."""
        frame = self.frame
        if others.height:
            frame = frame.unionByName(_hand_over(self.spark, others.select(_REJECT_COLUMNS)))
        out = frame.withColumnRenamed("source", "file").repartition(1).sortWithinPartitions("file", "row")
        schema = _spark_schema(pa.schema([("file", pa.string()), ("row", pa.int64()), ("reason", pa.string()),
                                          ("column", pa.string()), ("value", pa.string())]))
        target = Path(path)
        parts = target.with_name(f".{target.name}.spark")
        (out.mapInArrow(_Safe(safe), schema).write.mode("overwrite").option("header", True).option("quote", '"')
         .option("escape", '"').option("nullValue", "").option("emptyValue", '""').csv(str(parts.resolve())))
        written = sorted(parts.glob("part-*"))
        assert len(written) == 1, written  # one partition: one file
        written[0].replace(target)
        shutil.rmtree(parts)


@dataclasses.dataclass(frozen=True)
class _Safe:
    """A frame function run by Spark's Python workers on Arrow batches."""

    safe: Callable[[pl.DataFrame], pl.DataFrame]

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from self.safe(_polars(pa.Table.from_batches([batch]))).to_arrow().to_batches()


def _polars(table: pa.Table) -> pl.DataFrame:
    """An Arrow table Spark sent back, as a Polars frame."""
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out


def _counts(offsets: pl.DataFrame, n: int) -> list[int]:
    per = dict(offsets.group_by("src").agg(pl.col("n").sum()).iter_rows())
    return [int(per.get(i, 0)) for i in range(n)]


# --- the per-customer sums -------------------------------------------------------------------------------------


class SparkEvents:
    """The valid events, held by Spark (cidx, day, code, cents), with the per-customer sums the customer table
    reads (table.EventAggregates); the results come back as Arrow, one row per customer."""

    def __init__(self, spark: Any, frame: Any, ids: pl.Series, sources: tuple[str, ...], enum: pl.Enum) -> None:
        from pyspark.sql import functions as F

        self.spark, self.frame, self.ids, self.sources, self.enum = spark, frame, ids, sources, enum
        lo, hi, n = frame.agg(F.min("day"), F.max("day"), F.count(F.lit(1))).first()
        self.height = int(n)
        self._range = (lo, hi)

    @property
    def schema(self) -> pl.Schema:
        columns: list[tuple[str, pl.DataType]] = [("__src", pl.UInt16()), (CIDX, pl.UInt32()), ("event_time", pl.Datetime("us")),
                                                  ("event_type", self.enum), ("amount", pl.Float64())]
        return pl.Schema(columns)

    def lazy(self) -> pl.LazyFrame:
        """The first and last event (as midnight of their days): what the loader's date-range checks read of the
        events; the rows themselves stay in Spark."""
        days = [d for d in self._range if d is not None]
        return pl.LazyFrame({"event_time": pl.Series(days, dtype=pl.Int32).cast(pl.Date).cast(pl.Datetime("us"))})

    def _collect(self, df: Any) -> pl.DataFrame:
        return _polars(df.toArrow())

    def _dense(self, sums: pl.DataFrame) -> pl.DataFrame:
        """One row per customer number 0..n-1 (customers without a row: nulls)."""
        every = pl.DataFrame({CIDX: pl.arange(0, self.ids.len(), dtype=pl.UInt32, eager=True)})
        return every.join(sums.with_columns(pl.col("cidx").cast(pl.UInt32).alias(CIDX)).drop("cidx"), on=CIDX,
                          how="left", maintain_order="left")

    def first_days(self) -> pl.DataFrame:
        from pyspark.sql import functions as F

        out = self._collect(self.frame.groupBy("cidx").agg(F.min("day").alias("d")))
        return out.select(pl.col("cidx").cast(pl.UInt32).alias(CIDX), pl.col("d").cast(pl.Date).alias("start_date")).sort(CIDX)

    def type_counts(self) -> pl.DataFrame:
        out = self._collect(self.frame.groupBy("code").count())
        names = pl.Series(self.enum.categories)
        return out.select(names.gather(out["code"]).alias("event_type"), pl.col("count").cast(pl.UInt32).alias("len"))

    def event_summary(self, as_of: dt.date, cancel_codes: list[int]) -> pl.DataFrame:
        from pyspark.sql import functions as F

        cutoff = (as_of - dt.date(1970, 1, 1)).days
        cancel = F.col("code").isin(cancel_codes) if cancel_codes else F.lit(False)
        seen = self.frame.where(F.col("day") <= cutoff)
        out = self._collect(seen.groupBy("cidx").agg(
            F.min("day").alias("first_event"), F.max(F.when(~cancel, F.col("day"))).alias("last_event"),
            F.min(F.when(cancel, F.col("day"))).alias("first_cancel")))
        return self._dense(out).with_columns(pl.col(c).cast(pl.Date) for c in ("first_event", "last_event", "first_cancel"))

    def _spans(self, spans: pl.DataFrame) -> Any:
        # as table._dense_spans: no start date counts from the earliest day, no end date counts nothing
        days = spans.select(pl.col(CIDX).cast(pl.Int32).alias("cidx"),
                            pl.col("start_date").cast(pl.Int32).fill_null(np.iinfo(np.int32).min).alias("start"),
                            pl.col("end_date").cast(pl.Int32).alias("end"))
        return _hand_over(self.spark, days.drop_nulls("end"))

    def behaviour_sums(self, spans: pl.DataFrame, lookback: int, groups: list[list[int]], names: list[str]) -> pl.DataFrame:
        from pyspark.sql import functions as F

        ev = self.frame.join(self._spans(spans), "cidx").where((F.col("day") < F.col("end")) & (F.col("day") >= F.col("start")))
        win = F.col("day") >= F.col("end") - lookback
        late = F.col("day") >= F.col("end") - lookback + lookback // 2
        one = F.lit(1).cast("long")
        agg = [F.sum(F.when(win & F.col("code").isin(g), one).otherwise(0)).alias(name) for name, g in zip(names, groups, strict=True)]
        agg += [F.sum(F.when(win, F.col("cents")).otherwise(0.0)).alias("window_cents"),
                F.sum(F.when(win & ~late, one).otherwise(0)).alias("__first_half"),
                F.sum(F.when(win & late, one).otherwise(0)).alias("__second_half"),
                F.sum("cents").alias("total_cents"), F.max("day").alias("last")]
        out = self._dense(self._collect(ev.groupBy("cidx").agg(*agg)))
        return out.select(
            CIDX, *[pl.col(n).fill_null(0).cast(pl.Int64) for n in names],
            # divided in numpy, as table._behaviour_sums does (Polars multiplies by 1/100: one ulp apart)
            pl.Series("amount_window", out["window_cents"].fill_null(0.0).to_numpy() / 100),
            pl.col("__first_half").fill_null(0).cast(pl.Int64), pl.col("__second_half").fill_null(0).cast(pl.Int64),
            pl.Series("amount_total", out["total_cents"].fill_null(0.0).to_numpy() / 100),
            pl.col("last").cast(pl.Date).alias("__last_before_end"),
        )

    def monthly_counts(self, spans: pl.DataFrame, groups: list[list[int]], pick: np.ndarray) -> pl.DataFrame:
        from pyspark.sql import functions as F

        if pick.size == 0 or not groups:
            return pl.DataFrame(schema=MONTHLY_SCHEMA)
        kinds = pl.DataFrame({"code": [c for g in groups for c in g],
                              "type": [i for i, g in enumerate(groups) for _ in g]}, schema={"code": pl.Int32, "type": pl.Int32})
        chosen = spans.filter(pl.col(CIDX).is_in(pl.Series(pick.astype(np.uint32)).implode()))
        ev = (self.frame.join(F.broadcast(self._spans(chosen)), "cidx")
              .join(F.broadcast(_hand_over(self.spark, kinds)), "code")
              .where((F.col("day") < F.col("end")) & (F.col("day") >= F.col("start"))))
        out = self._collect(ev.groupBy("cidx", F.floor((F.col("day") - F.col("start")) / 30).cast("int").alias("month"), "type")
                            .agg(F.count(F.lit(1)).alias("n")))
        if out.height == 0:
            return pl.DataFrame(schema=MONTHLY_SCHEMA)
        return monthly_by_id(out.with_columns(pl.col("cidx").cast(pl.UInt32).alias(CIDX)).drop("cidx"), self.ids)
