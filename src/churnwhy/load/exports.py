"""load_exports: discover -> read -> map columns -> parse and validate -> tables of customers, events, surveys.

Every input row ends either loaded or in `rejects` with a reason; FileReport.rows_read always equals
rows_loaded + sum(rejected).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from churnwhy.config import Config
from churnwhy.errors import InputError
from churnwhy.load.accounting import account, latest_date
from churnwhy.load.columns import TableMapping
from churnwhy.load.customers import Part, join_customers, link_table
from churnwhy.load.discover import discover
from churnwhy.load.events import read_events
from churnwhy.load.codes import EventCodes
from churnwhy.load.loaded import REJECT_REASONS, Exports, FileReport, HeldRejects
from churnwhy.load.parse import Parsed, mapping_for, parse_table
from churnwhy.load.read import RawTable, read_source, short_error
from churnwhy.load.resolve import end_before_start, read_surveys, valid_rows
from churnwhy.load.roles import settle

if TYPE_CHECKING:  # the table module imports this one
    from churnwhy.table import EventAggregates

__all__ = ["REJECT_REASONS", "Exports", "FileReport", "load_exports"]

# (events files as parsed, customers, link tables) -> (events, their rejected rows): see load_exports
EventsReader = Callable[[list[Parsed], pl.DataFrame | None, dict[str, pl.DataFrame] | None],
                        tuple["EventAggregates", pl.DataFrame | HeldRejects]]


def load_exports(path: Path | str, config: Config | None = None, *, events_reader: EventsReader | None = None,
                 complete: Callable[[list[tuple[RawTable, TableMapping]]], list[tuple[RawTable, TableMapping]]] | None = None,
                 ) -> Exports:
    """Read every export under `path` into validated customers, events and surveys tables.

    `events_reader` replaces the in-process events pass (events.read_events) for another engine
    (churnwhy.engine.spark): it gets the events files as parsed (mapping and formats decided from a sample, as
    here), the customers and the link tables, sets each file's `n_rows` and returns the events and their rejected
    rows. `complete` sees the tables once their roles and columns are decided from their first rows, before any
    is parsed: engine.remote replaces there the files it mirrored as a sample only and Spark will not read."""
    config = config or Config()
    found = discover(Path(path))
    skipped = list(found.skipped) + list(found.unreadable)
    mapped: list[tuple[RawTable, TableMapping]] = []
    # Inputs that could not be read are warnings (errors under --strict), never a silent loss.
    warnings: list[str] = [f"{name}: {why}" for name, why in found.unreadable]
    notes: list[str] = []
    for src in found.files:
        raws, read_notes = read_source(src, max_decompressed_mb=config.max_decompressed_mb)
        skipped += read_notes
        for raw in raws:
            mapping = mapping_for(raw, config)
            if mapping is None:
                continue
            if mapping.role == "skip":
                skipped.append((raw.name, "skipped by [files] in churnwhy.toml"))
                continue
            mapped.append((raw, mapping))
    if complete is not None:
        mapped = complete(mapped)
    tables, lookups, lookup_skips = settle(mapped, notes)
    skipped += lookup_skips
    if not tables:
        raise InputError(
            f"{path}: no file has a customer id column",
            hint='name the id column (e.g. "customer_id"), or map it in churnwhy.toml:  [columns]  customer_id = "Your Column"',
        )
    parsed = {role: [parse_table(raw, m, config) for raw, m in tables if m.role == role]
              for role in ("customers", "events", "surveys")}
    joined = join_customers([Part(p.raw.name, valid_rows(p), p.segment_sources, p.mapping) for p in parsed["customers"]],
                            lookups, config, notes, has_events=bool(parsed["events"]))
    customers = joined.frame
    warnings += joined.warnings
    late: list[pl.DataFrame] = []
    links = None
    if customers is not None:
        customers, bad = end_before_start(customers, parsed["customers"])
        late.append(bad)
        customers = customers.drop([c for c in customers.columns if c.startswith("__row_")])
        links = link_table(customers)
    events: EventCodes | EventAggregates | None = None
    held: HeldRejects | None = None
    surveys = None
    if parsed["events"]:
        try:
            events, held_or_rows = (read_events(parsed["events"], customers, links, config.spill_events_above)
                                    if events_reader is None else events_reader(parsed["events"], customers, links))
        except pl.exceptions.ComputeError as exc:  # the events files are read here, in one lazy pass
            names = ", ".join(p.raw.name for p in parsed["events"])
            raise InputError(f"{names}: cannot be read ({short_error(exc)})",
                             hint="check the file opens in a spreadsheet; re-export it, or move it out of the folder") from None
        if isinstance(held_or_rows, pl.DataFrame):
            late.append(held_or_rows)
        else:
            held = held_or_rows
    if parsed["surveys"]:
        surveys, bad = read_surveys(parsed["surveys"], customers, links)
        late.append(bad)
    if customers is None and events is None:
        raise InputError(
            f"{path}: found surveys but no customers or events file",
            hint="add the customer export (ids, signup dates) or the event export next to the surveys",
        )
    reports, rejects = account(parsed, late, held.counts if held is not None else None)
    notes += [n for p in sum(parsed.values(), []) for n in p.notes]
    data_end = latest_date(customers, events, surveys)
    return Exports(
        customers=customers, event_codes=events, surveys=surveys, files=tuple(reports), skipped=tuple(skipped),
        rejects=rejects, segments=joined.segments, warnings=tuple(dict.fromkeys(warnings)), data_end=data_end,
        notes=tuple(dict.fromkeys(notes)), outcome_columns=joined.outcome_columns, attributes=joined.attributes,
        attribute_sources=joined.attribute_sources, lookups=joined.lookups, held_rejects=held,
    )
