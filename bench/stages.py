"""churnwhy's library pipeline, stage by stage, in this process: wall seconds and peak RSS after each stage.

Usage: python bench/stages.py DIR [SPILL_EVENTS_ABOVE]  -> one JSON object on the last stdout line (the optional
number overrides Config.spill_events_above). Run it in a fresh process per
measurement (bench/run.py does) so the peak RSS is this run's own. The stages are the ones `analyze` runs,
in its order, through the same functions (pipeline._section), then the JSON the CLI would print.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(path: str, spill_events_above: int | None = None) -> dict:
    from churnwhy import pipeline
    from churnwhy.config import Config
    from churnwhy.load import load_exports
    from churnwhy.render.files import dumps
    from churnwhy.report import Report
    from churnwhy.table import build_customer_table

    out: dict = {"stages": {}}

    def mark(name: str, t0: float) -> float:
        t = time.perf_counter()
        out["stages"][name] = {"s": t - t0, "peak_mib": peak_mib()}
        return t

    t_start = t = time.perf_counter()
    config = Config.load(path)
    if spill_events_above is not None:
        config = dataclasses.replace(config, spill_events_above=spill_events_above)
    exports = load_exports(path, config)
    t = mark("load_exports", t)
    table = build_customer_table(exports, config)
    t = mark("build_customer_table", t)
    past = pipeline.past_table(pipeline.LoadedTable(exports, table, config))  # the backtest's table, as analyze() does
    t = mark("past_table", t)
    spilled = exports.event_codes is not None and exports.event_codes.spilled
    loaded = pipeline.LoadedTable(exports.without_event_rows(), table, config)  # as analyze() does
    del exports
    reasons, table = pipeline._section("reasons", pipeline._reasons, table, config)
    t = mark("reasons", t)
    stated = table  # at_risk reads the table with stated reasons (and its cached feature matrix), as analyze() does
    drivers, _ = pipeline._section("drivers", pipeline._drivers, table, config, None)
    t = mark("drivers", t)
    inferred, table = pipeline._section("inferred", pipeline._inferred, table, config)
    t = mark("silent", t)
    survival, _ = pipeline._section("survival", pipeline._survival, table, config, tuple(table.segments))
    t = mark("survival", t)
    at_risk, _ = pipeline._section("at_risk", pipeline._at_risk, stated, config, past)
    t = mark("at_risk", t)
    revenue, _ = pipeline._section("revenue", pipeline._revenue, table)
    concentration, _ = pipeline._section("concentration", pipeline._concentration, table, config)
    t = mark("revenue_concentration", t)
    report = Report(str(path), loaded, table, reasons, inferred, drivers, survival, False,
                    at_risk=at_risk, revenue=revenue, concentration=concentration)
    text = dumps(report.to_dict())
    t = mark("render_json", t)
    out["total_s"] = t - t_start
    out["peak_mib"] = peak_mib()
    out["customers"] = table.n_customers
    out["events_loaded"] = sum(f.rows_loaded for f in loaded.exports.files if f.role == "events")
    out["json_bytes"] = len(text)
    out["skipped_sections"] = {s.name: s.skipped for s in (reasons, drivers, inferred, survival, at_risk, revenue, concentration)
                               if not s.ok}
    out["spilled"] = spilled
    return out


if __name__ == "__main__":  # python bench/stages.py DIR [SPILL_EVENTS_ABOVE]
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)))
