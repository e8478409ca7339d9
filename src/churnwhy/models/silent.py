"""Reasons for the silent: infer why / what for churners who stated no reason, from what they did.

A regularised multinomial logistic regression (standardised behaviour features, L2, C from
[drivers] silent_c) learns, on churners whose reason was stated, how behaviour maps to why and to what;
it then predicts both for churners who said nothing, with probabilities.

It refuses to infer (and says why) when:
- fewer than `silent_min_labels` (30) churners have a stated label on that axis, after leaving out
  labels held by fewer than `silent_min_per_class` (5) churners (too rare to learn or to predict);
- fewer than two labels remain;
- cross-validated accuracy is not clearly better than always guessing the commonest label: the
  one-sided 95% lower bound acc - 1.645 sqrt(acc (1 - acc) / n) must exceed the majority share.

Bounded work: the final fit uses at most `silent_max_rows` (50,000) labelled churners, a label-stratified
sample; its `silent_cv_folds`-fold cross-validated accuracy is estimated on at most `silent_cv_rows` (10,000)
of those, again label-stratified: the 95% half-width of an accuracy from 10,000 predictions is at most
1.96 sqrt(0.25 / 10,000) = 1 point, and the refusal rule's lower bound uses that n. (At 1M customers, CV on
all 50,000 cost five extra fits on 40,000 rows per axis.) Labels are fitted as integer codes, and the matrix
algebra runs on one BLAS thread (see churnwhy.models.threads). The combined mix (stated one-hot + inferred probabilities) has
normal-approximation 95% CIs: share ± 1.96 sd / sqrt(n) over churners. They cover sampling noise, not
the classifier's own errors; its CV accuracy is reported beside them.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churnwhy.config import Config
from churnwhy.models.drivers_families import DriverSettings
from churnwhy.models.drivers_prep import stratified_sample
from churnwhy.models.reason_correction import N_BOOT, confusion, corrected_mix
from churnwhy.models.threads import single_blas_thread
from churnwhy.results.drivers import ReasonShare, SilentModel, SilentResult
from churnwhy.table import CustomerTable

__all__ = ["SilentReasonClassifier", "infer_silent_reasons"]

DIMENSIONS = ("why", "what")
UNKNOWN = "unknown"
STATED, INFERRED = "stated", "inferred"
Z_ONE_SIDED_95 = 1.6448536269514722
Z95 = 1.959963984540054


class SilentReasonClassifier:
    """Regularised logistic regression from behaviour to one reason axis, with the refusal rules above."""

    def __init__(
        self,
        *,
        min_labels: int = 30,
        min_per_class: int = 5,
        cv_folds: int = 5,
        max_rows: int = 50_000,
        cv_rows: int = 10_000,
        C: float = 1.0,
        random_state: int = 0,
    ):
        self.min_labels = min_labels
        self.min_per_class = min_per_class
        self.cv_folds = cv_folds
        self.max_rows = max_rows
        self.cv_rows = cv_rows
        self.C = C
        self.random_state = random_state

    def fit(self, x: np.ndarray, y: Sequence[str] | np.ndarray) -> SilentReasonClassifier:
        """Learn from labelled rows; sets refused_ (None when it may infer), cv_accuracy_, baseline_accuracy_."""
        y = np.asarray(y, dtype=object)
        self.model_ = None
        self.notes_: list[str] = []
        self.refused_: str | None = None
        self.cv_accuracy_ = self.baseline_accuracy_ = math.nan
        self.cv_folds_ = self.cv_rows_ = 0
        self.cv_confusion_: np.ndarray | None = None
        labels, counts = np.unique(y, return_counts=True) if y.size else (np.array([], object), np.array([], int))
        rare = labels[counts < self.min_per_class]
        if rare.size:
            self.notes_.append(
                f"left out label(s) held by fewer than {self.min_per_class} churners: {', '.join(map(str, rare))}"
            )
        kept = np.isin(y, labels[counts >= self.min_per_class])
        x, y = x[kept], y[kept]
        self.classes_ = tuple(str(c) for c in labels[counts >= self.min_per_class])
        self.n_labels_ = int(y.size)
        if self.n_labels_ < self.min_labels:
            return self._refuse(f"only {self.n_labels_} churners with a stated reason to learn from (need {self.min_labels})")
        if len(self.classes_) < 2:
            return self._refuse(f"every labelled churner has the same reason ({self.classes_[0]}): nothing to tell apart")
        if x.shape[1] == 0:
            return self._refuse("no behaviour features to learn from")
        rng = np.random.default_rng(self.random_state)
        idx = stratified_sample(y, self.max_rows, rng, floor=self.cv_folds)
        x, y = x[idx], y[idx]
        # Integer codes: scikit-learn re-sorts object labels (np.unique on strings) in every fit and fold.
        classes = np.asarray(self.classes_, dtype=object)
        code = np.searchsorted(classes, y)
        cv_idx = stratified_sample(code, self.cv_rows, rng, floor=self.cv_folds)
        cv_code = code[cv_idx]
        cv_counts = np.bincount(cv_code, minlength=classes.size)
        self.baseline_accuracy_ = float(cv_counts.max() / cv_code.size)  # on the rows the accuracy is measured on
        folds = int(min(self.cv_folds, cv_counts.min()))
        self.cv_folds_ = folds
        self.cv_rows_ = int(cv_idx.size)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=500))
        with warnings.catch_warnings(), single_blas_thread():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if folds < 2:
                return self._refuse("a label has a single churner: too few to cross-validate")
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            predicted = cross_val_predict(model, x[cv_idx], cv_code, cv=cv)
            acc = float(np.mean(predicted == cv_code))
            self.cv_accuracy_ = acc
            # The classifier's confusion (CV predictions against the labels they hide): the mix corrects for it.
            self.cv_confusion_ = confusion(cv_code, predicted, classes.size)
            lower = acc - Z_ONE_SIDED_95 * math.sqrt(acc * (1 - acc) / cv_code.size)
            if not lower > self.baseline_accuracy_:
                majority = str(classes[cv_counts.argmax()])
                return self._refuse(
                    f"cross-validated accuracy {acc:.0%} is not clearly better than always guessing "
                    f"{majority!r} ({self.baseline_accuracy_:.0%})"
                )
            self.model_ = model.fit(x, code)
        return self

    def _refuse(self, reason: str) -> SilentReasonClassifier:
        self.refused_ = reason
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities, columns in `classes_` order."""
        if self.model_ is None:
            raise ValueError(f"the classifier refused to infer: {self.refused_}")
        with single_blas_thread():
            proba = self.model_.predict_proba(x)
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, self.model_.classes_] = proba  # the model's classes are codes into classes_
        return out


def _half_width(n: int) -> float:
    """Worst-case (p = 0.5) 95% half-width, in points, of an accuracy estimated from n predictions."""
    return 100 * Z95 * math.sqrt(0.25 / n)


def infer_silent_reasons(table: CustomerTable, config: Config) -> tuple[CustomerTable, SilentResult]:
    """Fill why / what for silent churners (reason_source = "inferred", reason_confidence) and report the mix."""
    s = DriverSettings.from_config(config)
    frame = table.frame
    needed = ("why", "what", "reason_source")
    missing = [c for c in needed if c not in frame.columns]
    n_churned = table.n_churned
    if missing:
        return table, SilentResult(
            n_churned=n_churned,
            skipped=f"the table has no {', '.join(missing)} column(s): run the reasons model first",
        )
    churned = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
    # Masks and labels stay in Polars / numpy booleans: a million labels as Python strings cost 0.3 s.
    is_stated = (frame["reason_source"].cast(pl.String) == STATED).fill_null(False).to_numpy()
    stated = churned & is_stated
    silent = churned & ~is_stated
    rules = [
        f"classifier: L2 logistic regression (C = {s.silent_c:g}) on standardised behaviour features, trained on at most "
        f"{s.silent_max_rows:,} labelled churners (label-stratified sample); accuracy from {s.silent_cv_folds}-fold "
        f"cross-validation on at most {s.silent_cv_rows:,} of them (95% precision +-{_half_width(s.silent_cv_rows):.1f} points)",
        f"refuses below {s.silent_min_labels} labels, drops labels with fewer than {s.silent_min_per_class}, and needs CV "
        "accuracy clearly (one-sided 95%) above the majority share",
        f"mix: stated labels as given, inferred ones corrected for the classifier's cross-validated confusion "
        f"(matrix inversion); 95% CIs from {N_BOOT:,} parametric bootstrap draws that redraw the stated labels, the "
        "inferred labels and the confusion matrix (sampling noise and classification error)",
    ]
    notes: list[str] = []
    features = list(table.features)
    prepared = table.filled_features if features else None  # the drivers' matrix, computed once per table
    if prepared is not None:
        notes.extend(prepared.notes)
    new_cols: dict[str, pl.Series] = {}
    conf = np.full(frame.height, np.nan)
    inferred_any = np.zeros(frame.height, bool)
    models: list[SilentModel] = []
    probs: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray]] = {}
    for dim in DIMENSIONS:
        col = frame[dim].cast(pl.String)
        known = stated & (col.is_not_null() & (col != UNKNOWN)).fill_null(False).to_numpy()
        clf = SilentReasonClassifier(
            min_labels=s.silent_min_labels, min_per_class=s.silent_min_per_class, cv_folds=s.silent_cv_folds,
            max_rows=s.silent_max_rows, cv_rows=s.silent_cv_rows, C=s.silent_c, random_state=s.seed,
        )  # fmt: skip
        x = prepared.x if prepared is not None else np.empty((frame.height, 0))
        clf.fit(x[known], col.filter(pl.Series(known)).to_numpy().astype(object))
        notes.extend(f"{dim}: {n}" for n in clf.notes_)
        can = clf.refused_ is None and silent.any()
        if can:
            p = clf.predict_proba(x[silent])
            assert clf.cv_confusion_ is not None  # set by every fit that ends without refusing
            probs[dim] = (clf.classes_, p, clf.cv_confusion_)
            pick = pl.Series(dim, clf.classes_, dtype=pl.String).gather(p.argmax(axis=1))
            new_cols[dim] = col.clone().scatter(np.flatnonzero(silent), pick)
            conf[silent] = np.fmin(conf[silent], p.max(axis=1))
            inferred_any |= silent
        models.append(
            SilentModel(
                dimension=dim, n_labels=clf.n_labels_, classes=clf.classes_, cv_accuracy=clf.cv_accuracy_,
                baseline_accuracy=clf.baseline_accuracy_, cv_folds=clf.cv_folds_, inferred=bool(can),
                refused=clf.refused_ if clf.refused_ else (None if silent.any() else "no silent churners"),
            )  # fmt: skip
        )
    out = frame
    if inferred_any.any():
        updates = [_like(frame, dim, values) for dim, values in new_cols.items()]
        src = frame["reason_source"].cast(pl.String).clone().scatter(np.flatnonzero(inferred_any), INFERRED)
        updates.append(_like(frame, "reason_source", src))
        old_conf = (
            frame["reason_confidence"].cast(pl.Float64).to_numpy()
            if "reason_confidence" in frame.columns
            else np.full(frame.height, np.nan)
        )
        new_conf = np.where(inferred_any, conf, old_conf)
        updates.append(pl.Series("reason_confidence", new_conf, dtype=pl.Float64).fill_nan(None))
        out = frame.with_columns(updates)
    mix = _mix(frame, churned, stated, silent, probs, seed=s.seed)
    result = SilentResult(
        models=tuple(models),
        mix=mix,
        n_churned=n_churned,
        n_stated=int(stated.sum()),
        n_silent=int(silent.sum()),
        n_inferred=int(inferred_any.sum()),
        notes=tuple(notes),
        rules=tuple(rules),
        skipped=None if features else "the table has no behaviour features to infer reasons from",
    )
    return dataclasses.replace(table, frame=out), result


def _like(frame: pl.DataFrame, name: str, series: pl.Series) -> pl.Series:
    """A replacement text column, cast back to the original dtype (e.g. an Enum) when it allows."""
    series = series.alias(name)
    try:
        return series.cast(frame.schema[name])
    except pl.exceptions.PolarsError:
        return series


def _mix(
    frame: pl.DataFrame,
    churned: np.ndarray,
    stated: np.ndarray,
    silent: np.ndarray,
    probs: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray]],
    *,
    seed: int = 0,
) -> tuple[ReasonShare, ...]:
    """Per axis, over every churner: stated labels as given (`unknown` included), inferred labels corrected for
    the classifier's confusion, silent churners left unknown where nothing was inferred (models/reason_correction)."""
    out: list[ReasonShare] = []
    n = int(churned.sum())
    if n == 0:
        return ()
    rows = np.flatnonzero(churned)  # the mix is over churners: work on their rows only
    is_stated, is_silent = stated[rows], silent[rows]
    for dim in DIMENSIONS:
        raw = frame[dim].gather(rows).cast(pl.String).fill_null(UNKNOWN).to_numpy().astype(object)
        classes, p, validation = probs.get(dim, ((), np.empty((0, 0)), np.zeros((0, 0))))
        # The classifier's classes first (the corrected block), then labels only stated, then `unknown`.
        rest = sorted((set(raw[is_stated]) | {UNKNOWN}) - set(classes))
        labels = (*classes, *rest)
        col = {lab: i for i, lab in enumerate(labels)}
        known = np.zeros(len(labels))
        np.add.at(known, [col[lab] for lab in raw[is_stated]], 1.0)
        classified = np.zeros(len(classes))
        if classes:
            classified = np.bincount(p.argmax(axis=1), minlength=len(classes)).astype(float)
        elif is_silent.any():
            known[col[UNKNOWN]] += float(is_silent.sum())
        mix = corrected_mix(labels, known, classified, validation, seed=seed)
        for lab, i in col.items():
            out.append(
                ReasonShare(
                    dimension=dim, label=lab, share=float(mix.share[i]),
                    ci_low=float(mix.lo[i]), ci_high=float(mix.hi[i]),
                    n_stated=int(round(known[i])) if not (lab == UNKNOWN and not classes) else int(
                        round(known[i] - is_silent.sum())),
                    n_inferred=float(mix.n_classified[i]),
                )  # fmt: skip
            )
    return tuple(sorted(out, key=lambda r: (r.dimension != "why", -r.share, r.label)))
