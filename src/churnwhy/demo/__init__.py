"""Example exports with planted truth: `generate(out_dir, ...) -> Truth` (the library form of `churnwhy demo`).

A documented generative model (docs/demo-model.md) draws customers with segments, behaviour events whose
windowed rates carry planted hazard ratios, churn with a true reason on two axes (why x what), and surveys
answered by a biased quarter of churners. `truth.json` states what a correct analysis should recover.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from churnwhy import __version__
from churnwhy.demo.events import draw_events
from churnwhy.demo.layout import Context, EventWriter, Rejects, customer_ids, emails
from churnwhy.demo.layout import write_clean_customers, write_clean_surveys, write_messy_customers, write_messy_surveys
from churnwhy.demo.model import (
    CANCEL, CELLS, LOOKBACK, RATE_DAYS, WHATS, WHYS, DemoModel, EventSpec,
    attributable_shares, median_tenures, rng_for, simulate,
)  # fmt: skip
from churnwhy.demo.surveys import draw_surveys, respondent_mix, true_mix
from churnwhy.errors import ChurnwhyError, ConfigError

FORMATS = ("csv", "parquet", "mixed")
MIN_CUSTOMERS, MAX_CUSTOMERS = 100, 1_000_000
CHUNK_CUSTOMERS = 25_000  # fixed, so output does not depend on memory settings
TRUTH_FILE = "truth.json"

__all__ = ["FORMATS", "DemoModel", "EventSpec", "Truth", "generate"]


@dataclasses.dataclass(frozen=True)
class Truth:
    """What the generator planted: `summary` is truth.json; `customers` is the per-customer truth (not written)."""

    summary: dict[str, Any]
    customers: pl.DataFrame
    out_dir: Path

    def to_dict(self) -> dict[str, Any]:
        return self.summary

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]


def generate(
    out_dir: Path | str,
    *,
    customers: int = 2000,
    seed: int = 0,
    format: str = "mixed",  # noqa: A002 - the CLI's --format
    messy: bool = True,
    events_per_customer: float | None = None,
    model: DemoModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> Truth:
    """Write customers, events and surveys exports plus truth.json into out_dir (new or empty)."""
    model = model or DemoModel()
    _check(out_dir, customers, format, events_per_customer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    try:
        pop = simulate(customers, seed, model, events_per_customer)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    ids, width = customer_ids(customers, extra=1000)
    ctx = Context(out, pop, model, ids, width, emails(customers, rng_for(seed, 3)), format, rng_for(seed, 4), Rejects())
    ext_c = ext_s = "parquet" if format == "parquet" else "csv"
    ext_e = "csv" if format == "csv" else "parquet"
    say(f"customers: {customers:,} ({int(pop.churned.sum()):,} churned)")
    if messy:
        write_messy_customers(ctx)
    else:
        write_clean_customers(ctx, ext_c)

    writer = EventWriter(ctx, messy, ext_e if not messy else format)
    for i, lo in enumerate(range(0, customers, CHUNK_CUSTOMERS)):
        hi = min(customers, lo + CHUNK_CUSTOMERS)
        writer.write(draw_events(pop, model, lo, hi, rng_for(seed, 1, i)))
        say(f"events: {writer.written:,} written ({hi:,}/{customers:,} customers)")
    writer.close()

    surveys = draw_surveys(pop, model, rng_for(seed, 2))
    if messy:
        write_messy_surveys(ctx, surveys)
    else:
        write_clean_surveys(ctx, surveys, ext_s)

    summary = _summary(ctx, writer, surveys, seed, format, messy, events_per_customer)
    (out / TRUTH_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"wrote {len(ctx.files)} export files and {TRUTH_FILE} to {out}")
    return Truth(summary=summary, customers=_truth_frame(ctx, surveys), out_dir=out)


def _check(out_dir: Path | str, customers: int, format: str, events_per_customer: float | None) -> None:  # noqa: A002
    if format not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not isinstance(customers, int) or not MIN_CUSTOMERS <= customers <= MAX_CUSTOMERS:
        raise ConfigError(f"customers must be a whole number from {MIN_CUSTOMERS:,} to {MAX_CUSTOMERS:,}, got {customers!r}")
    if events_per_customer is not None and not (events_per_customer > 0 and math.isfinite(events_per_customer)):
        raise ConfigError(f"events_per_customer must be a positive number, got {events_per_customer!r}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ChurnwhyError(f"{out} exists and is not an empty folder", hint="pick a new folder, or delete this one first")


def _r(v: float) -> float:
    return round(float(v), 6)


def _rounded(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _rounded(v) for k, v in d.items()}
    if isinstance(d, float):
        return _r(d)
    return d


def _summary(ctx: Context, writer: EventWriter, surveys: pl.DataFrame, seed: int, fmt: str, messy: bool, epc: float | None) -> dict[str, Any]:
    pop, m = ctx.pop, ctx.model
    n, churners = pop.start.size, int(pop.churned.sum())
    names = (*m.events, CANCEL)
    per = (f"+1 event per {RATE_DAYS} days of the customer's latent rate, which rate_<type> (events in the "
           f"{LOOKBACK} days before end_date / exposure days x {RATE_DAYS}) reads with Poisson noise")
    kinds = surveys["kind"].value_counts()
    kind_n = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
    last_nps = (
        surveys.filter(pl.col("kind") == "nps")
        .group_by("cust").agg(pl.col("score").sort_by("ts").last())
    )
    sat = last_nps.filter(pl.col("score") >= 9)["cust"].to_numpy()
    better = WHYS.index("better_offer")
    summary = {
        "generator": {
            "churnwhy_version": __version__, "customers": n, "seed": seed, "format": fmt, "messy": messy,
            "events_per_customer": epc, "volume_scale": _r(pop.volume_scale), "chunk_customers": CHUNK_CUSTOMERS,
        },
        "as_of": m.as_of.isoformat(),
        "customers": n,
        "churners": churners,
        "churn_rate": _r(churners / n),
        "events": int(writer.written),
        "events_by_type": {names[int(k)]: int(v) for k, v in sorted(writer.by_type.items())},
        "event_type_names": {
            "clean": list(names),
            "messy": "order events are rows of shop/orders.csv (no type column: the loader calls them 'orders'); "
            "some monthly files write types in Title Case ('Delivery Failed'): normalise to snake_case",
        },
        "hazard_ratios": {
            k: {"hr": s.hr, "per": per, "family": s.family, "feature": f"rate_{k}"} for k, s in m.events.items()
        },
        "segment_hazard_ratios": {
            "plan": {k: v[1] for k, v in m.plans.items()},
            "region": {k: v[1] for k, v in m.regions.items()},
            "channel": {k: v[1] for k, v in m.channels.items()},
        },
        "baseline": {"hazard_per_day": m.base_hazard, "min_term_days": m.min_term_days, "early_hazard": m.early_hazard},
        "driver_families": {f: list(v) for f, v in sorted(m.families().items())},
        "attributable_365": _rounded(attributable_shares(pop, m, 365)),
        "median_tenure_days": median_tenures(pop, m),
        "reasons": {
            "planted": _rounded(_planted_mix(m)),
            "true": _rounded(true_mix(pop)),
            "respondents": _rounded(respondent_mix(pop)),
        },
        "surveys": {
            "response_rate": _r(pop.responded.sum() / max(1, churners)),
            "respondents": int(pop.responded.sum()),
            "exit_text": int(kind_n.get("exit_text", 0)),
            "cancel_code": int(kind_n.get("cancel_code", 0)),
            "nps_answers": int(kind_n.get("nps", 0)),
            "satisfied_better_offer_churners": int((pop.churned[sat] & (pop.why[sat] == better)).sum()),
        },
        "latent_classes": {k: v[0] for k, v in m.classes.items()},
        "rejects": ctx.rejects.totals(),
        "rejects_by_file": ctx.rejects.to_dict(),
        "files": dict(sorted(ctx.files.items())),
    }  # fmt: skip
    return summary


def _planted_mix(m: DemoModel) -> dict[str, dict[str, float]]:
    p = m.target_mix()
    cells = {f"{w}/{c}": float(v) for (w, c), v in zip(CELLS, p, strict=True)}
    why = {w: float(sum(v for (ww, _), v in zip(CELLS, p, strict=True) if ww == w)) for w in WHYS}
    what = {c: float(sum(v for (_, cc), v in zip(CELLS, p, strict=True) if cc == c)) for c in WHATS}
    return {"why": why, "what": what, "why_what": cells}


def _truth_frame(ctx: Context, surveys: pl.DataFrame) -> pl.DataFrame:
    pop, m = ctx.pop, ctx.model
    why = np.array(("",) + WHYS)[pop.why.astype(np.int64) + 1]
    what = np.array(("",) + WHATS)[pop.what.astype(np.int64) + 1]
    frame = pl.DataFrame(
        {"customer_id": ctx.ids, "churned": pop.churned, "tenure_days": pop.end - pop.start,
         "why": pl.Series(why).replace("", None), "what": pl.Series(what).replace("", None),
         "responded": pop.responded, "latent_class": pl.Series(list(m.classes))[pl.Series(pop.klass.astype(np.int64))]}
    )  # fmt: skip
    x = pl.DataFrame({f"x_{k}": pop.x[:, i] for i, k in enumerate(m.events)})  # measured (the table's rates)
    r = pl.DataFrame({f"r_{k}": pop.rate[:, i] for i, k in enumerate(m.events)})  # latent (the hazard's covariates)
    segs = pl.DataFrame({col: pl.Series(list(levels))[pl.Series(getattr(pop, col).astype(np.int64))]
                         for col, levels in (("plan", m.plans), ("region", m.regions), ("channel", m.channels))})
    return pl.concat([frame, segs, x, r], how="horizontal")

