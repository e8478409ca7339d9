"""Reading a fitted Cox model as driver effects: hazard ratios on each feature's unit, the ones that cannot be
estimated (separation, intervals spanning more than a factor of 1,000) and Holm-adjusted p-values."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from churnwhy.models.survival import holm_adjust
from churnwhy.results.drivers import DriverEffect

Z95 = 1.959963984540054


def separated_levels(
    x: np.ndarray, e: np.ndarray, names: Sequence[str], column_of: Mapping[str, str]
) -> dict[str, str]:
    """Attribute levels (0/1 columns) with no churner, or only churners: quasi-separation; their hazard ratio
    against the reference is 0 or infinite, so the model never sees them."""
    out: dict[str, str] = {}
    for j, f in enumerate(names):
        if f not in column_of:
            continue
        member = x[:, j] > 0.5
        events = int(e[member].sum())
        if member.any() and events == 0:
            out[f] = f"quasi-separation: none of its {int(member.sum()):,} customers churned"
        elif member.any() and events == int(member.sum()):
            out[f] = f"quasi-separation: all of its {int(member.sum()):,} customers churned"
    return out


def read_effects(
    cox: Any,  # a fitted lifelines CoxPHFitter or CoxTimeVaryingFitter (lifelines is untyped)
    names: Sequence[str],
    ph_p: Mapping[str, float],
    sd: np.ndarray,
    families: Mapping[str, tuple[str, str | None]],
    unit_of: Callable[[str], tuple[str, float]],
    ph_alpha: float,
    reference: Callable[[str], str | None],
) -> list[DriverEffect]:
    """One DriverEffect per fitted coefficient (per-SD coefficients converted to each feature's unit)."""
    beta = cox.params_.reindex(list(names)).to_numpy()
    se = cox.standard_errors_.reindex(list(names)).to_numpy()
    pval = cox.summary["p"].reindex(list(names)).to_numpy()
    cut = ph_alpha / max(len(names), 1)
    out = []
    with np.errstate(over="ignore"):
        for j, f in enumerate(names):
            unit, size = unit_of(f)
            ref = reference(f)
            if ref is not None:
                unit = f"vs {ref}"
            k = size / sd[j]
            what, why = families[f]
            php = ph_p.get(f, math.nan)
            out.append(
                DriverEffect(
                    feature=f, family=what, why_side=why, unit=unit,
                    hazard_ratio=float(np.exp(beta[j] * k)),
                    ci_low=float(np.exp((beta[j] - Z95 * se[j]) * k)),
                    ci_high=float(np.exp((beta[j] + Z95 * se[j]) * k)),
                    p_value=float(pval[j]),
                    hr_per_sd=float(np.exp(beta[j])),
                    hr_per_sd_ci_low=float(np.exp(beta[j] - Z95 * se[j])),
                    hr_per_sd_ci_high=float(np.exp(beta[j] + Z95 * se[j])),
                    sd=float(sd[j]), ph_p_value=php, ph_violated=bool(php < cut),
                    kind="attribute" if ref is not None else "behaviour", reference=ref,
                )  # fmt: skip
            )
    return out


def not_estimable(
    refused: Mapping[str, str],
    families: Mapping[str, tuple[str, str | None]],
    unit_of: Callable[[str], tuple[str, float]],
    reference: Callable[[str], str | None],
) -> list[DriverEffect]:
    """A row per refused feature: no hazard ratio, the reason instead."""
    out = []
    for f, why in refused.items():
        ref = reference(f)
        what, side = families.get(f, ("other", None))
        out.append(
            DriverEffect(
                feature=f, family=what, why_side=side, unit=f"vs {ref}" if ref else unit_of(f)[0],
                hazard_ratio=math.nan, ci_low=math.nan, ci_high=math.nan, p_value=math.nan, hr_per_sd=math.nan,
                hr_per_sd_ci_low=math.nan, hr_per_sd_ci_high=math.nan, sd=math.nan,
                kind="attribute" if ref else "behaviour", reference=ref, estimable=False, not_estimable_reason=why,
            )  # fmt: skip
        )
    return out


def holm_effects(effects: Sequence[DriverEffect]) -> tuple[DriverEffect, ...]:
    """Holm-adjusted p-values across every estimable driver (behaviour and attribute levels together), ranked:
    estimable ones by effect (hazard ratio per SD, most harmful first), then the not-estimable ones."""
    import dataclasses

    est = [e for e in effects if e.estimable and math.isfinite(e.p_value)]
    adj = holm_adjust(np.array([e.p_value for e in est], dtype=float)) if est else np.array([])
    by_name = {e.feature: float(a) for e, a in zip(est, adj, strict=True)}
    out = [dataclasses.replace(e, p_holm=by_name.get(e.feature, math.nan)) for e in effects]
    ranked = sorted((e for e in out if e.estimable), key=lambda d: (-d.hr_per_sd, d.feature))
    return tuple(ranked + sorted((e for e in out if not e.estimable), key=lambda d: d.feature))
