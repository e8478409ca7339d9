"""The valid events as compact codes (`EventCodes`), and event types named once per distinct exported value."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import polars as pl

from churnwhy.load import values as V

SRC = "__src"
CODE_COLUMNS = [SRC, "__cidx", "event_time", "event_type", "amount"]


@dataclasses.dataclass(frozen=True)
class EventCodes:
    """The valid events, compact for aggregation (about 23 bytes an event instead of ~90 with text columns):
    customers as positions in `ids`, event types as an Enum, the source file as a position in `sources`; rows
    in file, then row, order (row numbers are needed only until duplicates are found, so they are not kept).

    Held in memory, or, above `Config.spill_events_above` rows, in Arrow IPC files in a temporary folder that
    readers take a slice at a time (`slice`, `lazy`), so that memory does not grow with the events. The folder
    goes with this object."""

    data: pl.DataFrame | tuple[Path, ...]  # __src u16, __cidx u32, event_time, event_type Enum, amount f64
    ids: pl.Series  # customer_id of each __cidx; with a customers file, exactly Exports.customers["customer_id"]
    sources: tuple[str, ...]
    folder: object = dataclasses.field(default=None, compare=False, repr=False)  # spilled: its TemporaryDirectory

    @property
    def spilled(self) -> bool:
        return not isinstance(self.data, pl.DataFrame)

    def lazy(self) -> pl.LazyFrame:
        if isinstance(self.data, pl.DataFrame):
            return self.data.lazy()
        return pl.scan_ipc(list(self.data)).select(CODE_COLUMNS)

    @functools.cached_property
    def height(self) -> int:
        return self.data.height if isinstance(self.data, pl.DataFrame) else self.lazy().select(pl.len()).collect().item()

    @functools.cached_property
    def schema(self) -> pl.Schema:
        return self.lazy().collect_schema()

    def slice(self, offset: int, length: int) -> pl.DataFrame:
        """Rows offset .. offset + length: a view in memory, read from disk when spilled."""
        if isinstance(self.data, pl.DataFrame):
            return self.data.slice(offset, length)
        return self.lazy().slice(offset, length).collect()

    @property
    def frame(self) -> pl.DataFrame:
        """Every event in memory (spilled codes are read whole: for small exports and tests)."""
        return self.data if isinstance(self.data, pl.DataFrame) else self.lazy().collect()

    def to_events(self) -> pl.DataFrame:
        """customer_id, event_time, event_type, amount, __source: the events as text, in file and row order."""
        f = self.frame
        return pl.DataFrame({
            "customer_id": self.ids.gather(f["__cidx"]), "event_time": f["event_time"],
            "event_type": f["event_type"].cast(pl.String), "amount": f["amount"],
            "__source": pl.Series(self.sources, dtype=pl.String).gather(f[SRC]),
        })



def type_names(exported: pl.Series) -> tuple[pl.DataFrame, pl.Enum]:
    """'Delivery Failed' / 'delivery-failed' -> 'delivery_failed', worked out once per distinct exported value
    (a Categorical series): the exported values with their names, and the Enum of the names."""
    names = exported.to_frame("event_type").select(
        pl.col("event_type"), V.event_type(pl.coalesce(V.text("event_type"), pl.lit("unknown"))).alias("__name"))
    return names, pl.Enum(sorted(set(names["__name"].to_list())))


def named_types(frame: pl.DataFrame, names: pl.DataFrame, enum: pl.Enum) -> pl.DataFrame:
    """The event type column as its names (`type_names`); rows are mapped by the Categorical's codes."""
    if frame.height == 0:  # no valid event (a header-only file, every row rejected): replace_strict keeps u32
        return frame.with_columns(pl.Series("event_type", [], dtype=enum))
    phys = pl.col("event_type").to_physical().fill_null(2**32 - 1)  # a missing type is 'unknown'
    codes = names.select(phys.alias("__code"), "__name")
    return frame.with_columns(phys.replace_strict(codes["__code"], codes["__name"], return_dtype=enum).alias("event_type"))
