"""A churn world with known hazards and planted reasons, written from issue 17's text (independent of `churnwhy demo`).

Each customer has a plan (basic / plus), a latent usage rate u and ticket rate k (events per 30 days) and a
planted reason they would leave for: brand_failed (30%), better_offer (55%) or circumstance (15%). Churn
follows a Weibull proportional-hazards model

    h(t | x) = h0(t) exp(0.5 [basic] - 0.12 u + 0.35 k),   H0(t) = (t / SCALE) ** SHAPE

so the probability of churning within h days of tenure a, given survival to a, is
1 - exp(-(H0(a + h) - H0(a)) exp(lp)). The reason leaves a trace in behaviour but does not change the hazard:
brand_failed customers have failed deliveries (3 per 30 days against 0.2), better_offer ones visit a
competitor (3 against 0.2). Churners state their reason with probability 0.4, as a reason code. Events are
Poisson at each customer's rates over their whole life, from signup until churn or as_of (the rates are
constant over life, so every month of it shows them: a model that reads month-by-month histories sees the same
world as one that reads the last window).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

AS_OF = dt.date(2025, 6, 30)
SHAPE, SCALE = 1.0, 900.0
BETA = {"basic": 0.5, "usage": -0.12, "tickets": 0.35}
REASONS = ("brand_failed", "better_offer", "circumstance")
REASON_P = (0.30, 0.55, 0.15)
CODES = {"brand_failed": "DELIVERY_ISSUES", "better_offer": "FOUND_CHEAPER", "circumstance": "MOVED"}


def cumhaz(t: np.ndarray) -> np.ndarray:
    return (np.maximum(t, 0) / SCALE) ** SHAPE


def simulate(out: Path, n: int, seed: int, horizon: int = 90) -> pl.DataFrame:
    """Write customers.csv, events.parquet and churnwhy.toml under `out`; return the truth per customer."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    start = rng.integers(1, 1100, n)  # days before as_of
    basic = rng.random(n) < 0.5
    usage = rng.gamma(4.0, 1.5, n)
    tickets = rng.gamma(2.0, 0.5, n)
    lp = BETA["basic"] * basic + BETA["usage"] * usage + BETA["tickets"] * tickets
    reason = rng.choice(len(REASONS), n, p=REASON_P)
    life = SCALE * (rng.exponential(1.0, n) * np.exp(-lp)) ** (1 / SHAPE)
    churned = life < start  # churned before as_of (start = days observed)
    tenure_end = np.where(churned, life, start).astype(int)
    epoch = AS_OF.toordinal()
    start_ord = epoch - start
    ids = np.char.add("C", np.char.zfill(np.arange(n).astype(str), 6))
    codes = np.array([CODES[r] for r in REASONS])[reason]
    stated = churned & (rng.random(n) < 0.4)
    pl.DataFrame({
        "customer_id": ids, "signup": start_ord, "end": start_ord + tenure_end, "churned": churned,
        "plan": np.where(basic, "basic", "plus"), "code": codes, "stated": stated,
    }).select(
        "customer_id", _date("signup").alias("signup_date"),
        pl.when("churned").then(_date("end")).alias("cancelled_at"), "plan",
        pl.when("stated").then(pl.col("code")).alias("reason_code"),
    ).write_csv(out / "customers.csv")
    # Events: Poisson counts at each rate over [signup, end), times uniform.
    hi = start_ord + tenure_end
    lo = start_ord
    span = np.maximum(hi - lo, 0)
    rates = {
        "usage": usage, "support_ticket": tickets,
        "delivery_failed": np.where(reason == 0, 3.0, 0.2),
        "competitor_visit": np.where(reason == 1, 3.0, 0.2),
    }
    frames = []
    for name, r in rates.items():
        k = rng.poisson(r * span / 30)
        who = np.repeat(np.arange(n), k)
        day = lo[who] + np.floor(rng.random(who.size) * span[who]).astype(int)
        frames.append(pl.DataFrame({"customer_id": ids[who], "day": day, "event_type": name}))
    ev = pl.concat(frames).select("customer_id", _date("day").alias("event_time"), "event_type")
    ev.write_parquet(out / "events.parquet")
    (out / "churnwhy.toml").write_text("inactivity_days = 0\n", encoding="utf-8")
    return pl.DataFrame({
        "customer_id": ids, "start_ord": start_ord, "churned": churned, "tenure": tenure_end, "lp": lp,
        "reason": np.array(REASONS)[reason],
    })


def _date(col: str) -> pl.Expr:
    """A proleptic ordinal (date.toordinal()) as a date."""
    return pl.lit(dt.date(1, 1, 1)) + pl.duration(days=pl.col(col) - 1)


def true_probability(truth: pl.DataFrame, cutoff: dt.date, horizon: int) -> pl.DataFrame:
    """customer_id and the true P(churn within horizon days of `cutoff` | active at cutoff)."""
    a = (cutoff.toordinal() - truth["start_ord"].to_numpy()).astype(float)
    lp = truth["lp"].to_numpy()
    p = -np.expm1(-(cumhaz(a + horizon) - cumhaz(a)) * np.exp(lp))
    return pl.DataFrame({"customer_id": truth["customer_id"], "true_p": p})
