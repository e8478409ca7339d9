"""Behaviour events for a chunk of customers, vectorised (no loop over customers or events).

Placement rule (why the planted hazard ratios are the hazard ratios on `rate_<type>`): a customer observed
for >= 180 days gets exactly `window_count` events of each type in the 180 days before their end date
(days end-179 .. end-1), so the table's rate equals the planted covariate x = count / 6. A shorter
customer (tenure T < 180) gets count * T / 180 events, stochastically rounded, inside [start, end): the
table's rate is then an unbiased, slightly noisy reading of x. Before the window (days start .. end-181)
events follow a Poisson process at the latent rate; they do not enter any rate feature.
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
    tenure = (end - start)[:, None]
    full = tenure >= LOOKBACK
    short_count = np.floor(count * (tenure / LOOKBACK) + rng.random((n, k))).astype(np.int64)
    win_n = np.where(full, count, short_count)
    win_lo = np.broadcast_to(np.where(full, end[:, None] - (LOOKBACK - 1), start[:, None]), (n, k))
    win_len = end[:, None] - win_lo  # days win_lo .. end-1
    pre_len = np.maximum(0, (end - LOOKBACK - 1) - start)[:, None]  # days start .. end-181 (pre_len days)
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
