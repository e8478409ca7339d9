"""The generative model behind `churnwhy demo`: parameters with defaults, and the customer-level simulation.

Everything here is per customer (vectorised numpy, one row per customer); events are drawn later in
chunks by `events.py` from the per-customer rates fixed here. See docs/demo-model.md for the maths.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping

import numpy as np

EPOCH = dt.date(1970, 1, 1)
LOOKBACK = 180  # days; the customer table's behaviour window (table.py / Config.lookback_days)
RATE_DAYS = 30  # rates are per 30 days, like table.rate_<type>
WHYS = ("brand_failed", "better_offer", "circumstance")
WHATS = ("product", "experience", "price", "other")
CELLS = tuple((w, c) for w in WHYS for c in WHATS)  # 12 (why, what) cells, row-major
CANCEL = "cancel"


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """One behaviour event type: its mean rate, spread, planted hazard ratio and driver family."""

    mean_rate: float  # events per 30 days for a reference customer (class "steady", plan multiplier 1)
    shape: float  # gamma shape of the per-customer rate multiplier (mean 1, variance 1/shape)
    hr: float  # planted hazard ratio per +1 event per 30 days of the customer's latent rate
    family: str  # experience | price | product | none: what removing it means in the attribution
    volume: bool = False  # rescaled by `events_per_customer` (allowed only for hr == 1)


# Ordered: the column order of every per-customer rate matrix.
DEFAULT_EVENTS: Mapping[str, EventSpec] = {
    "order": EventSpec(0.45, 3.0, 1.0, "none", volume=True),
    "delivery_ok": EventSpec(0.4, 3.0, 1.0, "none", volume=True),
    "delivery_late": EventSpec(0.15, 1.5, 1.1, "experience"),
    "delivery_failed": EventSpec(0.12, 1.0, 1.4, "experience"),
    "support_ticket": EventSpec(0.2, 1.5, 1.1, "experience"),
    "complaint": EventSpec(0.06, 1.0, 1.3, "experience"),
    "price_increase": EventSpec(0.1, 1.0, 1.2, "price"),
    "discount_used": EventSpec(0.2, 1.0, 1.15, "price"),
    "login": EventSpec(0.6, 1.5, 0.85, "product"),
    "competitor_mention": EventSpec(0.05, 0.7, 1.5, "product"),
    "newsletter_open": EventSpec(0.3, 2.0, 1.0, "none", volume=True),
}
EVENT_TYPES = tuple(DEFAULT_EVENTS)


@dataclasses.dataclass(frozen=True)
class DemoModel:
    """Every parameter of the generator, with its default (documented in docs/demo-model.md)."""

    as_of: dt.date = dt.date(2025, 6, 30)
    history_days: int = 1095  # signups uniform over this many days before as_of
    base_hazard: float = 0.0009  # churn hazard per day of a reference customer with all rates at 0
    min_term_days: int = 0  # hazard is multiplied by early_hazard before this tenure (0: churn from day 0)
    early_hazard: float = 0.0  # with a minimum term, 0 means nobody leaves inside it
    plans: Mapping[str, tuple[float, float, float]] = dataclasses.field(  # name: (share, hazard ratio, monthly fee)
        default_factory=lambda: {"basic": (0.5, 1.0, 9.99), "plus": (0.32, 0.8, 19.99), "premium": (0.18, 0.65, 34.99)}
    )
    regions: Mapping[str, tuple[float, float]] = dataclasses.field(  # name: (share, hazard ratio)
        default_factory=lambda: {
            "Île-de-France": (0.3, 1.0),
            "Baden-Württemberg": (0.25, 0.9),
            "Cataluña": (0.2, 1.1),
            "Lombardia": (0.15, 1.05),
            "Zürich": (0.1, 0.9),
        }
    )
    channels: Mapping[str, tuple[float, float]] = dataclasses.field(  # name: (share, hazard ratio)
        default_factory=lambda: {"web": (0.4, 1.0), "app": (0.3, 0.85), "partner": (0.2, 1.25), "store": (0.1, 0.95)}
    )
    events: Mapping[str, EventSpec] = dataclasses.field(default_factory=lambda: dict(DEFAULT_EVENTS))
    # Latent behaviour class: share and rate multipliers; the class has no direct effect on the hazard.
    classes: Mapping[str, tuple[float, Mapping[str, float]]] = dataclasses.field(
        default_factory=lambda: {
            "steady": (0.5, {}),
            "unlucky": (0.2, {"delivery_late": 3.0, "delivery_failed": 3.5, "support_ticket": 2.5, "complaint": 4.0}),
            "deal_seeker": (0.2, {"discount_used": 3.0, "competitor_mention": 5.0, "price_increase": 1.5, "login": 0.8}),
            "engaged": (0.1, {"login": 2.5, "order": 1.5, "newsletter_open": 2.0}),
        }
    )
    # Median order value (lognormal, sigma 0.5), the same for every segment: amount_window is a model
    # feature, and a segment-dependent amount would carry the segment's hazard into it.
    order_value: float = 40.0
    # Reasons: planted share of each (why, what) cell among churners (calibrated exactly in expectation).
    reason_mix: Mapping[str, Mapping[str, float]] = dataclasses.field(
        default_factory=lambda: {
            "brand_failed": {"experience": 0.19, "product": 0.05, "price": 0.04, "other": 0.02},
            "better_offer": {"product": 0.24, "experience": 0.13, "price": 0.15, "other": 0.07},
            "circumstance": {"other": 0.075, "price": 0.02, "product": 0.01, "experience": 0.005},
        }
    )
    reason_signal: float = 3.5  # log-odds per SD of log(1 + events) pointing at a why / what
    survey_rate: float = 0.25  # share of churners answering an exit survey or cancel form
    # Log-odds of answering per SD of a behaviour signal, and for the premium plan. Response depends on
    # behaviour and segment only (missing at random given what the exports hold), so respondents are a
    # biased sample that a correction from behaviour can undo: failures push people to answer, offers not.
    survey_bias: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: {"failures_sd": 1.0, "offer_sd": -0.6, "premium": 0.4}
    )
    cancel_form_share: float = 0.4  # respondents using the coded cancel form (the rest: free-text exit survey)
    nps_per_year: float = 0.5  # NPS answers per customer-year (active and churned customers)
    nps_pulse: float = 0.02  # share of active customers answering an NPS pulse dated as_of (at least one)
    text_noise: Mapping[str, float] = dataclasses.field(  # free-text perturbations
        default_factory=lambda: {"typo": 0.12, "case": 0.3, "mixed": 0.06, "blank": 0.04}
    )

    @property
    def as_of_day(self) -> int:
        return (self.as_of - EPOCH).days

    def clock(self, t: np.ndarray | float) -> np.ndarray:
        """Baseline cumulative hazard per unit base rate: early_hazard * min(t, D) + max(t - D, 0)."""
        t = np.asarray(t, dtype=float)
        d = self.min_term_days
        cumulative: np.ndarray = self.early_hazard * np.minimum(t, d) + np.maximum(t - d, 0.0)
        return cumulative

    def time_for(self, h: np.ndarray) -> np.ndarray:
        """Inverse of `clock`: the tenure at which the cumulative hazard reaches h."""
        d, m = self.min_term_days, self.early_hazard
        if m > 0:
            return np.where(h < m * d, h / m, d + (h - m * d))
        return d + h

    def hazard_ratios(self) -> dict[str, float]:
        return {k: v.hr for k, v in self.events.items()}

    def families(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for k, v in self.events.items():
            out.setdefault(v.family, []).append(k)
        return {f: tuple(v) for f, v in out.items()}

    def target_mix(self) -> np.ndarray:
        """The 12 planted cell shares in CELLS order, normalised."""
        p = np.array([self.reason_mix.get(w, {}).get(c, 0.0) for w, c in CELLS], dtype=float)
        shares: np.ndarray = p / p.sum()
        return shares


@dataclasses.dataclass
class Population:
    """Per-customer arrays (length n) from `simulate`; days are integers since 1970-01-01."""

    start: np.ndarray
    end: np.ndarray  # churn day or as_of
    churned: np.ndarray
    plan: np.ndarray  # int codes into model.plans
    region: np.ndarray
    channel: np.ndarray
    klass: np.ndarray
    rate: np.ndarray  # n x K latent rates per 30 days: what the hazard depends on
    window_count: np.ndarray  # n x K events in the (up to) 180 days before end: Poisson(rate x exposure / 30)
    log_hazard: np.ndarray  # per day
    exp_draw: np.ndarray  # the Exp(1) draw behind the churn time (common random numbers)
    why: np.ndarray  # index into WHYS, -1 when active
    what: np.ndarray  # index into WHATS, -1 when active
    responded: np.ndarray  # churner answered an exit survey / cancel form
    volume_scale: float

    @property
    def exposure(self) -> np.ndarray:
        """Days in each customer's behaviour window: min(tenure, 180), at least 1 (as the customer table)."""
        days: np.ndarray = np.clip(np.minimum(self.end - self.start, LOOKBACK), 1, None)
        return days

    @property
    def x(self) -> np.ndarray:
        """The measured windowed rates per 30 days (what the customer table's rate_<type> reads): Poisson-noisy
        readings of `rate`, the noisier the shorter the customer's life."""
        return self.window_count * (RATE_DAYS / self.exposure[:, None])


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _choice(rng: np.random.Generator, n: int, shares: list[float]) -> np.ndarray:
    p = np.asarray(shares, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1).astype(np.int8)


def simulate(n: int, seed: int, model: DemoModel, events_per_customer: float | None = None) -> Population:
    """Draw segments, latent rates, churn times, reasons and survey response for n customers."""
    rng = rng_for(seed, 0)
    as_of = model.as_of_day
    start = as_of - 1 - np.floor(rng.random(n) * model.history_days).astype(np.int64)
    plan = _choice(rng, n, [v[0] for v in model.plans.values()])
    region = _choice(rng, n, [v[0] for v in model.regions.values()])
    channel = _choice(rng, n, [v[0] for v in model.channels.values()])
    klass = _choice(rng, n, [v[0] for v in model.classes.values()])

    names = list(model.events)
    specs = list(model.events.values())
    k = len(names)
    class_mult = np.ones((len(model.classes), k))
    for ci, (_, mults) in enumerate(model.classes.values()):
        for name, m in mults.items():
            class_mult[ci, names.index(name)] = m
    mean = np.array([s.mean_rate for s in specs])
    shape = np.array([s.shape for s in specs])
    volume = np.array([s.volume for s in specs])
    beta = np.log(np.array([s.hr for s in specs]))
    if np.any(volume & (beta != 0)):
        raise ValueError("volume event types must have hr == 1")
    spread = rng.gamma(shape, 1.0 / shape, size=(n, k))
    rate = mean * class_mult[klass] * spread

    # The hazard depends on the latent rates; the exports show only Poisson events around them (events.py),
    # so a rate read over a short life is noisy, as in real data (issue 16).
    drv = ~volume
    seg_log = (
        np.log([v[1] for v in model.plans.values()])[plan]
        + np.log([v[1] for v in model.regions.values()])[region]
        + np.log([v[1] for v in model.channels.values()])[channel]
    )
    log_hazard = math.log(model.base_hazard) + seg_log + rate[:, drv] @ beta[drv]
    exp_draw = rng.exponential(1.0, n)
    t = np.maximum(1, np.ceil(model.time_for(exp_draw / np.exp(log_hazard)))).astype(np.int64)
    churned = start + t < as_of
    end = np.where(churned, start + t, as_of)

    # Events in each customer's window (up to 180 days before the end): the behaviour types first, so that
    # rescaling the volume types below leaves them (and the reasons they drive) as they are.
    observed = np.minimum(end - start, LOOKBACK)[:, None]
    window_count = np.zeros((n, k), dtype=np.int64)
    window_count[:, drv] = rng.poisson(rate[:, drv] * (observed / RATE_DAYS))

    # Volume types carry no effect; rescale them to hit the requested events per customer.
    obs_months = (end - start) / RATE_DAYS
    driver_events = float((rate[:, drv].sum(1) * obs_months).mean())
    volume_events = float((rate[:, volume].sum(1) * obs_months).mean())
    scale = 1.0
    if events_per_customer is not None:
        scale = (events_per_customer - driver_events - churned.mean()) / volume_events
        if scale <= 0:
            raise ValueError(
                f"events_per_customer must exceed {math.ceil(driver_events + churned.mean())} "
                "(the behaviour that drives churn is fixed by the model)"
            )
        rate[:, volume] *= scale
    window_count[:, volume] = rng.poisson(rate[:, volume] * (observed / RATE_DAYS))
    x = window_count * (RATE_DAYS / np.clip(observed, 1, None))

    why, what, responded = _reasons(rng, model, x, churned, plan, names)
    return Population(
        start=start, end=end, churned=churned, plan=plan, region=region, channel=channel, klass=klass,
        rate=rate, window_count=window_count, log_hazard=log_hazard, exp_draw=exp_draw,
        why=why, what=what, responded=responded, volume_scale=scale,
    )  # fmt: skip


def _z(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else v * 0.0


def reason_signals(x: np.ndarray, names: list[str], *, log: bool = False) -> dict[str, np.ndarray]:
    """Behaviour sums that point at a why or a what (standardised over the rows given).

    With log=True each sum is read on a log(1 + events in the window) scale first: the first failed
    delivery says more about why someone left than the fifth, so the many churners with one or two
    events carry signal, not only the few with many."""
    col = {nm: x[:, i] for i, nm in enumerate(names)}
    failures = col["delivery_failed"] + col["delivery_late"] + col["support_ticket"] + 2 * col["complaint"]
    sums = {
        "brand_failed": failures,
        "better_offer": col["discount_used"] + 3 * col["competitor_mention"],
        "experience": failures,
        "price": col["price_increase"] + col["discount_used"],
        "product": 3 * col["competitor_mention"] - 0.3 * col["login"],
    }
    if log:
        per_window = LOOKBACK / RATE_DAYS
        sums = {k: np.sign(v) * np.log1p(np.abs(v) * per_window) for k, v in sums.items()}
    return {k: _z(v) for k, v in sums.items()}


def _reasons(
    rng: np.random.Generator, model: DemoModel, x: np.ndarray, churned: np.ndarray, plan: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = x.shape[0]
    why = np.full(n, -1, dtype=np.int8)
    what = np.full(n, -1, dtype=np.int8)
    responded = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(churned)
    if idx.size == 0:
        return why, what, responded
    sig = reason_signals(x[idx], names, log=True)
    logits = np.zeros((idx.size, len(CELLS)))
    for j, (w, c) in enumerate(CELLS):
        logits[:, j] = model.reason_signal * (sig.get(w, 0.0) + sig.get(c, 0.0))
    target = model.target_mix()
    # Calibrate cell intercepts so the expected mix over these churners equals the planted mix.
    b = np.log(np.maximum(target, 1e-12))
    for _ in range(200):
        p = _softmax(logits + b)
        got = p.mean(0)
        if np.abs(got - target).max() < 1e-9:
            break
        b += np.log(np.maximum(target, 1e-12)) - np.log(np.maximum(got, 1e-300))
    p = _softmax(logits + b)
    cell = (p.cumsum(1) < rng.random(idx.size)[:, None]).sum(1).clip(0, len(CELLS) - 1)
    why[idx] = cell // len(WHATS)
    what[idx] = cell % len(WHATS)

    # Answering depends on the plain (linear) behaviour sums: a logistic model of response on the
    # customer table's rates is then well specified, as the non-response correction assumes.
    sig = reason_signals(x[idx], names)
    bias = model.survey_bias
    lo = bias.get("failures_sd", 0.0) * sig["brand_failed"] + bias.get("offer_sd", 0.0) * sig["better_offer"]
    premium = list(model.plans).index("premium") if "premium" in model.plans else -1
    lo = lo + bias.get("premium", 0.0) * (plan[idx] == premium)
    a = _intercept_for_rate(lo, model.survey_rate)
    responded[idx] = rng.random(idx.size) < 1.0 / (1.0 + np.exp(-(a + lo)))
    return why, what, responded


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    p: np.ndarray = e / e.sum(1, keepdims=True)
    return p


def _intercept_for_rate(lo: np.ndarray, rate: float) -> float:
    a, b = -20.0, 20.0
    for _ in range(80):
        m = (a + b) / 2
        if (1.0 / (1.0 + np.exp(-(m + lo)))).mean() < rate:
            a = m
        else:
            b = m
    return (a + b) / 2


# ---- Truth computed from the generating process ---------------------------------------------


def attributable_shares(pop: Population, model: DemoModel, horizon: int = 365) -> dict[str, dict[str, float]]:
    """Share of `horizon`-day churn (from signup) removed when a family's / feature's effects are set to 0.

    Common random numbers: each customer keeps the same Exp(1) draw; only the hazard changes.
    """
    names = list(model.events)
    beta = np.log([s.hr for s in model.events.values()])
    x = pop.rate  # the hazard's covariates: the latent rates
    clock = float(model.clock(horizon))
    base = float((pop.exp_draw < clock * np.exp(pop.log_hazard)).mean())

    def share(cols: list[int]) -> float:
        lh = pop.log_hazard - x[:, cols] @ beta[cols]
        without = float((pop.exp_draw < clock * np.exp(lh)).mean())
        return (base - without) / base if base > 0 else 0.0

    fams = {f: share([names.index(e) for e in evs]) for f, evs in sorted(model.families().items())}
    feats = {e: share([names.index(e)]) for e in names}
    return {"families": fams, "features": feats, "churn_within_horizon": {"all_effects": base}}


def median_tenures(pop: Population, model: DemoModel) -> dict[str, dict[str, float | None]]:
    """Median of the mixture survival curve S(t) = mean exp(-lambda_i t) per segment level, in days."""
    lam = np.exp(pop.log_hazard)
    out: dict[str, dict[str, float | None]] = {}
    for col, levels in (("plan", model.plans), ("region", model.regions), ("channel", model.channels)):
        codes = getattr(pop, col)
        out[col] = {}
        for li, level in enumerate(levels):
            sel = lam[codes == li]
            out[col][level] = round(_mixture_median(sel, model), 1) if sel.size else None
    out["all"] = {"all": round(_mixture_median(lam, model), 1)}
    return out


def _mixture_median(lam: np.ndarray, model: DemoModel) -> float:
    lo, hi = 0.0, 1.0
    while np.exp(-lam * model.clock(hi)).mean() > 0.5:
        hi *= 2
    for _ in range(50):
        mid = (lo + hi) / 2
        if np.exp(-lam * model.clock(mid)).mean() > 0.5:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
