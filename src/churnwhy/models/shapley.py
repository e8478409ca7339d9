"""Exact Shapley values over a small set of players (features or feature groups) for any value function.

Used for the grouped split of explained churn across driver families, and tested as LMG (the Shapley
value of R²) against R's brute-force numbers. Exact enumeration costs 2^p value-function calls, so it
is meant for p <= MAX_PLAYERS (families are at most a handful).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np

MAX_PLAYERS = 16  # 65,536 coalitions; beyond that exact enumeration is the wrong tool

P = Hashable


def shapley_values(players: Sequence[P], value: Callable[[frozenset[P]], float | np.ndarray]) -> dict[P, float | np.ndarray]:
    """Exact Shapley value of each player; `value(coalition)` may return a float or an array (e.g. per resample).

    Each coalition is evaluated once, so an expensive value function costs 2^p calls. The values add
    up to value(all) - value(empty) (efficiency).
    """
    players = list(players)
    p = len(players)
    if p == 0:
        return {}
    if len(set(players)) != p:
        raise ValueError("players must be distinct")
    if p > MAX_PLAYERS:
        raise ValueError(f"exact Shapley values over {p} players need 2^{p} evaluations; at most {MAX_PLAYERS}")
    cache: dict[frozenset[P], np.ndarray] = {}
    for k in range(p + 1):
        for combo in itertools.combinations(players, k):
            s = frozenset(combo)
            cache[s] = np.asarray(value(s), dtype=float)
    # weight of a coalition of size k not containing the player: k! (p-k-1)! / p!
    weights = [math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p) for k in range(p)]
    out: dict[P, float | np.ndarray] = {}
    for player in players:
        others = [q for q in players if q != player]
        total = np.zeros_like(cache[frozenset()])
        for k in range(p):
            w = weights[k]
            for combo in itertools.combinations(others, k):
                s = frozenset(combo)
                total = total + w * (cache[s | {player}] - cache[s])
        out[player] = float(total) if total.ndim == 0 else total
    return out


def r2_value(x: np.ndarray, y: np.ndarray, columns: Sequence[P]) -> Callable[[frozenset[P]], float]:
    """The OLS R² of y on a subset of x's columns (with intercept): the value function whose Shapley values are LMG."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    index = {c: i for i, c in enumerate(columns)}
    yc = y - y.mean()
    tss = float(yc @ yc)

    def value(coalition: frozenset[P]) -> float:
        if not coalition:
            return 0.0
        cols = sorted(index[c] for c in coalition)
        xs = x[:, cols] - x[:, cols].mean(axis=0)  # centring replaces the intercept column
        beta, *_ = np.linalg.lstsq(xs, yc, rcond=None)
        resid = yc - xs @ beta
        return 1.0 - float(resid @ resid) / tss

    return value


def lmg(x: np.ndarray, y: np.ndarray, columns: Sequence[P]) -> dict[P, float]:
    """LMG relative importance (Lindeman, Merenda & Gold): the Shapley decomposition of the OLS R²."""
    return {k: float(v) for k, v in shapley_values(list(columns), r2_value(x, y, columns)).items()}
