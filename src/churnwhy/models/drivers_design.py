"""What enters the drivers model: behaviour rates (shrunk when their events are known), customer attributes,
and each customer's follow-up; features that would encode tenure or the churn rule are left out here, each
with a note. A mixin of CoxDrivers, which holds the state it reads and sets (notes_, rules_, settings,
column_of_, reference_, priors_, rate_types_...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from churnwhy.models import drivers_attributes as attrs
from churnwhy.models.drivers_counting import RatePriors, fit_priors
from churnwhy.models.drivers_families import MISSING_SUFFIX, DriverSettings
from churnwhy.models.features import Prepared, fill_features
from churnwhy.table import COUNT_PREFIX, RATE_DAYS, RATE_PREFIX, CustomerTable

# Read on each customer's end date, these describe the leaving itself (and, with inactivity churn, the rule
# that decided it); in a model that compares customers month by month they would also carry the future.
END_DATE_FEATURES = ("days_since_last_event", "activity_change")
# Sums over each customer's own window, which is shorter for a customer who left early: they encode tenure.
SUM_FEATURES = ("amount_window", "amount_total")


def unit_of(feature: str) -> tuple[str, float]:
    """The interpretable unit of a feature and its size in the feature's own scale."""
    if feature.endswith(MISSING_SUFFIX):
        return "missing vs present", 1.0
    if attrs.ATTR_SEP in feature:
        return "vs the reference level", 1.0
    if feature.startswith(RATE_PREFIX):
        return f"per event per {RATE_DAYS} days", 1.0
    if feature.startswith(COUNT_PREFIX):
        return "per event", 1.0
    if feature.startswith("amount"):
        return "per 10 currency units", 10.0
    if feature.startswith("days_"):
        return "per 30 days", 30.0
    if feature == "activity_change":
        return "per +0.1 relative change", 0.1
    return "per unit", 1.0


def inferred_churn(frame: pl.DataFrame) -> np.ndarray:
    """Per customer: churn inferred from inactivity (the table's churn_source), False where the column is absent."""
    if "churn_source" not in frame.columns:
        return np.zeros(frame.height, dtype=bool)
    return (frame["churn_source"] == "inactivity").fill_null(False).to_numpy()


class DriverDesign:
    """The design matrix of CoxDrivers (see the module docstring)."""

    # State shared with CoxDrivers (set there or here): declared once so both read the same types.
    settings: DriverSettings
    min_segment_size: int
    max_segment_levels: int
    notes_: list[str]
    rules_: list[str]
    cox_: Any
    features_: tuple[str, ...]
    priors_: RatePriors | None  # the rates' population moments, when counts and exposure are known
    rate_cols_: list[int]
    rate_types_: list[str]
    column_of_: dict[str, str]
    reference_: dict[str, str]
    display_: dict[str, str]

    def _follow_up(self, table: CustomerTable) -> np.ndarray:
        """Days each customer is followed: the tenure, except that with churn inferred from inactivity an active
        customer's follow-up ends `inactivity_days` before the analysis date. Someone who left in those last days
        is still listed active (the silence is too short to tell), and their silent days would otherwise read as
        "quiet customers stay"."""
        frame = table.frame
        tenure = frame["tenure_days"].cast(pl.Float64).to_numpy()
        inact = self.settings.inactivity_days
        if inact <= 0 or not inferred_churn(frame).any():
            return tenure
        active = ~frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
        tenure = np.where(active, np.maximum(tenure - inact, 0.0), tenure)
        if "days_since_last_event" in frame.columns:
            # No event at all: the inactivity rule can never call them churned, so "active" says nothing (a
            # customer who left in week one looks like a quiet one who stays); their status is unknown.
            silent = active & frame["days_since_last_event"].is_null().to_numpy() & (tenure > 0)
            if silent.any():
                tenure = np.where(silent, np.nan, tenure)
                self.notes_.append(
                    f"{int(silent.sum()):,} 'active' customer(s) without any event left out of the drivers: with churn "
                    "inferred from inactivity, whether they are still customers cannot be read"
                )
        self.rules_.append(
            f"churn is inferred from inactivity, so active customers are followed until {inact} days before the "
            "analysis date: whether they left after that is not yet knowable"
        )
        return tenure

    # -- the design: behaviour and attributes ----------------------------------------------------
    def _behaviour_features(self, table: CustomerTable, features: Sequence[str] | None) -> list[str]:
        s = self.settings
        feats = list(table.features if features is None else features)
        if s.exclude:
            excluded = set(s.exclude) | {RATE_PREFIX + e for e in s.exclude}
            feats = [f for f in feats if f not in excluded]
            self.notes_.append(f"left out by [drivers] exclude: {', '.join(sorted(s.exclude))}")
        inactivity = bool(inferred_churn(table.frame).any())
        end_date = [f for f in feats if f in END_DATE_FEATURES]
        if end_date:
            feats = [f for f in feats if f not in END_DATE_FEATURES]
            why = (
                "churn here is inferred from inactivity, and these features read the very events the inactivity rule "
                "reads, so they would predict the rule that defined churn"
                if inactivity
                else "they are read on each customer's end date and describe the leaving itself"
            )
            self.notes_.append(f"left out of the drivers: {', '.join(end_date)} ({why})")
        sums = [f for f in feats if f in SUM_FEATURES]
        if sums:
            feats = [f for f in feats if f not in SUM_FEATURES]
            self.notes_.append(
                f"left out of the drivers: {', '.join(sums)} (sums over each customer's own window, shorter for a customer "
                "who left early: they would encode tenure)"
            )
        return feats

    def _design(self, table: CustomerTable, behaviour: list[str], rows: np.ndarray,
                matrix: Prepared | None = None) -> tuple[np.ndarray, list[str]]:
        """The customers x features matrix (behaviour rates, shrunk when counts are known; attribute levels);
        `matrix`, the table's shared feature_matrix, supplies the behaviour columns when every row is fitted."""
        frame = table.frame
        whole = rows.size == frame.height
        present = [c for c in behaviour if c in frame.columns]
        if present:  # (a select of no columns has no rows either)
            shared = matrix.subset(present) if matrix is not None and whole else None
            prepared = shared if shared is not None else fill_features(frame.select(present)[rows] if not whole
                                                                       else frame.select(present), present)
            self.notes_.extend(prepared.notes)
            x_beh, names = prepared.x, list(prepared.names)
        else:
            x_beh, names = np.empty((rows.size, 0)), []
        if names:
            self.rules_.append(
                "missing counts/rates read as 0; other missing values set to the median (with a <name>_missing flag "
                "only where missing does not just mean a short life); rates clipped at their 99.9th percentile"
            )
        x_beh = self._shrink_rates(frame, names, x_beh, rows) if table.monthly is not None else x_beh
        if table.monthly is None:
            self.rate_cols_, self.rate_types_ = [], []
        outcomes = tuple(getattr(table, "outcome_columns", ()) or ())
        # The loader's attributes (attr_<name>: every customer column that is not an outcome, an identifier, free
        # text or a constant; segments among them) when it gives them, else the segment columns.
        loaded = list(getattr(table, "attributes", {}) or {})
        candidates = loaded or list(table.segments)
        self.display_ = {c: c.removeprefix(attrs.ATTR_PREFIX) for c in candidates}
        cols, notes = attrs.attribute_columns(frame, candidates, outcomes, display=self.display_)
        self.notes_.extend(notes)
        sub = frame.select(cols) if whole or not cols else frame.select(cols)[rows]  # (no columns: no rows to pick)
        enc = attrs.encode(sub, cols, min_size=self.min_segment_size, max_levels=self.max_segment_levels,
                           display=self.display_)  # fmt: skip
        self.notes_.extend(enc.notes)
        self.column_of_ = dict(enc.column_of)
        self.reference_ = dict(enc.reference)
        if enc.names:
            self.rules_.append(
                "customer attributes: each level against the largest level of its column (its reference, HR 1); "
                f"numbers with more than {attrs.MAX_NUMERIC_LEVELS} values cut at their quartiles (lowest bin = "
                f"reference); levels under {self.min_segment_size} customers pooled into 'other'"
            )
        x = np.hstack([x_beh, enc.x]) if enc.names else x_beh
        return x, names + list(enc.names)

    def _reference(self, feature: str) -> str | None:
        col = self.column_of_.get(feature)
        return f"{self.display_.get(col, col)}{attrs.ATTR_SEP}{self.reference_[col]}" if col else None

    def _is_column(self, feature: str, column: str) -> bool:
        """Whether an attribute level belongs to `column` (a frame column or its display name, e.g. a segment)."""
        col = self.column_of_.get(feature)
        return col is not None and column in (col, self.display_.get(col, col))

    def _shrink_rates(self, frame: pl.DataFrame, names: list[str], x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Rates measured from events (counts and exposure in the table): the gamma-Poisson shrunk rates
        (drivers_counting). A table given without its events (rates as they are) is fitted as given."""
        self.rate_cols_ = []
        self.rate_types_ = []
        if "exposure_days" not in frame.columns:
            return x
        for j, f in enumerate(names):
            if f.startswith(RATE_PREFIX) and f"{COUNT_PREFIX}{f[len(RATE_PREFIX):]}" in frame.columns:
                self.rate_cols_.append(j)
                self.rate_types_.append(f[len(RATE_PREFIX):])
        if not self.rate_cols_:
            return x
        counts = np.column_stack(
            [frame[f"{COUNT_PREFIX}{t}"].fill_null(0).cast(pl.Float64).to_numpy()[rows] for t in self.rate_types_]
        )
        exposure = frame["exposure_days"].cast(pl.Float64).fill_null(1.0).to_numpy()[rows]
        self.priors_ = priors = fit_priors(counts, exposure)
        x = x.copy()
        x[:, self.rate_cols_] = priors.shrink(counts, exposure)
        rel = np.median(priors.reliability(exposure), axis=0)
        self.rules_.append(
            "behaviour rates shrunk toward the population rate by their reliability (regression calibration over "
            "all event types together: correlated behaviours inform each other); median reliability {', '.join(f'{t} {r:.2f}' for t, r in zip(self.rate_types_, rel, strict=True))}"
        )
        return x

    # -- fitting ---------------------------------------------------------------------------------

    def design_matrix(self, table: CustomerTable, matrix: Prepared | None = None) -> np.ndarray:
        """Each customer's drivers, as the model reads them today (shrunk rates, attribute levels): rows of table.
        `matrix`: the table's own feature_matrix when the caller has it (its behaviour columns are read from it).
        Attribute levels are read by what they name (drivers_attributes.level_columns)."""
        if self.cox_ is None:
            raise ValueError("the driver model is not fitted (see skipped_)")
        frame = table.frame
        beh = [f for f in self.features_ if f not in self.column_of_]
        prepared = matrix.subset(beh) if matrix is not None and beh else None
        if prepared is None and beh:
            prepared = fill_features(frame.select(c for c in beh if c in frame.columns), beh)
        shrunk = None
        if self.priors_ is not None and all(f"{COUNT_PREFIX}{t}" in frame.columns for t in self.rate_types_):
            counts = np.column_stack(
                [frame[f"{COUNT_PREFIX}{t}"].fill_null(0).cast(pl.Float64).to_numpy() for t in self.rate_types_]
            )
            shrunk = self.priors_.shrink(counts, frame["exposure_days"].cast(pl.Float64).fill_null(1.0).to_numpy())
        # Filled column by column (no list of columns stacked afterwards: one copy less of a million rows).
        x = np.zeros((frame.height, len(self.features_)), order="F")
        by_column: dict[str, list[int]] = {}
        for k, f in enumerate(self.features_):
            if f in self.column_of_:
                by_column.setdefault(self.column_of_[f], []).append(k)
                continue
            assert prepared is not None  # a behaviour feature among features_ means beh is not empty
            t = f[len(RATE_PREFIX):] if f.startswith(RATE_PREFIX) else None
            if shrunk is not None and t in self.rate_types_:
                x[:, k] = shrunk[:, self.rate_types_.index(t)]
            else:
                x[:, k] = prepared.x[:, prepared.names.index(f)]
        # Attribute levels read by what they name (bins by the fitted edges, values, "other"), never encoded afresh:
        # on another table (a cross-validation fold, the active customers) the commonest level, the quartiles and
        # the pooling differ from the fit's. A column the table lacks leaves everyone at the reference.
        for col, ks in by_column.items():
            if col not in frame.columns:
                continue
            levels = [self.features_[k].split(attrs.ATTR_SEP, 1)[1] for k in ks]
            # every level the fit encoded (refused or screened out ones too): a customer in one is not in "other"
            named = {f.split(attrs.ATTR_SEP, 1)[1] for f, c in self.column_of_.items() if c == col}
            x[:, ks] = attrs.level_columns(frame[col], levels, named | {self.reference_.get(col, "")})
        return x
