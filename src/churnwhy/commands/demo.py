"""`churnwhy demo OUT_DIR`: example exports with planted truth (see docs/demo-model.md)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from churnwhy.commands._common import QuietOpt, err_console, handle_errors


class DemoFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    mixed = "mixed"


def demo(
    out_dir: Annotated[Path, typer.Argument(help="A new (or empty) folder to write the exports and truth.json into.", show_default=False)],
    customers: Annotated[int, typer.Option("--customers", "-n", help="Number of customers (100 to 1,000,000).")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives byte-identical files.")] = 0,
    fmt: Annotated[DemoFormat, typer.Option("--format", "-f", help="File formats: csv, parquet, or a mix.", case_sensitive=False)] = DemoFormat.mixed,
    messy: Annotated[bool, typer.Option("--messy/--clean", help="Human column names, split files and a few invalid rows, or one canonical file per table.")] = True,
    events_per_customer: Annotated[float | None, typer.Option("--events-per-customer", help="Mean events per customer (default: the model's, about 48); rescales the no-effect event types only.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Write example customer, event and survey exports whose true answers are known (truth.json)."""
    from churnwhy.demo import generate  # numpy/polars only when the command runs

    console = err_console()

    def note(msg: str) -> None:
        if not quiet:
            console.print(msg, markup=False, highlight=False, soft_wrap=True)

    truth = generate(
        out_dir, customers=customers, seed=seed, format=fmt.value, messy=messy,
        events_per_customer=events_per_customer, progress=note,
    )  # fmt: skip
    note(
        f"churn rate {truth['churn_rate']:.1%}; planted truth in {out_dir / 'truth.json'}; "
        f"try: churnwhy analyze {out_dir}"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(handle_errors(demo))
