"""Simulated customer tables with planted Cox effects, shared by the drivers tests (and their own sanity test).

Hazard: h(t | x) = base * shape * t^(shape-1) * exp(sum_k beta_k * rate_k) (exponential when shape = 1,
Weibull otherwise), so exp(beta_k) is the true hazard ratio per event per 30 days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl

from churnwhy.table import CustomerTable

PLANTED = {"delivery_failed": np.log(1.5), "login": np.log(0.8), "newsletter_open": 0.0}
RATE_SCALE = {"login": 3.0}  # mean events per 30 days; 1 otherwise


def simulate_rates(n: int, betas: Mapping[str, float], rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {k: rng.gamma(1.0, RATE_SCALE.get(k, 1.0), n) for k in betas}


def event_times(rates: Mapping[str, np.ndarray], betas: Mapping[str, float], u: np.ndarray, base: float, shape: float) -> np.ndarray:
    """Inverse-CDF draw: S(t) = exp(-base t^shape e^lp) = u."""
    lp = sum(betas[k] * rates[k] for k in betas)
    return (-np.log(u) / (base * np.exp(lp))) ** (1.0 / shape)


def simulate(
    n: int = 5000,
    betas: Mapping[str, float] = PLANTED,
    *,
    base: float = 1 / 400,
    shape: float = 1.0,
    follow_days: float = 730,
    seed: int = 0,
) -> CustomerTable:
    """A CustomerTable with planted hazard ratios on rate_<k> and uniform administrative censoring."""
    rng = np.random.default_rng(seed)
    rates = simulate_rates(n, betas, rng)
    t = event_times(rates, betas, rng.uniform(size=n), base, shape)
    c = rng.uniform(30, follow_days, n)
    tenure = np.floor(np.minimum(t, c)).astype(np.int64)
    exposure = np.minimum(tenure, 180) + 1
    cols = {f"rate_{k}": v for k, v in rates.items()}
    cols |= {f"n_{k}": np.round(v * exposure / 30).astype(np.int64) for k, v in rates.items()}
    frame = pl.DataFrame(
        {"customer_id": [f"c{i:06d}" for i in range(n)], "tenure_days": tenure, "churned": t <= c, **cols, "exposure_days": exposure}
    )
    return CustomerTable(frame=frame, as_of=dt.date(2025, 1, 1), event_types=tuple(betas))


def test_simulate_shape() -> None:
    table = simulate(500)
    assert table.n_customers == 500
    assert set(table.features) == {f"rate_{k}" for k in PLANTED}
    assert 0 < table.n_churned < 500
