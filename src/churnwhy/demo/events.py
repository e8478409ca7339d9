"""Behaviour events for a chunk of customers, vectorised (no loop over customers or events).

Each type's events form a Poisson process at the customer's latent rate over their observed life (signup to
end date): `window_count` of them fall in the (up to) 180 days before the end date (days max(start, end-180)
.. end-1, the customer table's window), the rest before it. The hazard depends on the latent rate, so the
table's rate_<type> is a Poisson-noisy reading of the covariate, noisier for a customer who left early.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from churnwhy.demo.model import LOOKBACK, RATE_DAYS, DemoModel, Population

DAY_S = 86_400
# Event times fall between 06:00 and 18:00 UTC, so a +-5h offset never moves an event to another date.
DAY_FROM_S, DAY_SPAN_S = 6 * 3600, 12 * 3600


@dataclasses.dataclass
class EventChunk:
    """Events of one chunk, sorted by customer then time. `cust` indexes the population (global)."""

    cust: np.ndarray  # int64
    etype: np.ndarray  # int16: index into model.events, len(model.events) == cancel
    ts: np.ndarray  # int64 seconds since 1970 (UTC)
    amount: np.ndarray  # float64, NaN = none

    def __len__(self) -> int:
        return int(self.cust.size)


def draw_events(pop: Population, model: DemoModel, lo: int, hi: int, rng: np.random.Generator) -> EventChunk:
    """Events of customers lo..hi-1."""
    names = list(model.events)
    k = len(names)
    start, end = pop.start[lo:hi], pop.end[lo:hi]
    churned = pop.churned[lo:hi]
    rate = pop.rate[lo:hi]
    count = pop.window_count[lo:hi]
    n = hi - lo
    win_n = count
    win_lo = np.broadcast_to(np.maximum(start, end - LOOKBACK)[:, None], (n, k))
    win_len = end[:, None] - win_lo  # days win_lo .. end-1
    pre_len = np.maximum(0, (end - LOOKBACK) - start)[:, None]  # days start .. end-181 (pre_len days)
    pre_n = rng.poisson(rate * (pre_len / RATE_DAYS))

    cust_parts, type_parts, day_parts = [], [], []
    for counts, first, length in ((win_n, win_lo, win_len), (pre_n, np.broadcast_to(start[:, None], (n, k)), np.broadcast_to(pre_len, (n, k)))):
        flat = counts.ravel()
        total = int(flat.sum())
        rep_first = np.repeat(first.ravel(), flat)
        rep_len = np.repeat(length.ravel(), flat)
        day_parts.append(rep_first + np.floor(rng.random(total) * rep_len).astype(np.int64))
        cust_parts.append(np.repeat(np.repeat(np.arange(n), k), flat))
        type_parts.append(np.repeat(np.tile(np.arange(k, dtype=np.int16), n), flat))
    ci = np.flatnonzero(churned)
    cust_parts.append(ci)
    type_parts.append(np.full(ci.size, k, dtype=np.int16))
    day_parts.append(end[ci])

    cust = np.concatenate(cust_parts)
    etype = np.concatenate(type_parts)
    ts = np.concatenate(day_parts) * DAY_S + DAY_FROM_S + (rng.random(cust.size) * DAY_SPAN_S).astype(np.int64)
    order = np.lexsort((etype, ts, cust))
    cust, etype, ts = cust[order], etype[order], ts[order]
    # Two events of one customer never share a second: no accidental exact-duplicate rows.
    for _ in range(100):
        same = np.flatnonzero((cust[1:] == cust[:-1]) & (ts[1:] <= ts[:-1])) + 1
        if same.size == 0:
            break
        ts[same] = ts[same - 1] + 1

    amount = np.full(cust.size, np.nan)
    is_order = etype == names.index("order")
    amount[is_order] = np.round(model.order_value * np.exp(0.5 * rng.standard_normal(int(is_order.sum()))), 2)
    is_disc = etype == names.index("discount_used")
    amount[is_disc] = np.round(2.0 + 13.0 * rng.random(int(is_disc.sum())), 2)
    return EventChunk(cust=cust + lo, etype=etype, ts=ts, amount=amount)
