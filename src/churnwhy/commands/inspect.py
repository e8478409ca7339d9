"""`churnwhy inspect PATH`: how the exports were read, and the customer table they give."""

from __future__ import annotations

import typer

from churnwhy.commands._common import (
    Format, FormatOpt, PathArg, RejectsOpt, RunOptions, check_outputs, err_console, handle_errors, out_console,
)
from churnwhy.render.safe import safe_text


@handle_errors
def inspect(
    path: PathArg,
    format: FormatOpt = Format.table,
    rejects: RejectsOpt = None,
    *,
    run: RunOptions,
) -> None:
    """Show the files found, their roles and column mapping, row accounting, and customers and churners found."""
    from churnwhy.pipeline import load_table
    from churnwhy.render.files import dumps
    from churnwhy.render.inspect import markdown_inspect, rich_inspect
    from churnwhy.results.inspect import InspectResult

    check_outputs(path, rejects=rejects)
    cfg = run.build_config(path)
    loaded = load_table(path, cfg, rejects_to=rejects)
    if rejects is not None:
        if not run.quiet:
            err_console().print(f"wrote {sum(loaded.exports.reject_counts().values()):,} rejected rows to {safe_text(rejects)}")
    result = InspectResult.from_loaded(str(path), loaded.exports, loaded.table)
    if format is Format.json:
        typer.echo(dumps(result.to_dict()), nl=False)
    elif format is Format.markdown:
        typer.echo(markdown_inspect(result), nl=False)
    else:
        out_console().print(rich_inspect(result))


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
