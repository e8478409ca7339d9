"""`churnwhy survival`: retention curves overall and by segment, cohort matrix, churn incidence per reason."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from churnwhy.commands._common import (
    Format, FormatOpt, PathArg, RunOptions, err_console, handle_errors, out_console, warn_failed_sections,
)


class Unit(str, Enum):
    days = "days"
    weeks = "weeks"
    months = "months"


class Period(str, Enum):
    week = "week"
    month = "month"
    quarter = "quarter"


ByOpt = Annotated[
    list[str] | None,
    typer.Option("--by", help="A segment column to split the curves by; repeat for several (each analysed on its own)."),
]
PlotsOpt = Annotated[Path | None, typer.Option("--plots", help="Write PNG and SVG charts into this folder.")]
UnitOpt = Annotated[Unit, typer.Option("--unit", help="Time unit for medians and charts.", case_sensitive=False)]
PeriodOpt = Annotated[Period, typer.Option("--period", help="Cohort size: signup week, month or quarter.",
                                           case_sensitive=False)]


@handle_errors
def survival(
    path: PathArg,
    by: ByOpt = None,
    plots: PlotsOpt = None,
    format: FormatOpt = Format.table,
    unit: UnitOpt = Unit.days,
    period: PeriodOpt = Period.month,
    *,
    run: RunOptions,
) -> None:
    """Retention over time: Kaplan-Meier curves by segment, log-rank tests, cohort matrix, churn reasons over time."""
    # Imported here so that `churnwhy --help` stays fast and works while the pipeline is still being built.
    from churnwhy.pipeline import analyze

    if plots is not None:  # a folder of named PNG/SVG files beside whatever it holds; checked before the analysis
        from churnwhy.render.files import check_output_dir

        check_output_dir(plots, flag="--plots", ours=lambda p: True)
    cfg = run.build_config(path)
    report = analyze(path, cfg, sections=("survival",), by=tuple(by or ()), cohort_period=period.value)
    warn_failed_sections(report, run.quiet)  # a bug in a step survival reads from (reasons): said, not hidden
    result = report.survival.require()
    err = err_console()
    written: list[Path] = []
    if plots is not None:
        from churnwhy.render.plots import write_plots

        written = write_plots(result, plots, unit=unit.value)
    if format == Format.json:
        from churnwhy.render.files import dumps
        from churnwhy.results.contract import stamped

        typer.echo(dumps(stamped(result.to_dict())), nl=False)
    elif format == Format.markdown:
        from churnwhy.render.survival import survival_markdown

        typer.echo(survival_markdown(result, unit=unit.value), nl=False)
    else:
        from churnwhy.render.survival import survival_view

        console = out_console()
        console.print(survival_view(result, unit=unit.value, width=console.width))
    if not run.quiet:
        from churnwhy.render.survival import print_notes

        print_notes(result.notes, err)
        for p in written:
            err.print(f"wrote {p}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("survival")(survival)
