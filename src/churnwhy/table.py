"""The per-customer table: one row per customer, the input of every model.

Contract (column -> dtype); models may rely on these names:

    customer_id         str      identifier, kept exactly as exported (leading zeros...)
    start_date          date     signup (or first event); null when the export has only a tenure
    end_date            date     churn date for churners, as_of for active customers; null with tenure only
    tenure_days         i64      whole days from start to end (>= 0)
    churned             bool
    churn_source        str      explicit_date | flag_tenure | cancel_event | inactivity | active
    <segment columns>   str      listed in CustomerTable.segments (plan, region, ...)
    last_score          f64      latest survey score on or before end_date (null: none)
    score_scale         str      nps | csat5 | csat10 | unknown (how last_score reads)
    reason_code         str      latest stated reason code (any time; exit surveys come after churn)
    reason_text         str      latest stated free-text reason
    competitor          str      competitor named in a survey, if any
    surveyed            bool     the customer answered at least one survey
    exposure_days       i64      days observed inside the lookback window before end_date (>= 1)
    n_<event_type>      i64      count of that event type in the window, strictly before end_date
    rate_<event_type>   f64      that count per 30 days of exposure (what models should use)
    amount_window       f64      sum of event amounts in the window (0 when no amounts)
    amount_total        f64      lifetime sum of amounts strictly before end_date (value at risk)
    days_since_last_event f64    end_date - last event before it (null: no events)
    activity_change     f64      (second half - first half) / (first half + 1) of the window's event counts

Models add: why, what, reason_source (stated | inferred | none), reason_confidence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

CHURN_SOURCES = ("explicit_date", "flag_tenure", "cancel_event", "inactivity", "active")
COUNT_PREFIX = "n_"
RATE_PREFIX = "rate_"
RATE_DAYS = 30


@dataclasses.dataclass(frozen=True)
class CustomerTable:
    """The customer table with what a model needs to read it."""

    frame: pl.DataFrame
    as_of: dt.date
    segments: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()  # normalised names: n_<t>, rate_<t> exist for each
    lookback_days: int = 180
    churn_rule: str = ""  # a sentence: which rule decided churn, for reports

    @property
    def features(self) -> tuple[str, ...]:
        """Behaviour features a model may use (rates, amounts, recency, trend)."""
        names = [f"{RATE_PREFIX}{t}" for t in self.event_types]
        names += [c for c in ("amount_window", "days_since_last_event", "activity_change") if c in self.frame.columns]
        return tuple(names)

    @property
    def n_customers(self) -> int:
        return self.frame.height

    @property
    def n_churned(self) -> int:
        return int(self.frame["churned"].sum())
