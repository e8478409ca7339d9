"""What every command shares: option aliases declared once, error handling, the stderr console."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from churnwhy.config import Config
from churnwhy.errors import ChurnwhyError

F = TypeVar("F", bound=Callable[..., Any])


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def err_console() -> Console:
    """Logs, progress and errors: stderr only, so stdout carries just the requested output."""
    return Console(stderr=True, highlight=False)


def out_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


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
    return Config.load(path, config_file=config, as_of=parsed_as_of, **overrides)


def handle_errors(fn: F) -> F:
    """A ChurnwhyError becomes one clean message on stderr and its exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChurnwhyError as exc:
            console = err_console()
            # Messages quote config keys like [drivers.families]: escape them so Rich prints them as written.
            console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
            if exc.hint:
                console.print(f"  [bold]fix:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
