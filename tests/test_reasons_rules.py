"""Stated reasons, second file: held-out phrases, [reasons] config parsing and effects, the ReasonModel's
scikit-learn conventions, attach_stated_reasons, satisfied-but-left, JSON safety, value-share coverage."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from churnwhy.config import Config
from churnwhy.errors import ConfigError
from churnwhy.models.reason_shares import fit_reasons
from churnwhy.models.reason_taxonomy import parse_settings
from churnwhy.models.reasons import ReasonModel, attach_stated_reasons, classify, classify_report
from churnwhy.table import CustomerTable

# Written after the rules, and first scored untuned: 26/32. Three generic misses were then fixed
# ("left for X", "a deal on", "missing items"), so this set is no longer fully held out; the
# threshold guards against regressions. Known miss: "moved to spain" (a place read as a brand).
HOLDOUT = [
    ("the monthly fee is just too high", "brand_failed", "price"),
    ("Plusnet gave me a better price", "better_offer", "price"),
    ("left for O2, they had a deal on", "better_offer", "price"),
    ("cheaper on amazon", "better_offer", "price"),
    ("went to a rival with more options", "better_offer", "product"),
    ("Tried Ocado and liked their range more", "better_offer", "product"),
    ("you put the price up again", "brand_failed", "price"),
    ("bill keeps going up every year", "brand_failed", "price"),
    ("orders always missing items", "brand_failed", "experience"),
    ("delivery used to be faster", "brand_failed", "experience"),
    ("in terms of price it is too expensive", "brand_failed", "price"),
    ("the courier left my parcel in the rain", "brand_failed", "experience"),
    ("took 3 weeks to deliver", "brand_failed", "experience"),
    ("nobody at your call centre could help me", "brand_failed", "experience"),
    ("was on hold forever", "brand_failed", "experience"),
    ("the staff were so unhelpful", "brand_failed", "experience"),
    ("website kept logging me out", "brand_failed", "experience"),
    ("app is buggy", "brand_failed", "experience"),
    ("broadband speed was awful", "brand_failed", "product"),
    ("the meals were never fresh", "brand_failed", "product"),
    ("product quality is not what it used to be", "brand_failed", "product"),
    ("kept breaking down", "brand_failed", "product"),
    ("we moved to spain", "circumstance", "other"),
    ("relocating for work", "circumstance", "other"),
    ("my mum died, this was her account", "circumstance", "other"),
    ("shop has closed", "circumstance", "other"),
    ("dont use it any more", "circumstance", "other"),
    ("money is tight at the moment", "circumstance", "price"),
    ("it wasnt the price, your support team ignored me", "brand_failed", "experience"),
    ("prices are ok but deliveries are a joke", "brand_failed", "experience"),
    ("no comment", "unknown", "unknown"),
    ("???", "unknown", "unknown"),
    ("zu teuer", "unknown", "unknown"),
    ("switched", "better_offer", "unknown"),
]


def test_held_out_phrases():
    got = classify([t for t, _, _ in HOLDOUT])
    misses = [
        f"MISS {t!r}: want {w}/{x}, got {gw}/{gx}"
        for (t, w, x), gw, gx in zip(HOLDOUT, got["why"], got["what"], strict=True)
        if (w, x) != (gw, gx)
    ]
    print("\n" + "\n".join(misses))
    assert 1 - len(misses) / len(HOLDOUT) >= 0.85


def test_output_columns_and_methods():
    got = classify(["too expensive", None, "asdfgh"], codes=["MOVED", None, None])
    assert got.columns == ["why", "what", "confidence", "method"]
    assert got["method"].to_list() == ["code", "none", "none"]
    assert got["confidence"][0] == 1.0 and got["confidence"][1] is None


def test_code_with_unknown_topic_takes_the_topic_from_the_text():
    got = classify(["switched to EE, £10 a month cheaper"], codes=["COMPETITOR"])
    assert (got["why"][0], got["what"][0], got["method"][0]) == ("better_offer", "price", "code")


def test_keywords_patterns_and_competitors_from_config():
    cfg = Config(reasons={
        "keywords": {"better_offer/price": ["voucher code"], "*/experience": ["click and collect"]},
        "patterns": {"brand_failed/product": [r"\bsmel+y\b"]},
        "competitors": ["Globex"],
    })
    got = classify(["got a voucher code", "smelly", "globex", "click and collect was a mess"], config=cfg)
    assert list(zip(got["why"], got["what"], strict=True)) == [
        ("better_offer", "price"), ("brand_failed", "product"), ("better_offer", "unknown"), ("unknown", "experience"),
    ]
    plain = classify(["got a voucher code", "smelly", "globex"])
    assert plain["why"].to_list() == ["unknown"] * 3


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"colour": 1}, "colour"),
        ({"codes": {"X": "better_offer"}}, "[reasons.codes] X"),
        ({"codes": {"X": "better/price"}}, "[reasons.codes] X"),
        ({"codes": {"X": "*/price"}}, "[reasons.codes] X"),
        ({"keywords": {"nonsense/price": ["a"]}}, "[reasons.keywords] nonsense/price"),
        ({"keywords": {"better_offer/price": "  "}}, "[reasons.keywords] better_offer/price"),
        ({"patterns": {"brand_failed/*": ["(?=x)"]}}, "[reasons.patterns] brand_failed/*"),
        ({"labels": {"brand_fail": "x"}}, "brand_fail"),
        ({"labels": {"price": ""}}, "price"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"max_chars": 0}, "max_chars"),
        ({"period": "week"}, "period"),
        ({"trim": 0.6}, "trim"),
        ({"satisfied": {"stars": 4}}, "stars"),
        ({"competitors": "Acme"}, "competitors"),
    ],
)
def test_bad_config_names_the_offending_key(raw, named):
    with pytest.raises(ConfigError) as info:
        parse_settings(raw)
    assert named in str(info.value)


def test_labels_rename_for_display():
    settings = parse_settings({"labels": {"brand_failed": "We let them down"}})
    assert settings.label("brand_failed") == "We let them down" and settings.label("price") == "price"


def test_unmapped_code_line_is_valid_toml_that_maps_the_code():
    fit = classify_report([None, None], codes=["Promo Ended", "promo ended"])
    (unmapped,) = fit.summary.unmapped_codes
    assert unmapped.count == 2
    codes = tomllib.loads("[reasons.codes]\n" + unmapped.toml_line)["reasons"]["codes"]
    refit = classify_report([None], codes=["PROMO_ENDED"], config=Config(reasons={"codes": codes}))
    assert refit.warnings == () and refit.labels["method"][0] == "code"


def test_reason_model_follows_sklearn_conventions():
    # Two phrasings per reason: CV runs on distinct answers, so each class needs at least two of them.
    texts = ["too expensive", "way too pricey", "delivery was late", "parcel arrived late", "moved house",
             "relocated abroad", "app kept crashing", "the app crashes all the time"] * 10
    model = ReasonModel(min_class_size=2, random_state=3)
    assert clone(model).get_params() == model.get_params()
    assert not [a for a in vars(model) if a.endswith("_")]
    with pytest.raises(NotFittedError):
        model.predict(["x"])
    assert model.fit(texts) is model
    proba = model.predict_proba(["too pricey", "parcel late"])
    assert proba.shape == (2, len(model.classes_)) and np.allclose(proba.sum(axis=1), 1)
    assert model.predict(["moved house"])[0] == "circumstance/other"
    assert model.n_train_ == 80 and model.cv_accuracy_ is not None
    again = ReasonModel(min_class_size=2, random_state=3).fit(texts)
    assert again.labels_.equals(model.labels_)


def _table(rows: list[dict]) -> CustomerTable:
    base = {"customer_id": "c", "churned": True, "end_date": dt.date(2024, 3, 1), "reason_code": None, "reason_text": None,
            "competitor": None, "last_score": None, "score_scale": "unknown", "amount_total": 10.0}
    frame = pl.DataFrame([{**base, "customer_id": f"c{i}", **r} for i, r in enumerate(rows)],
                         schema_overrides={"reason_code": pl.String, "reason_text": pl.String, "competitor": pl.String,
                                           "last_score": pl.Float64})
    return CustomerTable(frame, dt.date(2024, 12, 31))


def test_attach_reads_churners_only():
    table = _table([
        {"reason_text": "delivery never arrived"},
        {"reason_text": "too expensive", "churned": False},
        {},
        {"reason_text": "   "},
        {"reason_code": "TOO_EXPENSIVE"},
    ])
    out, fit = attach_stated_reasons(table, Config())
    f = out.frame
    assert f.height == 5 and f["customer_id"].to_list() == table.frame["customer_id"].to_list()
    assert f["reason_source"].to_list() == ["stated", "none", "none", "none", "stated"]
    assert f["why"].to_list() == ["brand_failed", "unknown", "unknown", "unknown", "brand_failed"]
    assert fit.summary.n_stated == 2


def test_satisfied_but_left_uses_each_scale_threshold():
    table = _table([
        {"reason_text": "found it cheaper", "last_score": 9.0, "score_scale": "nps"},
        {"reason_text": "moved house", "last_score": 8.0, "score_scale": "nps"},
        {"reason_text": "found it cheaper", "last_score": 4.0, "score_scale": "csat5"},
        {"reason_text": "support useless", "last_score": 3.0, "score_scale": "csat5"},
        {"reason_text": "support useless", "last_score": 10.0, "score_scale": "unknown"},
    ])
    table, fit = attach_stated_reasons(table, Config())
    sat = fit_reasons(table, fit.summary, Config()).satisfied
    assert (sat.n_scored, sat.n_satisfied) == (4, 2)
    assert {(s.category, s.n) for s in sat.shares if s.axis == "why"} == {("better_offer", 2)}
    strict = fit_reasons(table, fit.summary, Config(reasons={"satisfied": {"nps": 10, "csat5": 5}})).satisfied
    assert strict.n_satisfied == 0


def test_result_json_is_safe_and_holds_no_text_or_ids():
    table = _table([{"reason_text": t} for t in ["my parcel never came, order 4411", "too expensive", "moved house"]]
                   + [{"reason_code": "SECRET_CODE"}])
    table, fit = attach_stated_reasons(table, Config())
    doc = fit_reasons(table, fit.summary, Config()).to_dict()
    text = json.dumps(doc, allow_nan=False, sort_keys=True)
    assert "parcel" not in text and "4411" not in text and '"c0"' not in text
    # Codes outside the taxonomy are counted by default, named only with --include-examples (issue #20).
    assert "SECRET_CODE" not in text and doc["classification"]["n_unmapped_codes"] == 1
    examples = json.dumps(fit_reasons(table, fit.summary, Config(), examples=True).to_dict())
    assert "SECRET_CODE" in examples
    assert text == json.dumps(fit_reasons(table, fit.summary, Config()).to_dict(), allow_nan=False, sort_keys=True)


@pytest.mark.slow
def test_value_share_intervals_cover_95_percent():
    """Value (amount_total-weighted) shares: ~95% of intervals contain the true weighted share when spend
    depends on the reason (brand_failed churners spend 3x as much on average)."""
    rng = np.random.default_rng(5)
    p, ratio, n, reps = 0.3, 3.0, 300, 1000
    truth = p * ratio / (p * ratio + 1 - p)
    hits = 0
    for _ in range(reps):
        failed = rng.random(n) < p
        frame = pl.DataFrame({
            "customer_id": [str(i) for i in range(n)], "churned": [True] * n, "end_date": [dt.date(2024, 1, 1)] * n,
            "why": np.where(failed, "brand_failed", "better_offer"), "what": ["price"] * n, "reason_source": ["stated"] * n,
            "amount_total": rng.gamma(2.0, np.where(failed, ratio, 1.0) / 2.0),
        })
        result = fit_reasons(CustomerTable(frame, dt.date(2024, 12, 31)), None, Config())
        (share,) = [s for s in result.shares if (s.axis, s.by, s.basis, s.category) == ("why", "all", "value", "brand_failed")]
        hits += share.lo <= truth <= share.hi
    assert 0.93 <= hits / reps <= 0.97, hits / reps  # +-2.9 binomial SEs around 0.95


def test_rules_score_each_distinct_answer_once_with_the_same_result():
    """score() reads distinct (text, competitor named) pairs and joins back: the same rows as scoring one by one."""
    from churnwhy.models.reason_rules import score
    from churnwhy.models.reason_taxonomy import ReasonSettings

    texts = ["too expensive", None, "too expensive", "switched to a cheaper one", "", "asdfgh", "switched to a cheaper one"]
    comps = [None, None, "Rival", None, None, None, "Rival"]
    frame = pl.DataFrame({"text": texts, "competitor": comps}, schema={"text": pl.String, "competitor": pl.String})
    settings = ReasonSettings()
    together = score(frame, settings, competitor="competitor")
    one_by_one = pl.concat([score(frame[i : i + 1], settings, competitor="competitor") for i in range(frame.height)])
    assert together.equals(one_by_one)
    assert together.height == frame.height
