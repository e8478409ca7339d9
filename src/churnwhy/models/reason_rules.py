"""The English rule layer: normalise free text, screen bad input, score why/what cues on whole columns.

Every step is a Polars expression over the whole column (no per-row Python). Polars' regex engine
has no look-around, so negation and idioms are handled by rewriting the text first: "not because
of the price" becomes "neg_price" (which no `\\bprice` cue matches), "no longer need" becomes
"noneed", "could be better" becomes "couldbebetter".
"""

from __future__ import annotations

import numpy as np
import polars as pl

from churnwhy.models.reason_taxonomy import UNKNOWN, WHAT, WHY, ReasonSettings, Rule
from churnwhy.models.reason_vocab import BUILTIN_RULES, CODE_SPLITS, ENGLISH, FOREIGN, NON_ANSWER, REWRITES

# Confidence of an axis = top score / (sum of scores + PRIOR): one clear cue gives ~0.6-0.75,
# two agreeing cues more, conflicting cues less.
PRIOR = 0.4
# When cues name several topics, the topics of the cues that decided `why` count this much more.
WHY_BONUS = 1.5
# Tie-break order for `what` (failures are mostly about experience).
WHAT_ORDER = ("experience", "product", "price", "other")
# Texts of at least this many words are read as narratives (see _score_rows).
NARRATIVE_WORDS = 30
MAX_REPEATS = 3
INPUT_STATUS = ("ok", "empty", "numeric", "symbols", "non_english", "non_answer")


def split_codes(expr: pl.Expr) -> pl.Expr:
    """Codes to words, before lower-casing: too_expensive -> too expensive, FoundBetterApp -> Found Better App."""
    out = expr.cast(pl.String)
    for pattern, repl in CODE_SPLITS:
        out = out.str.replace_all(pattern, repl)
    return out


def normalise(expr: pl.Expr, max_chars: int) -> pl.Expr:
    """Split codes, lower-case, cut to max_chars, expand abbreviations, rewrite negations (see module docstring)."""
    out = split_codes(expr.cast(pl.String).str.slice(0, max_chars)).str.to_lowercase()
    for pattern, repl in REWRITES:
        out = out.str.replace_all(pattern, repl)
    return pl.lit(" ") + out.str.strip_chars() + pl.lit(" ")


def screen(expr: pl.Expr) -> pl.Expr:
    """Why a text cannot be classified (one of INPUT_STATUS; "ok" when it can)."""
    text = expr.cast(pl.String).str.strip_chars()
    lower = split_codes(text).str.to_lowercase().str.replace_all(r"[\u2018\u2019`´']", "").str.strip_chars()
    letters = text.str.count_matches(r"\p{L}")
    ascii_letters = text.str.count_matches(r"[A-Za-z]")
    return (
        pl.when(text.is_null() | (text.str.len_chars() == 0)).then(pl.lit("empty"))
        .when((letters == 0) & text.str.contains(r"\d")).then(pl.lit("numeric"))
        .when(letters == 0).then(pl.lit("symbols"))
        .when(ascii_letters < 0.5 * letters).then(pl.lit("non_english"))
        .when(lower.str.contains(FOREIGN) & ~lower.str.contains(ENGLISH)).then(pl.lit("non_english"))
        .when(lower.str.contains(NON_ANSWER)).then(pl.lit("non_answer"))
        .when(~lower.str.contains(r"[aeiouy]")).then(pl.lit("symbols"))
        .otherwise(pl.lit("ok"))
    )


def all_rules(settings: ReasonSettings) -> tuple[Rule, ...]:
    """Built-in cues, then [reasons.keywords]/[reasons.patterns], then configured competitor names."""
    rules = BUILTIN_RULES + settings.extra_rules
    if settings.competitors:
        import re

        names = "|".join(r"\s+".join(re.escape(w) for w in c.lower().split()) for c in settings.competitors)
        rules += (Rule(rf"\b(?:{names})\b", "better_offer", None, 1.5, "config"),)
    return rules


def score(frame: pl.DataFrame, settings: ReasonSettings, *, text: str = "text", competitor: str | None = None) -> pl.DataFrame:
    """Rule layer on a whole column: returns why, what, why_conf, what_conf, status (one row per input row).

    An axis whose confidence is below settings.min_confidence is `unknown`.
    """
    if competitor is not None and competitor in frame.columns:
        named = frame[competitor].cast(pl.String).str.strip_chars().str.len_chars().fill_null(0) > 0
    else:
        named = pl.repeat(False, frame.height, eager=True)
    keys = pl.DataFrame({"_text": frame[text].cast(pl.String), "_comp": named})
    # Answers repeat ("too expensive"): score each distinct (text, competitor named) once.
    # At 1M customers that is 8,500 distinct answers for 260,000 churners.
    distinct, inverse = distinct_rows(keys)
    if distinct.height == keys.height:
        return _score_rows(keys, settings)
    return _score_rows(distinct, settings)[inverse]


def distinct_rows(keys: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The distinct rows of `keys` in first-seen order, and for each row of `keys` the position of its
    distinct row: compute once per distinct row, then `result[inverse]` spreads it back (nulls match nulls)."""
    distinct = keys.unique(maintain_order=True)
    inverse = keys.join(distinct.with_row_index("__distinct"), on=keys.columns, how="left", nulls_equal=True,
                        maintain_order="left")["__distinct"].to_numpy()
    return distinct, inverse


def _score_rows(keys: pl.DataFrame, settings: ReasonSettings) -> pl.DataFrame:
    """score() on a frame of _text and _comp (a competitor is named), one output row per row."""
    rules = all_rules(settings)
    text = "_text"
    # Normalise once, then match every cue against the materialised column.
    df = keys.select(pl.col(text), pl.col("_comp"), _norm=normalise(pl.col(text), settings.max_chars),
                     _status=screen(pl.col(text)))
    df = df.with_columns(
        # A cue repeated in a long complaint counts up to MAX_REPEATS times: the topic it keeps returning to.
        [pl.col("_norm").str.count_matches(r.pattern).fill_null(0).clip(0, MAX_REPEATS).cast(pl.Float64).alias(f"_h{i}")
         for i, r in enumerate(rules)]
    )
    ok = pl.col("_status") == "ok"

    def axis_score(axis: str, value: str, bonus_why: pl.Expr | None = None) -> pl.Expr:
        terms = [pl.lit(0.0)]
        for i, r in enumerate(rules):
            if getattr(r, axis) != value:
                continue
            weight = r.why_weight if axis == "why" and r.why_weight is not None else r.weight
            w = pl.lit(weight)
            if bonus_why is not None and r.why is not None:
                w = pl.when(bonus_why == r.why).then(r.weight * WHY_BONUS).otherwise(r.weight)
            terms.append(pl.col(f"_h{i}") * w)
        if axis == "why" and value == "better_offer":
            terms.append(pl.when(pl.col("_comp")).then(1.2).otherwise(0.0))
        return pl.when(ok).then(pl.sum_horizontal(terms)).otherwise(0.0)

    # `unknown` is a value cues can vote for ("Other reason", "card declined", "downgraded"): when it wins,
    # the text said there is no reason to read, and the learned layer is not asked to guess one.
    whys = [w for w in WHY if w != UNKNOWN] + [UNKNOWN]
    whats = list(WHAT_ORDER) + [UNKNOWN]
    df = df.with_columns([axis_score("why", w).alias(f"_why_{w}") for w in whys])
    df = df.with_columns(_best_why=_argmax([f"_why_{w}" for w in whys], whys))
    df = df.with_columns([axis_score("what", w, pl.col("_best_why")).alias(f"_what_{w}") for w in whats])
    df = df.with_columns(_best_what=_argmax([f"_what_{w}" for w in whats], whats))
    why_conf = _confidence([f"_why_{w}" for w in whys])
    what_conf = _confidence([f"_what_{w}" for w in whats])
    floor = settings.min_confidence
    said_none = (pl.col("_best_why") == UNKNOWN) & (pl.col(f"_why_{UNKNOWN}") > 0)
    why = pl.when(why_conf >= floor).then(pl.col("_best_why")).otherwise(pl.lit(UNKNOWN))
    # A narrative (a complaint letter) names several topics in passing; its leading topic, when it leads
    # with at least one clear cue, is its subject even if the margin is thin. Short answers keep the floor.
    narrative = (pl.col("_norm").str.count_matches(r"\S+") >= NARRATIVE_WORDS) & (why != UNKNOWN) & (
        pl.max_horizontal([f"_what_{w}" for w in WHAT_ORDER]) >= 1.0)
    return df.select(
        why=why,
        what=pl.when((what_conf >= floor) | narrative).then(pl.col("_best_what")).otherwise(pl.lit(UNKNOWN)),
        why_conf=why_conf,
        what_conf=what_conf,
        status=pl.col("_status"),
        no_reason=said_none,
        truncated=pl.col(text).str.len_chars().fill_null(0) > settings.max_chars,
    )


def _argmax(columns: list[str], names: list[str]) -> pl.Expr:
    # First of the maxima wins, so `names` order is the tie-break.
    best = pl.max_horizontal(columns)
    out = pl.lit(None, dtype=pl.String)
    for col, name in reversed(list(zip(columns, names, strict=True))):
        out = pl.when(pl.col(col) == best).then(pl.lit(name)).otherwise(out)
    return out


def _confidence(columns: list[str]) -> pl.Expr:
    # The winner against its closest rival: a long complaint touches many topics, and a third or fourth
    # topic mentioned in passing should not make the leading one unreadable.
    scores = pl.concat_list(columns)
    top = scores.list.max()
    second = scores.list.sort(descending=True).list.get(1, null_on_oob=True).fill_null(0.0)
    return pl.when(top > 0).then(top / (top + second + PRIOR)).otherwise(0.0)
