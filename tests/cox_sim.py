"""An event-level churn generator with planted hazard ratios, written from issue 16's traps (not `churnwhy demo`).

Each customer has latent event rates lambda_k (events per 30 days, gamma across customers) and a plan. Churn
can happen from day 0: h_i(t) = base * HR_plan * prod_k HR_k ** lambda_ik, constant in t. What the exports show
is Poisson-noisy: the events of each type form a Poisson process at lambda_ik / 30 per day over the customer's
observed life (signup to churn or as_of), so a customer who leaves in week 2 has a few days of behaviour
(partial exposure) and their rates are mostly noise. Two event types (newsletter_open, order) have no effect.

With `inactivity=True` the exports hold no churn date at all: churners simply stop producing events, and the
loader has to infer churn from inactivity (its last event), as in a purchase log, where a customer starts with
a first order: every customer has an `order` event at signup (the same for all, so it moves no hazard ratio).

The planted hazard ratio is per +1 event per 30 days of the *latent* rate, which is what a driver means.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

AS_OF = dt.date(2025, 6, 30)
HISTORY_DAYS = 730
# event type -> (mean per 30 days, gamma shape, planted HR per +1 event per 30 days)
EVENTS: dict[str, tuple[float, float, float]] = {
    "delivery_failed": (0.25, 1.0, 3.32),
    "support_ticket": (0.5, 1.5, 1.65),
    "login": (3.0, 2.0, 0.887),
    "newsletter_open": (1.0, 2.0, 1.0),
    "order": (1.0, 3.0, 1.0),
}
PLANTED = {k: v[2] for k, v in EVENTS.items() if v[2] != 1.0}
NULLS = tuple(k for k, v in EVENTS.items() if v[2] == 1.0)
PLANS = {"basic": (0.5, 1.0), "plus": (0.3, 0.7), "pro": (0.2, 0.45)}  # share, planted HR (basic = reference)
BASE_HAZARD = 1 / 500  # per day, from day 0


def generate(folder: Path, *, n: int = 3000, seed: int = 0, inactivity: bool = False) -> Path:
    """Write customers.csv and events.csv under `folder` (created) and return it."""
    rng = np.random.default_rng(seed)
    signup = rng.integers(1, HISTORY_DAYS, n)  # days before AS_OF
    plan_names = list(PLANS)
    plan = rng.choice(len(plan_names), size=n, p=[PLANS[p][0] for p in plan_names])
    lp = np.log(np.array([PLANS[p][1] for p in plan_names]))[plan]
    lam = {}
    for k, (mean, shape, hr) in EVENTS.items():
        lam[k] = rng.gamma(shape, mean / shape, n)
        lp = lp + np.log(hr) * lam[k]
    life = rng.exponential(1.0, n) / (BASE_HAZARD * np.exp(lp))  # days from signup to churn
    churned = life < signup
    observed = np.where(churned, life, signup)  # days of observed life
    ids = np.array([f"s{i:06d}" for i in range(n)])
    start = np.datetime64(AS_OF) - signup.astype("timedelta64[D]")
    cust = {"customer_id": ids, "signup_date": start.astype(str), "plan": np.array(plan_names)[plan]}
    if not inactivity:
        churn_day = start + np.ceil(life).astype("timedelta64[D]")
        cust["churn_date"] = np.where(churned, churn_day.astype(str), "")
    frames = []
    for k in EVENTS:
        count = rng.poisson(lam[k] * observed / 30)
        who = np.repeat(np.arange(n), count)
        at = rng.uniform(0, observed[who])  # days after signup, strictly inside the observed life
        when = start[who].astype("datetime64[s]") + (at * 86400).astype("timedelta64[s]")
        frames.append(pl.DataFrame({"customer_id": ids[who], "event_time": when.astype(str), "event_type": k}))
    if inactivity:
        first = start.astype("datetime64[s]") + np.timedelta64(3600, "s")
        frames.append(pl.DataFrame({"customer_id": ids, "event_time": first.astype(str), "event_type": "order"}))
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(cust).with_columns(pl.col("churn_date").replace("", None) if "churn_date" in cust else []).write_csv(
        folder / "customers.csv"
    )
    pl.concat(frames).sort("customer_id", "event_time").write_csv(folder / "events.csv")
    return folder
