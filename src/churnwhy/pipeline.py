"""The one place that runs the stages in order: load -> customer table -> models -> Report."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from churnwhy.config import Config
from churnwhy.errors import StrictModeError
from churnwhy.engine import load_exports_with
from churnwhy.load import Exports
from churnwhy.load.span import check_as_of, check_loaded
from churnwhy.models.threads import single_blas_thread
from churnwhy.table import CustomerTable, build_customer_table

if TYPE_CHECKING:  # report.py imports this module
    from churnwhy.report import Report


@dataclasses.dataclass(frozen=True)
class LoadedTable:
    """Exports as loaded (with their row accounting) and the customer table built from them."""

    exports: Exports
    table: CustomerTable
    config: Config


def load_table(path: Path | str, config: Config | None = None, *, rejects_to: Path | str | None = None,
               progress=None) -> LoadedTable:  # type: ignore[no-untyped-def]
    """Load the exports under `path` and build the per-customer table; `rejects_to` gets the rejected rows as CSV
    (written before --strict can stop the run, so the user sees what to fix); `progress(stage)` hears of each."""
    step = progress or (lambda stage: None)
    config = config or Config.load(path)
    step("loading exports")
    exports = load_exports_with(path, config)
    if rejects_to is not None:
        from churnwhy.render.files import write_csv

        write_csv(rejects_to, exports.rejects.rename({"source": "file"}))
    check_loaded(exports)
    exports = check_as_of(exports, config.as_of)
    if config.strict:
        _fail_on_warnings(exports)
    step("building the customer table")
    return LoadedTable(exports, build_customer_table(exports, config), config)


def add_reasons(table: CustomerTable, config: Config, *, infer: bool = True) -> CustomerTable:
    """The table with why / what / reason_source / reason_confidence: stated reasons, and with `infer` the reasons
    inferred for silent churners. A step that cannot run (no reasons at all, too few labels) leaves the table
    as it was: the commands that only need the columns (survival, drivers) still work."""
    from churnwhy.errors import ChurnwhyError
    from churnwhy.models.reasons import attach_stated_reasons
    from churnwhy.models.silent import infer_silent_reasons

    try:
        table, _ = attach_stated_reasons(table, config)
        if infer:
            table, _ = infer_silent_reasons(table, config)
    except ChurnwhyError:
        pass
    return table


def _fail_on_warnings(exports: Exports) -> None:
    counts = exports.reject_counts()
    if counts:
        listed = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        raise StrictModeError(
            f"--strict: {sum(counts.values())} input rows were rejected ({listed})",
            hint="run `churnwhy inspect PATH --rejects rejects.csv` to see each row, fix them, or drop --strict",
        )
    if exports.warnings:
        raise StrictModeError(f"--strict: {exports.warnings[0]}", hint="fix the input, or drop --strict")


def analyze(
    path: Path | str,
    config: Config | None = None,
    *,
    by: tuple[str, ...] | None = None,
    horizon_days: int | None = None,
    include_examples: bool = False,
    progress: Callable[[str], None] | None = None,  # the CLI's progress display: progress(stage)
    rejects_to: Path | str | None = None,
) -> Report:
    """Run the whole analysis: load, customer table, stated reasons, drivers, inferred reasons, survival.

    A section that cannot be computed records why; the others still run.
    """
    from churnwhy.report import Report

    from churnwhy.models.survival import check_by

    step = progress or (lambda stage: None)
    config = config or Config.load(path)
    validate_action_settings(config)
    loaded = load_table(path, config, rejects_to=rejects_to, progress=step)
    if by:
        check_by(loaded.table, by, config)  # a usage error: before any model runs
    past = past_table(loaded, progress=step)  # needs the event rows: before they go
    # The models read the customer table only: the event rows go before they run (peak memory).
    loaded = dataclasses.replace(loaded, exports=loaded.exports.without_event_rows())
    table = loaded.table
    step("classifying stated reasons")
    reasons, table = _section("reasons", _reasons, table, config, include_examples)
    step("inferring reasons of silent churners")
    inferred, inferred_table = _section("inferred", _inferred, table, config)
    step("fitting behavioural drivers and survival curves")
    segments = inferred_table.segments if by is None else by
    drivers, survival = _drivers_and_survival(table, inferred_table, config, horizon_days, tuple(segments))
    step("scoring customers at risk")
    at_risk, _ = _section("at_risk", _at_risk, table, config, past)
    revenue, _ = _section("revenue", _revenue, inferred_table)
    concentration, _ = _section("concentration", _concentration, inferred_table, config)
    report = Report(str(path), loaded, inferred_table, reasons, inferred, drivers, survival, include_examples,
                    at_risk=at_risk, revenue=revenue, concentration=concentration)
    if config.strict and report.failed_sections:
        first = report.failed_sections[0]
        raise StrictModeError(f"--strict: the {first.name} section {first.skipped}",
                              hint="drop --strict to get the other sections; rerun with --debug for the traceback")
    return report


def risk(path: Path | str, config: Config | None = None, *, horizon_days: int | None = None, progress=None):  # type: ignore[no-untyped-def]
    """`churnwhy risk`: load, build the table (and the one as of the backtest cutoff), attach stated reasons, score
    the active customers. Returns (LoadedTable, Section "at_risk")."""
    step = progress or (lambda stage: None)
    config = config or Config.load(path)
    validate_action_settings(config, horizon_days)
    loaded = load_table(path, config, progress=step)
    past = past_table(loaded, horizon_days, progress=step)
    loaded = dataclasses.replace(loaded, exports=loaded.exports.without_event_rows())
    step("classifying stated reasons")
    table = add_reasons(loaded.table, config, infer=False)
    step("scoring customers at risk")
    section, _ = _section("at_risk", _at_risk, table, config, past, horizon_days)
    return loaded, section


def validate_action_settings(config: Config, horizon_days: int | None = None) -> None:
    """[risk], [actions] and [beliefs] checked before any work, so a typo stops the run at once (exit 2)."""
    from churnwhy.models.actions import playbook
    from churnwhy.models.beliefs import parse_beliefs
    from churnwhy.models.risk import RiskSettings

    RiskSettings.from_config(config, horizon_days=horizon_days)
    playbook(config.actions)
    parse_beliefs(config.beliefs)


def past_table(loaded: LoadedTable, horizon_days: int | None = None, progress=None):  # type: ignore[no-untyped-def]
    """The customer table as of the backtest cutoff (analysis date - risk horizon), from the loaded exports (their
    event rows are needed); None for exports without dates; a Section-ready reason (str) when it cannot be built."""
    from churnwhy.errors import ChurnwhyError
    from churnwhy.models.risk import RiskSettings
    from churnwhy.models.risk_eval import cutoff_of, table_as_of

    h = RiskSettings.from_config(loaded.config, horizon_days=horizon_days).horizon_days
    cutoff = cutoff_of(loaded.table, h)
    if cutoff is None:
        return None
    starts = loaded.table.frame["start_date"].drop_nulls()
    if starts.len() == 0 or starts.min() >= cutoff:
        return f"backtest: no customer had started by the cutoff {cutoff} (analysis date - {h} days)"
    if progress is not None:
        progress("rebuilding the customer table as of the backtest cutoff")
    try:
        return table_as_of(loaded.exports, loaded.config, cutoff)
    except ChurnwhyError as exc:
        return f"backtest: the table as of {cutoff} could not be built ({exc.message})"


def _drivers_and_survival(table, inferred_table, config, horizon_days, by):  # type: ignore[no-untyped-def]
    """The drivers (on the table with stated reasons: they read behaviour, tenure and segments only, and the
    filled feature matrix the silent classifier cached on it), then survival (on the table with inferred reasons,
    for incidence per reason), one after the other on this thread.

    They once ran side by side (1 s less at a million customers), but a second Python thread is a race: both
    import lifelines and scipy submodules lazily (a `_DeadlockError` 1 run in 15 under load, issues 14 and 20),
    and the drivers record warnings through process-wide filters that the other thread's warnings would enter.
    One BLAS thread for both, set once around them (models/threads.py)."""
    with single_blas_thread():
        drivers, _ = _section("drivers", _drivers, table, config, horizon_days)
        with np.errstate(all="ignore"):
            survival, _ = _section("survival", _survival, inferred_table, config, by)
    return drivers, survival


def _section(name, fn, table, *args):  # type: ignore[no-untyped-def]
    """Run one section: its result; or why it was skipped (a ChurnwhyError: the data does not allow it); or, for
    any other exception (a bug), a failed section with a one-line reason. Either way the other sections run."""
    from churnwhy.errors import ChurnwhyError, one_line
    from churnwhy.report import Section

    try:
        result, new_table = fn(table, *args)
    except ChurnwhyError as exc:
        return Section(name, skipped=exc.message), table
    except Exception as exc:  # noqa: BLE001 - one section's bug must not take the report down (issue 14)
        return Section(name, skipped=f"could not compute: {one_line(exc)}", error=exc), table
    skipped = getattr(result, "skipped", None)
    return Section(name, result, skipped if isinstance(skipped, str) else None), new_table or table


def _reasons(table, config, examples=False):  # type: ignore[no-untyped-def]
    from churnwhy.models.reason_shares import fit_reasons
    from churnwhy.models.reasons import attach_stated_reasons

    new_table, fit = attach_stated_reasons(table, config)
    return fit_reasons(new_table, fit.summary, config, examples=examples), new_table


def _drivers(table, config, horizon_days):  # type: ignore[no-untyped-def]
    from churnwhy.models.drivers import fit_drivers

    return fit_drivers(table, config, horizon_days=horizon_days), None


def _inferred(table, config):  # type: ignore[no-untyped-def]
    from churnwhy.models.silent import infer_silent_reasons

    new_table, result = infer_silent_reasons(table, config)
    return result, new_table


def _at_risk(table, config, past, horizon_days=None):  # type: ignore[no-untyped-def]
    import dataclasses as dc

    from churnwhy.models.at_risk import fit_at_risk
    from churnwhy.results.risk import Calibration

    if isinstance(past, str):  # the past table could not be built: score, and say why there is no backtest
        result = fit_at_risk(table, config, horizon_days=horizon_days, calibrate=False)
        return dc.replace(result, calibration=Calibration(method="backtest", horizon_days=result.horizon_days, skipped=past)), None
    return fit_at_risk(table, config, horizon_days=horizon_days, past=past), None


def _revenue(table):  # type: ignore[no-untyped-def]
    from churnwhy.models.revenue import revenue_view

    return revenue_view(table), None


def _concentration(table, config):  # type: ignore[no-untyped-def]
    from churnwhy.models.revenue import concentration

    return concentration(table, min_size=config.min_segment_size, max_levels=config.max_segment_levels), None


def _survival(table, config, by):  # type: ignore[no-untyped-def]
    from churnwhy.models.survival import fit_survival

    return fit_survival(table, by=by, config=config), None
