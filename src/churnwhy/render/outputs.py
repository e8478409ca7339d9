"""`analyze --out DIR`: Parquet tables for analysts and report.json, each written atomically."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from churnwhy.render.files import write_frame, write_json

CUSTOMER_DROP = ()  # the analyst's own data: ids and text stay in customers.parquet


def write_outputs(report, out_dir: Path | str) -> list[Path]:  # type: ignore[no-untyped-def]
    """Write every table the report has; returns the paths written."""
    out = Path(out_dir)
    frames: dict[str, pl.DataFrame] = {"customers": report.table.frame}
    if report.reasons.ok:
        frames["reasons"] = report.reasons.result.to_frame()
    if report.drivers.ok:
        frames["drivers"] = report.drivers.result.to_frame()
    if report.survival.ok:
        surv = report.survival.result
        frames["survival"] = surv.curves.rename({"by": "segment"}, strict=False)
        frames["incidence"] = surv.incidence
        if surv.cohorts is not None:
            frames["cohorts"] = surv.cohorts.to_frame()
    if report.at_risk.ok and report.at_risk.result.frame is not None:
        frames["at_risk"] = report.at_risk.result.frame
    written = []
    for name, frame in frames.items():
        path = out / f"{name}.parquet"
        write_frame(path, frame)
        written.append(path)
    write_json(out / "report.json", report.to_dict())
    written.append(out / "report.json")
    return written
