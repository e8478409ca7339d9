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
algebra runs on one BLAS thread (see churnwhy.models.threads).

The combined mix takes stated labels as given and counts each silent churner by the classifier's
probabilities (not by its likeliest label: see _mix). Its 95% intervals come from a bootstrap that refits
what the estimate depends on (`refit_bootstrap`): each replicate redraws the stated churners, refits the
classifier on them (warm-started from the full fit's coefficients), redraws the silent ones and adds up the
refit's probabilities over them. So the interval holds the sampling of both groups and the classifier's own
estimation error, not only sampling noise (tests/test_reason_refit.py: coverage on a simulation with a fitted
classifier). Bounded work: at most N_REFIT (200) replicates, fewer (never under MIN_REFIT) when they would
fit more than REFIT_WORK labelled rows in all.
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
from churnwhy.models.features import Prepared, feature_matrix
from churnwhy.models.reason_correction import confusion, corrected_mix
from churnwhy.models.threads import single_blas_thread
from churnwhy.results.drivers import ReasonShare, SilentModel, SilentResult
from churnwhy.table import CustomerTable

__all__ = ["SilentReasonClassifier", "fit_reason_classifiers", "infer_silent_reasons"]

DIMENSIONS = ("why", "what")
UNKNOWN = "unknown"
STATED, INFERRED = "stated", "inferred"
Z_ONE_SIDED_95 = 1.6448536269514722
Z95 = 1.959963984540054
N_REFIT = 200  # bootstrap replicates that refit the classifier
MIN_REFIT = 100
REFIT_WORK = 4_000_000  # labelled rows fitted over all replicates, at most (beyond: fewer replicates, >= MIN_REFIT)


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


def fit_reason_classifiers(table: CustomerTable, config: Config, *,
                           matrix: Prepared | None = None) -> dict[str, SilentReasonClassifier]:
    """One classifier per axis (why, what), trained on the churners of `table` whose reason was stated; {} when the
    table has no reason columns. Fitted once per table: the silent-reason inference and the at-risk scores
    (models.at_risk) read the same fits, so a customer's likely reason agrees with the inferred mix. `matrix`: the
    table's feature_matrix, as the pipeline hands it to every model (built here when not given)."""
    frame = table.frame
    if not {*DIMENSIONS, "reason_source"} <= set(frame.columns):
        return {}
    s = DriverSettings.from_config(config)
    churned = frame["churned"].fill_null(False).cast(pl.Boolean).to_numpy()
    stated = churned & (frame["reason_source"].cast(pl.String) == STATED).fill_null(False).to_numpy()
    x = _behaviour(table, matrix)
    out: dict[str, SilentReasonClassifier] = {}
    for dim in DIMENSIONS:
        col = frame[dim].cast(pl.String)
        known = stated & (col.is_not_null() & (col != UNKNOWN)).fill_null(False).to_numpy()
        out[dim] = SilentReasonClassifier(
            min_labels=s.silent_min_labels, min_per_class=s.silent_min_per_class, cv_folds=s.silent_cv_folds,
            max_rows=s.silent_max_rows, cv_rows=s.silent_cv_rows, C=s.silent_c, random_state=s.seed,
        ).fit(x[known], col.filter(pl.Series(known)).to_numpy().astype(object))
    return out


def _behaviour(table: CustomerTable, matrix: Prepared | None) -> np.ndarray:
    """The classifiers' input: the shared feature matrix (built when not given), no columns without features."""
    if not table.features:
        return np.empty((table.frame.height, 0))
    return (matrix if matrix is not None else feature_matrix(table)).x


def infer_silent_reasons(
    table: CustomerTable, config: Config, classifiers: dict[str, SilentReasonClassifier] | None = None, *,
    matrix: Prepared | None = None,
) -> tuple[CustomerTable, SilentResult]:
    """Fill why / what for silent churners (reason_source = "inferred", reason_confidence) and report the mix.
    `classifiers`: the fits of fit_reason_classifiers(table, config), when the caller already has them; `matrix`:
    the table's feature_matrix (built here when not given)."""
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
        "mix: stated labels as given, each silent churner counted by the classifier's probabilities (valid when who "
        f"answers depends on behaviour, not on the reason); 95% CIs from up to {N_REFIT} bootstrap replicates that "
        "redraw the stated churners, refit the classifier, and redraw the silent ones (sampling noise and the "
        "classifier's own estimation error)",
    ]
    notes: list[str] = []
    features = list(table.features)
    # The matrix the pipeline built once for every model (the drivers', the risk model's); built here without one.
    prepared = (matrix if matrix is not None else feature_matrix(table)) if features else None
    if prepared is not None:
        notes.extend(prepared.notes)
    new_cols: dict[str, pl.Series] = {}
    conf = np.full(frame.height, np.nan)
    inferred_any = np.zeros(frame.height, bool)
    models: list[SilentModel] = []
    probs: dict[str, tuple[SilentReasonClassifier, np.ndarray]] = {}
    x = prepared.x if prepared is not None else np.empty((frame.height, 0))
    fitted = classifiers if classifiers is not None else fit_reason_classifiers(table, config, matrix=prepared)
    for dim in DIMENSIONS:
        col = frame[dim].cast(pl.String)
        clf = fitted[dim]
        notes.extend(f"{dim}: {n}" for n in clf.notes_)
        can = clf.refused_ is None and silent.any()
        if can:
            p = clf.predict_proba(x[silent])
            probs[dim] = (clf, p)
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
    mix = _mix(frame, churned, stated, silent, probs, x, seed=s.seed)
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
    probs: dict[str, tuple[SilentReasonClassifier, np.ndarray]],
    x: np.ndarray,
    *,
    seed: int = 0,
) -> tuple[ReasonShare, ...]:
    """Per axis, over every churner: stated labels as given (`unknown` included), each silent churner counted by
    the classifier's probabilities, silent churners left unknown where nothing was inferred.

    Averaging probabilities, not counting each silent churner's likeliest label: under the assumption inference
    rests on (who answers depends on behaviour, not on the reason itself), P(reason | behaviour) learned from the
    stated holds for the silent, so its average over them is their mix. Correcting argmax labels by the
    cross-validated confusion instead assumes P(predicted | reason) is the same for the silent as for the stated,
    which fails exactly when behaviour drives answering: on the demo it moved better_offer 10 points off the
    truth. The interval is the refitting bootstrap's (refit_bootstrap)."""
    out: list[ReasonShare] = []
    n = int(churned.sum())
    if n == 0:
        return ()
    rows = np.flatnonzero(churned)  # the mix is over churners: work on their rows only
    is_stated, is_silent = stated[rows], silent[rows]
    n_silent = int(is_silent.sum())
    for dim in DIMENSIONS:
        raw = frame[dim].gather(rows).cast(pl.String).fill_null(UNKNOWN).to_numpy().astype(str)
        clf, p = probs.get(dim, (None, np.empty((0, 0))))
        classes = clf.classes_ if clf is not None else ()
        seen, inverse = np.unique(raw[is_stated], return_inverse=True)
        # The classifier's classes first, then labels only stated, then `unknown`.
        rest = sorted((set(seen.tolist()) | {UNKNOWN}) - set(classes))
        labels = (*classes, *rest)
        col = {lab: i for i, lab in enumerate(labels)}
        stated_code = np.array([col[lab] for lab in seen.tolist()], dtype=np.int64)[inverse]  # distinct labels, not rows
        known = np.bincount(stated_code, minlength=len(labels)).astype(float)
        inferred = np.zeros(len(labels))
        if clf is None:
            known[col[UNKNOWN]] += n_silent
            mix = corrected_mix(labels, known, np.zeros(0), np.zeros((0, 0)), seed=seed)  # multinomial bootstrap
            share, lo, hi = mix.share, mix.lo, mix.hi
        else:
            inferred[: len(classes)] = p.sum(axis=0)
            share = (known + inferred) / n
            code = np.full(rows.size, -1, dtype=np.int64)
            code[is_stated] = stated_code
            draws = refit_bootstrap(clf, code, len(labels), x[rows], seed=seed)
            lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
            lo, hi = np.minimum(lo, share), np.maximum(hi, share)  # the interval holds its estimate
        for lab, i in col.items():
            n_stated = known[i] - (n_silent if lab == UNKNOWN and clf is None else 0)
            out.append(
                ReasonShare(
                    dimension=dim, label=lab, share=float(share[i]), ci_low=float(lo[i]), ci_high=float(hi[i]),
                    n_stated=int(round(n_stated)), n_inferred=float(inferred[i]),
                )  # fmt: skip
            )
    return tuple(sorted(out, key=lambda r: (r.dimension != "why", -r.share, r.label)))


def refit_bootstrap(
    clf: SilentReasonClassifier,
    label: np.ndarray,
    n_labels: int,
    x: np.ndarray,
    *,
    n_boot: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap draws (replicates x n_labels) of the mix over churners, refitting the classifier each time.

    `label` codes each churner's stated label into the mix's labels (the classifier's classes first, then labels
    only ever stated, `unknown` among them), -1 for a silent churner; `x` is their behaviour (unscaled). A
    replicate redraws the churners (so how many stated a reason varies too), refits the classifier on the drawn
    stated churners whose label it learns (_Refit: Newton steps from the full fit; the standardisation is kept,
    a fixed rescaling; at most silent_max_rows of them, a fixed random subset beyond), and adds the drawn stated
    labels to the refit's probabilities summed over the drawn silent churners.
    """
    if clf.model_ is None:
        raise ValueError("the classifier refused to infer: nothing to refit")
    rng = np.random.default_rng(seed)
    scaler, base = clf.model_[0], clf.model_[-1]
    c = len(clf.classes_)
    n = label.size
    is_stated, is_silent = label >= 0, label < 0
    train = np.flatnonzero(is_stated & (label < c))
    if train.size > clf.max_rows:
        train = np.sort(rng.choice(train, clf.max_rows, replace=False))
    refit = _Refit(base, scaler.transform(x[train]), label[train], c, clf.C)
    x_sil = scaler.transform(x[is_silent])
    if n_boot is None:
        n_boot = int(min(N_REFIT, max(MIN_REFIT, REFIT_WORK // max(train.size, 1))))
    draws = np.empty((n_boot, n_labels))
    with single_blas_thread():
        for b in range(n_boot):  # replicates, not rows: each one is a vectorised refit
            drawn = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            known = np.bincount(label[is_stated], weights=drawn[is_stated], minlength=n_labels)
            coef = refit.fit(drawn[train])
            known[:c] += refit.proba_t(coef, x_sil) @ drawn[is_silent]
            draws[b] = known / n
    return draws


class _Refit:
    """The fitted L2 logistic regression refitted on weighted rows (bootstrap draw counts) by Newton steps.

    Same objective as scikit-learn's (sum of weighted log-losses + ||w||^2 / 2C, intercepts unpenalised; the
    binary model with one coefficient vector, the multinomial one with a vector per class), started from the
    full fit's coefficients and stepped with the full fit's Hessian: a bootstrap draw moves the optimum a little,
    so STEPS steps land on it to within the solver's tolerance (tests/test_reason_refit.py compares them with
    scikit-learn refits) at a fraction of a fit's cost: one gradient per step, no line search.
    """

    STEPS = 3

    def __init__(self, base: LogisticRegression, x: np.ndarray, y: np.ndarray, c: int, C: float) -> None:
        n, d = x.shape
        self.x1 = np.hstack([x, np.ones((n, 1))])
        self.onehot_t = np.eye(c)[:, y]  # classes x rows, as the probabilities are laid out
        self.lam = 1.0 / C
        self.free = [1] if c == 2 else list(range(c))  # binary: class 0 is the reference (its row stays 0)
        w = np.zeros((c, d + 1))
        w[self.free, :d] = base.coef_
        w[self.free, d] = base.intercept_
        self.w0 = w
        self.d = d
        self.h_inv = np.linalg.pinv(self._hessian(w, np.ones(n)))

    def proba_t(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Class probabilities (classes x rows) of rows `x` (standardised, no intercept column) under `w`."""
        z = w[:, :-1] @ x.T
        z += w[:, -1:]
        return _softmax_t(z)

    def _p_t(self, w: np.ndarray) -> np.ndarray:
        return _softmax_t(w @ self.x1.T)

    def _hessian(self, w: np.ndarray, weight: np.ndarray) -> np.ndarray:
        p = self._p_t(w).T
        k, m = len(self.free), self.d + 1
        h = np.zeros((k * m, k * m))
        for i, a in enumerate(self.free):  # classes, not rows
            for j, b in enumerate(self.free):
                v = weight * p[:, a] * ((a == b) - p[:, b])
                h[i * m:(i + 1) * m, j * m:(j + 1) * m] = (self.x1 * v[:, None]).T @ self.x1
        penalty = np.tile(np.append(np.full(self.d, self.lam), 0.0), k)
        return h + np.diag(penalty)

    def fit(self, weight: np.ndarray) -> np.ndarray:
        w = self.w0.copy()
        for _ in range(self.STEPS):
            r = self._p_t(w)
            r -= self.onehot_t
            r *= weight
            g = r @ self.x1
            g[:, :-1] += self.lam * w[:, :-1]
            step = self.h_inv @ g[self.free].ravel()
            w[self.free] -= step.reshape(len(self.free), self.d + 1)
        return w


def _softmax_t(z: np.ndarray) -> np.ndarray:
    """Softmax over the classes of `z` (classes x rows), in place. Classes x rows, not rows x classes: a max or sum
    over a handful of classes is then a few whole-row operations, not a reduction along a short inner axis (at a
    million churners x 200 replicates that layout cost half the bootstrap's time)."""
    z -= z.max(axis=0)
    np.exp(z, out=z)
    z /= z.sum(axis=0)
    return z
