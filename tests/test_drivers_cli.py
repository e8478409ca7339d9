"""`churnwhy drivers` end to end with a stand-in for churnwhy.pipeline.load_table, and the renderers."""

from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import polars as pl
import pytest
from rich.console import Console
from test_drivers_sim import simulate
from typer.testing import CliRunner

from churnwhy import pipeline
from churnwhy.cli import app
from churnwhy.results.contract import stamped
from churnwhy.config import Config
from churnwhy.models.drivers import fit_drivers
from churnwhy.models.silent import infer_silent_reasons
from churnwhy.render.drivers import drivers_markdown, drivers_view
from churnwhy.table import LoadedTable


def _with_reasons(table):
    rng = np.random.default_rng(0)
    f = table.frame
    fail = f["rate_delivery_failed"].to_numpy()
    why = np.where(fail + rng.normal(0, 0.5, f.height) > 1.0, "brand_failed", "better_offer")
    what = np.where(why == "brand_failed", "experience", "price")
    stated = f["churned"].to_numpy() & (rng.uniform(size=f.height) < 0.5)
    src = np.where(stated, "stated", np.where(f["churned"].to_numpy(), "none", None))
    return dataclasses.replace(table, frame=f.with_columns(
        pl.Series("why", np.where(stated, why, None).tolist(), dtype=pl.String),
        pl.Series("what", np.where(stated, what, None).tolist(), dtype=pl.String),
        pl.Series("reason_source", src.tolist(), dtype=pl.String),
    ))  # fmt: skip


@pytest.fixture
def fake_pipeline(monkeypatch):
    """A stand-in for loading (the table given, its reasons as they are) so that the command is tested on its own."""
    table = _with_reasons(simulate(2000, seed=1))
    exports = types.SimpleNamespace()
    exports.without_event_rows = lambda: exports
    monkeypatch.setattr(pipeline, "load_table", lambda path, config, **kw: LoadedTable(exports, table, config))
    monkeypatch.setattr("churnwhy.models.reasons.attach_stated_reasons", lambda table, config=None: (table, None))
    return table


def test_json_equals_to_dict(fake_pipeline, tmp_path) -> None:
    result = CliRunner().invoke(app, ["drivers", str(tmp_path), "--format", "json", "--horizon", "180"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    cfg = Config.load(tmp_path)
    expected = fit_drivers(fake_pipeline, cfg, horizon_days=180)
    _, silent = infer_silent_reasons(fake_pipeline, cfg)
    assert data == json.loads(json.dumps(stamped({"drivers": expected.to_dict(), "silent": silent.to_dict()})))
    assert data["drivers"]["horizon_days"] == 180


def test_table_and_markdown(fake_pipeline, tmp_path) -> None:
    out = CliRunner().invoke(app, ["drivers", str(tmp_path)], env={"COLUMNS": "240"})
    assert out.exit_code == 0, out.output
    assert "rate_delivery_failed" in out.stdout and "of 12-month churn is associated with" in out.stdout
    md = CliRunner().invoke(app, ["drivers", str(tmp_path), "--format", "markdown", "--quiet"])
    assert md.exit_code == 0 and md.stdout.startswith("## What they did before leaving")
    assert "| driver | family |" in md.stdout and "p (Holm)" in md.stdout and "How it was computed" in md.stdout
    assert md.stdout.count("are associations in this data, not causes") == 1


def test_bad_config_is_one_clean_error(fake_pipeline, tmp_path) -> None:
    (tmp_path / "churnwhy.toml").write_text('[drivers.families]\nlogin = "fun"\n')
    out = CliRunner().invoke(app, ["drivers", str(tmp_path)])
    assert out.exit_code == 2
    # handle_errors prints with Rich markup, which eats "[drivers.families]" (reported to the lead); the rest survives
    assert "login: family 'fun' is not one of" in out.stderr and "Traceback" not in out.output


def test_notes_keep_square_brackets() -> None:
    from churnwhy.render.drivers import print_notes

    console = Console(width=200, record=True)
    print_notes(["left out by [drivers] exclude: login"], console)
    assert "[drivers] exclude" in console.export_text()


def test_views_render_skipped_results() -> None:
    table = simulate(100, seed=2)
    result = fit_drivers(dataclasses.replace(table, frame=table.frame.with_columns(pl.lit(False).alias("churned"))), Config())
    console = Console(width=120, record=True)
    console.print(drivers_view(result))
    assert "No driver model: only 0 churn event(s)" in console.export_text()
    assert "No driver model" in drivers_markdown(result)


def test_a_proportional_hazards_violation_is_flagged_with_its_legend() -> None:
    """A driver whose effect changes with tenure carries "(PH)" in both views, and the legend says what it means."""
    table = simulate(1500, seed=4)
    result = fit_drivers(table, Config(drivers={"n_bootstrap": 20}))
    flagged = dataclasses.replace(result.effects[0], ph_violated=True, ph_p_value=1e-6)
    result = dataclasses.replace(result, effects=(flagged, *result.effects[1:]))
    md = drivers_markdown(result)
    assert f"| {flagged.feature} (PH) |" in md and "changes with tenure" in md
    console = Console(width=250, record=True)
    console.print(drivers_view(result))
    text = console.export_text()
    assert f"{flagged.feature} (PH)" in text and "(PH): 1 driver(s) whose effect changes with tenure" in text
    clean = dataclasses.replace(result, effects=tuple(dataclasses.replace(e, ph_violated=False) for e in result.effects))
    assert "(PH)" not in drivers_markdown(clean)
