"""`churnwhy init PATH`: write a commented churnwhy.toml with the detected mapping filled in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from churnwhy.commands._common import ConfigOpt, PathArg, QuietOpt, build_config, check_outputs, err_console, handle_errors
from churnwhy.errors import ChurnwhyError
from churnwhy.render.safe import safe_text


@handle_errors
def init(
    path: PathArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write (default: PATH/churnwhy.toml).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Detect roles and column mappings in PATH and write them to a commented churnwhy.toml you can edit."""
    from churnwhy.config_file import render_config
    from churnwhy.load import load_exports
    from churnwhy.render.files import write_text

    target = output or ((path if path.is_dir() else path.parent) / "churnwhy.toml")
    if target.exists() and not force:
        raise ChurnwhyError(f"{target} already exists", hint="pass --force to overwrite it, or --output elsewhere")
    check_outputs(path, output=target)
    cfg = build_config(path, config)
    exports = load_exports(path, cfg)
    write_text(target, render_config(exports, cfg))
    if not quiet:
        err_console().print(f"wrote {safe_text(target)}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
