"""`churnwhy drivers`: which behaviours came before churn (Cox hazard ratios) and how much churn each family explains."""

from __future__ import annotations

from typing import Annotated

import typer

from churnwhy.commands._common import (
    Format, FormatOpt, PathArg, RunOptions, err_console, handle_errors, out_console, warn_failed_sections,
)

HorizonOpt = Annotated[
    int | None,
    typer.Option("--horizon", min=1, help="Days within which churn is attributed (default: [drivers] horizon_days, 365)."),
]


@handle_errors
def drivers(
    path: PathArg,
    format: FormatOpt = Format.table,
    horizon: HorizonOpt = None,
    *,
    run: RunOptions,
) -> None:
    """What customers did before leaving: hazard ratio per behaviour, and the share of churn each family explains."""
    # Imported here so that `churnwhy --help` stays fast.
    from churnwhy.pipeline import analyze

    cfg = run.build_config(path)
    report = analyze(path, cfg, sections=("drivers", "inferred"), horizon_days=horizon)
    warn_failed_sections(report, run.quiet)  # a bug in a step the drivers read from (stated reasons): said, not hidden
    result = report.drivers.require()
    # The silent churners' reasons, when stated reasons could be read to learn from (else the drivers alone).
    silent = report.inferred.require() if report.reasons.error is None else None
    if format == Format.json:
        from churnwhy.render.files import dumps
        from churnwhy.results.contract import stamped

        payload = {"drivers": result.to_dict(), "silent": silent.to_dict() if silent is not None else None}
        typer.echo(dumps(stamped(payload)), nl=False)
    elif format == Format.markdown:
        from churnwhy.render.drivers import drivers_markdown

        typer.echo(drivers_markdown(result, silent))
    else:
        from churnwhy.render.drivers import drivers_view

        console = out_console()
        console.print(drivers_view(result, silent))
    if not run.quiet and format != Format.markdown:
        from churnwhy.render.drivers import print_notes

        err = err_console()
        print_notes(list(result.notes) + (list(silent.notes) if silent is not None else []), err)


def register(app: typer.Typer) -> None:
    app.command("drivers")(drivers)
