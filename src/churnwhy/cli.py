"""The command line: parse flags, build a Config, call the library, render. Nothing else lives here."""

from __future__ import annotations

import importlib
import sys

import typer

from churnwhy import __version__

app = typer.Typer(
    name="churnwhy",
    help="Tell a business why its customers left, from the exports it already has.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    context_settings={"help_option_names": ["-h", "--help"]},  # every command inherits -h
    pretty_exceptions_show_locals=False,  # locals hold customer data
    rich_markup_mode="rich",
)

# Each module registers its commands; order here is the order in --help.
COMMAND_MODULES = ("analyze", "inspect", "init", "reasons", "drivers", "survival", "risk", "demo")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"churnwhy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """churnwhy: why customers left, from customer, event and survey exports."""


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"churnwhy.commands.{_name}")
    except ModuleNotFoundError as _exc:  # a command still being built; the others still work
        if _exc.name != f"churnwhy.commands.{_name}":
            raise
        continue
    _module.register(app)


def main() -> None:
    """The console script. Commands map their own errors (commands/_common.handle_errors); this catches what
    escapes before a command runs, so no run ever ends in a traceback or in exit 1 (check's code)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001
        from churnwhy.errors import one_line

        print(f"internal error: {one_line(exc)}", file=sys.stderr)
        sys.exit(3)
