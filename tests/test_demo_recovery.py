"""The demo's planted hazard ratios are on latent rates that its exports show only with Poisson noise (slow).

Outside reference: lifelines' CoxPHFitter (Efron ties). On the latent rates and segments (the generator's own
covariates, kept in Truth.customers) it recovers the planted hazard ratios; on the customer table's windowed
rates (events in the 180 days strictly before end_date per 30 days of exposure, as table.py defines them,
recomputed here from the written event file) it is pulled towards 1: the measurement-error trap of issue 16
that the demo now sets, with customers who leave in their first weeks.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from churnwhy.demo import DemoModel, generate
from churnwhy.demo.model import LOOKBACK

lifelines = pytest.importorskip("lifelines")


def _windowed(out, as_of: str) -> pl.DataFrame:
    cust = pl.read_parquet(out / "customers.parquet").with_columns(end=pl.coalesce("churn_date", pl.lit(as_of).str.to_date()))
    cust = cust.with_columns(
        tenure=(pl.col("end") - pl.col("signup_date")).dt.total_days(), churned=pl.col("churn_date").is_not_null()
    ).with_columns(exposure=pl.min_horizontal("tenure", pl.lit(LOOKBACK)).clip(1))
    ev = pl.scan_parquet(out / "events.parquet").with_columns(d=pl.col("event_time").dt.date())
    j = ev.join(cust.lazy().select("customer_id", "end"), on="customer_id").filter(
        (pl.col("d") < pl.col("end")) & (pl.col("d") >= pl.col("end") - pl.duration(days=LOOKBACK))
    )
    n = j.group_by("customer_id", "event_type").len().collect().pivot(on="event_type", index="customer_id", values="len")
    types = [t for t in DemoModel().events if t in n.columns]
    t = cust.join(n, on="customer_id", how="left").fill_null(0)
    return t.select("tenure", "churned", *[(pl.col(k) * 30 / pl.col("exposure")).alias(k) for k in types])


def _z(df: pl.DataFrame, truth) -> dict[str, float]:
    pdf = df.to_pandas()
    pdf["churned"] = pdf["churned"].astype(int)
    s = lifelines.CoxPHFitter().fit(pdf, duration_col="tenure", event_col="churned").summary
    return {k: float((s.loc[k, "coef"] - np.log(spec["hr"])) / s.loc[k, "se(coef)"])
            for k, spec in truth["hazard_ratios"].items() if k in s.index}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_latent_rates_recover_the_planted_hazard_ratios_and_windowed_rates_do_not(tmp_path, seed):
    truth = generate(tmp_path / "d", customers=25_000, seed=seed, format="parquet", messy=False)
    c = truth.customers
    assert (c.filter(pl.col("churned"))["tenure_days"] <= 30).sum() > 0.01 * c.height  # churn from day one
    names = list(DemoModel().events)
    latent = c.select(
        "tenure_days", "churned", *[pl.col(f"r_{k}").alias(k) for k in names],
        *[(pl.col(col) == lv).cast(pl.Float64).alias(f"{col}={lv}") for col, levels in
          (("plan", ("plus", "premium")), ("region", ("Baden-Württemberg", "Cataluña", "Lombardia", "Zürich")),
           ("channel", ("app", "partner", "store"))) for lv in levels],
    ).rename({"tenure_days": "tenure"})  # fmt: skip
    z = np.array(list(_z(latent, truth).values()))
    assert np.abs(z).max() < 3.5 and abs(z.mean()) < 1.0, z.round(2)
    naive = _z(_windowed(tmp_path / "d", truth["as_of"]), truth)
    # on the noisy windowed rates every effect is pulled towards 1: harmful ones come out low, login high
    harmful = [naive[k] for k, spec in truth["hazard_ratios"].items() if spec["hr"] > 1]
    assert np.mean(harmful) < -1.5 and naive["login"] > 2, {k: round(v, 1) for k, v in naive.items()}
