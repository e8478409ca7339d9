"""Next best action: a playbook from a customer's likely reason (or, without one, the family of the factor that
raises their risk most) to what to do. Defaults below; `[actions]` in churnwhy.toml changes or adds rules.

Rules are looked up most specific first: the reason cell `why/what`, then `why` alone, then `what` alone, then
`family:<family>` of the top risk factor, then `default`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from churnwhy.errors import ConfigError
from churnwhy.models.drivers_families import WHATS
from churnwhy.results.risk import NO_CALL

WHY_LABELS = ("brand_failed", "better_offer", "circumstance", "unknown")
WHAT_LABELS = (*WHATS, "unknown")

DEFAULT_PLAYBOOK: Mapping[str, str] = {
    "brand_failed/experience": "service recovery contact",
    "brand_failed/product": "fix the product problem and follow up",
    "brand_failed/price": "billing review and goodwill credit",
    "brand_failed": "service recovery contact",
    "better_offer/price": "retention or price-match offer",
    "better_offer/product": "upgrade offer or product feedback call",
    "better_offer/experience": "priority service offer",
    "better_offer": "retention offer",
    "circumstance": "offer a pause or a downgrade",
    "family:experience": "service recovery contact",
    "family:price": "retention or price-match offer",
    "family:product": "re-engagement: usage nudge or onboarding",
    "family:other": "account review",
    "default": "monitor: no clear lever",
}


def playbook(raw: Any) -> dict[str, str]:
    """The default playbook overlaid with `[actions]` (validated: a bad key or value is a ConfigError, exit 2)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("[actions] must be a table of rule = \"action\"", hint='e.g. [actions]\n"better_offer/price" = "price-match offer"')
    out = dict(DEFAULT_PLAYBOOK)
    for key, value in raw.items():
        if not _valid_key(str(key)):
            raise ConfigError(
                f"[actions] {key!r} is not a rule",
                hint=f"use why/what (e.g. better_offer/price), a why ({', '.join(WHY_LABELS)}), a what ({', '.join(WHAT_LABELS)}), "
                f"family:<{'|'.join(WHATS)}> or default",
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"[actions] {key} must be a non-empty text (the action), got {value!r}")
        out[str(key)] = value.strip()
    return out


def _valid_key(key: str) -> bool:
    if key == "default":
        return True
    if key.startswith("family:"):
        return key[len("family:"):] in WHATS
    if "/" in key:
        why, _, what = key.partition("/")
        return why in WHY_LABELS and what in WHAT_LABELS
    return key in WHY_LABELS or key in WHAT_LABELS


def assign(why: pl.Series, what: pl.Series, family: pl.Series, rules: Mapping[str, str]) -> pl.Series:
    """The action for each customer, by the lookup order in the module docstring ("no call" never matches)."""
    def look(keys: pl.Series) -> pl.Series:
        return keys.replace_strict(dict(rules), default=None, return_dtype=pl.String)

    call_why = why.cast(pl.String).replace(NO_CALL, None)
    call_what = what.cast(pl.String).replace(NO_CALL, None)
    candidates = [
        look(call_why + "/" + call_what), look(call_why), look(call_what),
        look("family:" + family.cast(pl.String)),
    ]
    out = pl.select(pl.coalesce([c.alias(f"c{i}") for i, c in enumerate(candidates)] + [pl.lit(rules["default"])])).to_series()
    return out.alias("action")


def applied_rules(rules: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(rule, action) sorted by rule, for the report."""
    return tuple(sorted(rules.items()))

