"""Kaplan-Meier retention, medians and log-rank tests against R (REFERENCES.md sections 1 and 3)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from lifelines.datasets import load_lung, load_waltons

from churnwhy.config import Config
from churnwhy.errors import ChurnwhyError, InputError
from churnwhy.models.survival import (
    OTHER,
    RetentionCurve,
    fit_survival,
    holm_adjust,
    kaplan_meier,
    logrank_tests,
    segment_labels,
)
from churnwhy.results.survival import OVERALL
from churnwhy.table import CustomerTable

TOL = 1e-8
AS_OF = dt.date(2024, 6, 30)
AML = dict(
    time=[9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    status=[1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1],
    maintained=[1] * 11 + [0] * 12,
)


def _table(t, e, **segments) -> CustomerTable:
    frame = pl.DataFrame({"tenure_days": np.asarray(t, dtype=np.int64), "churned": np.asarray(e, dtype=bool),
                          **{k: pl.Series(k, v, dtype=pl.String) for k, v in segments.items()}})
    return CustomerTable(frame=frame, as_of=AS_OF, segments=tuple(segments))


@pytest.fixture(scope="module")
def lung() -> CustomerTable:
    d = load_lung()
    return _table(d["time"].to_numpy(), d["status"].to_numpy(), sex=d["sex"].astype(int).astype(str).tolist())


def _at(result, by, group, times):
    c = result.curves.filter((pl.col("by") == by) & (pl.col("group") == group)).sort("time_days")
    idx = np.searchsorted(c["time_days"].to_numpy(), times, side="right") - 1
    return c[idx.tolist()]


def test_aml_full_table_matches_survfit_loglog():
    """R: survfit(Surv(time, status) ~ x, data=aml, conf.type="log-log"); summary(fit). REFERENCES 1d."""
    ref = {
        "1": [(9, 11, 0.90909090909, 0.508080205770, 0.9866738227), (13, 10, 0.81818181818, 0.447428614682, 0.9511622286),
              (18, 8, 0.71590909091, 0.350190385908, 0.8990239742), (23, 7, 0.61363636364, 0.265752040001, 0.8352992433),
              (31, 5, 0.49090909091, 0.167330909777, 0.7533997904), (34, 4, 0.36818181818, 0.092829574937, 0.6570408324),
              (48, 2, 0.18409090909, 0.011738480123, 0.5250148427)],
        "0": [(5, 12, 0.83333333333, 0.481714942195, 0.9555093657), (8, 10, 0.66666666667, 0.337018932541, 0.8597117991),
              (12, 8, 0.58333333333, 0.270138924085, 0.8009401923), (23, 6, 0.48611111111, 0.191876619619, 0.7296715698),
              (27, 5, 0.38888888889, 0.126272012195, 0.6498174083), (30, 4, 0.29166666667, 0.072401608908, 0.5608860527),
              (33, 3, 0.19444444444, 0.031198642931, 0.4614294762), (43, 2, 0.09722222222, 0.005746305696, 0.3489038611)],
    }
    r = fit_survival(_table(AML["time"], AML["status"], x=[str(m) for m in AML["maintained"]]), by=("x",),
                     config=Config(min_segment_size=5))
    for group, rows in ref.items():
        got = _at(r, "x", group, [row[0] for row in rows])
        assert got["at_risk"].to_list() == [row[1] for row in rows]
        np.testing.assert_allclose(got["survival"].to_numpy(), [row[2] for row in rows], atol=TOL)
        np.testing.assert_allclose(got["ci_low"].to_numpy(), [row[3] for row in rows], atol=TOL)
        np.testing.assert_allclose(got["ci_high"].to_numpy(), [row[4] for row in rows], atol=TOL)
    # Nonmaintained reaches 0 at t=45: R's log-log CI is NA there, and so is ours.
    last = _at(r, "x", "0", [45])
    assert last["survival"].item() == 0 and last["ci_low"].item() is None and last["ci_high"].item() is None
    # Medians: Maintained 31 (13, NA), Nonmaintained 23 (5, 33).
    m, n = r.group("x", "1"), r.group("x", "0")
    assert (m.median_days, m.median_ci_low, m.median_ci_high) == (31, 13, None)
    assert (n.median_days, n.median_ci_low, n.median_ci_high) == (23, 5, 33)


def test_lung_overall_horizons_and_median(lung):
    """R: summary(survfit(Surv(time, status) ~ 1, lung, conf.type="log-log"), times=c(100,200,300,365,500,730,1000));
    print(fit) for the median 310 (284-361). REFERENCES 1a."""
    ref = [(100, 196, 0.86396896765, 0.81222231975, 0.9023101805), (200, 144, 0.68027286222, 0.61491724880, 0.7369495935),
           (300, 92, 0.53060811776, 0.46046520252, 0.5957896394), (365, 65, 0.40924162446, 0.33871426909, 0.4783807676),
           (500, 41, 0.29326919371, 0.22650367712, 0.3630285997), (730, 13, 0.11569309834, 0.06763215149, 0.1778251997),
           (1000, 2, 0.05034556807, 0.01786617109, 0.1086621760)]
    r = fit_survival(lung, config=Config(horizons=tuple(x[0] for x in ref) + (5000,)))
    hs = r.overall.horizons
    for h, row in zip(hs, ref, strict=False):
        assert h.horizon_days == row[0] and h.at_risk == row[1]
        assert h.survival == pytest.approx(row[2], abs=TOL)
        assert h.ci_low == pytest.approx(row[3], abs=TOL)
        assert h.ci_high == pytest.approx(row[4], abs=TOL)
    assert hs[-1].survival is None  # beyond the last follow-up (R drops it without extend=TRUE)
    assert (r.overall.median_days, r.overall.median_ci_low, r.overall.median_ci_high) == (310, 284, 361)


def test_lung_by_sex_medians_values_and_logrank(lung):
    """R: survfit(Surv(time, status) ~ sex, lung, conf.type="log-log") (REFERENCES 1b);
    survdiff(Surv(time, status) ~ sex, lung): chi2 10.3267419549, p 0.00131116452036 (REFERENCES 3)."""
    r = fit_survival(lung, by=("sex",), config=Config(horizons=(180, 365)))
    s1, s2 = r.group("sex", "1"), r.group("sex", "2")
    assert (s1.n, s1.events, s1.median_days, s1.median_ci_low, s1.median_ci_high) == (138, 112, 270, 210, 306)
    assert (s2.n, s2.events, s2.median_days, s2.median_ci_low, s2.median_ci_high) == (90, 53, 426, 345, 524)
    got = [(h.survival, h.ci_low, h.ci_high) for g in (s1, s2) for h in g.horizons]
    ref = [(0.6444650015, 0.5584124730, 0.7180135982), (0.3360878346, 0.2527291433, 0.4213021682),
           (0.8424017056, 0.7483809162, 0.9035043043), (0.5264630302, 0.4035798233, 0.6353162328)]
    np.testing.assert_allclose(np.array(got), np.array(ref), atol=1e-9)
    multi = [x for x in r.logrank if x.test == "multivariate"]
    assert len(multi) == 1 and multi[0].df == 1
    assert multi[0].statistic == pytest.approx(10.3267419549, abs=TOL)
    assert multi[0].p_value == pytest.approx(0.00131116452036, rel=1e-6)


def test_waltons_medians_and_survival():
    """R: survfit(Surv(T, E) ~ group, waltons, conf.type="log-log") on the lifelines CSV. REFERENCES 1c."""
    d = load_waltons()
    t = _table(d["T"].to_numpy(), d["E"].to_numpy(), group=d["group"].tolist())
    r = fit_survival(t, by=("group",), config=Config(horizons=(10, 40)))
    c, m = r.group("group", "control"), r.group("group", "miR-137")
    assert (c.median_days, c.median_ci_low, c.median_ci_high) == (58, 56, 60)
    assert (r.overall.median_days, r.overall.median_ci_low, r.overall.median_ci_high) == (56, 53, 58)
    assert m.n == 34 and m.events == 34  # below min_segment_size 30? no: 34 >= 30, kept
    assert (m.median_days, m.median_ci_low, m.median_ci_high) == (26, 19, 29)
    assert c.horizons[0].survival == pytest.approx(0.99224806202, abs=TOL)
    assert c.horizons[1].ci_low == pytest.approx(0.89876149578, abs=TOL)
    assert m.horizons[1].ci_high == pytest.approx(0.2485939244, abs=TOL)
    (multi,) = [x for x in r.logrank if x.test == "multivariate"]
    assert multi.statistic == pytest.approx(122.249125573, abs=1e-7)
    assert multi.p_value == pytest.approx(2.03598322229e-28, rel=1e-6)


def test_logrank_four_groups_lung_ecog():
    """R: survdiff(Surv(time, status) ~ ph.ecog, lung) with NA dropped: chi2 21.9621316825, df 3,
    p 6.6425353558e-05 (REFERENCES 3); and aml ~ x: 3.39638869898, p 0.0653393220405."""
    d = load_lung().dropna(subset=["ph.ecog"])
    recs = logrank_tests(d["time"].to_numpy(), d["status"].to_numpy(), d["ph.ecog"].astype(int).astype(str).to_numpy(),
                         by="ecog")
    multi = recs[0]
    assert multi.test == "multivariate" and multi.df == 3 and multi.groups == ("0", "1", "2", "3")
    assert multi.statistic == pytest.approx(21.9621316825, abs=1e-8)
    assert multi.p_value == pytest.approx(6.6425353558e-05, rel=1e-6)
    assert len(recs) == 1 + 6
    (aml,) = [r for r in logrank_tests(AML["time"], AML["status"], np.array(AML["maintained"]).astype(str), by="x")
              if r.test == "multivariate"]
    assert aml.statistic == pytest.approx(3.39638869898, abs=1e-8)
    assert aml.p_value == pytest.approx(0.0653393220405, rel=1e-6)


def test_holm_matches_r_p_adjust():
    """R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02."""
    np.testing.assert_allclose(holm_adjust(np.array([0.01, 0.04, 0.03, 0.005])), [0.03, 0.06, 0.06, 0.02], atol=1e-15)
    np.testing.assert_allclose(holm_adjust(np.array([0.5, 0.9])), [1.0, 1.0])


def test_median_on_a_flat_stretch_at_half_is_the_midpoint():
    """R: survfit(Surv(c(1,2,3,4), rep(1,4)) ~ 1) prints median 2.5 (S = 0.5 exactly on [2, 3)); lifelines says 2."""
    fit = RetentionCurve().fit([1, 2, 3, 4], [1, 1, 1, 1])
    assert fit.median_ == 2.5


def test_group_without_events_is_flat_with_median_not_reached():
    """A segment where nobody churned: S = 1 everywhere, median not reached, no error; the test still runs."""
    rng = np.random.default_rng(1)
    n = 40
    t = np.r_[rng.integers(1, 200, n), rng.integers(1, 200, n)]
    e = np.r_[rng.random(n) < 0.7, np.zeros(n, bool)]
    r = fit_survival(_table(t, e, plan=["a"] * n + ["b"] * n), by=("plan",))
    b = r.group("plan", "b")
    assert b.events == 0 and b.median_days is None and not b.median_reached
    assert r.curves.filter((pl.col("group") == "b"))["survival"].unique().to_list() == [1.0]
    assert any("plan=b: no churn yet" in note for note in r.notes)
    assert r.to_dict()["groups"][2]["median_days"] is None
    assert [x.test for x in r.logrank] == ["multivariate", "pairwise"]


def test_no_events_at_all_gives_no_test_and_a_note():
    r = fit_survival(_table([5, 6, 7] * 20, [0] * 60, plan=["a", "b", "c"] * 20), by=("plan",))
    assert r.logrank == ()
    assert any("no log-rank test" in n for n in r.notes)
    assert r.overall.median_days is None


def test_small_segments_pool_into_other_with_a_note():
    """Levels under min_segment_size go to 'other'; nulls become '(missing)' first."""
    values = pl.Series("plan", ["a"] * 50 + ["b"] * 31 + ["c"] * 10 + ["d"] * 5 + [None] * 3)
    labels, notes = segment_labels(values, min_size=30, max_levels=20)
    counts = dict(labels.value_counts().iter_rows())
    assert counts == {"a": 50, "b": 31, OTHER: 18}
    assert any("(missing), c, d" in n or "c, d, (missing)" in n for n in notes)
    assert any("still has fewer than 30" in n for n in notes)


def test_too_many_levels_keeps_the_largest():
    """25 levels, max 20: the 19 largest are kept and the rest pooled, so at most 20 curves; ties broken by name."""
    sizes = {f"s{i:02d}": 100 + i for i in range(25)}
    values = pl.Series("region", [k for k, n in sizes.items() for _ in range(n)])
    labels, notes = segment_labels(values, min_size=30, max_levels=20)
    kept = set(labels.unique().to_list())
    assert len(kept) == 20 and OTHER in kept
    assert {f"s{i:02d}" for i in range(6, 25)} <= kept and "s05" not in kept
    assert any("25 levels" in n for n in notes)


def test_zero_tenure_is_reported_and_negative_is_rejected():
    t = np.r_[np.zeros(5, int), np.arange(1, 46)]
    e = np.r_[np.ones(3, bool), np.zeros(2, bool), np.arange(45) % 2 == 0]
    r = fit_survival(_table(t, e))
    assert r.overall.zero_tenure == 5
    assert any("5 customer(s) with tenure 0 (3 churned" in n for n in r.notes)
    assert r.curves["time_days"][0] == 0 and r.curves["survival"][0] == pytest.approx(1 - 3 / 50)
    with pytest.raises(InputError, match="negative tenure"):
        fit_survival(_table([3, -1, 4], [1, 0, 1]))


def test_unknown_by_column_is_a_clean_error(lung):
    with pytest.raises(ChurnwhyError, match="--by plan: no such column"):
        fit_survival(lung, by=("plan",))


def test_to_dict_is_json_safe_and_deterministic_with_tied_times(lung):
    """Two runs, same bytes; NaN/inf never leak (allow_nan=False raises otherwise)."""
    d = load_lung()
    frame = lung.frame.with_columns(why=pl.Series(np.where(d["status"] == 1, np.array(["price", "bugs", None])[
        np.arange(len(d)) % 3], None).tolist(), dtype=pl.String))
    table = CustomerTable(frame=frame, as_of=AS_OF, segments=("sex",))
    runs = [json.dumps(fit_survival(table, by=("sex",)).to_dict(), sort_keys=True, allow_nan=False) for _ in range(2)]
    assert runs[0] == runs[1]
    data = json.loads(runs[0])
    assert data["groups"][0]["group"] == OVERALL and {row["cause"] for row in data["incidence"]} == {"bugs", "price", "unknown"}


@pytest.mark.parametrize("seed", range(40))
def test_numpy_kaplan_meier_equals_lifelines(seed: int) -> None:
    """Our numpy KM replaces lifelines' fitter for speed: same timeline, estimate, interval and event table,
    including day-0 events, all-censored and all-churned groups, and curves that reach 0."""
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    t = rng.integers(0, int(rng.integers(1, 50)), n)
    e = rng.random(n) < (1.0 if seed % 7 == 0 else 0.0 if seed % 11 == 0 else rng.random())
    km = kaplan_meier(t, e)
    ref = KaplanMeierFitter().fit(t.astype(float), e)
    timeline = ref.survival_function_.index.to_numpy().astype(np.int64)
    np.testing.assert_array_equal(km["time"], timeline)
    np.testing.assert_allclose(km["survival"], ref.survival_function_.iloc[:, 0].to_numpy(), rtol=0, atol=1e-15)
    ci = ref.confidence_interval_.to_numpy()
    np.testing.assert_allclose(km["ci_low"], ci[:, 0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(km["ci_high"], ci[:, 1], rtol=0, atol=1e-15)
    table = ref.event_table.reindex(timeline, fill_value=0)
    assert km["observed"].tolist() == table["observed"].astype(int).tolist()
    assert km["censored"].tolist() == table["censored"].astype(int).tolist()
    assert km["at_risk"][1:].tolist() == table["at_risk"].astype(int).tolist()[1:]
    assert km["at_risk"][0] == n


def test_survival_raises_no_python_warnings_even_on_edge_cases() -> None:
    """The drivers turn warnings into notes; Python's filters are process-wide, so survival must not warn
    (pipeline.analyze runs them one after the other). Strictest filter, with numpy floating-point warnings on:
    everyone churning on day 0, nobody churning, a curve reaching 0, a group without churn, reasons for incidence
    and signup dates for cohorts."""
    import warnings
    from pathlib import Path

    from churnwhy.load import load_exports
    from churnwhy.models.reasons import attach_stated_reasons
    from churnwhy.models.silent import infer_silent_reasons
    from churnwhy.table import build_customer_table

    rng = np.random.default_rng(5)
    n = 60
    tables = [
        _table(np.zeros(40, int), np.ones(40, bool), plan=["a", "b"] * 20),
        _table([5, 6, 7] * 20, [0] * 60, plan=["a", "b", "c"] * 20),
        _table([1, 2, 3, 4], [1, 1, 1, 1]),
        _table(np.r_[rng.integers(1, 200, n), rng.integers(1, 200, n)], np.r_[rng.random(n) < 0.7, np.zeros(n, bool)],
               plan=["a"] * n + ["b"] * n),
    ]
    examples = Path(__file__).resolve().parents[1] / "examples" / "exports"
    config = Config.load(examples)
    table = build_customer_table(load_exports(examples, config), config)
    table, _ = attach_stated_reasons(table, config)
    table, _ = infer_silent_reasons(table, config)
    tables.append(table)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        for t in tables:
            assert fit_survival(t, by=tuple(t.segments), config=config).overall is not None  # raises on a failure
    assert [str(w.message) for w in caught] == []


def test_logrank_holm_is_one_correction_across_every_column_and_test():
    """Issue 16 item 6: every log-rank p of a report (each column's overall test and all its pairs, all columns)
    is one Holm family; p_value stays raw. With two columns the adjustment is stricter than within one column."""
    rng = np.random.default_rng(3)
    n = 300
    plan = rng.choice(["a", "b", "c"], n)
    region = rng.choice(["north", "south"], n)
    t = rng.exponential(np.where(plan == "a", 80, 120) * np.where(region == "north", 1.0, 1.3)).astype(int) + 1
    e = rng.random(n) < 0.8
    r = fit_survival(_table(t, e, plan=list(plan), region=list(region)), by=("plan", "region"))
    raw = np.array([x.p_value for x in r.logrank])
    assert len(r.logrank) == 1 + 3 + 1 + 1  # plan: overall + 3 pairs; region: overall + 1 pair
    np.testing.assert_allclose([x.p_holm for x in r.logrank], holm_adjust(raw), rtol=1e-12)
    alone = {x.groups: x.p_holm for x in logrank_tests(t, e, plan, by="plan") if x.test == "pairwise"}
    joint = {x.groups: x.p_holm for x in r.logrank if x.by == "plan" and x.test == "pairwise"}
    assert all(joint[g] >= alone[g] for g in alone) and any(joint[g] > alone[g] for g in alone if alone[g] < 1)
    assert all(x.p_holm is not None and x.p_holm >= x.p_value for x in r.logrank)
    assert any("across all 6 tests" in note for note in r.notes)
