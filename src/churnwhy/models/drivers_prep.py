"""Screen the filled feature matrix (models.features) for a Cox model, and draw label-stratified samples.

- a column with one value (in the rows fitted) carries no information: dropped;
- an exact duplicate of an earlier column: dropped;
- |r| > max_abs_r with an earlier column: dropped, because two near-copies split one effect between
  them at random; the kept column's hazard ratio speaks for both;
- VIF > max_vif: kept, flagged as unstable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def screen_columns(x: np.ndarray, names: Sequence[str], *, max_abs_r: float, max_vif: float) -> tuple[list[int], list[str]]:
    """Indices of columns to keep (constant, duplicate and near-collinear ones out) and notes explaining each."""
    notes: list[str] = []
    p = x.shape[1]
    sd = x.std(axis=0) if x.shape[0] else np.zeros(p)
    keep: list[int] = []
    for j in range(p):
        if not sd[j] > 0:
            notes.append(f"{names[j]}: the same value for every customer fitted; dropped (it cannot explain anything)")
            continue
        dup = next((k for k in keep if np.array_equal(x[:, j], x[:, k])), None)
        if dup is not None:
            notes.append(f"{names[j]}: an exact copy of {names[dup]}; dropped")
            continue
        keep.append(j)
    if len(keep) >= 2:
        r = np.corrcoef(x[:, keep], rowvar=False)
        dropped: set[int] = set()
        for a in range(len(keep)):
            if a in dropped:
                continue
            for b in range(a + 1, len(keep)):
                if b not in dropped and abs(r[a, b]) > max_abs_r:
                    dropped.add(b)
                    notes.append(
                        f"{names[keep[b]]}: moves with {names[keep[a]]} (r = {r[a, b]:.2f}); dropped, because with both "
                        f"in the model neither hazard ratio can be trusted. Read {names[keep[a]]}'s effect as theirs together"
                    )
        keep = [k for i, k in enumerate(keep) if i not in dropped]
    if len(keep) >= 2:
        r = np.corrcoef(x[:, keep], rowvar=False)
        try:
            vif = np.diag(np.linalg.inv(r))
        except np.linalg.LinAlgError:
            vif = np.full(len(keep), np.inf)
        for i, k in enumerate(keep):
            if vif[i] > max_vif:
                notes.append(
                    f"{names[k]}: variance inflation {vif[i]:.0f} (> {max_vif:g}); it overlaps with the other features, "
                    "so its hazard ratio is unstable"
                )
    return keep, notes


def stratified_sample(labels: np.ndarray, size: int, rng: np.random.Generator, *, floor: int = 0) -> np.ndarray:
    """Sorted row indices: about `size` rows keeping each label's share (all rows if there are fewer), each
    label with at least min(floor, its count) rows. Churn flags (booleans) are drawn churners first."""
    n = labels.shape[0]
    if n <= size:
        return np.arange(n)
    out = []
    for level in ((True, False) if labels.dtype == np.bool_ else np.unique(labels)):
        idx = np.flatnonzero(labels == level)
        k = min(idx.size, max(floor, int(round(size * idx.size / n))))
        if k:
            out.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(out)) if out else np.arange(0)
