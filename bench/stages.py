"""churnwhy's library pipeline, stage by stage, in this process: wall and CPU seconds (every thread of the process;
on a shared machine the CPU time is the steadier figure) and peak RSS after each stage.

Usage: python bench/stages.py DIR [SPILL_EVENTS_ABOVE]  -> one JSON object on the last stdout line (the optional
number overrides Config.spill_events_above). Run it in a fresh process per
measurement (bench/run.py does) so the peak RSS is this run's own. The stages are the ones `analyze` runs,
timed between the orchestrator's progress steps (pipeline.analyze), then the JSON the CLI would print.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# The orchestrator's progress steps, named as bench/run.py's stage columns.
STEPS = {
    "loading exports": "load_exports",
    "building the customer table": "build_customer_table",
    "rebuilding the customer table as of the backtest cutoff": "past_table",
    "classifying stated reasons": "reasons",
    "inferring reasons of silent churners": "silent",
    "fitting behavioural drivers": "drivers",
    "fitting survival curves": "survival",
    "scoring customers at risk": "at_risk",
    "revenue, concentration and beliefs": "revenue_concentration",
}


def main(path: str, spill_events_above: int | None = None) -> dict:
    import churnwhy.load.events as load_events
    from churnwhy import pipeline
    from churnwhy.config import Config
    from churnwhy.render.files import dumps

    out: dict = {"stages": {}, "spilled": False}
    spill = load_events.spill_events

    def spilled(*args, **kwargs):  # the loader's own decision (estimated rows) to spill, recorded as it is taken
        out["spilled"] = True
        return spill(*args, **kwargs)

    load_events.spill_events = spilled
    current: list = []  # (stage, its start)

    def mark(name: str | None) -> None:
        t, c = time.perf_counter(), time.process_time()
        if current:
            stage, t0, c0 = current.pop()
            out["stages"][stage] = {"s": t - t0, "cpu_s": c - c0, "peak_mib": peak_mib()}
        if name is not None:
            current.append((name, t, c))

    t_start, c_start = time.perf_counter(), time.process_time()
    config = Config.load(path)
    if spill_events_above is not None:
        config = dataclasses.replace(config, spill_events_above=spill_events_above)
    report = pipeline.analyze(path, config, progress=lambda step: mark(STEPS[step]))
    mark("render_json")
    text = dumps(report.to_dict())
    mark(None)
    for stage in STEPS.values():  # a step analyze had no reason to take (no backtest without dates)
        out["stages"].setdefault(stage, {"s": 0.0, "cpu_s": 0.0, "peak_mib": peak_mib()})
    out["total_s"] = time.perf_counter() - t_start
    out["total_cpu_s"] = time.process_time() - c_start
    out["peak_mib"] = peak_mib()
    out["customers"] = report.table.n_customers
    out["events_loaded"] = sum(f.rows_loaded for f in report.loaded.exports.files if f.role == "events")
    out["json_bytes"] = len(text)
    out["skipped_sections"] = {s.name: s.skipped for s in report.sections if not s.ok}
    return out


if __name__ == "__main__":  # python bench/stages.py DIR [SPILL_EVENTS_ABOVE]
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)))
