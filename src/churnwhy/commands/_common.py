"""What every command shares: option aliases declared once, error handling, the stderr console."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import functools
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import typer.exceptions
from rich.console import Console

from churnwhy.config import Config
from churnwhy.errors import ChurnwhyError, one_line
from churnwhy.render.safe import SafeConsole, safe_text

F = TypeVar("F", bound=Callable[..., Any])


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def err_console() -> Console:
    """Logs, progress and errors: stderr only, so stdout carries just the requested output. Safe consoles: text
    from the data never reaches the terminal as markup, emoji codes or escape sequences (render/safe.py)."""
    return SafeConsole(stderr=True, highlight=False, emoji=False)


def out_console() -> Console:
    """The requested output: tables laid out so no number is cut, COLUMNS or 120 wide when piped (render/fit.py)."""
    from churnwhy.render.fit import OutConsole

    return OutConsole(highlight=False, soft_wrap=False, emoji=False)


PathArg = Annotated[
    Path,
    typer.Argument(help="A folder of exports (searched recursively) or one export file.", show_default=False),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="A churnwhy.toml to use (default: PATH's folder, then the working folder).")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Analysis date YYYY-MM-DD (default: the latest date in the data, never today)."),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat warnings (rejected rows, unmapped codes) as errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")]


EngineOpt = Annotated[
    str | None, typer.Option("--engine", help="Where the customer table is built: local (this process, the default) or "
                             "spark (Apache Spark: local[2], --spark-master, or Spark Connect through SPARK_REMOTE).")]
SparkMasterOpt = Annotated[
    str | None, typer.Option("--spark-master", help="With --engine spark: the cluster's master URL (spark://host:7077, "
                             "yarn, k8s://...); default local[2].")]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The options every analysing command takes (--config, --as-of, --strict, --quiet, --engine,
    --spark-master), declared once.

    A command asks for them with a parameter annotated `RunOptions`; `handle_errors` shows them to Typer as
    these options and hands the command one RunOptions."""

    config: Path | None = None
    as_of: str | None = None
    strict: bool = False
    quiet: bool = False
    engine: str | None = None  # None: churnwhy.toml's, else local
    spark_master: str | None = None

    def build_config(self, path: Path | None, **overrides: Any) -> Config:
        return build_config(path, self.config, self.as_of, strict=self.strict or None, engine=self.engine,
                            spark_master=self.spark_master, **overrides)


_RUN_PARAMS = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
               for name, default, annotation in (("config", None, ConfigOpt), ("as_of", None, AsOfOpt),
                                                 ("strict", False, StrictOpt), ("quiet", False, QuietOpt),
                                                 ("engine", None, EngineOpt), ("spark_master", None, SparkMasterOpt))]
RejectsOpt = Annotated[
    Path | None, typer.Option("--rejects", help="Write every rejected input row, with file, row number and reason, to this CSV.")
]


def build_config(path: Path | None, config: Path | None, as_of: str | None = None, **overrides: Any) -> Config:
    """Flags override churnwhy.toml, which overrides defaults."""
    parsed_as_of = None
    if as_of is not None:
        try:
            parsed_as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ChurnwhyError(f"--as-of must be a date like 2024-12-31, got {as_of!r}") from None
    from churnwhy.pipeline import validate_model_settings

    cfg = Config.load(path, config_file=config, as_of=parsed_as_of, **overrides)
    validate_model_settings(cfg)  # [reasons] and [drivers]: the models' parsers, before any work (exit 2)
    return cfg


def check_outputs(path: Path, *, out: Path | None = None, rejects: Path | None = None, output: Path | None = None) -> None:
    """Every output path a command was given, checked before the analysis runs (exit 2 naming the flag)."""
    from churnwhy.render.files import check_output_file
    from churnwhy.render.outputs import check_out

    if out is not None:
        check_out(out, path)
    for flag, file in (("--rejects", rejects), ("--output", output)):
        if file is not None:
            check_output_file(file, path, flag=flag)


DebugOpt = Annotated[bool, typer.Option("--debug", help="On an internal error (exit 3), show the whole traceback.")]
INTERNAL_ERROR_EXIT = 3  # a bug in churnwhy, never the user's input: 1 is check's "threshold breached"
_DEBUG: contextvars.ContextVar[bool] = contextvars.ContextVar("churnwhy_debug", default=False)


def warn_failed_sections(report: Any, quiet: bool) -> None:  # report: churnwhy.report.Report
    """Each section an unexpected error stopped: one warning line on stderr; its traceback with --debug."""
    for section in report.failed_sections:
        if _DEBUG.get():
            traceback.print_exception(section.error, file=sys.stderr)
        if not quiet:
            err_console().print(f"[yellow]warning:[/] the {section.name} section {safe_text(section.skipped)} "
                                "(a bug in churnwhy: rerun with --debug and report the traceback)", soft_wrap=True)


def handle_errors(fn: F) -> F:
    """A ChurnwhyError becomes one clean message on stderr and its exit code; never a traceback.

    Anything else is a bug: one line naming it, exit 3, and the traceback only with `--debug` (an option this
    adds to every command it wraps; tracebacks never show locals, which hold customer data)."""
    signature = inspect.signature(fn, eval_str=True)
    params = list(signature.parameters.values())
    shared = next((p.name for p in params if p.annotation is RunOptions), None)
    if shared is not None:  # the command's RunOptions parameter, shown to Typer as its options
        params = [p for p in params if p.name != shared] + _RUN_PARAMS
    params.append(inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DebugOpt))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.pop("debug", False))
        _DEBUG.set(debug)
        if shared is not None:
            kwargs[shared] = RunOptions(**{p.name: kwargs.pop(p.name, p.default) for p in _RUN_PARAMS})
        try:
            return fn(*args, **kwargs)
        except ChurnwhyError as exc:
            console = err_console()
            # Messages quote config keys like [drivers.families]: escape them so Rich prints them as written.
            console.print(f"[bold red]error:[/] {safe_text(exc.message)}", highlight=False, soft_wrap=True)
            if exc.hint:
                console.print(f"  [bold]fix:[/] {safe_text(exc.hint)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # typer's own exits and usage errors keep their codes
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `churnwhy analyze ... | head`: the reader left; nothing more to say
            _silence_stdout()
            raise typer.Exit(141) from None
        except Exception as exc:  # noqa: BLE001 - the one place a bug becomes exit 3 instead of a traceback
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            console = err_console()
            console.print(f"[bold red]internal error:[/] {safe_text(one_line(exc))}", highlight=False, soft_wrap=True)
            console.print("  this is a bug in churnwhy, not in your data: rerun with --debug and report the traceback",
                          highlight=False, soft_wrap=True)
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]  # read by typer
    wrapper.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != shared},
                               **({p.name: p.annotation for p in _RUN_PARAMS} if shared else {}), "debug": DebugOpt}
    return wrapper  # type: ignore[return-value]  # the same call, plus the options typer reads


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
