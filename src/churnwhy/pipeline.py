"""The orchestrator: `analyze(path, config, sections=...) -> Report` runs load -> customer table -> models and is
the only caller of the models. Every command asks it for the sections it shows (analyze for all of them).

Each section is computed once, on the table its model needs: the stated reasons are attached once (drivers and
at_risk read that table), the silent churners' reasons are inferred once (survival, revenue and concentration read
that table), and the behaviour feature matrix is built once and handed to every model that reads it. A section
that cannot be computed fails one way: a Section with status "skipped" (the data does not allow it: a
ChurnwhyError, with its hint) or "failed" (a bug), never swallowed; the other sections still run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churnwhy.config import Config, did_you_mean
from churnwhy.engine import load_exports_with
from churnwhy.errors import ChurnwhyError, ConfigError, StrictModeError
from churnwhy.load import Exports
from churnwhy.load.span import check_as_of, check_loaded
from churnwhy.models.features import Prepared, feature_matrix
from churnwhy.models.threads import single_blas_thread
from churnwhy.report import Report, Section
from churnwhy.table import CustomerTable, LoadedTable, build_customer_table

if TYPE_CHECKING:  # the models are imported where they run (the commands that do not need them stay fast)
    from churnwhy.models.drivers import CoxDrivers
    from churnwhy.models.silent import SilentReasonClassifier

Progress = Callable[[str], None]

# Every section of a Report, in the order they are computed.
SECTIONS = ("reasons", "inferred", "drivers", "survival", "at_risk", "revenue", "concentration", "beliefs")
# What each section reads besides the loaded table: the stated reasons attached, the silent churners' reasons
# inferred (the table survival, revenue and concentration read), the backtest's past table.
_NEEDS_STATED = {"reasons", "inferred", "drivers", "survival", "at_risk", "revenue", "concentration", "beliefs"}
_NEEDS_INFERRED = {"inferred", "survival", "revenue", "concentration", "beliefs"}


def load_table(path: Path | str, config: Config | None = None, *, rejects_to: Path | str | None = None,
               progress: Progress | None = None) -> LoadedTable:
    """Load the exports under `path` and build the per-customer table; `rejects_to` gets the rejected rows as CSV
    (written before --strict can stop the run, so the user sees what to fix); `progress(stage)` hears of each."""
    step = progress or (lambda stage: None)
    config = config or Config.load(path)
    step("loading exports")
    exports = load_exports_with(path, config)
    if rejects_to is not None:
        from churnwhy.render.files import formula_safe, write_csv

        if exports.held_rejects is not None:  # another engine holds the events' rejects: it writes the file
            exports.held_rejects.write(rejects_to, exports.rejects, formula_safe)
        else:
            write_csv(rejects_to, exports.rejects.rename({"source": "file"}))
    check_loaded(exports)
    exports = check_as_of(exports, config.as_of)
    if config.strict:
        _fail_on_warnings(exports)
    step("building the customer table")
    return LoadedTable(exports, build_customer_table(exports, config), config)


def analyze(
    path: Path | str,
    config: Config | None = None,
    *,
    sections: Iterable[str] = SECTIONS,
    by: tuple[str, ...] | None = None,
    horizon_days: int | None = None,
    risk_horizon_days: int | None = None,
    include_examples: bool = False,
    reasons_by: str | None = None,
    period: str | None = None,
    cohort_period: str | None = None,
    progress: Progress | None = None,
    rejects_to: Path | str | None = None,
) -> Report:
    """Load the exports under `path`, build the customer table and compute the `sections` asked for (default: all).

    `by`: the segment columns survival splits by (None: the table's segments); `horizon_days`: the drivers'
    attribution horizon; `risk_horizon_days`: the at-risk horizon (and the backtest's cutoff); `reasons_by` and
    `period`: the reasons section's breakdowns; `cohort_period`: survival's cohort size. Sections not asked for
    read "not computed". A usage error (a bad setting, an unknown --by column) raises before any model runs.
    """
    wanted = set(sections)
    unknown = sorted(wanted - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(unknown)}; sections are {', '.join(SECTIONS)}")
    step = progress or (lambda stage: None)
    config = config or Config.load(path)
    validate_model_settings(config)
    validate_action_settings(config, risk_horizon_days)
    loaded = load_table(path, config, rejects_to=rejects_to, progress=step)
    from churnwhy.models.survival import check_by

    if by:
        check_by(loaded.table, by, config)  # a usage error: before any model runs
    if reasons_by is not None:
        check_by(loaded.table, (reasons_by,), config)
    past = past_table(loaded, risk_horizon_days, progress=step) if "at_risk" in wanted else None  # needs the events
    # The models read the customer table only: the event rows go before they run (peak memory).
    loaded = dataclasses.replace(loaded, exports=loaded.exports.without_event_rows())
    run = _Run(config, wanted)
    table = loaded.table
    if wanted & _NEEDS_STATED:
        step("classifying stated reasons")
        table = run.stated(table, include_examples, reasons_by, period)
    inferred_table = table
    if wanted & _NEEDS_INFERRED:
        step("inferring reasons of silent churners")
    matrix = _matrix(table) if wanted & (_NEEDS_INFERRED | {"drivers", "at_risk"}) else None
    if wanted & _NEEDS_INFERRED:
        inferred_table = run.inferred(table, matrix)
    # Drivers, then survival, on this thread, with one BLAS thread for both (models/threads.py). They once ran
    # side by side (1 s less at a million customers), but a second Python thread is a race: both import lifelines
    # and scipy submodules lazily (a `_DeadlockError` 1 run in 15 under load, issues 14 and 20), and the drivers
    # record warnings through process-wide filters that the other thread's warnings would enter.
    with single_blas_thread():
        if "drivers" in wanted:
            step("fitting behavioural drivers")
        run.section("drivers", lambda: run.drivers(table, horizon_days, matrix))
        if "survival" in wanted:
            step("fitting survival curves")
        segments = tuple(inferred_table.segments if by is None else by)
        with np.errstate(all="ignore"):
            run.section("survival", lambda: _survival(inferred_table, config, segments, cohort_period))
    if "at_risk" in wanted:
        step("scoring customers at risk")
    run.section("at_risk", lambda: run.at_risk(table, past, risk_horizon_days, matrix))
    if wanted & {"revenue", "concentration", "beliefs"}:
        step("revenue, concentration and beliefs")
    run.section("revenue", lambda: _revenue(inferred_table))
    run.section("concentration", lambda: _concentration(inferred_table, config))
    run.section("beliefs", lambda: _beliefs(config, run.done["reasons"], run.done["inferred"]))
    report = Report(str(path), loaded, inferred_table, include_examples=include_examples, **run.done)
    if config.strict and report.failed_sections:
        first = report.failed_sections[0]
        raise StrictModeError(f"--strict: the {first.name} section {first.skipped}",
                              hint="drop --strict to get the other sections; rerun with --debug for the traceback")
    return report


class _Run:
    """The sections of one analysis as they are computed; sections not asked for stay "not computed".

    It keeps what two sections read: the fitted drivers model (the drivers section's, which the at-risk scores
    read) and the silent-reason classifiers (the inferred section's, which give each active customer's likely
    reason). Each is fitted once per run, by the first section that needs it."""

    def __init__(self, config: Config, wanted: set[str]) -> None:
        self.config = config
        self.wanted = wanted
        self.done: dict[str, Section] = {name: Section(name, skipped="not computed") for name in SECTIONS}
        self._driver_model: CoxDrivers | None = None
        self._classifiers: dict[str, SilentReasonClassifier] | None = None

    def section(self, name: str, compute: Callable[[], tuple[Any, str | None]]) -> None:
        """Compute one section if it was asked for: `compute` returns (result, why it was skipped or None)."""
        if name in self.wanted:
            self.done[name] = _attempt(name, compute)

    def stated(self, table: CustomerTable, examples: bool, by: str | None, period: str | None) -> CustomerTable:
        """The table with the stated reasons attached; the reasons section from it when asked for. A table the
        reasons cannot be attached to is returned as it is (the sections that only read behaviour still run),
        and the reasons section says why."""
        from churnwhy.models.reason_shares import fit_reasons
        from churnwhy.models.reasons import attach_stated_reasons

        attached: list[tuple[CustomerTable, Any]] = []

        def attach() -> tuple[Any, str | None]:
            attached.append(attach_stated_reasons(table, self.config))
            return None, None

        failed = _attempt("reasons", attach)
        if not attached:  # recorded even when the reasons section was not asked for: never swallowed
            self.done["reasons"] = failed
            return table
        stated, fit = attached[0]
        self.section("reasons", lambda: (fit_reasons(stated, fit.summary, self.config, by=by, period=period,
                                                     examples=examples), None))
        return stated

    def inferred(self, table: CustomerTable, matrix: Prepared | None) -> CustomerTable:
        """The table with the silent churners' reasons inferred (survival, revenue and concentration read it);
        the inferred section (the classifier's result) whether or not it was asked for (beliefs read it; a
        failure is never swallowed)."""
        from churnwhy.models.silent import infer_silent_reasons

        out: list[CustomerTable] = []

        def infer() -> tuple[Any, str | None]:
            new_table, result = infer_silent_reasons(table, self.config, self.classifiers(table, matrix),
                                                     matrix=matrix)
            out.append(new_table)
            return result, result.skipped

        self.done["inferred"] = _attempt("inferred", infer)
        return out[0] if out else table

    def classifiers(self, table: CustomerTable, matrix: Prepared | None) -> dict[str, SilentReasonClassifier]:
        """The silent-reason classifiers of `table` (the one with stated reasons), fitted on first use."""
        from churnwhy.models.silent import fit_reason_classifiers

        if self._classifiers is None:
            self._classifiers = fit_reason_classifiers(table, self.config, matrix=matrix)
        return self._classifiers

    def drivers(self, table: CustomerTable, horizon_days: int | None,
                matrix: Prepared | None) -> tuple[Any, str | None]:
        """The drivers section; its fitted model is kept for the at-risk scores."""
        self._driver_model = _drivers(table, self.config, horizon_days, matrix)
        result = self._driver_model.result()
        return result, result.skipped

    def at_risk(self, table: CustomerTable, past: CustomerTable | str | None, horizon_days: int | None,
                matrix: Prepared | None) -> tuple[Any, str | None]:
        """The at_risk section from the drivers section's model and the inferred section's classifiers (fitted here,
        for scoring only, when those sections were not asked for); the backtest on `past`, or why there is none."""
        from churnwhy.models.at_risk import fit_at_risk
        from churnwhy.models.risk import fit_risk_model
        from churnwhy.results.risk import Calibration

        model = self._driver_model
        if model is None:  # no drivers section (the risk command) or it failed: a fit for the scores alone
            model = fit_risk_model(table, self.config, matrix=matrix)
        classifiers = self.classifiers(table, matrix) if table.features else None
        kwargs: dict[str, Any] = {"horizon_days": horizon_days, "matrix": matrix, "drivers": model,
                                  "classifiers": classifiers}
        if isinstance(past, str):  # the past table could not be built: score, and say why there is no backtest
            result = fit_at_risk(table, self.config, calibrate=False, **kwargs)
            result = dataclasses.replace(result, calibration=Calibration(
                method="backtest", horizon_days=result.horizon_days, skipped=past))
        else:
            result = fit_at_risk(table, self.config, past=past, **kwargs)
        return result, result.skipped


def _attempt(name: str, compute: Callable[[], tuple[Any, str | None]]) -> Section:
    """One section: its result (and, for a result that says so, why it was skipped); a ChurnwhyError (the data does
    not allow it) as a skipped section with its message and hint; any other exception (a bug) as a failed section
    with a one-line reason and the exception (--debug shows it). Either way the other sections run."""
    from churnwhy.errors import one_line

    try:
        result, skipped = compute()
    except ChurnwhyError as exc:
        return Section(name, skipped=exc.message, hint=exc.hint, error=exc)
    except Exception as exc:  # noqa: BLE001 - one section's bug must not take the report down (issue 14)
        return Section(name, skipped=f"could not compute: {one_line(exc)}", error=exc)
    return Section(name, result, skipped)


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


def validate_model_settings(config: Config) -> None:
    """[reasons] and [drivers] are read by the models, but checked as soon as the settings are built: a misspelt
    key must stop the run before it starts, not quietly skip a section (issue 14). The models' own parsers are
    the one truth; the config module stays below the models (it may not import them)."""
    from churnwhy.models.drivers_families import DEFAULTS, DriverSettings
    from churnwhy.models.reason_taxonomy import _KNOWN_KEYS, settings_from_config

    where = f"{config.source}: " if config.source else ""
    for name, table, parse, keys in (("reasons", config.reasons, settings_from_config, _KNOWN_KEYS),
                                     ("drivers", config.drivers, DriverSettings.from_config, DEFAULTS)):
        try:
            parse(config)
        except ConfigError as exc:
            unknown = sorted(set(table) - set(keys))
            raise ConfigError(where + exc.message, hint=did_you_mean(unknown[0], sorted(keys), f"[{name}] key")
                              if unknown else exc.hint) from None


def risk_settings(config: Config, horizon_days: int | None = None) -> Any:  # -> models.risk.RiskSettings
    """[risk] as the risk model reads it (the commands show its defaults, e.g. how many customers to list)."""
    from churnwhy.models.risk import RiskSettings

    return RiskSettings.from_config(config, horizon_days=horizon_days)


def validate_action_settings(config: Config, horizon_days: int | None = None) -> None:
    """[risk], [actions] and [beliefs] checked before any work, so a typo stops the run at once (exit 2)."""
    from churnwhy.models.actions import playbook
    from churnwhy.models.beliefs import parse_beliefs
    from churnwhy.models.risk import RiskSettings

    RiskSettings.from_config(config, horizon_days=horizon_days)
    playbook(config.actions)
    parse_beliefs(config.beliefs)


def past_table(loaded: LoadedTable, horizon_days: int | None = None,
               progress: Progress | None = None) -> CustomerTable | str | None:
    """The customer table as of the backtest cutoff (analysis date - risk horizon), from the loaded exports (their
    event rows are needed); None for exports without dates; why not (a str) when it cannot be built."""
    from churnwhy.models.risk import RiskSettings
    from churnwhy.models.risk_eval import backtest_sample, cutoff_of, table_as_of

    settings = RiskSettings.from_config(loaded.config, horizon_days=horizon_days)
    h = settings.horizon_days
    cutoff = cutoff_of(loaded.table, h)
    if cutoff is None:
        return None
    starts = loaded.table.frame["start_date"].drop_nulls()
    if not (starts < cutoff).any():  # nobody had started by then (or no start dates at all)
        return f"backtest: no customer had started by the cutoff {cutoff} (analysis date - {h} days)"
    if progress is not None:
        progress("rebuilding the customer table as of the backtest cutoff")
    try:
        # A random sample of the customers who had started (the calibration needs thousands per decile, not a
        # million); today's table dates the churn its flags decided.
        sample = backtest_sample(loaded.table, cutoff, settings.backtest_rows, settings.seed)
        return table_as_of(loaded.exports, loaded.config, cutoff, sample, now=loaded.table)
    except ChurnwhyError as exc:
        return f"backtest: the table as of {cutoff} could not be built ({exc.message})"


def _matrix(table: CustomerTable) -> Prepared | None:
    """The behaviour feature matrix, built once per run and handed to every model that reads it (drivers, silent
    reasons, risk); None without behaviour features."""
    return feature_matrix(table) if table.features else None


# Each section's model call: (result, why it was skipped, for the result types that carry a reason).


def _drivers(table: CustomerTable, config: Config, horizon_days: int | None, matrix: Prepared | None) -> CoxDrivers:
    """The fitted drivers model (the drivers section reads its result, the at-risk scores the model itself)."""
    from churnwhy.models.drivers import fit_driver_model

    return fit_driver_model(table, config, horizon_days=horizon_days, matrix=matrix)


def _survival(table: CustomerTable, config: Config, by: tuple[str, ...],
              cohort_period: str | None) -> tuple[Any, str | None]:
    from churnwhy.models.survival import fit_survival

    if cohort_period is None:
        return fit_survival(table, by=by, config=config), None
    return fit_survival(table, by=by, config=config, cohort_period=cohort_period), None


def _revenue(table: CustomerTable) -> tuple[Any, str | None]:
    from churnwhy.models.revenue import revenue_view

    result = revenue_view(table)
    return result, result.skipped


def _concentration(table: CustomerTable, config: Config) -> tuple[Any, str | None]:
    from churnwhy.models.revenue import concentration

    result = concentration(table, min_size=config.min_segment_size, max_levels=config.max_segment_levels)
    return result, result.skipped


def _beliefs(config: Config, reasons: Section, inferred: Section) -> tuple[Any, str | None]:
    """[beliefs] (or the external benchmark) against the headline reason mix the report leads with."""
    from churnwhy.checks import headline_shares
    from churnwhy.models.beliefs import evaluate
    from churnwhy.results.contract import named

    doc = named({"reasons": {**reasons.to_dict(), "inferred": inferred.to_dict()}})
    result = evaluate(config.beliefs, {axis: headline_shares(doc, axis) for axis in ("why", "what")})
    return result, result.skipped
