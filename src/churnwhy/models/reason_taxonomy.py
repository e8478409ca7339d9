"""The reason taxonomy (two axes) and the [reasons] table of churnwhy.toml that adjusts it.

Axes (see docs/reasons.md for the full defaults):

    why   brand_failed  the brand let them down (delivery, support, quality, reliability, price rises)
          better_offer  another brand pulled them away (cheaper, better product, a competitor's offer)
          circumstance  their life changed (moved, died, business closed, no longer needed)
          unknown       no reason, or none we can read with confidence
    what  product | experience (delivery, support, service, staff, website/app) | price | other
          plus `unknown` when the topic cannot be told (e.g. "switched to Vodafone")

churnwhy.toml:

    [reasons]
    min_confidence = 0.5          # below this an axis is `unknown`, never a guess
    max_chars = 1000              # longer texts are cut before classification
    learn = true                  # train the TF-IDF + logistic layer on confidently labelled rows
    period = "auto"               # churn period for shares: auto | month | quarter
    trim = 0.0                    # clip non-response weights at these quantiles (0: none; see reason_shares)
    competitors = ["Acme", "Globex"]   # names that mean better_offer wherever they appear
    [reasons.codes]
    TOO_EXPENSIVE = "better_offer/price"
    [reasons.keywords]            # plain words/phrases (case-insensitive, whole words)
    "better_offer/price" = ["promo code", "voucher"]
    "*/experience" = ["click and collect"]   # * leaves that axis to other cues
    [reasons.patterns]            # regular expressions (Rust regex syntax: no look-around)
    "brand_failed/product" = ['\\bsmell\\w*']
    [reasons.labels]
    brand_failed = "We let them down"
    [reasons.satisfied]           # "satisfied but left" thresholds, per score_scale
    nps = 9
    csat5 = 4
    csat10 = 9
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from churnwhy.errors import ConfigError

WHY = ("brand_failed", "better_offer", "circumstance", "unknown")
WHAT = ("product", "experience", "price", "other", "unknown")
UNKNOWN = "unknown"
ANY = "*"
PERIODS = ("auto", "month", "quarter")
SCALES = ("nps", "csat5", "csat10")
# The lowest score that reads as satisfied, per scale ([reasons.satisfied] overrides each).
SATISFIED: dict[str, float] = {"nps": 9, "csat5": 4, "csat10": 9}  # ints: the JSON has always shown 9, not 9.0

# Reason codes, after normalisation (upper case, runs of non-alphanumerics -> "_"). Built in: Stripe's
# subscription cancellation feedback codes (too_expensive, missing_features, switched_service, unused,
# customer_service, too_complex, low_quality, other), the options common on cancel forms (Google Play's
# cancel survey, Chargebee/Recurly-style codes, CRM churn codes) and payment-failure codes. A price
# complaint is the brand's price pushing them out (brand_failed/price) unless an alternative is named;
# low usage is a faded need (circumstance/other). docs/reasons.md lists them; [reasons.codes] overrides.
_CODE_GROUPS: dict[str, tuple[str, ...]] = {
    "brand_failed/price": (
        "TOO_EXPENSIVE", "EXPENSIVE", "PRICE", "PRICE_TOO_HIGH", "PRICE_HIGH", "HIGH_PRICE", "COST", "COST_RELATED",
        "PRICING", "TOO_COSTLY", "NOT_WORTH_THE_PRICE", "NOT_WORTH_IT", "POOR_VALUE", "VALUE",
        "PRICE_INCREASE", "PRICE_RISE", "PRICE_HIKE", "HIDDEN_FEES", "FEES", "HIGH_FEES", "EXTRA_CHARGES",
        "CUSTOMER_DID_NOT_CONSENT_TO_PRICE_INCREASE",
    ),
    "better_offer/price": (
        "FOUND_CHEAPER", "CHEAPER_ALTERNATIVE", "CHEAPER_ELSEWHERE", "BETTER_PRICE", "BETTER_DEAL", "COMPETITOR_PRICE",
    ),
    "better_offer/unknown": (
        "COMPETITOR", "SWITCHED", "SWITCHED_SERVICE", "SWITCHED_PROVIDER", "SWITCHING", "BETTER_OFFER", "COMPETITOR_OFFER",
        "FOUND_ALTERNATIVE", "FOUND_AN_ALTERNATIVE", "FOUND_BETTER_ALTERNATIVE", "USING_ANOTHER_SERVICE",
    ),
    "better_offer/experience": ("BETTER_SERVICE", "BETTER_EXPERIENCE", "BETTER_SUPPORT", "FASTER_DELIVERY"),
    "better_offer/product": ("BETTER_PRODUCT", "FOUND_BETTER_APP", "BETTER_APP", "BETTER_FEATURES"),
    "brand_failed/product": (
        "POOR_QUALITY", "LOW_QUALITY", "QUALITY", "PRODUCT_QUALITY", "DEFECTIVE", "NOT_WORKING", "UNRELIABLE",
        "RELIABILITY", "OUTAGE", "OUTAGES", "PRODUCT_ISSUES", "MISSING_FEATURES", "MISSING_FEATURE", "FEATURES",
        "NEED_MORE_FEATURES", "TOO_COMPLEX", "TOO_COMPLICATED", "HARD_TO_USE", "DIFFICULT_TO_USE", "TECHNICAL_ISSUES",
        "TECHNICAL_PROBLEMS", "BUGS", "PERFORMANCE", "SLOW", "NOT_USEFUL", "NOT_USEFUL_ENOUGH", "DIDNT_MEET_NEEDS",
        "PRODUCT_NOT_AVAILABLE", "PRODUCT_UNAVAILABLE", "COVERAGE", "POOR_COVERAGE", "NETWORK", "SPEED", "SLOW_SPEED",
    ),
    "brand_failed/experience": (
        "POOR_SERVICE", "BAD_SERVICE", "CUSTOMER_SERVICE", "SERVICE", "SUPPORT", "POOR_SUPPORT", "BAD_SUPPORT",
        "DELIVERY", "DELIVERY_ISSUES", "LATE_DELIVERY", "SHIPPING", "WEBSITE", "APP", "ONBOARDING",
        "BILLING_ISSUE", "BILLING_ISSUES", "BILLING_PROBLEMS", "STAFF", "TOO_MANY_EMAILS", "SPAM",
    ),
    "circumstance/other": (
        "MOVED", "MOVING", "RELOCATED", "RELOCATION", "DECEASED", "DIED", "DEATH", "BUSINESS_CLOSED",
        "CLOSED", "CLOSED_BUSINESS", "NO_LONGER_NEEDED", "NOT_NEEDED", "NO_NEED", "RETIRED", "PERSONAL",
        "PERSONAL_REASONS", "LIFE_EVENT", "LEAVING_COUNTRY", "EMIGRATED", "UNUSED", "NOT_USING", "NOT_ENOUGH_USAGE",
        "LOW_USAGE", "DONT_USE", "NO_LONGER_USING", "TEMPORARY", "TAKING_A_BREAK", "PAUSE", "SEASONAL", "PROJECT_ENDED",
        "PROJECT_COMPLETED",
    ),
    "circumstance/price": ("FINANCIAL_HARDSHIP", "CANT_AFFORD", "CANNOT_AFFORD", "JOB_LOSS", "BUDGET", "BUDGET_CUTS"),
    "unknown/unknown": (
        "OTHER", "OTHER_REASON", "UNKNOWN", "NONE", "NA", "N_A", "NO_REASON", "DECLINED_TO_SAY", "PREFER_NOT_TO_SAY",
        # Involuntary endings and plan changes are not a stated reason.
        "CARD_EXPIRED", "CARD_DECLINED", "PAYMENT_FAILED", "INSUFFICIENT_FUNDS", "BILLING_ERROR", "NON_PAYMENT",
        "NOT_PAID", "DUNNING", "INVOLUNTARY", "UPGRADE", "DOWNGRADE", "PLAN_CHANGE", "CUSTOMER_CANCELLED", "CANCELED",
        "CANCELLED",
    ),
}
DEFAULT_CODES: dict[str, tuple[str, str]] = {
    code: (cell.split("/")[0], cell.split("/")[1])
    for cell, codes in _CODE_GROUPS.items()
    for code in codes
}

_KNOWN_KEYS = (
    "codes", "keywords", "patterns", "competitors", "labels", "min_confidence", "max_chars",
    "learn", "period", "trim", "satisfied",
)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One cue: where `pattern` matches the normalised text, add `weight` to `why` and/or `what`."""

    pattern: str
    why: str | None
    what: str | None
    weight: float = 1.0
    source: str = "built-in"
    # A topic names what went wrong more surely than that the brand is to blame: its vote on `why`
    # can be lighter than on `what` (None: `weight` on both axes).
    why_weight: float | None = None


@dataclasses.dataclass(frozen=True)
class ReasonSettings:
    """The parsed, validated [reasons] table."""

    codes: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=lambda: dict(DEFAULT_CODES))
    extra_rules: tuple[Rule, ...] = ()
    competitors: tuple[str, ...] = ()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    min_confidence: float = 0.5
    max_chars: int = 1000
    learn: bool = True
    period: str = "auto"
    trim: float = 0.0
    satisfied: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(SATISFIED))
    seed: int = 0
    min_group: int = 30

    def label(self, name: str) -> str:
        """The display label of a why/what value (renamed in [reasons.labels], else the name)."""
        return self.labels.get(name, name)


def normalise_code(code: str) -> str:
    """`too expensive` / `Too-Expensive` / ` TOO_EXPENSIVE ` -> TOO_EXPENSIVE."""
    return re.sub(r"[^A-Z0-9]+", "_", code.strip().upper()).strip("_")


def normalise_codes(codes: pl.Series) -> pl.Series:
    """normalise_code on a whole column (blank -> null)."""
    out = (
        codes.cast(pl.String)
        .str.strip_chars()
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z0-9]+", "_")
        .str.strip_chars("_")
    )
    return pl.select(pl.when(out.str.len_chars() > 0).then(out)).to_series().alias("code")


def toml_line(code: str, cell: str) -> str:
    """The churnwhy.toml line (under [reasons.codes]) that maps `code` to `cell`."""
    key = code if re.fullmatch(r"[A-Za-z0-9_-]+", code) else '"' + code.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f'{key} = "{cell}"'


def settings_from_config(config: Any | None) -> ReasonSettings:
    """Parse Config.reasons (the raw [reasons] table); ConfigError names the offending key."""
    if config is None:
        return ReasonSettings()
    raw = getattr(config, "reasons", None) or {}
    base = {"seed": int(getattr(config, "seed", 0)), "min_group": int(getattr(config, "min_segment_size", 30))}
    return parse_settings(raw, **base)


def parse_settings(raw: Mapping[str, Any], *, seed: int = 0, min_group: int = 30) -> ReasonSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError("[reasons] must be a table")
    unknown = sorted(set(raw) - set(_KNOWN_KEYS))
    if unknown:
        raise ConfigError(
            f"[reasons] unknown key {unknown[0]!r}", hint=f"valid keys are: {', '.join(_KNOWN_KEYS)}"
        )
    values: dict[str, Any] = {"seed": seed, "min_group": min_group}
    codes = dict(DEFAULT_CODES)
    for code, cell in _table(raw, "codes").items():
        why, what = _cell(f"[reasons.codes] {code}", cell, allow_any=False)
        norm = normalise_code(str(code))
        if not norm:
            raise ConfigError(f"[reasons.codes] {code!r}: a code needs at least one letter or digit")
        codes[norm] = (why, what)
    values["codes"] = codes
    rules: list[Rule] = []
    for kind in ("keywords", "patterns"):
        for cell, items in _table(raw, kind).items():
            key = f"[reasons.{kind}] {cell}"
            why, what = _cell(key, cell, allow_any=True)
            if isinstance(items, str):
                items = [items]
            if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
                raise ConfigError(f"{key}: expected a list of non-empty strings, got {items!r}")
            for item in items:
                pattern = _keyword_pattern(item) if kind == "keywords" else item
                _check_regex(key, pattern)
                rules.append(Rule(pattern, None if why == ANY else why, None if what == ANY else what, 1.5, "config"))
    values["extra_rules"] = tuple(rules)
    competitors = raw.get("competitors", [])
    if not isinstance(competitors, list) or not all(isinstance(c, str) and c.strip() for c in competitors):
        raise ConfigError(f"[reasons] competitors: expected a list of names, got {competitors!r}")
    values["competitors"] = tuple(c.strip() for c in competitors)
    labels = _table(raw, "labels")
    for name, label in labels.items():
        if name not in WHY + WHAT:
            raise ConfigError(f"[reasons.labels] {name!r}: not a why/what value", hint=f"one of {', '.join(WHY + WHAT)}")
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"[reasons.labels] {name}: the label must be non-empty text")
    values["labels"] = dict(labels)
    values.update(_scalars(raw))
    satisfied: dict[str, float] = dict(SATISFIED)
    for scale, threshold in _table(raw, "satisfied").items():
        if scale not in SCALES:
            raise ConfigError(f"[reasons.satisfied] {scale!r}: unknown scale", hint=f"one of {', '.join(SCALES)}")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ConfigError(f"[reasons.satisfied] {scale}: expected a number, got {threshold!r}")
        satisfied[scale] = float(threshold)
    values["satisfied"] = satisfied
    return ReasonSettings(**values)


def _scalars(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "min_confidence" in raw:
        v = raw["min_confidence"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1:
            raise ConfigError(f"[reasons] min_confidence: expected a number between 0 and 1, got {v!r}")
        out["min_confidence"] = float(v)
    if "max_chars" in raw:
        v = raw["max_chars"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 10:
            raise ConfigError(f"[reasons] max_chars: expected a whole number >= 10, got {v!r}")
        out["max_chars"] = v
    if "learn" in raw:
        if not isinstance(raw["learn"], bool):
            raise ConfigError(f"[reasons] learn: expected true or false, got {raw['learn']!r}")
        out["learn"] = raw["learn"]
    if "period" in raw:
        if raw["period"] not in PERIODS:
            raise ConfigError(f"[reasons] period: expected one of {', '.join(PERIODS)}, got {raw['period']!r}")
        out["period"] = raw["period"]
    if "trim" in raw:
        v = raw["trim"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 0.5:
            raise ConfigError(f"[reasons] trim: expected a fraction in [0, 0.5), got {v!r}")
        out["trim"] = float(v)
    return out


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[reasons] {key}: expected a table ([reasons.{key}]), got {value!r}")
    return value


def _cell(key: str, cell: Any, *, allow_any: bool) -> tuple[str, str]:
    """'why/what' -> (why, what), validated against the taxonomy."""
    parts = cell.split("/") if isinstance(cell, str) else []
    whys = WHY + ((ANY,) if allow_any else ())
    whats = WHAT + ((ANY,) if allow_any else ())
    if len(parts) != 2 or parts[0] not in whys or parts[1] not in whats or parts == [ANY, ANY]:
        raise ConfigError(
            f"{key} = {cell!r}: expected \"why/what\"",
            hint=f"why is one of {', '.join(whys)}; what is one of {', '.join(whats)}",
        )
    return parts[0], parts[1]


def _keyword_pattern(word: str) -> str:
    # Whole words, case-folded, any run of spaces between the words of a phrase.
    parts = [re.escape(p) for p in word.strip().lower().split()]
    return r"\b" + r"\s+".join(parts) + r"\b"


def _check_regex(key: str, pattern: str) -> None:
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()
        raise ConfigError(
            f"{key}: {pattern!r} is not a valid regular expression ({' '.join(first[:3])})",
            hint="Rust regex syntax: no look-ahead/look-behind or back-references",
        ) from None
