"""`churnwhy reasons PATH`: why they left, as they said it."""

from __future__ import annotations

from typing import Annotated

import typer

from churnwhy.commands._common import Format, FormatOpt, PathArg, RunOptions, handle_errors, out_console

ByOpt = Annotated[str | None, typer.Option("--by", help="A segment column to break the shares down by.")]
ExamplesOpt = Annotated[bool, typer.Option(
    "--include-examples", help="Also show the commonest answers per cell and unmapped codes, masked (off: codes and counts only).")]
PeriodOpt = Annotated[str | None, typer.Option("--period", help="Churn period for shares over time: month or quarter (default: by span).")]


@handle_errors
def reasons(
    path: PathArg,
    by: ByOpt = None,
    period: PeriodOpt = None,
    format: FormatOpt = Format.table,
    include_examples: ExamplesOpt = False,
    *,
    run: RunOptions,
) -> None:
    """Why they left, as they said it: reason codes and free text on the why and what axes, with 95% CIs.

    Shares naive and reweighted for who answered, per segment (--by) and churn period, and the reasons of
    churners who were satisfied but left."""
    from churnwhy.errors import ChurnwhyError
    from churnwhy.pipeline import analyze
    from churnwhy.render.files import dumps
    from churnwhy.render.reasons import reasons_markdown, reasons_view

    if period not in (None, "month", "quarter"):
        raise ChurnwhyError(f"--period must be month or quarter, got {period!r}")
    cfg = run.build_config(path)
    # --by: no such column, or one that identifies customers, is exit 2 before any model runs
    report = analyze(path, cfg, sections=("reasons",), reasons_by=by, period=period, include_examples=include_examples)
    result = report.reasons.require()
    if format is Format.json:
        from churnwhy.results.contract import stamped

        typer.echo(dumps(stamped(result.to_dict())), nl=False)
    elif format is Format.markdown:
        typer.echo(reasons_markdown(result), nl=False)
    else:
        out_console().print(reasons_view(result))


def register(app: typer.Typer) -> None:
    app.command("reasons")(reasons)
