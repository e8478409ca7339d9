"""Survey answers: NPS scores over each customer's life, and exit answers (text or code) from churners."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from churnwhy.demo.events import DAY_FROM_S, DAY_S, DAY_SPAN_S
from churnwhy.demo.model import CELLS, WHATS, WHYS, DemoModel, Population, reason_signals
from churnwhy.demo.phrases import BLANK_OR_OFF_TOPIC, CODES, COMPETITORS, OTHER_TICK, PHRASES

SURVEY_KINDS = ("nps", "exit_text", "cancel_code")


def draw_surveys(pop: Population, model: DemoModel, rng: np.random.Generator) -> pl.DataFrame:
    """One row per answer: cust, kind, ts (seconds), score, reason_code, reason_text, competitor, cell."""
    names = list(model.events)
    n = pop.start.size
    sig = reason_signals(pop.x, names)["experience"]
    deal = list(model.classes).index("deal_seeker") if "deal_seeker" in model.classes else -1
    mu = 8.3 - 1.3 * sig - 0.8 * (pop.klass == deal)

    # NPS: a Poisson number of answers per customer, uniformly over [start, end).
    days = pop.end - pop.start
    k = rng.poisson(model.nps_per_year * days / 365.0)
    cust = np.repeat(np.arange(n), k)
    day = pop.start[cust] + np.floor(rng.random(cust.size) * days[cust]).astype(np.int64)
    score = np.clip(np.rint(mu[cust] + 1.6 * rng.standard_normal(cust.size)), 0, 10).astype(np.int64)
    # The NPS pulse sent with the export: some active customers answer on as_of itself, so the latest date
    # in the data is as_of and churnwhy's default as_of (the latest date in the data) is the true one.
    active = np.flatnonzero(~pop.churned)
    pulse = rng.choice(active, size=min(active.size, max(1, round(model.nps_pulse * active.size))), replace=False) if active.size else active
    pulse.sort()
    cust = np.concatenate([cust, pulse])
    day = np.concatenate([day, np.full(pulse.size, model.as_of_day, dtype=np.int64)])
    score = np.concatenate([score, np.clip(np.rint(mu[pulse] + 1.6 * rng.standard_normal(pulse.size)), 0, 10).astype(np.int64)])
    nps = pl.DataFrame(
        {"cust": cust, "kind": "nps", "day": day, "score": score, "reason_code": None, "reason_text": None,
         "competitor": None, "cell": -1},
        schema_overrides={"reason_code": pl.String, "reason_text": pl.String, "competitor": pl.String, "cell": pl.Int16},
    )  # fmt: skip

    # Exit answers from the respondents chosen in the simulation.
    resp = np.flatnonzero(pop.responded)
    cell = pop.why[resp].astype(np.int64) * len(WHATS) + pop.what[resp]
    coded = rng.random(resp.size) < model.cancel_form_share
    exit_mu = np.array([2.5, 7.0, 7.5])[pop.why[resp]]
    exit_score = np.clip(np.rint(exit_mu + 2.0 * rng.standard_normal(resp.size)), 0, 10).astype(np.int64)
    # An export taken on as_of holds no answer dated later: late exit answers are clipped to as_of.
    exit_day = np.minimum(pop.end[resp] + np.where(coded, 0, rng.integers(0, 15, resp.size)), model.as_of_day)
    codes: list[str | None] = []
    texts: list[str | None] = []
    comps: list[str | None] = []
    noise = model.text_noise
    u = rng.random((resp.size, 8))
    picks = rng.integers(0, 1 << 30, (resp.size, 4))
    for j in range(resp.size):  # one loop over survey answers (a quarter of churners), for string building
        key = CELLS[int(cell[j])]
        if coded[j] and key in CODES:
            options = CODES[key]
            tick_other = picks[j, 3] % 1000 < OTHER_TICK * 1000
            codes.append("OTHER" if tick_other else options[picks[j, 0] % len(options)])
            texts.append(None)
            comps.append(None)
            continue
        phrases = PHRASES[key]
        text = phrases[picks[j, 0] % len(phrases)]
        comp = COMPETITORS[picks[j, 1] % len(COMPETITORS)] if "{c}" in text else None
        if u[j, 0] < noise["mixed"]:
            other = CELLS[(int(cell[j]) + 1 + picks[j, 2] % (len(CELLS) - 1)) % len(CELLS)]
            extra = PHRASES[other][picks[j, 3] % len(PHRASES[other])]
            if "{c}" in extra and comp is None:
                comp = COMPETITORS[picks[j, 1] % len(COMPETITORS)]
            text = f"{text}. also {extra.lower()}" if u[j, 1] < 0.5 else f"{text} and {extra[0].lower()}{extra[1:]}"
        text = text.replace("{c}", comp or "")
        text = _perturb(text, u[j], picks[j, 2], noise)
        if u[j, 2] < noise["blank"]:
            text = BLANK_OR_OFF_TOPIC[picks[j, 3] % len(BLANK_OR_OFF_TOPIC)]
            comp = None
        codes.append(None)
        texts.append(text)
        comps.append(comp)
    coded = np.array([c is not None for c in codes], dtype=bool)
    exits = pl.DataFrame(
        {"cust": resp, "kind": np.where(coded, "cancel_code", "exit_text"), "day": exit_day,
         "score": np.where(coded, -1, exit_score), "reason_code": codes, "reason_text": texts,
         "competitor": comps, "cell": cell.astype(np.int16)},
        schema_overrides={"reason_code": pl.String, "reason_text": pl.String, "competitor": pl.String},
    ).with_columns(pl.when(pl.col("score") >= 0).then(pl.col("score")).alias("score"))  # fmt: skip
    out = pl.concat([nps.with_columns(pl.col("score").cast(pl.Int64)), exits], how="vertical_relaxed")
    secs = DAY_FROM_S + (rng.random(out.height) * DAY_SPAN_S).astype(np.int64)
    return out.with_columns(ts=pl.col("day") * DAY_S + pl.Series(secs)).sort("cust", "ts", "kind")


def _perturb(text: str, u: np.ndarray, pick: int, noise: Mapping[str, float]) -> str:
    if u[3] < noise["typo"] and len(text) > 6:
        i = 1 + pick % (len(text) - 3)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2 :] if u[4] < 0.6 else text[:i] + text[i + 1 :]
    if u[5] < noise["case"]:
        text = text.upper() if u[6] < 0.3 else text.lower() if u[6] < 0.7 else text.capitalize()
    if u[7] < 0.15:
        text = text + ("!!" if u[6] < 0.5 else ".")
    elif u[7] > 0.95:
        text = "  " + text + " "
    return text


def respondent_mix(pop: Population) -> dict[str, dict[str, float]]:
    """The (why, what) shares among survey respondents: what a naive read of the surveys would report."""
    r = pop.responded
    return _mix(pop.why[r], pop.what[r])


def true_mix(pop: Population) -> dict[str, dict[str, float]]:
    c = pop.churned
    return _mix(pop.why[c], pop.what[c])


def _mix(why: np.ndarray, what: np.ndarray) -> dict[str, dict[str, float]]:
    n = max(1, why.size)
    cells = {f"{w}/{c}": float(((why == wi) & (what == ci)).sum() / n) for wi, w in enumerate(WHYS) for ci, c in enumerate(WHATS)}
    return {
        "why": {w: float((why == i).sum() / n) for i, w in enumerate(WHYS)},
        "what": {c: float((what == i).sum() / n) for i, c in enumerate(WHATS)},
        "why_what": cells,
    }
