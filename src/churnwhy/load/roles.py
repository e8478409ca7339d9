"""Roles and columns decided from the values, where the names alone do not settle them.

Runs after `columns.map_columns` (names) and before parsing, on small reads of the tables concerned:

- a customers table with no id column by name takes one by content (a text or integer column unique per row);
  with none at all, each row is a customer (`TableMapping.row_ids`);
- events and surveys with no id column by name take the column named like a customers table's id;
- start and end dates by name (a broad vocabulary) and by value (columns that read as dates; an end date is
  often empty and never before the start);
- a table whose key does not overlap the customer ids is a lookup table (`Lookup`): joined through a column a
  customers table carries (zip code -> population), otherwise skipped with a note. It never adds customers.
"""

from __future__ import annotations

import dataclasses
import re
from typing import cast

import polars as pl

from churnwhy.load.columns import CUSTOMER_SIGNALS, FOREIGN_ID, LINK_KEYS, TableMapping, key
from churnwhy.load.dates import reads_as_dates
from churnwhy.load.read import RawTable

# How many rows are read to decide from values (ids by content read their column whole).
SAMPLE_ROWS = 20_000
# An integer column is an id by content only when its name says so ("CLIENTNUM", "msno", "acct_nr").
ID_NAME_END = re.compile(r"(id|no|num|nr|number|key|code|ref|reference)$")
START_WORDS = re.compile(r"join|opened|opendate|openon|activat|created|creation|since|started|startdate|starton|"
                         r"signup|signedup|regist|enrol|onboard|firstorder|firstpurchase|acquired|acquisition")
END_WORDS = re.compile(r"closed|closure|closedate|cancel|terminat|ended|enddate|endon|endat|deactivat|churn|exited|"
                       r"exitdate|leftat|lefton|leftdate|dateleft|leaving|lostat|loston|lostdate")
# Dates of something other than the customer's whole relationship: a contract's or trial's end comes and goes
# while the customer stays.
NOT_LIFETIME = re.compile(r"contract|renew|expir|trial|promo|billing|period|invoice|warranty|offer|discount|"
                          r"payment|order|delivery|ticket|campaign|plan(?!t)")


@dataclasses.dataclass(frozen=True)
class Lookup:
    """A table keyed by something other than the customer: joined through `on` (its column) to the customers
    tables' column `to` (matched by name), or skipped (`to` None) with `why`."""

    name: str
    raw: RawTable
    on: str | None
    to: str | None
    why: str
    own_key: str | None = None  # its own id column (not a customer attribute)


def settle(tables: list[tuple[RawTable, TableMapping]], notes: list[str]) -> tuple[
        list[tuple[RawTable, TableMapping]], list[Lookup], list[tuple[str, str]]]:
    """The tables with their mappings completed from the values, the lookup tables, and (name, why) skipped."""
    skipped: list[tuple[str, str]] = []
    out: list[tuple[RawTable, TableMapping]] = []
    customer_ids: list[str] = []  # names of the customers tables' id columns, to find them in other tables
    for raw, m in tables:
        if m.role == "customers":
            m = _dates_by_content(raw, m)
            if _is_customer_level(m) and not _has_key(m):
                found = _id_by_content(raw, m)
                if found is not None:
                    m = _with(m, customer_id=found)
                    notes.append(f"{raw.name}: {found!r} taken as the customer id (one distinct value per row)")
                else:
                    m = dataclasses.replace(m, row_ids=True)
                    notes.append(f"{raw.name}: no customer id column; each row is one customer")
            if "customer_id" in m.columns:
                customer_ids.append(m.columns["customer_id"])
        out.append((raw, m))
    id_keys = {key(c) for c in customer_ids}
    settled: list[tuple[RawTable, TableMapping]] = []
    candidates: list[tuple[RawTable, TableMapping]] = []
    for raw, m in out:
        if not _has_key(m) and not m.row_ids:
            same = [c for c in raw.columns if key(c) in id_keys]
            if m.role != "customers" and same:
                m = _with(m, customer_id=same[0])
                notes.append(f"{raw.name}: {same[0]!r} read as the customer id, as in the customers file")
            else:
                candidates.append((raw, m))
                continue
        elif m.role == "customers" and not _is_customer_level(m) and "customer_id" in m.columns:
            candidates.append((raw, m))  # attributes only: a lookup unless its ids are customers
            continue
        settled.append((raw, m))
    primary = [(r, m) for r, m in settled if m.role == "customers"]
    known = _known_ids(primary) if candidates else None
    lookups: list[Lookup] = []
    rest = []
    for raw, m in candidates:
        if _has_key(m) and (not primary or _overlaps(raw, m, known)):
            settled.append((raw, m))  # an attributes file keyed by the customers (plans, regions...)
        else:
            rest.append((raw, m))
    customer_tables = [(r, m) for r, m in settled if m.role == "customers"]
    for raw, m in rest:
        lookup = _as_lookup(raw, m, customer_tables)
        if lookup.to is None:
            skipped.append((raw.name, lookup.why))
        else:
            lookups.append(lookup)  # noted when joined (customers.join_customers), with how many matched
    order = {id(r): i for i, (r, _) in enumerate(tables)}
    return sorted(settled, key=lambda t: order[id(t[0])]), lookups, skipped


def _has_key(m: TableMapping) -> bool:
    return "customer_id" in m.columns or any(k in m.columns for k in LINK_KEYS)


def _is_customer_level(m: TableMapping) -> bool:
    return any(s in m.columns for s in CUSTOMER_SIGNALS)


def _with(m: TableMapping, **cols: str) -> TableMapping:
    return dataclasses.replace(m, columns={**m.columns, **cols}, extra=tuple(c for c in m.extra if c not in cols.values()))


def _text(s: pl.Series) -> pl.Series:
    t = s.cast(pl.String).str.strip_chars()
    return t.set(t.str.len_bytes() == 0, None) if t.len() else t


def _id_by_content(raw: RawTable, m: TableMapping) -> str | None:
    """A column unique per row, with no blanks, that reads as an identifier: text without spaces, or whole
    numbers under an id-like name. The first such column, in file order."""
    cands = [c for c in m.extra if not FOREIGN_ID.match(key(c))]
    if not cands:
        return None
    frame = raw.frame.select(cands).collect()
    if frame.height < 2:
        return None
    for c in cands:
        s = _text(frame[c])
        if s.null_count() or s.n_unique() != s.len():
            continue
        if s.str.contains(r"\s").any() or cast(int, s.str.len_chars().max()) > 64:  # no nulls: an int
            continue
        digits = s.str.contains(r"^-?\d+(\.0+)?$").all()
        if s.str.contains(r"^-?\d*\.\d+$").any():
            continue  # measurements, not ids
        if digits and not ID_NAME_END.search(key(c)):
            continue
        return c
    return None


def _dates_by_content(raw: RawTable, m: TableMapping) -> TableMapping:
    """signup_date / churn_date from columns that read as dates, when their names did not map them: by a broad
    vocabulary (joined, opened, activated...; closed, cancelled, terminated...), else, for two date columns, by
    value (the end is empty more often and never before the start)."""
    want = [c for c in ("signup_date", "churn_date") if c not in m.columns]
    if not want or not m.extra:
        return m
    sample = raw.frame.select(m.extra).head(SAMPLE_ROWS).collect()
    dated = [c for c in m.extra if reads_as_dates(_text(sample[c]), column=c, table=raw.name)]
    if not dated:
        return m
    found: dict[str, str] = {}
    lifetime = [c for c in dated if not NOT_LIFETIME.search(key(c))]
    starts = [c for c in lifetime if START_WORDS.search(key(c)) and not END_WORDS.search(key(c))]
    ends = [c for c in lifetime if END_WORDS.search(key(c))]
    if "signup_date" in want and len(starts) == 1:
        found["signup_date"] = starts[0]
    if "churn_date" in want and len(ends) == 1:
        found["churn_date"] = ends[0]
    rest = [c for c in lifetime if c not in found.values()]
    if not found and len(rest) == 2 and want == ["signup_date", "churn_date"]:
        a, b = (_text(sample[c]).is_null().sum() for c in rest)
        if a != b:
            start, end = (rest[0], rest[1]) if b > a else (rest[1], rest[0])
            found = {"signup_date": start, "churn_date": end}
    return _with(m, **found) if found else m


def _ids(raw: RawTable, m: TableMapping) -> pl.Series:
    src = m.columns["customer_id"]
    return _text(raw.frame.select(src).collect().to_series()).str.replace(r"\.0+$", "").drop_nulls().unique()


def _known_ids(primary: list[tuple[RawTable, TableMapping]]) -> pl.Series | None:
    """The ids of the customers tables with churn columns (None: none has an id column)."""
    known = [_ids(r, pm) for r, pm in primary if "customer_id" in pm.columns]
    return pl.concat(known).unique() if known else None


def _overlaps(raw: RawTable, m: TableMapping, known: pl.Series | None) -> bool:
    """Whether this table's ids are customers: at least 1% of them are ids of the tables with churn columns."""
    if "customer_id" not in m.columns or known is None:
        return True  # keyed by email / phone: linked to the customers as before
    mine = _ids(raw, m)
    if mine.len() == 0:
        return False
    hits = mine.is_in(known.implode()).sum()
    return hits >= max(1, 0.01 * mine.len())


def _as_lookup(raw: RawTable, m: TableMapping, primary: list[tuple[RawTable, TableMapping]]) -> Lookup:
    """Joined through a column it shares by name with a customers table, or skipped with the reason."""
    theirs = {key(c): c for _, pm in primary for c in pm.extra}
    shared = [c for c in raw.columns if key(c) in theirs]
    if shared:
        on = shared[0]
        return Lookup(raw.name, raw, on, theirs[key(on)],
                      f"a lookup table (its key does not match the customer ids): joined through {on!r}",
                      m.columns.get("customer_id"))
    why = ("no customer id column, and no column in common with the customers files (a lookup table?)"
           if not _has_key(m) else "its ids are not the customers' (a lookup table) and no customers file "
                                   "carries any of its columns: skipped")
    return Lookup(raw.name, raw, None, None, why)


def lookup_frame(lookup: Lookup) -> pl.DataFrame:
    """The lookup table as trimmed text, one row per join key (the first row of a repeated key)."""
    assert lookup.on is not None
    cols = [c for c in lookup.raw.columns if c == lookup.on or c != lookup.own_key]
    frame = lookup.raw.frame.select(cols).collect()
    frame = frame.with_columns(pl.col(c).cast(pl.String).str.strip_chars() for c in cols)
    frame = frame.with_columns(pl.col(lookup.on).str.replace(r"\.0+$", ""))
    return frame.filter(pl.col(lookup.on).is_not_null()).unique(lookup.on, keep="first", maintain_order=True)
