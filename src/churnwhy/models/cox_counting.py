"""A Cox model on start/stop (counting-process) rows, Efron ties, vectorised: lifelines' CoxTimeVaryingFitter
without its loop over event times.

lifelines (0.30) scans every row at every distinct event time, O(rows x times) per Newton step: 1.5 s for 25,000
month-rows, minutes at the sizes churnwhy fits. Here every risk-set sum comes from cumulative sums over rows
sorted by stop and by start (a row is at risk at t when start < t <= stop), and the Hessian's risk-set second
moments become one weighted X'X, so a step costs O(rows x features^2). Same estimates as lifelines (tested to
1e-6 on its Stanford heart transplant data, Efron ties).

Fitted state ends in `_` (lifelines convention): params_, standard_errors_, variance_matrix_, summary (a frame
with a "p" column), log_likelihood_.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from lifelines.exceptions import ConvergenceError, ConvergenceWarning


class CountingCox:
    """Cox proportional hazards on start/stop rows (Efron ties), with an optional L2 penalizer."""

    def __init__(self, penalizer: float = 0.0, *, max_steps: int = 50, tol: float = 1e-9):
        self.penalizer = penalizer
        self.max_steps = max_steps
        self.tol = tol

    def fit(
        self, x: np.ndarray, start: np.ndarray, stop: np.ndarray, event: np.ndarray, names: list[str],
        *, step_size: float | None = None, offset: np.ndarray | None = None, init: np.ndarray | None = None,
    ) -> CountingCox:  # fmt: skip
        """Newton-Raphson from `init` (default beta = 0), halving a step that lowers the (penalised) partial
        log-likelihood. `offset` is added to every row's linear predictor with a coefficient fixed at 1."""
        x = np.ascontiguousarray(x, dtype=float)
        if not np.isfinite(x).all():
            raise ValueError("NaN or infinite values in the design matrix")
        if np.any(stop <= start):
            raise ValueError("every row needs stop > start")
        self._prepare(start, stop, event.astype(bool))
        self._offset = np.zeros(x.shape[0]) if offset is None else np.asarray(offset, dtype=float)
        d = x.shape[1]
        beta = np.zeros(d) if init is None else np.asarray(init, dtype=float).copy()
        ll, grad, hess = self._derivatives(x, beta)
        converged = False
        for _ in range(self.max_steps):
            try:
                delta = np.linalg.solve(-hess, grad)
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError("matrix inversion problems: the features are (nearly) collinear") from exc
            if not np.isfinite(delta).all():
                raise ConvergenceError("delta contains nan value(s)")
            step = 1.0 if step_size is None else step_size
            for _ in range(30):
                cand = beta + step * delta
                new_ll, new_grad, new_hess = self._derivatives(x, cand)
                if np.isfinite(new_ll) and new_ll >= ll - 1e-12:
                    break
                step /= 2
            beta, ll, grad, hess = cand, new_ll, new_grad, new_hess
            if np.abs(step * delta).max() < self.tol or abs(grad @ np.linalg.solve(-hess, grad)) < self.tol:
                converged = True
                break
        if not converged:
            warnings.warn("Newton-Raphson failed to converge sufficiently", ConvergenceWarning, stacklevel=2)
        try:
            cov = np.linalg.inv(-hess)
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError("matrix inversion problems: the features are (nearly) collinear") from exc
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
        self.params_ = pd.Series(beta, index=names, name="coef")
        self.standard_errors_ = pd.Series(se, index=names, name="se(coef)")
        self.variance_matrix_ = pd.DataFrame(cov, index=names, columns=names)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = beta / se
        self.summary = pd.DataFrame(
            {"coef": beta, "exp(coef)": np.exp(beta), "se(coef)": se, "z": z, "p": 2 * norm.sf(np.abs(z))}, index=names
        )
        self.log_likelihood_ = float(ll)
        return self

    # -- internals ---------------------------------------------------------------------------------
    def _prepare(self, start: np.ndarray, stop: np.ndarray, event: np.ndarray) -> None:
        """Sort orders and, per death, its event time and its rank l among the tied deaths (Efron's l/d)."""
        self._by_stop = np.argsort(stop, kind="stable")
        self._by_start = np.argsort(start, kind="stable")
        self._stop_sorted = stop[self._by_stop]
        self._start_sorted = start[self._by_start]
        deaths = np.flatnonzero(event)
        times, t_idx, counts = np.unique(stop[deaths], return_inverse=True, return_counts=True)
        order = np.argsort(t_idx, kind="stable")
        deaths, t_idx = deaths[order], t_idx[order]
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._deaths, self._t_idx, self._times = deaths, t_idx, times
        self._frac = (np.arange(deaths.size) - first[t_idx]) / counts[t_idx]  # l / d per death
        # Where each event time cuts the sorted stops and starts: rows with stop >= t minus rows with start >= t.
        self._cut_stop = np.searchsorted(self._stop_sorted, times, side="left")
        self._cut_start = np.searchsorted(self._start_sorted, times, side="left")
        # For each row, the event times in (start, stop]: [lo, hi) positions in `times`.
        self._t_lo = np.searchsorted(times, start, side="right")
        self._t_hi = np.searchsorted(times, stop, side="right")

    def _risk_sums(self, v: np.ndarray) -> np.ndarray:
        """sum of v over the risk set at each event time (v: rows, or rows x k)."""
        def tail(a: np.ndarray) -> np.ndarray:
            return np.concatenate([np.cumsum(a[::-1], axis=0)[::-1], np.zeros((1, *a.shape[1:]))])

        sums: np.ndarray = tail(v[self._by_stop])[self._cut_stop] - tail(v[self._by_start])[self._cut_start]
        return sums

    def _derivatives(self, x: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        lp = x @ beta + self._offset
        if lp.size and lp.max() > 700:
            return -np.inf, np.zeros_like(beta), -np.eye(beta.size)
        phi = np.exp(lp)
        s0 = self._risk_sums(phi)
        s1 = self._risk_sums(phi[:, None] * x)
        dx = x[self._deaths]
        dphi = phi[self._deaths]
        # tie sums per event time, then per death with its Efron fraction
        nt = self._times.size
        t0 = np.bincount(self._t_idx, weights=dphi, minlength=nt)
        t1 = np.zeros((nt, x.shape[1]))
        np.add.at(t1, self._t_idx, dphi[:, None] * dx)
        f = self._frac
        den = s0[self._t_idx] - f * t0[self._t_idx]
        num = s1[self._t_idx] - f[:, None] * t1[self._t_idx]
        m = num / den[:, None]
        ll = float(lp[self._deaths].sum() - np.log(den).sum())
        grad = dx.sum(axis=0) - m.sum(axis=0)
        # sum over (t, l) of S2(t)/den: each row weighs phi * (sum of 1/den over the event times it is at risk)
        inv = np.bincount(self._t_idx, weights=1.0 / den, minlength=nt)
        cum = np.concatenate([[0.0], np.cumsum(inv)])
        w = phi * (cum[self._t_hi] - cum[self._t_lo])
        # minus sum over (t, l) of (l/d) T2(t)/den: only the deaths of t are in its tie set
        tie_w = np.bincount(self._t_idx, weights=f / den, minlength=nt)[self._t_idx]
        w_tie = np.zeros_like(phi)
        np.add.at(w_tie, self._deaths, dphi * tie_w)
        hess = -((x * (w - w_tie)[:, None]).T @ x - m.T @ m)
        if self.penalizer:
            ll -= 0.5 * self.penalizer * float(beta @ beta)
            grad = grad - self.penalizer * beta
            hess = hess - self.penalizer * np.eye(beta.size)
        return ll, grad, hess
