"""Acceptance on `churnwhy demo` data with planted truth: hazard ratios, attributable churn, silent reasons.

The demo's generating process (docs/demo-model.md) plants hazard ratios on the table's rate features and
states the true share of 365-day churn attributable to each family (by re-simulating without it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churnwhy.config import Config
from churnwhy.demo import generate
from churnwhy.models.drivers import fit_drivers
from churnwhy.pipeline import load_table

pytestmark = pytest.mark.slow


def _config(truth: dict, **drivers) -> Config:
    """The demo's own family assignment (its 'none' family is churnwhy's 'other'); recency and trend left out,
    since the generator plants no effect on them and inactivity churn is partly defined by them."""
    families = {t: ("other" if fam == "none" else fam) for fam, types in truth["driver_families"].items() for t in types}
    return Config(drivers={"families": families, "exclude": ["days_since_last_event", "activity_change"], **drivers})


def _demo(tmp: Path, customers: int, seed: int) -> tuple[Path, dict]:
    out = tmp / f"demo_{customers}_{seed}"
    truth = generate(out, customers=customers, seed=seed, format="parquet", messy=False)
    return out, json.loads((out / "truth.json").read_text())


def test_planted_hazard_ratios_inside_ci_in_4_of_5_seeds(tmp_path):
    hits: dict[str, int] = {}
    null_covered = 0
    for seed in range(1, 6):
        path, truth = _demo(tmp_path, 20_000, seed)
        cfg = _config(truth)
        result = fit_drivers(load_table(path, cfg).table, cfg)
        assert result.skipped is None, result.skipped
        effects = {e.feature: e for e in result.effects}
        for name, planted in truth["hazard_ratios"].items():
            e = effects.get(planted["feature"])
            if e is None:
                continue
            inside = e.ci_low <= planted["hr"] <= e.ci_high
            hits[name] = hits.get(name, 0) + inside
        nl = effects["rate_newsletter_open"]
        null_covered += nl.ci_low <= 1.0 <= nl.ci_high
    misses = {k: v for k, v in hits.items() if v < 4}
    assert not misses, f"planted HR outside its 95% CI in more than 1 of 5 seeds: {misses} (hits {hits})"
    assert null_covered >= 4, f"no-effect feature's CI covered 1 in only {null_covered} of 5 seeds"


def test_attributable_family_shares_within_5_points_at_50k(tmp_path):
    path, truth = _demo(tmp_path, 50_000, 21)
    cfg = _config(truth, counterfactual="zero")
    result = fit_drivers(load_table(path, cfg).table, cfg)
    got = {a.family: a.share for a in result.attribution}
    want = {("other" if f == "none" else f): v for f, v in truth["attributable_365"]["families"].items()}
    report = {f: (round(got.get(f, float("nan")), 3), w) for f, w in want.items()}
    for family, expected in want.items():
        assert abs(got.get(family, 0.0) - expected) <= 0.05, f"{family}: got vs truth {report}"
