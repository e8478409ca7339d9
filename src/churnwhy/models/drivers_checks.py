"""Checks on a fitted drivers model: proportional hazards (both fitters), coefficients that cannot be read as
hazard ratios, the segment to stratify by, and concordance. Pure functions: each returns what it found and the
notes/rules to report; the fitter (drivers_fit) decides what to do with them."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import proportional_hazard_test
from lifelines.utils import concordance_index
from scipy.stats import chi2

from churnwhy.models.drivers_prep import stratified_sample

Z95 = 1.959963984540054
_T, _E = "__tenure", "__churned"
_FIT_ERRORS = (ConvergenceError, np.linalg.LinAlgError, ValueError, ZeroDivisionError)


def unestimable(
    params: pd.Series, se: pd.Series, names: Sequence[str], sd: np.ndarray, separated: set[str],
    unit_of: Callable[[str], tuple[str, float]],
) -> dict[str, str]:  # fmt: skip
    """Coefficients that cannot be read as hazard ratios: named by lifelines' separation warning, or with an
    interval spanning more than a factor of 1,000 on the reported unit (or a per-SD coefficient beyond 10)."""
    out: dict[str, str] = {}
    s = se.reindex(list(names)).to_numpy()
    b = params.reindex(list(names)).to_numpy()
    for j, f in enumerate(names):
        k = unit_of(f)[1] / sd[j]
        if f in separated:
            out[f] = "separation: it (almost) perfectly splits churners from stayers"
        elif not np.isfinite(s[j]) or 2 * Z95 * s[j] * k > np.log(1000) or abs(b[j]) > 10:
            out[f] = "its 95% interval spans more than a factor of 1,000 (too little information, or quasi-separation)"
    return out


def ph_notes(pvals: dict[str, float], alpha: float, n_features: int, how: str) -> list[str]:
    """A note per feature whose effect changes with tenure (Bonferroni across the features tested)."""
    cut = alpha / max(n_features, 1)
    return [
        f"{f}: its effect changes with tenure ({how} p = {p:.2g}); its hazard ratio is an average over time"
        for f, p in pvals.items()
        if p < cut
    ]


def ph_test_rows(
    cox: CoxPHFitter, z: np.ndarray, t: np.ndarray, e: np.ndarray, names: list[str], *, penalizer: float,
    max_rows: int, min_events: int, rng: np.random.Generator,
) -> tuple[dict[str, float], list[str], str]:  # fmt: skip
    """One row per customer: lifelines' Schoenfeld-residual test (rank time) on a churn-stratified sample of at
    most `max_rows` (refitted on it when sampled). -> (p per feature, notes, rule)."""
    idx = stratified_sample(e, max_rows, rng)
    rule = f"proportional-hazards test (scaled Schoenfeld residuals, rank time) on {idx.size:,} fitted customers (at most {max_rows:,})"
    if e[idx].sum() < min_events:
        return {}, [], rule
    df = pd.DataFrame(z[idx], columns=names)
    df[_T], df[_E] = t[idx], e[idx].astype(int)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sub = cox if idx.size == z.shape[0] else CoxPHFitter(penalizer=penalizer).fit(
                df, _T, _E, fit_options={"step_size": 0.5}  # a cautious step: this refit is only for the test
            )
            test = proportional_hazard_test(sub, df, time_transform="rank")
    except _FIT_ERRORS as exc:
        return {}, [f"proportional-hazards test not run ({str(exc).splitlines()[0][:120]})"], rule
    return {str(k if isinstance(k, str) else k[0]): float(v) for k, v in test.summary["p"].items()}, [], rule


def ph_test_counting(
    x: np.ndarray, start: np.ndarray, stop: np.ndarray, event: np.ndarray, beta: np.ndarray, cov: np.ndarray,
    names: Sequence[str], *, offset: np.ndarray | None = None,
) -> dict[str, float]:  # fmt: skip
    """Grambsch-Therneau test on start/stop rows (`offset` added to each row's x·β), the arithmetic of lifelines'
    proportional_hazard_test (rank time) which only takes a CoxPHFitter: Schoenfeld residuals r_k = x_k - x̄(t_k)
    at each event (x̄ the risk-set mean weighted by exp(x·β), Breslow for ties), scaled s_k = D r_k V, and per feature
    T = (Σ (g_k - ḡ) s_k)² / (D V_jj Σ (g_k - ḡ)²) ~ χ²(1), g_k the event's rank in time. Risk-set sums come
    from cumulative sums over rows sorted by stop and by start (a row is at risk at t when start < t <= stop)."""
    ev = np.flatnonzero(event)
    d = ev.size
    if d < 3 or x.shape[1] == 0:
        return {}
    w = np.exp(np.minimum(x @ beta + (0.0 if offset is None else offset), 50.0))
    wx = w[:, None] * x
    o_stop, o_start = np.argsort(stop, kind="stable"), np.argsort(start, kind="stable")

    def tail(order: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.concatenate([np.cumsum(v[order][::-1], axis=0)[::-1], np.zeros((1,) + v.shape[1:])])

    t_ev = stop[ev]
    i_stop = np.searchsorted(stop[o_stop], t_ev, side="left")  # rows with stop >= t
    i_start = np.searchsorted(start[o_start], t_ev, side="left")  # rows with start >= t (not yet at risk)
    s0 = tail(o_stop, w)[i_stop] - tail(o_start, w)[i_start]
    s1 = tail(o_stop, wx)[i_stop] - tail(o_start, wx)[i_start]
    resid = x[ev] - s1 / np.maximum(s0, 1e-300)[:, None]
    scaled = d * resid @ cov
    g = np.empty(d)
    g[np.argsort(t_ev, kind="stable")] = np.arange(1, d + 1)  # lifelines' "rank" transform: order of the events
    gc = g - g.mean()
    var = np.diag(cov)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (gc @ scaled) ** 2 / (d * var * (gc**2).sum())
    return {str(f): float(chi2.sf(s, 1)) for f, s in zip(names, stat, strict=True) if np.isfinite(s)}


def segment_to_stratify(
    segments: Sequence[tuple[str, np.ndarray]], t: np.ndarray, e: np.ndarray, *, max_levels: int, alpha: float,
) -> tuple[float, str] | None:  # fmt: skip
    """The segment whose levels break proportional hazards worst (Bonferroni across segments): (p, name) or
    None. `segments` pairs a name with its values on the (already sampled) rows t, e."""
    worst: tuple[float, str] | None = None
    cut = alpha / max(len(segments), 1)
    for seg, values in segments:
        levels, codes = np.unique(values, return_inverse=True)
        if not 2 <= levels.size <= max_levels:
            continue
        dummies = (codes[:, None] == np.arange(1, levels.size)[None, :]).astype(float)
        df = pd.DataFrame(dummies, columns=[f"{seg}={lv}" for lv in levels[1:]])
        df[_T], df[_E] = t, e.astype(int)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # batch mode: lifelines picks the per-time loop at this size, 30% slower here, same fit
                fit = CoxPHFitter(penalizer=0.01).fit(df, _T, _E, batch_mode=True)
                p = float(proportional_hazard_test(fit, df, time_transform="rank").summary["p"].min())
        except _FIT_ERRORS:
            continue
        if p < cut and (worst is None or p < worst[0]):
            worst = (p, seg)
    return worst


def concordance(lp: np.ndarray, t: np.ndarray, e: np.ndarray) -> float:
    """Harrell's C of a linear predictor (higher hazard = earlier churn)."""
    return float(concordance_index(t, -lp, e))
