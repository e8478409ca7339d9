"""Issue 16's acceptance generator, rewritten from the issue's first bullet and kept apart from tests/cox_sim.py
and `churnwhy demo`: messy CSV exports with planted hazard ratios and planted attributable shares.

What the issue states, and how it is drawn here:

- planted hazard ratios 3.32 (delivery failures), 1.65 (support tickets), 0.887 (logins), per +1 event per 30
  days of each customer's *latent* rate, and two null behaviours (page views, newsletter clicks);
- churn from day 0 with a baseline that falls with tenure (Weibull shape 0.8: the first weeks are the riskiest),
  unlike cox_sim's constant hazard;
- partial exposure: signups spread over three years, behaviour only inside each customer's observed life;
- Poisson-noisy behaviour: events of each type form a Poisson process around the latent rate, so a customer who
  leaves in week 2 shows a few days of noise;
- two shapes of export: events only (the customer file has ids and dates), and attributes + events (plus a
  contract type with planted hazard ratios and monthly charges with none);
- the files look like exports: spaces and capitals in file and column names, US-style dates in the customer
  file, a cancellation date blank for the active.

The planted attributable shares use the true model and churnwhy's default counterfactual ("best": a harmful
behaviour to 0, a protective one up to its 95th percentile across customers, customers already better keep
theirs), averaged over every customer, P(churn by day 365) = 1 - exp(-H0(365) exp(lp)).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

AS_OF = dt.date(2025, 3, 31)
HISTORY_DAYS = 1095
HORIZON = 365
WEIBULL_SHAPE = 0.8
WEIBULL_SCALE = 520.0  # days: H0(t) = (t / scale) ** shape for the reference customer (all rates 0)
# event type (as the export spells it) -> (mean per 30 days, gamma shape, planted HR per +1 per 30 days, family)
BEHAVIOURS: dict[str, tuple[float, float, float, str]] = {
    "Delivery Failed": (0.3, 1.0, 3.32, "experience"),
    "Support Ticket": (0.6, 1.5, 1.65, "experience"),
    "Login": (4.0, 2.0, 0.887, "product"),
    "Page View": (2.5, 2.0, 1.0, "product"),
    "Newsletter Click": (0.8, 1.2, 1.0, "product"),
}
CONTRACTS = {"Month-to-month": (0.55, 1.0), "One year": (0.3, 0.55), "Two year": (0.15, 0.3)}  # share, HR


def feature(event: str) -> str:
    """The driver churnwhy names for an event type as the export spells it ("Delivery Failed" -> rate_delivery_failed)."""
    return "rate_" + event.lower().replace(" ", "_")


PLANTED = {feature(k): v[2] for k, v in BEHAVIOURS.items() if v[2] != 1.0}
NULLS = tuple(feature(k) for k, v in BEHAVIOURS.items() if v[2] == 1.0)
CONTRACT_HR = {f"contract_type={k}": v[1] for k, v in CONTRACTS.items() if v[1] != 1.0}


@dataclasses.dataclass(frozen=True)
class Truth:
    shares: dict[str, float]  # family -> planted attributable share of 365-day churn
    churned: float  # share of customers churned by as_of


def generate(folder: Path, *, n: int, seed: int, attributes: bool) -> Truth:
    """Write the exports under `folder` and return the planted shares."""
    rng = np.random.default_rng(seed)
    age = rng.integers(1, HISTORY_DAYS, n)  # days from signup to AS_OF
    lam = {k: rng.gamma(shape, mean / shape, n) for k, (mean, shape, _, _) in BEHAVIOURS.items()}
    lp = sum(np.log(hr) * lam[k] for k, (_, _, hr, _) in BEHAVIOURS.items())
    contract = np.zeros(n, dtype=np.int64)
    if attributes:
        names = list(CONTRACTS)
        contract = rng.choice(len(names), size=n, p=[CONTRACTS[c][0] for c in names])
        lp = lp + np.log(np.array([CONTRACTS[c][1] for c in names]))[contract]
    # Weibull proportional hazards: H(t) = (t / scale)^k e^lp; invert S(t) = u
    life = WEIBULL_SCALE * (rng.exponential(1.0, n) / np.exp(lp)) ** (1 / WEIBULL_SHAPE)
    churned = life < age
    observed = np.where(churned, life, age)

    start = np.datetime64(AS_OF) - age.astype("timedelta64[D]")
    end = start + np.floor(observed).astype("timedelta64[D]")
    us = lambda d: pl.Series(d.astype("datetime64[D]").astype(str)).str.to_date().dt.strftime("%m/%d/%Y")  # noqa: E731
    cust = pl.DataFrame({"Customer ID": [f"CU-{seed:02d}-{i:05d}" for i in range(n)], "Signup Date": us(start)})
    cust = cust.with_columns(pl.when(pl.Series(churned)).then(us(end)).otherwise(None).alias("Cancellation Date"))
    if attributes:
        charges = np.round(rng.gamma(6.0, 12.0, n), 2)  # no effect on churn
        cust = cust.with_columns(
            pl.Series("Contract Type", np.array(list(CONTRACTS))[contract]), pl.Series("Monthly Charges ($)", charges)
        )
    rows = []
    for k in BEHAVIOURS:
        count = rng.poisson(lam[k] * observed / 30)
        who = np.repeat(np.arange(n), count)
        at = rng.uniform(0, observed[who])
        when = start[who].astype("datetime64[s]") + (at * 86400).astype("timedelta64[s]")
        rows.append(pl.DataFrame({"Cust ID": cust["Customer ID"].gather(who), "Event Timestamp": when.astype(str),
                                  "Activity": k}))  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    cust.write_csv(folder / "CRM Export - Customers (Q1 2025).csv")
    pl.concat(rows).sort("Event Timestamp").write_csv(folder / "Activity Log export.csv")
    return Truth(shares=planted_shares(lam, lp), churned=float(churned.mean()))


def planted_shares(lam: dict[str, np.ndarray], lp: np.ndarray) -> dict[str, float]:
    """Attributable share of 365-day churn per family, from the true model and the "best" counterfactual."""
    h0 = (HORIZON / WEIBULL_SCALE) ** WEIBULL_SHAPE
    p_obs = -np.expm1(-h0 * np.exp(lp)).mean()
    out = {}
    for family in sorted({v[3] for v in BEHAVIOURS.values()}):
        moved = lp.copy()
        for k, (_, _, hr, fam) in BEHAVIOURS.items():
            if fam != family or hr == 1.0:
                continue
            best = 0.0 if hr > 1 else np.quantile(lam[k], 0.95)
            better = np.minimum(lam[k], best) if hr > 1 else np.maximum(lam[k], best)
            moved = moved + np.log(hr) * (better - lam[k])
        out[family] = float((p_obs - (-np.expm1(-h0 * np.exp(moved))).mean()) / p_obs)
    return out
