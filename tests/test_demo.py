"""`churnwhy demo`: determinism, layouts, and truth.json agreeing with the files it describes."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.demo import DemoModel, generate
from churnwhy.demo.model import CELLS, LOOKBACK
from churnwhy.demo.phrases import CODES, PHRASES
from churnwhy.errors import ChurnwhyError
from churnwhy.models.reason_taxonomy import DEFAULT_CODES

EVENT_TYPES = {
    "order", "delivery_ok", "delivery_late", "delivery_failed", "support_ticket", "complaint", "price_increase",
    "discount_used", "login", "competitor_mention", "newsletter_open", "cancel",
}  # fmt: skip
DOCS = Path(__file__).resolve().parents[1] / "docs" / "demo-model.md"


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    out = tmp_path_factory.mktemp("messy") / "exports"
    return out, generate(out, customers=3000, seed=11, format="mixed", messy=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "exports"
    return out, generate(out, customers=6000, seed=5, format="csv", messy=False)


@pytest.mark.parametrize(("fmt", "is_messy"), [("mixed", True), ("parquet", False), ("csv", True)])
def test_same_seed_gives_byte_identical_files(tmp_path, fmt, is_messy):
    a = _hashes(generate(tmp_path / "a", customers=1000, seed=3, format=fmt, messy=is_messy).out_dir)
    b = _hashes(generate(tmp_path / "b", customers=1000, seed=3, format=fmt, messy=is_messy).out_dir)
    c = _hashes(generate(tmp_path / "c", customers=1000, seed=4, format=fmt, messy=is_messy).out_dir)
    assert a == b
    assert any(name.endswith((".xlsx", ".parquet")) for name in a)
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a if k.endswith(("Customers.csv", "events.parquet")))


def test_clean_layout_has_canonical_columns_and_event_names(clean):
    out, truth = clean
    assert sorted(p.name for p in out.iterdir()) == ["customers.csv", "events.csv", "surveys.csv", "truth.json"]
    cust = pl.read_csv(out / "customers.csv", schema_overrides={"customer_id": pl.String}, try_parse_dates=True)
    assert cust.columns == ["customer_id", "signup_date", "churn_date", "plan", "region", "channel", "email"]
    ev = pl.read_csv(out / "events.csv", schema_overrides={"customer_id": pl.String})
    assert ev.columns == ["customer_id", "event_time", "event_type", "amount"]
    assert set(ev["event_type"].unique()) == EVENT_TYPES
    sv = pl.read_csv(out / "surveys.csv", schema_overrides={"customer_id": pl.String})
    assert sv.columns == ["customer_id", "survey_date", "score", "reason_code", "reason_text", "competitor"]
    assert cust["customer_id"].str.starts_with("0").all() and cust["customer_id"].is_unique().all()
    assert truth["rejects"] == dict.fromkeys(truth["rejects"], 0)


def test_truth_counts_match_the_files(clean):
    out, truth = clean
    cust = pl.read_csv(out / "customers.csv", schema_overrides={"customer_id": pl.String}, try_parse_dates=True)
    ev = pl.read_csv(out / "events.csv", schema_overrides={"customer_id": pl.String})
    assert cust.height == truth["customers"]
    assert cust["churn_date"].is_not_null().sum() == truth["churners"]
    assert ev.height == truth["events"]
    by_type = dict(ev["event_type"].value_counts().iter_rows())
    assert by_type == truth["events_by_type"]
    # one cancel event per churner, on the churn date
    cancels = ev.filter(pl.col("event_type") == "cancel").select("customer_id", pl.col("event_time").str.slice(0, 10).alias("d"))
    churned = cust.filter(pl.col("churn_date").is_not_null()).select("customer_id", pl.col("churn_date").cast(pl.String).alias("d"))
    assert cancels.sort("customer_id").equals(churned.sort("customer_id"))
    sv = pl.read_csv(out / "surveys.csv", schema_overrides={"customer_id": pl.String})
    exits = sv.filter(pl.col("reason_code").is_not_null() | pl.col("reason_text").is_not_null())
    assert exits.height == truth["surveys"]["respondents"]
    assert exits["customer_id"].n_unique() == truth["surveys"]["respondents"]
    assert truth["surveys"]["response_rate"] == pytest.approx(truth["surveys"]["respondents"] / truth["churners"], abs=1e-6)


def test_latest_date_in_the_data_is_as_of(clean):
    """churnwhy's default as-of date is the latest date in the data; it must be the planted as_of."""
    out, truth = clean
    cust = pl.read_csv(out / "customers.csv", try_parse_dates=True)
    ev = pl.read_csv(out / "events.csv", try_parse_dates=True)
    sv = pl.read_csv(out / "surveys.csv", try_parse_dates=True)
    latest = max(cust["signup_date"].max(), cust["churn_date"].max(), ev["event_time"].max().date(), sv["survey_date"].max())
    assert latest.isoformat() == truth["as_of"]


def _windowed_rates(out: Path, truth) -> pl.DataFrame:
    """The customer table's rate_<type>: events in the 180 days strictly before end_date per 30 days of exposure."""
    cust = pl.read_csv(out / "customers.csv", schema_overrides={"customer_id": pl.String}, try_parse_dates=True)
    as_of = pl.lit(truth["as_of"]).str.to_date()
    cust = cust.with_columns(end=pl.coalesce("churn_date", as_of)).with_columns(
        exposure=pl.min_horizontal((pl.col("end") - pl.col("signup_date")).dt.total_days(), pl.lit(LOOKBACK)).clip(1)
    )
    ev = pl.read_csv(out / "events.csv", schema_overrides={"customer_id": pl.String}).with_columns(
        d=pl.col("event_time").str.slice(0, 10).str.to_date()
    )
    j = ev.join(cust.select("customer_id", "end"), on="customer_id")
    j = j.filter((pl.col("d") < pl.col("end")) & (pl.col("d") >= pl.col("end") - pl.duration(days=LOOKBACK)))
    n = j.pivot(on="event_type", index="customer_id", values="d", aggregate_function="len")
    rates = cust.select("customer_id", "exposure").join(n, on="customer_id", how="left").fill_null(0)
    types = [c for c in n.columns if c != "customer_id"]
    return rates.select("customer_id", "exposure", *[(pl.col(t) * 30 / pl.col("exposure")).alias(t) for t in types])


def test_windowed_rates_are_the_measured_rates_and_churn_starts_on_day_one(clean):
    """The table's rate is exactly the generator's measured x (Poisson events around the latent rate, over
    min(tenure, 180) days), for short and long lives alike; and customers leave in their first weeks."""
    out, truth = clean
    rates = _windowed_rates(out, truth).join(truth.customers, on="customer_id")
    short = rates.filter(pl.col("exposure") < LOOKBACK)
    assert short.height > 0.1 * rates.height
    for t in DemoModel().events:
        assert np.allclose(rates[t].to_numpy(), rates[f"x_{t}"].to_numpy()), t
    cust = pl.read_csv(out / "customers.csv", try_parse_dates=True)
    tenure = (cust["churn_date"] - cust["signup_date"]).dt.total_days()
    assert (tenure <= 30).sum() > 0.01 * cust.height and (tenure <= 90).sum() > 0.04 * cust.height


def test_realised_reason_mix_is_within_sampling_error_of_the_planted_mix(clean):
    _, truth = clean
    n = truth["churners"]
    planted, true = truth["reasons"]["planted"], truth["reasons"]["true"]
    for axis in ("why", "what", "why_what"):
        for key, p in planted[axis].items():
            assert abs(true[axis][key] - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-9, (axis, key)
    # and the truth frame agrees with truth.json
    c = truth.customers.filter(pl.col("churned"))
    assert c.height == n
    assert (c["why"] == "better_offer").mean() == pytest.approx(true["why"]["better_offer"], abs=1e-6)
    # behaviour carries signal: brand_failed churners had more failures, better_offer more competitor mentions
    m = c.group_by("why").agg(pl.col("x_delivery_failed").mean(), pl.col("x_competitor_mention").mean())
    m = {r["why"]: r for r in m.iter_rows(named=True)}
    assert m["brand_failed"]["x_delivery_failed"] > 1.3 * m["better_offer"]["x_delivery_failed"]
    assert m["better_offer"]["x_competitor_mention"] > 1.3 * m["brand_failed"]["x_competitor_mention"]


def test_respondents_are_a_biased_sample(clean):
    _, truth = clean
    s, r = truth["surveys"], truth["reasons"]
    assert 0.18 < s["response_rate"] < 0.32
    assert r["respondents"]["why"]["brand_failed"] > r["true"]["why"]["brand_failed"] + 0.05
    assert s["satisfied_better_offer_churners"] > 0


def test_every_reason_cell_has_15_distinct_phrasings_and_codes_mean_their_cell():
    assert set(PHRASES) == set(CELLS) and set(CODES) <= set(CELLS)
    # A code planted in a cell must mean that cell in churnwhy's default taxonomy (no unrecoverable truth).
    assert {code: DEFAULT_CODES[code] for codes in CODES.values() for code in codes} == {
        code: cell for cell, codes in CODES.items() for code in codes
    }
    for cell, phrases in PHRASES.items():
        assert len({p.lower() for p in phrases}) >= 15, cell


def test_written_texts_vary_within_a_cell(clean):
    out, truth = clean
    sv = pl.read_csv(out / "surveys.csv", schema_overrides={"customer_id": pl.String}).filter(pl.col("reason_text").is_not_null())
    j = sv.join(truth.customers.select("customer_id", "why", "what"), on="customer_id")
    per_cell = j.group_by("why", "what").agg(pl.col("reason_text").n_unique().alias("k"), pl.len().alias("n"))
    big = per_cell.filter(pl.col("n") >= 25)
    assert big.height >= 2 and (big["k"] >= 15).all(), per_cell
    texts = j["reason_text"].to_list()
    assert any(t != t.lower() and t == t.upper() for t in texts)  # shouting
    assert any(re.search(r"QuickCart|ShopNow|Freshbox|ParcelPal|BasketHero|Amazon|Ocado|HelloFresh", t, re.I) for t in texts)
    assert sv["competitor"].drop_nulls().n_unique() >= 3


def _read_event_file(p: Path) -> pl.DataFrame:
    name = p.name
    if name.endswith(".csv.gz"):
        return pl.read_csv(gzip.decompress(p.read_bytes()), infer_schema=False)
    if name.endswith(".csv"):
        return pl.read_csv(p, infer_schema=False)
    if name.endswith(".parquet"):
        return pl.read_parquet(p)
    return pl.read_ndjson(p)


def test_messy_layout_has_the_promised_formats_and_encodings(messy):
    out, truth = messy
    files = truth["files"]
    for name in ("crm/Customers.csv", "crm/plans.xlsx", "crm/regions_eu.csv", "shop/orders.csv",
                 "surveys/exit_survey.csv", "surveys/cancel_form.json", "surveys/nps_responses.csv"):  # fmt: skip
        assert name in files and (out / name).is_file(), name
    suffixes = {re.sub(r"^.*?\.", "", Path(f).name) for f in files if f.startswith("events/")}
    assert suffixes == {"csv", "csv.gz", "parquet", "ndjson"}
    raw = (out / "crm/regions_eu.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert text.startswith("Customer ID;Region\n") and "Île-de-France" in text
    plans = pl.read_excel(out / "crm/plans.xlsx")
    assert plans.columns == ["Customer ID", "Plan", "Monthly Fee"] and plans["Customer ID"][0] == "000001"
    crm = pl.read_csv(out / "crm/Customers.csv", infer_schema=False)
    assert crm.columns == ["Customer ID", "Signup Date", "Status", "Cancellation Date", "E-mail", "Channel"]
    assert set(crm["Status"].unique()) == {"Active", "Cancelled"}
    orders = pl.read_csv(out / "shop/orders.csv", infer_schema=False)
    assert orders.columns == ["Order ID", "Customer Number", "Order Date", "Order Value"]
    times = pl.concat([_read_event_file(out / f).select(pl.nth(1).cast(pl.String).alias("t")) for f in files if f.startswith("events/")], how="vertical_relaxed").to_series()
    assert times.str.contains(r"^\d{2}/\d{2}/\d{4} ").any()  # MM/DD/YYYY
    assert times.str.contains(r"[+-]\d{2}:\d{2}$").any()  # ISO with an offset
    assert times.str.contains(r"^\d{13}$").any()  # epoch milliseconds
    exit_ = pl.read_csv(out / "surveys/exit_survey.csv", infer_schema=False)
    assert exit_.columns == ["Response Date", "Email", "Score", "Why did you leave?"]
    assert (exit_["Email"] != exit_["Email"].str.strip_chars().str.to_lowercase()).any()
    form = json.loads((out / "surveys/cancel_form.json").read_text())
    assert isinstance(form, list) and set(form[0]) == {"customer_id", "submitted_at", "reason_code"}


def test_messy_reject_counts_equal_what_the_files_hold(messy):
    """Count each planted invalid row from the files themselves, independently of the generator's bookkeeping."""
    out, truth = messy
    crm = pl.read_csv(out / "crm/Customers.csv", infer_schema=False)
    signup = crm["Signup Date"].str.to_date("%Y-%m-%d", strict=False)
    cancel = crm["Cancellation Date"].str.to_date("%Y-%m-%d", strict=False)
    ids = crm["Customer ID"]
    counted = {
        "missing_id": int(ids.is_null().sum()),
        "bad_date": int((signup.is_null() & ids.is_not_null()).sum()),
        "end_before_start": int((cancel < signup).fill_null(False).sum()),
        "duplicate_customer": int(ids.drop_nulls().len() - ids.drop_nulls().n_unique()),
        "duplicate_row": 0,
        "unknown_customer": 0,
    }
    valid = set(crm.filter(signup.is_not_null() & ~(cancel < signup).fill_null(False))["Customer ID"].drop_nulls())
    emails = set(crm["E-mail"].str.strip_chars().str.to_lowercase())
    orders = pl.read_csv(out / "shop/orders.csv", infer_schema=False)
    counted["missing_id"] += int(orders["Customer Number"].is_null().sum())
    counted["bad_date"] += int(orders["Order Date"].str.to_date("%Y-%m-%d", strict=False).is_null().sum())
    counted["unknown_customer"] += int((~orders["Customer Number"].drop_nulls().is_in(list(valid))).sum())
    counted["duplicate_row"] += orders.height - orders.unique().height
    for f in truth["files"]:
        if f.startswith("events/"):
            df = _read_event_file(out / f)
            counted["duplicate_row"] += df.height - df.unique().height
            counted["unknown_customer"] += int((~df[df.columns[0]].is_in(list(valid))).sum())
    exit_ = pl.read_csv(out / "surveys/exit_survey.csv", infer_schema=False)
    counted["unknown_customer"] += int((~exit_["Email"].str.strip_chars().str.to_lowercase().is_in(list(emails))).sum())
    form = pl.DataFrame(json.loads((out / "surveys/cancel_form.json").read_text()))
    counted["unknown_customer"] += int((~form["customer_id"].is_in(list(valid))).sum())
    nps = pl.read_csv(out / "surveys/nps_responses.csv", infer_schema=False)
    counted["unknown_customer"] += int((~nps["Customer ID"].is_in(list(valid))).sum())
    assert counted == truth["rejects"]
    assert all(v > 0 for v in counted.values())
    # the valid customers are exactly the simulated ones
    assert len(valid) == truth["customers"]


def test_truth_json_is_sorted_and_states_the_promised_keys(messy):
    out, truth = messy
    text = (out / "truth.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    for key in ("customers", "churners", "churn_rate", "as_of", "reasons", "hazard_ratios", "attributable_365",
                "median_tenure_days", "surveys", "rejects", "files"):  # fmt: skip
        assert key in data, key
    assert data["hazard_ratios"]["delivery_failed"]["hr"] == 1.4
    assert data["hazard_ratios"]["newsletter_open"]["hr"] == 1.0
    assert data["attributable_365"]["families"]["none"] == 0
    assert data["attributable_365"]["families"]["experience"] > 0
    med = data["median_tenure_days"]["plan"]
    assert med["basic"] < med["plus"] < med["premium"]


def test_bad_arguments_are_clean_errors(tmp_path):
    with pytest.raises(ChurnwhyError, match="format"):
        generate(tmp_path / "x", format="xlsx")
    with pytest.raises(ChurnwhyError, match="customers"):
        generate(tmp_path / "x", customers=5)
    with pytest.raises(ChurnwhyError, match="events_per_customer"):
        generate(tmp_path / "x", customers=1000, events_per_customer=3)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("x")
    with pytest.raises(ChurnwhyError, match="not an empty folder"):
        generate(tmp_path / "full")


def test_events_per_customer_rescales_volume_only(tmp_path):
    t = generate(tmp_path / "e", customers=2000, seed=1, messy=False, format="parquet", events_per_customer=80)
    assert abs(t["events"] / t["customers"] - 80) < 4
    base = generate(tmp_path / "b", customers=2000, seed=1, messy=False, format="parquet")
    assert t["churners"] == base["churners"]
    assert t.customers["x_delivery_failed"].equals(base.customers["x_delivery_failed"])
    assert not t.customers["x_order"].equals(base.customers["x_order"])


def test_cli_writes_exports_and_reports_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["demo", str(tmp_path / "d"), "--customers", "1000", "--seed", "2", "--clean", "--format", "parquet"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["customers.parquet", "events.parquet", "surveys.parquet", "truth.json"]
    res = runner.invoke(app, ["demo", str(tmp_path / "d")])
    assert res.exit_code == 2 and "not an empty folder" in res.output and "Traceback" not in res.output


def test_docs_name_every_model_parameter():
    text = DOCS.read_text(encoding="utf-8")
    for f in dataclasses.fields(DemoModel):
        assert f"`{f.name}`" in text, f.name
    for name in DemoModel().events:
        assert f"`{name}`" in text, name
