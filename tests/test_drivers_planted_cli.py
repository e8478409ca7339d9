"""Issue 16's acceptance, on its own generator (tests/planted_exports.py) through the whole CLI: messy CSV exports
-> `churnwhy drivers PATH --format json` -> planted hazard ratios inside their intervals, nulls covering 1,
attributable shares within 5 points of the planted ones.

Seeds alternate the two shapes of export (events only; contract + charges + events), 40 seeds in all (20 per
shape), 3,000 customers each: a coverage rate read off 20 seeds moves by about 7 points, and the behaviour
drivers' rates here pool both shapes. `pytest -s` prints what is measured; docs/drivers.md gives the table over
another 40 seeds per shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from planted_exports import AS_OF, CONTRACT_HR, NULLS, PLANTED, Truth, generate
from typer.testing import CliRunner

from churnwhy.cli import app

pytestmark = pytest.mark.slow
SEEDS = range(40)
N = 3000


def run_seed(folder: Path, seed: int, *, attributes: bool, n: int = N) -> tuple[dict, Truth]:
    """One seed through the CLI: the drivers JSON and the planted truth."""
    truth = generate(folder, n=n, seed=seed, attributes=attributes)
    res = CliRunner().invoke(app, ["drivers", str(folder), "--format", "json", "--as-of", AS_OF.isoformat(), "-q"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["drivers"], truth


def coverage(results: Iterable[tuple[dict, Truth]]) -> tuple[dict[str, list[bool]], dict[str, list[float]]]:
    """Per driver, whether each seed's 95% interval held the truth; per family, share minus planted share."""
    hit: dict[str, list[bool]] = {}
    err: dict[str, list[float]] = {}
    for drivers, truth in results:
        eff = {e["feature"]: e for e in drivers["effects"]}
        want = PLANTED | dict.fromkeys(NULLS, 1.0) | (CONTRACT_HR if any(f in eff for f in CONTRACT_HR) else {})
        for name, hr in want.items():
            e = eff[name]
            hit.setdefault(name, []).append(e["estimable"] and e["ci_low"] <= hr <= e["ci_high"])
        shares = {a["family"]: a["share"] for a in drivers["attribution"]}
        for family, planted in truth.shares.items():
            err.setdefault(family, []).append(shares[family] - planted)
    return hit, err


def test_planted_effects_and_shares_through_the_cli(tmp_path):
    results = [run_seed(tmp_path / f"s{seed}", seed, attributes=seed % 2 == 1) for seed in SEEDS]
    for drivers, _ in results:
        assert drivers["model"] == "counting_process" and drivers["skipped"] is None
        names = {e["feature"] for e in drivers["effects"]}
        assert not names & {"days_since_last_event", "activity_change", "amount_window"}
        assert not any(n.endswith("_missing") for n in names)
    hit, err = coverage(results)
    rates = {k: float(np.mean(v)) for k, v in hit.items()}
    bias = {f: float(np.mean(v)) for f, v in err.items()}
    mean_abs = {f: float(np.mean(np.abs(v))) for f, v in err.items()}
    within = {f: float(np.mean(np.abs(v) <= 0.05)) for f, v in err.items()}
    print("\ncoverage:", {k: round(v, 3) for k, v in rates.items()})
    print("share error: mean", bias, "mean |error|", mean_abs, "share of seeds within 5 points", within)
    for name, rate in rates.items():
        # Issue 16's targets: 85% for a planted hazard ratio, 90% for a null. Measured on these seeds
        # (docs/drivers.md): every planted interval 90-95%, nulls 90-95%; the logins' was 82.5% before the
        # hazard given the past (drivers_induced).
        want = 0.90 if name in NULLS else 0.85
        assert rate >= want, f"{name}: interval held the truth in {rate:.0%} of its seeds ({rates})"
    for family, errors in err.items():
        # "Attributable shares within 5 points": on average (|mean| and mean |error|). Single seeds of 3,000
        # customers miss by more now and then: the share's own 95% interval is about +-6 to +-9 points.
        assert abs(bias[family]) <= 0.025 and mean_abs[family] <= 0.05, f"{family}: errors {np.round(errors, 3)}"
