"""`churnwhy drivers`: which behaviours came before churn (Cox hazard ratios) and how much churn each family explains."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from churnwhy.commands._common import Format, FormatOpt, PathArg, RunOptions, err_console, handle_errors, out_console

HorizonOpt = Annotated[
    int | None,
    typer.Option("--horizon", min=1, help="Days within which churn is attributed (default: [drivers] horizon_days, 365)."),
]


def drivers_payload(table: Any, cfg: Any, horizon: int | None) -> tuple[Any, Any]:
    """The library calls behind the command: the driver model and, when the table has stated reasons, the silent model."""
    from churnwhy.models.drivers import fit_drivers
    from churnwhy.models.silent import infer_silent_reasons

    result = fit_drivers(table, cfg, horizon_days=horizon)
    silent = None
    if {"why", "what", "reason_source"} <= set(table.frame.columns):
        _, silent = infer_silent_reasons(table, cfg)
    return result, silent


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
    from churnwhy.pipeline import add_reasons, load_table

    cfg = run.build_config(path)
    table = add_reasons(load_table(path, cfg).table, cfg, infer=False)
    result, silent = drivers_payload(table, cfg, horizon)
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
