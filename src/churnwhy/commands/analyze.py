"""`analyze`, `check`, `diff` and `report`: the whole story, CI gates, run-to-run changes, and an HTML page."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from churnwhy.commands._common import (
    Format, FormatOpt, PathArg, RejectsOpt, RunOptions, check_outputs, err_console, handle_errors, out_console,
    warn_failed_sections,
)
from churnwhy.errors import ChurnwhyError, InternalError
from churnwhy.render.safe import safe_text

if TYPE_CHECKING:  # the library is imported when a command runs (fast --help)
    from churnwhy.report import Report

ByOpt = Annotated[list[str] | None, typer.Option("--by", help="Segment column(s) for retention curves (default: all detected segments).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write customers/reasons/drivers/survival/incidence/cohorts .parquet and report.json here.")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon", help="Days for attributable churn (default 365).")]
ExamplesOpt = Annotated[bool, typer.Option("--include-examples", help="Add a few redacted example quotes per reason (off: reports hold aggregates only).")]


def _run(path: Path, run: RunOptions, by: list[str] | None, horizon: int | None, include_examples: bool,
         extra_horizons: tuple[int, ...] = (), rejects: Path | None = None) -> Report:
    from churnwhy.pipeline import analyze

    quiet = run.quiet
    cfg = run.build_config(path)
    if extra_horizons:
        import dataclasses

        cfg = dataclasses.replace(cfg, horizons=tuple(sorted(set(cfg.horizons) | set(extra_horizons))))
    with _progress(quiet) as step:
        report: Report = analyze(path, cfg, by=tuple(by) if by else None, horizon_days=horizon,
                         include_examples=include_examples, progress=step, rejects_to=rejects)
    warn_failed_sections(report, quiet)
    return report


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the stage; nothing when quiet or when stderr is not a terminal."""
    console = err_console()
    if quiet or not console.is_terminal:
        yield lambda stage: None
        return
    with console.status("starting") as status:
        yield lambda stage: status.update(f"{stage}…")


@handle_errors
def analyze(
    path: PathArg,
    format: FormatOpt = Format.table,
    out: OutOpt = None,
    by: ByOpt = None,
    horizon: HorizonOpt = None,
    include_examples: ExamplesOpt = False,
    rejects: RejectsOpt = None,
    *,
    run: RunOptions,
) -> None:
    """Load, attribute churn to reasons and drivers, draw retention curves: the whole story in one report."""
    from churnwhy.render.files import dumps
    from churnwhy.render.markdown import markdown_report
    from churnwhy.render.outputs import write_outputs
    from churnwhy.render.report import rich_report

    check_outputs(path, out=out, rejects=rejects)
    if horizon is not None and horizon < 1:
        raise ChurnwhyError(f"--horizon must be a positive number of days, got {horizon}", hint="e.g. --horizon 365")
    report = _run(path, run, by, horizon, include_examples, rejects=rejects)
    if out is not None:
        written = write_outputs(report, out)
        if not run.quiet:
            err_console().print(f"wrote {len(written)} files to {safe_text(out)}")
    if format is Format.json:
        typer.echo(dumps(report.to_dict()), nl=False)
    elif format is Format.markdown:
        typer.echo(markdown_report(report), nl=False)
    else:
        out_console().print(rich_report(report))


CheckPathArg = Annotated[Path, typer.Argument(
    help="A folder of exports, one export file, or a report.json from `churnwhy analyze` (judged as saved, not rerun).",
    show_default=False)]


@handle_errors
def check(
    path: CheckPathArg,
    max_churn_rate: Annotated[float | None, typer.Option("--max-churn-rate", help="Fail when the churn rate is above this (0-1).")] = None,
    min_retention: Annotated[list[str] | None, typer.Option("--min-retention", help="HORIZON=SHARE, e.g. 90d=0.85; repeatable.")] = None,
    max_share: Annotated[list[str] | None, typer.Option("--max-share", help="AXIS=LABEL:SHARE, e.g. why=brand_failed:0.4; repeatable.")] = None,
    format: FormatOpt = Format.table,
    *,
    run: RunOptions,
) -> None:
    """Exit 1 when a retention threshold is breached, 0 when all hold, 2 on usage or input errors: for CI jobs."""
    from churnwhy.checks import Thresholds, read_report, run_checks
    from churnwhy.render.files import dumps
    from churnwhy.render.report import markdown_checks, rich_checks
    from churnwhy.results.contract import stamped

    thresholds = Thresholds.parse(max_churn_rate, min_retention or [], max_share or [])
    doc = read_report(path, required=False)
    if doc is None:
        report = _run(path, run, None, None, False, tuple(h for h, _ in thresholds.min_retention))
        if report.failed_sections:  # a bug, not a breach: never exit 1 for it (CI must tell them apart)
            first = report.failed_sections[0]
            raise InternalError(f"check cannot judge the thresholds: the {first.name} section {first.skipped}",
                                hint="a bug in churnwhy: rerun with --debug and report the traceback")
        doc = report.to_dict()
    else:
        thresholds.check_saved(doc, str(path))
    results = run_checks(doc, thresholds)
    failed = [c for c in results if not c.ok]
    if format is Format.json:
        typer.echo(dumps(stamped({"passed": not failed, "checks": [c.to_dict() for c in results]})), nl=False)
    elif format is Format.markdown:
        typer.echo(markdown_checks(results), nl=False)
    else:
        out_console().print(rich_checks(results))
    if failed:
        raise typer.Exit(1)


@handle_errors
def diff(
    old: Annotated[Path, typer.Argument(help="report.json of the earlier run.")],
    new: Annotated[Path, typer.Argument(help="report.json of the later run.")],
    format: FormatOpt = Format.table,
) -> None:
    """What changed between two runs: churn rate, retention at horizons, reason shares, with significance."""
    from churnwhy.checks import diff_reports, read_report
    from churnwhy.render.files import dumps
    from churnwhy.render.report import markdown_changes, rich_changes
    from churnwhy.results.contract import stamped

    docs = [read_report(p, required=True) for p in (old, new)]
    changes = diff_reports(docs[0], docs[1])
    if format is Format.json:
        typer.echo(dumps(stamped({"old": str(old), "new": str(new), "changes": [c.to_dict() for c in changes]})), nl=False)
    elif format is Format.markdown:
        typer.echo(markdown_changes(changes, str(old), str(new)), nl=False)
    else:
        out_console().print(rich_changes(changes))


@handle_errors
def report(
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
    by: ByOpt = None,
    include_examples: ExamplesOpt = False,
    *,
    run: RunOptions,
) -> None:
    """Write one self-contained HTML page (works offline): curves, reasons, drivers and the cohort heatmap."""
    from churnwhy.render.files import write_text
    from churnwhy.render.html import html_report

    check_outputs(path, output=output)
    result = _run(path, run, by, None, include_examples)
    write_text(output, html_report(result))
    if not run.quiet:
        err_console().print(f"wrote {safe_text(output)}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.command("check")(check)
    app.command("diff")(diff)
    app.command("report")(report)



