"""`analyze`, `check`, `diff` and `report`: the whole story, CI gates, run-to-run changes, and an HTML page."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from churnwhy.commands._common import (
    EngineOpt, SparkMasterOpt,
    AsOfOpt, ConfigOpt, Format, FormatOpt, PathArg, QuietOpt, RejectsOpt, StrictOpt, build_config, check_outputs, err_console,
    handle_errors, out_console, warn_failed_sections,
)
from churnwhy.errors import ChurnwhyError, InputError, InternalError
from churnwhy.render.safe import safe_text

if TYPE_CHECKING:  # the library is imported when a command runs (fast --help)
    from churnwhy.report import Report

ByOpt = Annotated[list[str] | None, typer.Option("--by", help="Segment column(s) for retention curves (default: all detected segments).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write customers/reasons/drivers/survival/incidence/cohorts .parquet and report.json here.")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon", help="Days for attributable churn (default 365).")]
ExamplesOpt = Annotated[bool, typer.Option("--include-examples", help="Add a few redacted example quotes per reason (off: reports hold aggregates only).")]


def _run(path: Path, config: Path | None, as_of: str | None, strict: bool, quiet: bool, by: list[str] | None,
         horizon: int | None, include_examples: bool, extra_horizons: tuple[int, ...] = (), rejects: Path | None = None,
         engine: str | None = None, spark_master: str | None = None) -> Report:
    from churnwhy.pipeline import analyze

    cfg = build_config(path, config, as_of, strict=strict or None, engine=engine, spark_master=spark_master)
    if extra_horizons:
        import dataclasses

        cfg = dataclasses.replace(cfg, horizons=tuple(sorted(set(cfg.horizons) | set(extra_horizons))))
    with _progress(quiet) as step:
        report = analyze(path, cfg, by=tuple(by) if by else None, horizon_days=horizon,
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
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Load, attribute churn to reasons and drivers, draw retention curves: the whole story in one report."""
    from churnwhy.render.files import dumps
    from churnwhy.render.markdown import markdown_report
    from churnwhy.render.outputs import write_outputs
    from churnwhy.render.report import rich_report

    check_outputs(path, out=out, rejects=rejects)
    if horizon is not None and horizon < 1:
        raise ChurnwhyError(f"--horizon must be a positive number of days, got {horizon}", hint="e.g. --horizon 365")
    report = _run(path, config, as_of, strict, quiet, by, horizon, include_examples, rejects=rejects, engine=engine,
                  spark_master=spark_master)
    if out is not None:
        written = write_outputs(report, out)
        if not quiet:
            err_console().print(f"wrote {len(written)} files to {safe_text(out)}")
    if format is Format.json:
        typer.echo(dumps(report.to_dict()), nl=False)
    elif format is Format.markdown:
        typer.echo(markdown_report(report.to_dict()), nl=False)
    else:
        out_console().print(rich_report(report))


@handle_errors
def check(
    path: PathArg,
    max_churn_rate: Annotated[float | None, typer.Option("--max-churn-rate", help="Fail when the churn rate is above this (0-1).")] = None,
    min_retention: Annotated[list[str] | None, typer.Option("--min-retention", help="HORIZON=SHARE, e.g. 90d=0.85; repeatable.")] = None,
    max_share: Annotated[list[str] | None, typer.Option("--max-share", help="AXIS=LABEL:SHARE, e.g. why=brand_failed:0.4; repeatable.")] = None,
    format: FormatOpt = Format.table,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Exit 1 when a retention threshold is breached, 0 when all hold, 2 on usage or input errors: for CI jobs."""
    from churnwhy.checks import parse_retention, parse_share, run_checks
    from churnwhy.render.files import dumps
    from churnwhy.render.report import rich_checks

    retention = [parse_retention(s) for s in (min_retention or [])]
    shares = [parse_share(s) for s in (max_share or [])]
    if max_churn_rate is None and not retention and not shares:
        raise ChurnwhyError("check needs at least one threshold",
                            hint="e.g. --max-churn-rate 0.05 --min-retention 90d=0.85 --max-share why=brand_failed:0.4")
    if max_churn_rate is not None and not 0 <= max_churn_rate <= 1:
        raise ChurnwhyError("--max-churn-rate must be between 0 and 1")
    report = _run(path, config, as_of, strict, quiet, None, None, False, tuple(h for h, _ in retention), engine=engine,
                  spark_master=spark_master)
    if report.failed_sections:  # a bug, not a breach: never exit 1 for it (CI must tell them apart)
        first = report.failed_sections[0]
        raise InternalError(f"check cannot judge the thresholds: the {first.name} section {first.skipped}",
                            hint="a bug in churnwhy: rerun with --debug and report the traceback")
    doc = report.to_dict()
    results = run_checks(doc, max_churn_rate=max_churn_rate, min_retention=retention, max_share=shares)
    failed = [c for c in results if not c.ok]
    if format is Format.json:
        typer.echo(dumps({"schema_version": doc["schema_version"], "passed": not failed,
                          "checks": [c.to_dict() for c in results], "report": doc}), nl=False)
    elif format is Format.markdown:
        lines = ["| check | value | threshold | result |", "|---|---:|---:|---|"]
        lines += [f"| {c.name} | {_fmt(c.value)} | {c.threshold:g} | {'pass' if c.ok else '**FAIL**'} |" for c in results]
        typer.echo("\n".join(lines) + "\n", nl=False)
    else:
        out_console().print(rich_checks(results))
    if failed:
        raise typer.Exit(1)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


@handle_errors
def diff(
    old: Annotated[Path, typer.Argument(help="report.json of the earlier run.")],
    new: Annotated[Path, typer.Argument(help="report.json of the later run.")],
    format: FormatOpt = Format.table,
) -> None:
    """What changed between two runs: churn rate, retention at horizons, reason shares, with significance."""
    from churnwhy.checks import diff_reports
    from churnwhy.render.files import dumps
    from churnwhy.render.report import markdown_changes, rich_changes

    docs = []
    for p in (old, new):
        try:
            docs.append(json.loads(p.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InputError(f"{p} does not exist", hint="pass two report.json files from `churnwhy analyze --format json`") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: not JSON ({exc})", hint="pass report.json files from `churnwhy analyze --format json`") from None
    changes = diff_reports(docs[0], docs[1])
    if format is Format.json:
        typer.echo(dumps({"schema_version": "1.0", "changes": [c.to_dict() for c in changes]}), nl=False)
    elif format is Format.markdown:
        typer.echo(markdown_changes(changes), nl=False)
    else:
        out_console().print(rich_changes(changes))


@handle_errors
def report(
    path: PathArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path("report.html"),
    by: ByOpt = None,
    include_examples: ExamplesOpt = False,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    engine: EngineOpt = None,
    spark_master: SparkMasterOpt = None,
) -> None:
    """Write one self-contained HTML page (works offline): curves, reasons, drivers and the cohort heatmap."""
    from churnwhy.render.files import write_text
    from churnwhy.render.html import html_report

    check_outputs(path, output=output)
    result = _run(path, config, as_of, strict, quiet, by, None, include_examples, engine=engine, spark_master=spark_master)
    write_text(output, html_report(result))
    if not quiet:
        err_console().print(f"wrote {safe_text(output)}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.command("check")(check)
    app.command("diff")(diff)
    app.command("report")(report)



