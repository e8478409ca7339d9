"""Reasons for the silent: a classifier from behaviour to stated reasons, with refusals when it can't do better
than guessing the commonest reason."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from churnwhy.config import Config
from churnwhy.models.silent import SilentReasonClassifier, infer_silent_reasons
from churnwhy.table import CustomerTable


def _table(n: int = 3000, *, stated_share: float = 0.4, signal: bool = True, seed: int = 0) -> tuple[CustomerTable, np.ndarray]:
    """Churners whose true why follows behaviour (failed deliveries -> brand_failed, discounts -> better_offer)."""
    rng = np.random.default_rng(seed)
    fail = rng.gamma(1.0, 1.0, n)
    disc = rng.gamma(1.0, 1.0, n)
    login = rng.gamma(2.0, 1.0, n)
    if signal:
        score = np.column_stack([1.5 * fail, 1.5 * disc, np.full(n, 1.2)])
        gumbel = rng.gumbel(size=(n, 3))
        truth = np.array(["brand_failed", "better_offer", "circumstance"], dtype=object)[(score + gumbel).argmax(axis=1)]
    else:
        truth = rng.choice(np.array(["brand_failed", "better_offer", "circumstance"], dtype=object), n, p=[0.5, 0.3, 0.2])
    what = np.where(truth == "brand_failed", "experience", np.where(truth == "better_offer", "price", "other"))
    churned = rng.uniform(size=n) < 0.7
    is_stated = churned & (rng.uniform(size=n) < stated_share)
    frame = pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "tenure_days": rng.integers(1, 700, n),
            "churned": churned,
            "rate_delivery_failed": fail,
            "rate_discount_used": disc,
            "rate_login": login,
            "why": pl.Series(np.where(is_stated, truth, None).tolist(), dtype=pl.String),
            "what": pl.Series(np.where(is_stated, what, None).tolist(), dtype=pl.String),
            "reason_source": pl.Series(np.where(is_stated, "stated", np.where(churned, "none", None)).tolist(), dtype=pl.String),
            "reason_confidence": np.where(is_stated, 1.0, np.nan),
        }
    ).with_columns(pl.col("reason_confidence").fill_nan(None))
    table = CustomerTable(frame, dt.date(2025, 1, 1), event_types=("delivery_failed", "discount_used", "login"))
    return table, truth


def test_infers_when_behaviour_predicts_the_reason() -> None:
    table, truth = _table()
    out, result = infer_silent_reasons(table, Config(seed=2))
    why_model = next(m for m in result.models if m.dimension == "why")
    assert why_model.inferred and why_model.refused is None
    assert why_model.cv_accuracy > why_model.baseline_accuracy + 0.05
    f = out.frame
    silent = (table.frame["churned"] & (table.frame["reason_source"] != "stated").fill_null(True)).to_numpy()
    assert (f["reason_source"].to_numpy()[silent] == "inferred").all()
    assert result.n_inferred == silent.sum() == result.n_silent
    conf = f["reason_confidence"].to_numpy()[silent]
    assert ((conf > 0) & (conf <= 1)).all()
    # held-out truth for the silent: better than always guessing the majority
    acc = np.mean(f["why"].to_numpy()[silent] == truth[silent])
    _, counts = np.unique(truth[silent], return_counts=True)
    assert acc > counts.max() / counts.sum() + 0.05
    # stated rows untouched; active customers untouched
    stated = (table.frame["reason_source"] == "stated").fill_null(False).to_numpy()
    assert (f["why"].to_numpy()[stated] == table.frame["why"].to_numpy()[stated]).all()
    assert f.filter(~pl.col("churned"))["reason_source"].null_count() == f.filter(~pl.col("churned")).height
    # the mix sums to one per axis and its CIs bracket the share
    for dim in ("why", "what"):
        rows = [r for r in result.mix if r.dimension == dim]
        assert sum(r.share for r in rows) == pytest.approx(1.0)
        assert all(r.ci_low <= r.share <= r.ci_high for r in rows)
    # the mix is close to the true mix among all churners
    churned = table.frame["churned"].to_numpy()
    for r in (r for r in result.mix if r.dimension == "why"):
        assert r.share == pytest.approx(np.mean(truth[churned] == r.label), abs=0.04), r
    json.dumps(result.to_dict(), allow_nan=False)
    assert result.to_frame().height == len(result.mix)


def test_refuses_with_too_few_labels() -> None:
    table, _ = _table(300, stated_share=0.1)
    out, result = infer_silent_reasons(table, Config())
    assert all(not m.inferred for m in result.models)
    assert "need 30" in result.models[0].refused
    assert out.frame.equals(table.frame)
    assert result.n_inferred == 0
    assert {r.label for r in result.mix if r.dimension == "why"} >= {"unknown"}


def test_refuses_without_signal() -> None:
    table, _ = _table(4000, signal=False, seed=3)
    _, result = infer_silent_reasons(table, Config())
    why = next(m for m in result.models if m.dimension == "why")
    assert not why.inferred and "not clearly better than always guessing 'brand_failed'" in why.refused


def test_rare_labels_left_out_and_single_label_refused() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    y = np.array(["a"] * 97 + ["b"] * 3, dtype=object)
    clf = SilentReasonClassifier().fit(x, y)
    assert clf.refused_ and "same reason" in clf.refused_
    assert "fewer than 5" in clf.notes_[0]


def test_skipped_without_reason_columns() -> None:
    table, _ = _table(200)
    bare = dataclasses.replace(table, frame=table.frame.drop("why", "what", "reason_source"))
    out, result = infer_silent_reasons(bare, Config())
    assert out is bare and "run the reasons model first" in result.skipped


def test_enum_reason_columns_keep_their_dtype() -> None:
    table, _ = _table(2000, seed=5)
    why_enum = pl.Enum(["brand_failed", "better_offer", "circumstance", "unknown"])
    frame = table.frame.with_columns(pl.col("why").cast(why_enum))
    out, result = infer_silent_reasons(dataclasses.replace(table, frame=frame), Config())
    assert out.frame.schema["why"] == why_enum
    assert result.n_inferred > 0


def test_cv_accuracy_on_a_bounded_sample_above_cv_rows() -> None:
    """Above silent_cv_rows labelled churners, CV runs on a label-stratified sample of that size (every label
    keeps at least cv_folds rows), the final fit still uses up to silent_max_rows, and the rules say so."""
    table, _ = _table(4000, stated_share=0.6)
    cfg = Config(drivers={"silent_cv_rows": 400, "silent_max_rows": 1000})
    _, result = infer_silent_reasons(table, cfg)
    assert any("cross-validation on at most 400 of them (95% precision +-4.9 points)" in r for r in result.rules)
    assert any("trained on at most 1,000 labelled churners" in r for r in result.rules)
    why = next(m for m in result.models if m.dimension == "why")
    assert why.inferred and why.cv_accuracy > why.baseline_accuracy
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 2))
    y = np.where(x[:, 0] > 0, "a", "b").astype(object)
    y[:6] = "c"  # rare but kept (>= min_per_class): must survive into the CV sample with cv_folds rows
    clf = SilentReasonClassifier(cv_rows=300, max_rows=2000).fit(x, y)
    assert 300 <= clf.cv_rows_ <= 305 and clf.cv_folds_ == 5
    assert clf.refused_ is None and clf.classes_ == ("a", "b", "c")
    small = SilentReasonClassifier(cv_rows=300).fit(x[:250], y[:250])
    assert small.cv_rows_ == 250  # below the bound: every labelled row
