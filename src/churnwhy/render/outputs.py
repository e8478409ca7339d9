"""`analyze --out DIR`: Parquet tables for analysts and report.json, swapped in as one set.

The set is written into a hidden folder beside DIR, then exchanged with DIR in one step, so an interrupted or
failed run leaves the old set or the new one, never a mix (issue 20)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from churnwhy.errors import OutputError
from churnwhy.render.files import check_output_dir, umask, write_frame, write_json
from churnwhy.results.contract import named_frame

if TYPE_CHECKING:  # the Report is only read here
    from churnwhy.report import Report

CUSTOMER_DROP = ()  # the analyst's own data: ids and text stay in customers.parquet
REPORT_NAME = "report.json"


def is_output(path: Path) -> bool:
    """A file an earlier `--out` run wrote (what may be replaced without asking)."""
    return path.is_file() and (path.suffix == ".parquet" or path.name == REPORT_NAME)


def check_out(out_dir: Path | str, inputs: Path | str | None = None) -> Path:
    """Before the analysis: OutputError (exit 2) when `out_dir` cannot take the set (see check_output_dir)."""
    return check_output_dir(out_dir, inputs, flag="--out", ours=is_output)


def write_outputs(report: Report, out_dir: Path | str) -> list[Path]:
    """Write every table the report has, as one set; returns the paths written (inside `out_dir`)."""
    out = check_out(out_dir)
    frames: dict[str, pl.DataFrame] = {"customers": report.table.frame}
    if report.reasons.ok:
        frames["reasons"] = reasons_frame(report)
    if report.drivers.ok:
        frames["drivers"] = report.drivers.result.to_frame()
    if report.survival.ok:
        surv = report.survival.result
        frames["survival"] = surv.curves
        frames["incidence"] = surv.incidence
        if surv.cohorts is not None:
            frames["cohorts"] = surv.cohorts.to_frame()
    if report.at_risk.ok and report.at_risk.result.frame is not None:
        frames["at_risk"] = report.at_risk.result.frame
    names = [f"{name}.parquet" for name in frames] + [REPORT_NAME]
    with _staging(out) as stage:
        for name, frame in frames.items():
            # The contract's names (no `by`/`group`: SQL keywords); customers.parquet keeps the export's own names.
            ours = name != "customers"
            write_frame(stage / f"{name}.parquet", stable_floats(named_frame(frame) if ours else frame))
        write_json(stage / REPORT_NAME, report.to_dict())
    return [out / n for n in names]


def reasons_frame(report: Report) -> pl.DataFrame:
    """reasons.parquet: first the shares the report leads with (`headline` true; `basis` names the estimate:
    combined, reweighted or stated), then every stated share (overall, per segment and period; count and value)."""
    head = report.headline()
    rows = [{"axis": r["axis"], "segment": "all", "level": "all", "category": r["category"],
             "basis": head["estimate"][r["axis"]], "share": r["share"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
             "among": r["among"], "left_out": r["left_out"], "headline": True} for r in head["shares"]]
    headline = pl.DataFrame(rows, schema={"axis": pl.String, "segment": pl.String, "level": pl.String, "category": pl.String,
                                          "basis": pl.String, "share": pl.Float64, "ci_low": pl.Float64,
                                          "ci_high": pl.Float64, "among": pl.String, "left_out": pl.Int64,
                                          "headline": pl.Boolean})
    stated = named_frame(report.reasons.result.to_frame()).with_columns(pl.lit(False).alias("headline"))
    return pl.concat([headline, stated], how="diagonal_relaxed").select(stated.columns)


def stable_floats(frame: pl.DataFrame) -> pl.DataFrame:
    """Floats to 10 significant digits, as in report.json: threaded sums (Polars group-bys, BLAS) differ in the
    last bits from run to run, and the same input must give the same files, bit for bit."""
    return frame.with_columns(pl.col(c).round_sig_figs(10) for c, t in frame.schema.items() if t.is_float())


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A hidden folder beside `out` to write into; on success it takes `out`'s place in one step."""
    out = out.resolve()  # a link to a folder: replace the folder it points to, not the link
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".new", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write beside it ({exc.strerror})", hint="choose a folder you can write to") from None
    try:
        yield stage
        os.chmod(stage, 0o777 & ~umask())
        _swap_in(stage, out)
    except OSError as exc:
        raise OutputError(f"--out {out}: could not write the outputs ({exc.strerror}); the earlier set is unchanged",
                          hint="check the free space and permissions there") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, out: Path) -> None:
    """Put `stage` at `out`. With an old set there: exchanged atomically where the system can (Linux
    renameat2), else two renames with Ctrl-C held back between them; the old set is then removed."""
    if not out.exists():
        os.rename(stage, out)
        return
    if _exchange(stage, out):
        shutil.rmtree(stage, ignore_errors=True)  # now holds the old set
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    with _signals_held():
        os.rename(out, old / "set")
        os.rename(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        renameat2 = ctypes.CDLL(libc_name, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a libc without it
        return False
    at_fdcwd, rename_exchange = -100, 2
    swapped: bool = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    return swapped


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    signals = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
