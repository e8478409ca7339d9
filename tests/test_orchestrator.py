"""The orchestrator (pipeline.analyze) is the one caller of the models: every command asks it for sections; a
section fails one way (skipped with its reason and hint, or failed with the bug's one line, never swallowed); the
behaviour feature matrix is built once per run and handed to each model that reads it (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from churnwhy import pipeline
from churnwhy.errors import ChurnwhyError, StrictModeError


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from churnwhy.demo import generate

    folder = tmp_path_factory.mktemp("orchestrator") / "d"
    generate(folder, customers=500, seed=11, format="csv", messy=False)
    return folder


def _counting(monkeypatch: pytest.MonkeyPatch, target: str, calls: dict[str, int]) -> None:
    module_name, name = target.rsplit(".", 1)
    module = __import__(module_name, fromlist=[name])
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[target] = calls.get(target, 0) + 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)


def test_sections_fail_one_way_and_the_matrix_is_built_once(exports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, int] = {}
    for target in ("churnwhy.pipeline.feature_matrix", "churnwhy.models.drivers_design.fill_features",
                   "churnwhy.models.silent.feature_matrix", "churnwhy.models.risk_eval.feature_matrix",
                   "churnwhy.models.at_risk.feature_matrix"):
        _counting(monkeypatch, target, calls)

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom\nsecond line with a value")

    def not_allowed(*args: Any, **kwargs: Any) -> Any:
        raise ChurnwhyError("no amounts in these exports", hint="add an amount column")

    monkeypatch.setattr("churnwhy.models.survival.fit_survival", bug)
    monkeypatch.setattr("churnwhy.models.revenue.revenue_view", not_allowed)
    report = pipeline.analyze(exports)

    # one matrix for the stated table, handed to the drivers, the silent classifier and the risk model; one for
    # the backtest's table as of the cutoff (another table), read by its fit and its scores
    assert calls == {"churnwhy.pipeline.feature_matrix": 1, "churnwhy.models.risk_eval.feature_matrix": 1}
    survival, revenue = report.survival, report.revenue
    assert (survival.status, survival.failed, survival.skipped) == ("failed", True, "could not compute: RuntimeError: boom")
    assert report.failed_sections == (survival,)
    assert (revenue.status, revenue.failed, revenue.skipped, revenue.hint) == (
        "skipped", False, "no amounts in these exports", "add an amount column")
    assert report.to_dict()["revenue"] == {"status": "skipped", "reason": "no amounts in these exports"}
    with pytest.raises(RuntimeError, match="boom"):  # a command showing the section: the bug, raised again
        survival.require()
    with pytest.raises(ChurnwhyError) as info:  # the model's own error: its exit code and hint
        revenue.require()
    assert info.value.hint == "add an amount column"
    assert all(s.ok for s in (report.reasons, report.inferred, report.drivers, report.at_risk, report.beliefs))

    import dataclasses

    from churnwhy.config import Config

    strict = dataclasses.replace(Config.load(exports), strict=True)
    with pytest.raises(StrictModeError, match="the survival section could not compute"):
        pipeline.analyze(exports, strict)


def test_a_command_computes_only_the_sections_it_shows(exports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model the section does not need was fitted")

    monkeypatch.setattr("churnwhy.models.drivers.fit_drivers", never)
    monkeypatch.setattr("churnwhy.models.drivers.fit_driver_model", never)
    monkeypatch.setattr("churnwhy.models.risk.fit_risk_model", never)
    monkeypatch.setattr("churnwhy.models.at_risk.fit_at_risk", never)
    monkeypatch.setattr("churnwhy.models.reason_shares.fit_reasons", never)
    monkeypatch.setattr("churnwhy.pipeline.past_table", never)  # no backtest table without the at_risk section
    report = pipeline.analyze(exports, sections=("survival",), by=())
    assert report.survival.ok and report.survival.result.by == ()  # by=(): no split, as `churnwhy survival` asks
    assert report.inferred.ok  # survival reads the table with the silent churners' reasons inferred
    assert {s.name: s.skipped for s in report.sections if not s.ok} == {
        name: "not computed" for name in ("reasons", "drivers", "at_risk", "revenue", "concentration", "beliefs")}
    with pytest.raises(ValueError, match="unknown section"):
        pipeline.analyze(exports, sections=("survivl",))


def test_a_failed_step_before_a_section_is_said_not_hidden(exports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stated reasons that cannot be attached because of a bug: the drivers command still shows the drivers, and
    warns on stderr (the old add_reasons swallowed what went wrong there)."""
    from typer.testing import CliRunner

    from churnwhy.cli import app

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("why")

    monkeypatch.setattr("churnwhy.models.reasons.attach_stated_reasons", bug)
    out = CliRunner().invoke(app, ["drivers", str(exports), "--format", "markdown"])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("## What they did before leaving")
    assert "warning: the reasons section could not compute: KeyError: 'why'" in " ".join(out.stderr.split())
