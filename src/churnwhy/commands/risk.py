"""`churnwhy risk`: which active customers are about to leave, why, what to do, and how far the scores hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from churnwhy.commands._common import (
    Format, FormatOpt, PathArg, RunOptions, err_console, handle_errors, out_console, warn_failed_sections,
)

HorizonOpt = Annotated[int | None, typer.Option("--horizon", min=1, help="Days within which churn is predicted (default: [risk] horizon_days, 90).")]
TopOpt = Annotated[int | None, typer.Option("--top", min=0, help="Customers listed in the terminal, riskiest first (default: [risk] top, 10).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write at_risk.parquet (one row per active customer, with ids) and risk.json here.")]


@handle_errors
def risk(
    path: PathArg,
    format: FormatOpt = Format.table,
    horizon: HorizonOpt = None,
    top: TopOpt = None,
    out: OutOpt = None,
    *,
    run: RunOptions,
) -> None:
    """Who is about to leave: churn probability within a horizon, revenue at risk, likely reason, top factors, action."""
    from churnwhy.commands.analyze import _progress
    from churnwhy.pipeline import analyze, risk_settings
    from churnwhy.render.files import dumps, write_frame, write_json
    from churnwhy.results.contract import stamped

    cfg = run.build_config(path)
    quiet = run.quiet
    with _progress(quiet) as step:
        report = analyze(path, cfg, sections=("at_risk",), risk_horizon_days=horizon, progress=step)
    warn_failed_sections(report, quiet)
    section = report.at_risk
    doc = {"as_of": report.as_of.isoformat() if report.as_of else None,
           "input": {"path": str(path)}, "at_risk": section.to_dict()}
    doc = stamped(doc)
    frame = section.result.frame if section.ok else None
    if out is not None:
        if frame is not None:
            write_frame(Path(out) / "at_risk.parquet", frame)
        write_json(Path(out) / "risk.json", doc)
        if not quiet:
            err_console().print(f"wrote {'at_risk.parquet and ' if frame is not None else ''}risk.json to {out}")
    if format is Format.json:
        typer.echo(dumps(doc), nl=False)
    elif format is Format.markdown:
        from churnwhy.render.risk import markdown_sections

        lines = markdown_sections(doc)
        end = lines.index("## Belief vs evidence") if "## Belief vs evidence" in lines else len(lines)
        typer.echo("\n".join([f"# Customers at risk (as of {doc['as_of']})", "", *lines[:end]]).rstrip("\n") + "\n", nl=False)
    else:
        from churnwhy.render.risk import rich_at_risk

        n = top if top is not None else risk_settings(cfg).top
        out_console().print(rich_at_risk(doc, frame, n))
    if not quiet and section.ok:
        err = err_console()
        for note in section.result.notes:
            err.print(f"note: {note}", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    app.command("risk")(risk)
