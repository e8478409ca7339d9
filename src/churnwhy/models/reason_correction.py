"""Reason shares that own the classifier's errors: a misclassification-corrected mix with bootstrap intervals.

When part of a mix comes from a classifier (reasons inferred for silent churners, answers read by the
learned layer), its observed label shares are a blur of the true ones: P(observed = j) =
sum_i P(true = i) M[i, j], where M[i, j] = P(predicted j | true i) is the classifier's confusion.
The matrix-inversion estimator (Buonaccorsi, *Measurement Error*, 2010, sec. 3.4; Rogan & Gladen 1978 for
two classes) solves p_obs = M^T p_true for p_true, with M estimated from labelled validation pairs
(cross-validated predictions against the labels they hide). The solution is projected back onto the
simplex (negative shares clipped, the rest renormalised).

Intervals: a parametric bootstrap that refits everything the estimate depends on. Each replicate redraws
the labelled part (multinomial on its counts), the classified part (multinomial on its predicted counts)
and every row of the confusion matrix (multinomial on its validation counts), re-solves, and the 2.5th and
97.5th percentiles are the 95% interval. So the interval widens with a small or noisy validation set and
with a classifier close to chance, not only with the number of churners.
"""

from __future__ import annotations

import dataclasses

import numpy as np

N_BOOT = 1_000
# Added to every confusion cell before normalising: keeps a row with few validation pairs away from
# exact zeros (which would make the inversion claim certainty it does not have).
SMOOTHING = 0.1


@dataclasses.dataclass(frozen=True)
class CorrectedMix:
    """Shares over `labels` (known counts + corrected classified counts), with 95% bootstrap intervals."""

    labels: tuple[str, ...]
    share: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n_known: np.ndarray  # counts taken as they are (stated labels, `unknown` included)
    n_classified: np.ndarray  # corrected expected counts among the classified rows
    n_boot: int


def confusion(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Validation counts: C[i, j] = pairs with true class i predicted j (classes coded 0..k-1)."""
    out = np.zeros((k, k))
    np.add.at(out, (np.asarray(true, int), np.asarray(pred, int)), 1.0)
    return out


def invert(p_obs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """p_true from observed shares and confusion counts (batched over leading axes), on the simplex."""
    m = counts + SMOOTHING
    m = m / m.sum(axis=-1, keepdims=True)
    mt = np.swapaxes(m, -1, -2)
    try:
        p = np.linalg.solve(mt, p_obs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        p = np.linalg.lstsq(mt, p_obs, rcond=None)[0] if mt.ndim == 2 else np.stack(
            [np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(mt, p_obs, strict=True)])
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=-1, keepdims=True)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), p_obs)


def corrected_mix(
    labels: tuple[str, ...],
    known: np.ndarray,
    classified: np.ndarray,
    validation: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> CorrectedMix:
    """Mix over `labels` from `known` counts (per label) and `classified` counts over the classifier's classes.

    `validation` is the confusion count matrix of the classifier over its c classes, which are the first c of
    `labels` (c = validation.shape[0]); `classified` has length c. Labels past c (e.g. `unknown`, or classes too
    rare to learn) only come from `known`.
    """
    known = np.asarray(known, float)
    classified = np.asarray(classified, float)
    validation = np.asarray(validation, float)
    c = validation.shape[0]
    k = len(labels)
    n_known, n_class = known.sum(), classified.sum()
    n = n_known + n_class
    if n == 0:
        nan = np.full(k, np.nan)
        return CorrectedMix(labels, nan, nan, nan, known, np.zeros(k), 0)

    def estimate(kn: np.ndarray, cl: np.ndarray, val: np.ndarray) -> np.ndarray:
        # kn: (..., k) counts; cl: (..., c) counts; val: (..., c, c) counts -> (..., k) shares
        out = kn.copy()
        if c and n_class > 0:
            p_obs = cl / n_class
            out[..., :c] += n_class * invert(p_obs, val)
        shares: np.ndarray = out / n
        return shares

    point = estimate(known, classified, validation)
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, k))
    kn_b = rng.multinomial(int(n_known), known / n_known, size=n_boot).astype(float) if n_known else np.zeros((n_boot, k))
    if c and n_class > 0:
        cl_b = rng.multinomial(int(round(n_class)), classified / n_class, size=n_boot).astype(float)
        rows = validation.sum(axis=1)
        val_b = np.zeros((n_boot, c, c))
        for i in range(c):
            if rows[i] > 0:
                val_b[:, i, :] = rng.multinomial(int(rows[i]), validation[i] / rows[i], size=n_boot)
        boots = estimate(kn_b, cl_b, val_b)
    else:
        boots = kn_b / n
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    n_classified = np.zeros(k)
    if c and n_class > 0:
        n_classified[:c] = n_class * invert(classified / n_class, validation)
    return CorrectedMix(labels, point, lo, hi, known, n_classified, n_boot)
