"""Belief vs evidence: what the business thinks about why customers leave, beside what the data measures.

`[beliefs]` in churnwhy.toml states shares per reason (`price = 0.5`, `brand_failed = "30%"`, or with the axis
`"why.unknown" = 0.1`) and comparisons (`compare = ["brand_failed > better_offer"]`). Each share is set beside
the measured headline share and its 95% interval: consistent (inside it), overstated (above), understated
(below). A comparison is consistent when the measured difference's 95% interval lies on its side of zero,
contradicted when it lies on the other, undecided otherwise (the two shares' intervals combined as independent,
which is conservative: shares of one mix move in opposite directions).

Without beliefs, the measured mix is set beside the published switching-study benchmark (an external figure,
labelled so): about 30% leave because the brand failed them, 59% because another brand offered something
better, and price is the subject for about 20%.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from churnwhy.errors import ConfigError
from churnwhy.models.actions import WHAT_LABELS, WHY_LABELS
from churnwhy.results.risk import BeliefCheck, BeliefsResult

Z95 = 1.959963984540054
BENCHMARK: tuple[tuple[str, str, float], ...] = (("why", "brand_failed", 0.30), ("why", "better_offer", 0.59), ("what", "price", 0.20))
BENCHMARK_NOTE = ("external benchmark, not your data: published switching studies find about 30% of customers leave because "
                  "the brand failed them, 59% because another brand offered something better, and price is the subject for "
                  "about 20%. State your own in [beliefs] of churnwhy.toml")
_COMPARE = re.compile(r"^\s*([a-z_.]+)\s*([<>])\s*([a-z_.]+)\s*$")


def parse_beliefs(raw: Any) -> tuple[list[tuple[str, str, float]], list[tuple[tuple[str, str], str, tuple[str, str]]]]:
    """([(axis, label, share)], [((axis, label), op, (axis, label))]) from [beliefs]; ConfigError (exit 2) on anything else."""
    if raw is None:
        return [], []
    if not isinstance(raw, Mapping):
        raise ConfigError("[beliefs] must be a table", hint='e.g. [beliefs]\nprice = 0.5\ncompare = ["brand_failed > better_offer"]')
    shares, comparisons = [], []
    for key, value in raw.items():
        if key == "compare":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise ConfigError(f"[beliefs] compare must be a list of texts like \"brand_failed > better_offer\", got {value!r}")
            for text in items:
                m = _COMPARE.match(text)
                if not m:
                    raise ConfigError(f"[beliefs] compare {text!r} is not a comparison", hint='write it as "brand_failed > better_offer"')
                comparisons.append((_label(m.group(1), text), m.group(2), _label(m.group(3), text)))
            continue
        axis, label = _label(str(key), str(key))
        shares.append((axis, label, _share(value, str(key))))
    return shares, comparisons


def _label(text: str, where: str) -> tuple[str, str]:
    axis, _, label = text.rpartition(".")
    if axis and axis not in ("why", "what"):
        raise ConfigError(f"[beliefs] {where!r}: the axis must be why or what, got {axis!r}")
    in_why, in_what = label in WHY_LABELS, label in WHAT_LABELS
    if axis:
        if label not in (WHY_LABELS if axis == "why" else WHAT_LABELS):
            raise ConfigError(f"[beliefs] {where!r}: {label!r} is not a {axis} reason")
        return axis, label
    if in_why and in_what:
        raise ConfigError(f"[beliefs] {where!r}: {label!r} is on both axes", hint=f"write why.{label} or what.{label}")
    if not (in_why or in_what):
        raise ConfigError(f"[beliefs] {where!r} is not a reason",
                          hint=f"why reasons: {', '.join(WHY_LABELS)}; what reasons: {', '.join(WHAT_LABELS)}; or compare = [...]")
    return ("why" if in_why else "what"), label


def _share(value: Any, key: str) -> float:
    try:
        if isinstance(value, str):
            v = float(value.strip().rstrip("%")) / (100 if value.strip().endswith("%") else 1)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError
        else:
            v = float(value)
    except ValueError:
        raise ConfigError(f"[beliefs] {key} must be a share like 0.3 or \"30%\", got {value!r}") from None
    if not 0 <= v <= 1:
        raise ConfigError(f"[beliefs] {key} must be between 0 and 1 (or 0% and 100%), got {value!r}")
    return v


def evaluate(raw: Any, measured: Mapping[str, Sequence[Mapping[str, Any]]]) -> BeliefsResult:
    """Beliefs (or the benchmark) against `measured` = {axis: [{category, share, ci_low, ci_high}]} (the headline mix)."""
    shares, comparisons = parse_beliefs(raw)
    benchmark = not shares and not comparisons
    if benchmark:
        shares = list(BENCHMARK)
    lookup = {(axis, r["category"]): r for axis, rows in measured.items() for r in rows}
    checks = []
    for axis, label, believed in shares:
        m = lookup.get((axis, label))
        statement = f"{label} = {believed:.0%}" + (" (benchmark)" if benchmark else "")
        if m is None or m.get("share") is None:
            checks.append(BeliefCheck(statement, axis, label, believed, None, None, None, "not measured"))
            continue
        lo, hi = m["ci_low"], m["ci_high"]
        verdict = "overstated" if believed > hi else "understated" if believed < lo else "consistent"
        checks.append(BeliefCheck(statement, axis, label, believed, m["share"], lo, hi, verdict))
    for a, op, b in comparisons:
        statement = f"{a[1]} {op} {b[1]}"
        ma, mb = lookup.get(a), lookup.get(b)
        if ma is None or mb is None or ma.get("share") is None or mb.get("share") is None:
            checks.append(BeliefCheck(statement, "compare", f"{a[1]}-{b[1]}", None, None, None, None, "not measured"))
            continue
        diff = ma["share"] - mb["share"]
        se = math.hypot(*(_se(m) for m in (ma, mb)))
        lo, hi = diff - Z95 * se, diff + Z95 * se
        sign = 1 if op == ">" else -1
        verdict = "consistent" if sign * lo > 0 and sign * hi > 0 else "contradicted" if sign * lo < 0 and sign * hi < 0 else "undecided"
        checks.append(BeliefCheck(statement, "compare", f"{a[1]}-{b[1]}", None, diff, lo, hi, verdict))
    note = BENCHMARK_NOTE if benchmark else "your [beliefs] against the measured headline mix of why they left (95% CIs)"
    if not measured or not any(measured.values()):
        return BeliefsResult(source="external_benchmark" if benchmark else "beliefs", checks=tuple(checks), note=note,
                             skipped="no measured reason mix to compare with")
    return BeliefsResult(source="external_benchmark" if benchmark else "beliefs", checks=tuple(checks), note=note)


def _se(m: Mapping[str, Any]) -> float:
    lo, hi = m.get("ci_low"), m.get("ci_high")
    return 0.0 if lo is None or hi is None else (hi - lo) / (2 * Z95)
