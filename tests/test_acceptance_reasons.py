"""Acceptance on `churnwhy demo` data over 10 seeds (issue #15 item 7: no pinned seed): the reweighted reason
mix recovers the planted truth better than a naive read of the surveys (whose respondents over-represent
customers who lived through failures), and reasons inferred for the silent beat the majority class.

Each claim must hold for at least 9 of the 10 seeds (20,000 customers each); the tolerance is 4 points.
On the demo that churns from day 0 (issue 16) the why axis first held at 7 of 10 seeds (worst 4.8 points):
the non-response weights were clipped at their 1st/99th percentiles, which took 2-6% of the weight mass from
the respondents who stood for the under-represented switchers. With no clipping (the default since issue
#15's second pass; docs/reasons.md) the worst reweighted error over seeds 0-9 is 0.8-3.0 points on why and
1.5-3.4 on what, and reweighted beats naive by a wide margin at every seed.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from churnwhy.config import Config
from churnwhy.demo import generate
from churnwhy.models.reason_shares import fit_reasons
from churnwhy.models.reasons import attach_stated_reasons
from churnwhy.models.silent import infer_silent_reasons
from churnwhy.pipeline import load_table

pytestmark = pytest.mark.slow

SEEDS = range(10)
MIN_SEEDS = 9
TOLERANCE = 0.04


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = []
    for seed in SEEDS:
        folder = tmp_path_factory.mktemp(f"reasons{seed}") / "demo"
        truth = generate(folder, customers=20_000, seed=seed, format="parquet", messy=False)
        cfg = Config()
        table, fit = attach_stated_reasons(load_table(folder, cfg).table, cfg)
        true = json.loads((folder / "truth.json").read_text())["reasons"]["true"]
        rows = fit_reasons(table, fit.summary, cfg).nonresponse.rows
        errors = {}
        for axis in ("why", "what"):
            mine = [r for r in rows if r.axis == axis and r.category in true[axis]]
            errors[axis] = (
                sum(abs(r.naive - true[axis][r.category]) for r in mine),
                sum(abs(r.reweighted - true[axis][r.category]) for r in mine),
                max(abs(r.reweighted - true[axis][r.category]) for r in mine),
            )
        table, silent = infer_silent_reasons(table, cfg)
        why_model = next(m for m in silent.models if m.dimension == "why")
        inferred = table.frame.filter(pl.col("reason_source") == "inferred").join(
            truth.customers.select("customer_id", pl.col("why").alias("true_why")), on="customer_id")
        accuracy = float((inferred["why"] == inferred["true_why"]).mean()) if inferred.height else 0.0
        majority = float(inferred["true_why"].value_counts(normalize=True)["proportion"].max()) if inferred.height else 1.0
        out.append({"seed": seed, "errors": errors, "inferred": why_model.inferred, "accuracy": accuracy,
                    "majority": majority})
    return out


def test_reweighted_shares_beat_naive_and_land_near_the_truth_at_9_of_10_seeds(runs):
    for axis in ("why", "what"):
        beat = [r["seed"] for r in runs if r["errors"][axis][1] < 0.7 * r["errors"][axis][0]]
        near = [r["seed"] for r in runs if r["errors"][axis][2] <= TOLERANCE]
        worst = {r["seed"]: round(r["errors"][axis][2], 3) for r in runs}
        print(f"\n{axis}: worst reweighted error per seed {worst}")
        assert len(beat) >= MIN_SEEDS, (axis, beat)
        assert len(near) >= MIN_SEEDS, (axis, worst)


def test_inferred_reasons_beat_the_majority_class_at_9_of_10_seeds(runs):
    """Why-accuracy of reasons inferred for silent churners, against the demo's true reasons."""
    good = [r["seed"] for r in runs if r["inferred"] and r["accuracy"] >= r["majority"] + 0.15]
    print("\n" + ", ".join(f"seed {r['seed']}: {r['accuracy']:.3f} vs {r['majority']:.3f}" for r in runs))
    assert len(good) >= MIN_SEEDS, [(r["seed"], r["accuracy"], r["majority"]) for r in runs]
