"""Issue 16 item 3: a fitted model scores another table's customers by the fitted model's own levels: numeric
attributes by the fitted bin edges (not the scored table's quartiles), categories by their names, whatever the
scored table's own mix (a cross-validation fold, the active customers scored by the risk section)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import polars as pl
import pytest
from planted_exports import AS_OF, generate

from churnwhy.config import Config
from churnwhy.models.drivers import fit_driver_model
from churnwhy.pipeline import load_table


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    generate(folder, n=1500, seed=5, attributes=True)
    cfg = dataclasses.replace(Config(), as_of=AS_OF)
    table = load_table(folder, cfg).table
    return table, fit_driver_model(table, cfg)


def _column(model, prefix: str) -> tuple[str, list[str]]:
    levels = [f for f in model.features_ if f.startswith(prefix)]
    assert levels, model.features_
    return model.column_of_[levels[0]], levels


def test_numeric_bins_are_the_fitted_edges_on_another_table(fitted):
    """The upper half of the customers: its own quartiles would be other edges, its own lowest bin the reference."""
    table, model = fitted
    col, levels = _column(model, "monthly_charges=")
    x = table.frame[col].cast(pl.Float64)
    sub = dataclasses.replace(table, frame=table.frame.filter(x > x.median()))  # quartiles of its own differ
    got = model.design_matrix(sub)
    charges = sub.frame[col].cast(pl.Float64).to_numpy()
    for f in levels:
        lo, hi, closed = re.fullmatch(r"monthly_charges=\[(\S+), (\S+)([)\]])", f).groups()  # type: ignore[union-attr]
        inside = (charges >= float(lo)) & ((charges < float(hi)) if closed == ")" else True)  # the top bin: open-ended
        np.testing.assert_array_equal(got[:, model.features_.index(f)], inside.astype(float), err_msg=f)
    assert got[:, [model.features_.index(f) for f in levels]].sum() > 0


def test_categories_keep_the_fitted_reference_on_another_table(fitted):
    table, model = fitted
    col, levels = _column(model, "contract_type=")
    sub = dataclasses.replace(table, frame=table.frame.filter(pl.col(col) != model.reference_[col]))
    got = model.design_matrix(sub)
    values = sub.frame[col].to_numpy()
    for f in levels:
        np.testing.assert_array_equal(got[:, model.features_.index(f)], (values == f.split("=", 1)[1]).astype(float))
    # the fitted sample scored as a table of its own gives the matrix it was fitted on
    np.testing.assert_allclose(model.predict_log_hazard(sub), model.predict_log_hazard(table)[
        (table.frame[col] != model.reference_[col]).to_numpy()])
