"""Reason shares that own their uncertainty (issue #15 items 4-5): the unknown row, the misclassification-
corrected mix and its bootstrap intervals, and `diff` with a Holm correction.

The simulations are written from the issue's text, independent of `churnwhy demo`: true shares, a response
model (who states a reason depends on the reason), and a classifier with a known confusion applied to the
true labels of everyone (its confusion is measured, as cross-validation does, on the churners who stated).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from churnwhy.checks import diff_reports, headline_caption, headline_shares, holm, Change
from churnwhy.config import Config
from churnwhy.models.reason_correction import confusion, corrected_mix, invert
from churnwhy.models.reason_shares import fit_reasons
from churnwhy.models.reasons import attach_stated_reasons
from churnwhy.results.contract import named
from churnwhy.table import CustomerTable

WHY = ("brand_failed", "better_offer", "circumstance")
TRUE = np.array([0.45, 0.35, 0.20])
RESPONSE = np.array([0.40, 0.15, 0.25])  # failures are told more often than switches
CONFUSION = np.array([[0.80, 0.12, 0.08],  # P(predicted j | true i): ~75% accurate, better_offer the worst
                      [0.25, 0.65, 0.10],
                      [0.15, 0.15, 0.70]])
UNREADABLE = 0.05  # stated answers that cannot be read: the `unknown` row


def _sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Known counts (3 classes + unknown), classified counts of the silent, validation confusion counts."""
    y = rng.choice(3, n, p=TRUE)
    stated = rng.random(n) < RESPONSE[y]
    pred = (CONFUSION[y].cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    unreadable = stated & (rng.random(n) < UNREADABLE)
    readable = stated & ~unreadable
    known = np.append(np.bincount(y[readable], minlength=3), unreadable.sum()).astype(float)
    # Unreadable answers count as unknown; the silent churners get the classifier's label.
    classified = np.bincount(pred[~stated], minlength=3).astype(float)
    return known, classified, confusion(y[readable], pred[readable], 3)


def test_inversion_recovers_the_truth_from_exact_inputs():
    counts = CONFUSION * 1e6  # an (almost) exactly known confusion
    p_obs = TRUE @ CONFUSION
    assert invert(p_obs, counts) == pytest.approx(TRUE, abs=1e-4)


@pytest.mark.slow
def test_corrected_intervals_cover_the_true_shares_in_every_cell():
    """30 seeds; each cell's 95% interval must cover the true share (of the whole population, unknown rows
    aside) at least 90% of the time. The uncorrected mix (predictions taken at face value, normal intervals)
    is checked to fail the same standard, so the test can tell the two apart."""
    seeds = range(30)
    hits = np.zeros(3)
    naive_hits = np.zeros(3)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        n = 3_000
        known, classified, validation = _sample(rng, n)
        mix = corrected_mix((*WHY, "unknown"), known, classified, validation, n_boot=500, seed=seed)
        # Truth of the mix: every churner (unreadable answers are an `unknown` ~ UNREADABLE * stated share).
        readable_share = 1 - mix.share[3]
        truth = TRUE * readable_share
        hits += (mix.lo[:3] <= truth) & (truth <= mix.hi[:3])
        naive = (known[:3] + classified) / n
        se = np.sqrt(naive * (1 - naive) / n)
        naive_hits += (naive - 1.96 * se <= truth) & (truth <= naive + 1.96 * se)
    coverage = hits / len(seeds)
    print(f"\ncorrected coverage {coverage.round(3)}, uncorrected {(naive_hits / len(seeds)).round(3)}")
    assert (coverage >= 0.90).all(), coverage
    assert (naive_hits / len(seeds)).min() < 0.5


def _doc(mix_why, mix_what, n: int) -> dict:
    rows = [{"dimension": axis, "label": lab, "share": float(m.share[i]), "ci_low": float(m.lo[i]),
             "ci_high": float(m.hi[i])} for axis, m in (("why", mix_why), ("what", mix_what)) for i, lab in enumerate(m.labels)]
    return {"schema_version": "1", "summary": {"customers": 4 * n, "churned": n, "churn_rate": 0.25, "retention": {}},
            "reasons": {"status": "ok", "inferred": {"status": "ok", "mix": rows,
                                                     "models": [{"dimension": "why", "inferred": True},
                                                                {"dimension": "what", "inferred": True}]}}}


@pytest.mark.slow
def test_diff_of_two_samples_of_one_generator_flags_at_most_5_percent_of_shares():
    what_true = np.array([0.4, 0.3, 0.2, 0.1])
    what_conf = np.full((4, 4), 0.1) + np.eye(4) * 0.6
    flagged = total = 0
    for seed in range(20):
        docs = []
        for half in range(2):
            rng = np.random.default_rng(1000 * seed + half)
            n = 2_000
            known, classified, validation = _sample(rng, n)
            why = corrected_mix((*WHY, "unknown"), known, classified, validation, n_boot=400, seed=seed)
            y = rng.choice(4, n, p=what_true)
            stated = rng.random(n) < 0.3
            pred = (what_conf[y].cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
            what = corrected_mix(("product", "experience", "price", "other", "unknown"),
                                 np.append(np.bincount(y[stated], minlength=4), 0), np.bincount(pred[~stated], minlength=4),
                                 confusion(y[stated], pred[stated], 4), n_boot=400, seed=seed)
            docs.append(_doc(why, what, n))
        shares = [c for c in diff_reports(*docs) if c.metric.startswith("share_") and c.significant is not None]
        flagged += sum(c.significant for c in shares)
        total += len(shares)
    print(f"\n{flagged} of {total} shares flagged")
    assert flagged <= 0.05 * total


def test_holm_matches_r():
    """R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.03 0.06 0.06 0.02."""
    changes = [Change(f"m{i}", 0.0, 0.0, 0.0, p, p < 0.05) for i, p in enumerate((0.01, 0.04, 0.03, 0.005))]
    out = holm(changes, 0.05)
    assert [c.p_value for c in out] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [c.significant for c in out] == [True, False, False, True]


def _table(texts: list[str | None]) -> CustomerTable:
    n = len(texts)
    frame = pl.DataFrame({
        "customer_id": [str(i) for i in range(n)], "churned": [True] * n, "reason_text": texts,
        "end_date": [dt.date(2024, 6, 1)] * n, "tenure_days": [100] * n,
    })
    return CustomerTable(frame, dt.date(2024, 12, 31))


def test_every_mix_has_an_unknown_row_and_says_what_it_left_out():
    texts = ["too expensive"] * 6 + ["delivery was late"] * 5 + ["switched to a rival"] * 4 + ["asdfgh qwerty"] * 3 + [None] * 2
    table, fit = attach_stated_reasons(_table(texts), Config(reasons={"learn": False}))
    result = fit_reasons(table, fit.summary, Config())
    overall = [s for s in result.shares if s.by == "all" and s.basis == "count"]
    # "switched to a rival" says why but not what: unknown on what only.
    for axis, unknown in (("why", 3), ("what", 7)):
        rows = {s.category: s for s in overall if s.axis == axis}
        assert rows["unknown"].among == "all" and rows["unknown"].n == unknown
        assert rows["unknown"].share == pytest.approx(unknown / 18)
        known = [s for s in rows.values() if s.category != "unknown"]
        assert all(s.among == "known" and s.left_out == unknown and s.total == 18 - unknown for s in known)
        assert sum(s.share for s in known) == pytest.approx(1.0)
    nr = {(r.axis, r.category): r for r in result.nonresponse.rows}
    assert nr[("why", "unknown")].naive == pytest.approx(3 / 18) and nr[("why", "unknown")].among == "all"
    assert nr[("why", "brand_failed")].left_out == 3
    doc = named({"reasons": {"status": "ok", **result.to_dict()}})
    assert any(s["category"] == "unknown" for s in headline_shares(doc, "why"))
    assert "3 answers unknown on why left out" in headline_caption(doc)


def test_overall_shares_correct_for_the_learned_layer_where_it_read_answers():
    texts = (["way too expensive honestly mate"] * 4 + ["too expensive honestly"] * 4 + ["price went up again honestly"] * 4
             + ["the price is too high mate"] * 4 + ["delivery was late again mate"] * 4 + ["parcel never arrived honestly"] * 4
             + ["courier lost my parcel mate"] * 4 + ["rude support staff honestly"] * 4
             + ["honestly mate"] * 5 + ["mate honestly again"] * 4)
    table, fit = attach_stated_reasons(_table(texts), Config())
    assert fit.summary.by_method["model"] == 9 and fit.summary.cv_confusion
    result = fit_reasons(table, fit.summary, Config())
    what = [s for s in result.shares if s.axis == "what" and s.by == "all" and s.basis == "count" and s.among == "known"]
    assert what and all(s.corrected for s in what)
    assert sum(s.share for s in what) == pytest.approx(1.0)
    # The interval owns the learned layer's errors: wider than the sampling-only Wilson interval.
    from churnwhy.models.reason_shares import wilson
    for s in what:
        lo, hi = wilson(s.n, s.total)
        assert s.hi - s.lo > float(hi - lo) * 0.99, s
    plain = [s for s in result.shares if s.axis == "what" and s.by != "all"]
    assert not any(s.corrected for s in plain)
