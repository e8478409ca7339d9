"""Stated reasons: the classifier on hand-written phrases, bad input, codes and config, shares and their CIs,
the non-response correction, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.config import Config
from churnwhy.errors import ConfigError
from churnwhy.models.reason_shares import fit_reasons, wilson
from churnwhy.models.reasons import attach_stated_reasons, classify, classify_report
from churnwhy.table import CustomerTable

PHRASES = Path(__file__).parent / "data" / "reason_phrases.csv"


def test_phrase_file_is_big_enough_and_hand_written():
    phrases = pl.read_csv(PHRASES)
    assert phrases.height >= 80
    assert phrases["text"].n_unique() == phrases.height


def test_rules_and_model_get_90_percent_of_real_phrases_fully_right():
    """Exit-survey phrases written by hand (typos, negation, competitor names, mixed reasons, one word)."""
    phrases = pl.read_csv(PHRASES)
    got = classify(phrases["text"].to_list())
    right = (got["why"] == phrases["why"]) & (got["what"] == phrases["what"])
    wrong = phrases.with_columns(got_why=got["why"], got_what=got["what"]).filter(~right)
    print("\n" + "\n".join(f"MISS {t!r}: want {w}/{x}, got {gw}/{gx}" for t, w, x, gw, gx in wrong.iter_rows()))
    assert right.mean() >= 0.90, f"{right.mean():.1%} fully right; misses listed above"


@pytest.mark.parametrize("text", ["", "   ", "12345", "🙂🙂", "¿Por qué? Porque sí, adiós", "n/a"])
def test_bad_free_text_is_unknown_and_counted(text):
    fit = classify_report([text, "the driver never showed up"])
    assert fit.labels["why"][0] == "unknown" and fit.labels["what"][0] == "unknown"
    assert fit.labels["why"][1] == "brand_failed"
    assert sum(fit.summary.by_input.values()) == 2


def test_very_long_text_is_truncated_not_crashing():
    fit = classify_report(["too expensive " * 20_000])
    assert fit.labels["what"][0] == "price"
    assert fit.summary.n_truncated == 1


def test_negation_and_mixed_reasons():
    got = classify(["not because of the price, the app kept crashing", "too expensive and the app kept crashing"])
    assert got["why"].to_list() == ["brand_failed", "brand_failed"]
    assert got["what"][0] != "price"


def test_unmapped_codes_warn_with_the_config_line():
    fit = classify_report([None, None, None], codes=["WEIRD_CODE", "WEIRD_CODE", "TOO_EXPENSIVE"])
    (warning,) = fit.warnings
    assert "WEIRD_CODE" in warning and "2 customers" in warning and "[reasons.codes]" in warning
    assert fit.labels["what"][2] == "price"


def test_config_maps_a_code_to_a_cell():
    cfg = Config(reasons={"codes": {"WEIRD_CODE": "better_offer/product"}})
    got = classify([None], codes=["weird code"], config=cfg)
    assert (got["why"][0], got["what"][0]) == ("better_offer", "product")
    with pytest.raises(ConfigError, match="WEIRD"):
        classify([None], codes=["x"], config=Config(reasons={"codes": {"WEIRD": "nonsense/cell"}}))


def test_wilson_matches_reference_values():
    """R: prop.test(10, 50, correct = FALSE)$conf.int -> 0.1124375 0.3303711 (the Wilson score interval);
    prop.test(0, 20, correct = FALSE)$conf.int -> 0.0000000 0.1611252."""
    lo, hi = wilson(10, 50)
    assert (float(lo), float(hi)) == pytest.approx((0.1124375, 0.3303711), abs=1e-7)
    lo, hi = wilson(0, 20)
    assert (float(lo), float(hi)) == pytest.approx((0.0, 0.1611252), abs=1e-7)


@pytest.mark.slow
def test_wilson_intervals_cover_95_percent():
    rng = np.random.default_rng(0)
    p, n, draws = 0.3, 150, 4000
    k = rng.binomial(n, p, size=draws)
    lo, hi = wilson(k, np.full(draws, n))
    coverage = float(((lo <= p) & (p <= hi)).mean())
    assert 0.935 <= coverage <= 0.965, coverage


def _table(n: int, seed: int) -> tuple[CustomerTable, dict[str, float]]:
    """Churners whose failures point at brand_failed and make them answer more often (missing at random)."""
    rng = np.random.default_rng(seed)
    failures = rng.gamma(1.0, 1.0, n)
    p_failed = 1 / (1 + np.exp(-(-1.0 + 1.2 * (failures - 1))))
    brand_failed = rng.random(n) < p_failed
    answered = rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 1.5 * (failures - 1))))
    text = np.where(brand_failed, "the delivery never arrived", "found a cheaper deal with a competitor")
    frame = pl.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "churned": [True] * n,
        "end_date": [dt.date(2024, 1 + i % 12, 1) for i in range(n)],
        "reason_text": pl.Series(np.where(answered, text, None), dtype=pl.String),
        "reason_code": pl.Series([None] * n, dtype=pl.String), "competitor": pl.Series([None] * n, dtype=pl.String),
        "last_score": pl.Series([None] * n, dtype=pl.Float64), "score_scale": ["nps"] * n,
        "amount_total": rng.gamma(2.0, 50.0, n), "rate_delivery_failed": failures,
    })
    truth = {"brand_failed": float(brand_failed.mean()), "better_offer": float(1 - brand_failed.mean())}
    return CustomerTable(frame, dt.date(2025, 1, 1), (), ("delivery_failed",)), truth


def test_reweighting_moves_shares_towards_the_truth():
    table, truth = _table(6000, 1)
    table, fit = attach_stated_reasons(table, Config())
    result = fit_reasons(table, fit.summary, Config())
    rows = {r.category: r for r in result.nonresponse.rows if r.axis == "why"}
    naive_err = abs(rows["brand_failed"].naive - truth["brand_failed"])
    rew_err = abs(rows["brand_failed"].reweighted - truth["brand_failed"])
    assert naive_err > 0.08  # the respondents really are biased
    assert rew_err < naive_err / 2 and rew_err < 0.03
    assert rows["brand_failed"].lo <= truth["brand_failed"] <= rows["brand_failed"].hi
    assert 0 < result.nonresponse.response_rate < 1


def test_shares_by_period_and_value(tmp_path):
    table, _ = _table(800, 2)
    table, fit = attach_stated_reasons(table, Config())
    result = fit_reasons(table, fit.summary, Config(), period="quarter")
    periods = {s.group for s in result.shares if s.by == "period"}
    assert periods == {"2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"}
    for basis in ("count", "value"):
        overall = [s for s in result.shares if s.by == "all" and s.axis == "why" and s.basis == basis]
        assert sum(s.share for s in overall) == pytest.approx(1.0)
        assert all(s.lo <= s.share <= s.hi for s in overall)


def test_reasons_cli_json(tmp_path):
    from churnwhy.demo import generate

    generate(tmp_path / "x", customers=600, seed=2, format="csv", messy=False)
    result = CliRunner().invoke(app, ["reasons", str(tmp_path / "x"), "--format", "json", "--by", "plan"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["n_churned"] > 0 and {s["by"] for s in doc["shares"]} >= {"all", "plan", "period"}
    bad = CliRunner().invoke(app, ["reasons", str(tmp_path / "x"), "--by", "nope"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
