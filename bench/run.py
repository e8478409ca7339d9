"""`make bench`: churnwhy's pipeline stage by stage and end to end, against pandas + lifelines and DuckDB.

Usage: python bench/run.py [--sizes 100000 1000000] [--formats parquet csv] [--repeats 3] [--big-repeats 1]
       [--timeout 1800] [--no-write] [--no-growth]

Data: the demo generator in --clean mode, 50 events a customer, seed 1, in bench/data/<format>_<n>/ (git-ignored;
reused when present); for the memory-growth runs also 200 events a customer (200M events, 1.6 GB of Parquet). Every measurement runs in a fresh subprocess, so its peak RSS (ru_maxrss) is its own.
Reports the median over repeats (sizes of a million customers and more use --big-repeats). Writes the tables
into bench/RESULTS.md, keeping its "Demo generator" section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PY = sys.executable
STAGES = ("load_exports", "build_customer_table", "past_table", "reasons", "drivers", "silent", "survival", "at_risk",
          "revenue_concentration", "render_json")


def ensure_data(fmt: str, n: int, per_customer: int = 50) -> Path:
    out = DATA / (f"{fmt}_{n}" if per_customer == 50 else f"{fmt}_{n}_e{per_customer}")
    if not (out / "truth.json").exists():
        churnwhy = Path(PY).with_name("churnwhy")
        subprocess.run([str(churnwhy), "demo", str(out), "--customers", str(n), "--format", fmt, "--clean",
                        "--events-per-customer", str(per_customer), "--seed", "1", "--quiet"], check=True)
    return out


GROWTH = ((50, None, "default"), (200, None, "default"), (200, 10**12, "forced in memory"))


def growth(timeout: float) -> str:
    """Peak memory as events grow: 1M customers with 50 and 200 events each (Parquet), one run each."""
    lines = ["| events | mode | load_exports (s) | build_customer_table (s) | library total (s) | peak RSS (MiB) |",
             "|---|---|---|---|---|---|"]
    for per, spill, label in GROWTH:
        path = ensure_data("parquet", 1_000_000, per)
        args = [str(HERE / "stages.py"), str(path)] + ([str(spill)] if spill is not None else [])
        r = child(args, timeout)
        print("growth", per, label, r.get("total_s", r.get("error")), file=sys.stderr, flush=True)
        if "error" in r:
            lines.append(f"| {per}M | {label} | {r['error']} | | | |")
            continue
        st = r["stages"]
        lines.append(f"| {r['events_loaded']:,} | {label}{' (spilled to disk)' if r.get('spilled') else ' (in memory)' if label == 'default' else ''} | "
                     f"{_s(st['load_exports']['s'])} | {_s(st['build_customer_table']['s'])} | {_s(r['total_s'])} | "
                     f"{r['peak_mib']:.0f} |")
    return "\n".join(lines)


def child(args: list[str], timeout: float) -> dict:
    """Run a measuring script in a fresh process; its last stdout line is JSON."""
    try:
        res = subprocess.run([PY, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def end_to_end(path: Path, timeout: float) -> dict:
    """`churnwhy analyze DIR --format json --quiet` as a user runs it; peak RSS of the child from wait4."""
    t = time.perf_counter()
    proc = subprocess.Popen([str(Path(PY).with_name("churnwhy")), "analyze", str(path), "--format", "json", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return {"error": f"timed out after {timeout:.0f} s"}
        time.sleep(0.05)
    s = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return {"error": f"exit {code}: {proc.stderr.read().decode()[-300:]}"}
    return {"total_s": s, "peak_mib": usage.ru_maxrss / 1024}


def median_of(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    out = json.loads(json.dumps(ok[0]))
    out["total_s"] = statistics.median(r["total_s"] for r in ok)
    out["peak_mib"] = max(r["peak_mib"] for r in ok)
    for key in ("stages", "steps"):
        if key in out:
            for name in out[key]:
                vals = [r[key][name]["s"] if isinstance(r[key][name], dict) else r[key][name] for r in ok]
                if isinstance(out[key][name], dict):
                    out[key][name]["s"] = statistics.median(vals)
                else:
                    out[key][name] = statistics.median(vals)
    out["repeats"] = len(ok)
    return out


def measure(fmt: str, n: int, repeats: int, timeout: float) -> dict:
    path = ensure_data(fmt, n)
    runs: dict[str, list[dict]] = {"stages": [], "e2e": [], "pandas": [], "duckdb": [], "duckdb_table": []}
    for _ in range(repeats):
        runs["stages"].append(child([str(HERE / "stages.py"), str(path)], timeout))
        runs["e2e"].append(end_to_end(path, timeout))
        runs["pandas"].append(child([str(HERE / "baselines.py"), "pandas", str(path)], timeout))
        runs["duckdb"].append(child([str(HERE / "baselines.py"), "duckdb", str(path)], timeout))
        runs["duckdb_table"].append(child([str(HERE / "baselines.py"), "duckdb-table", str(path)], timeout))
        print(fmt, n, {k: v[-1].get("total_s", v[-1].get("error")) for k, v in runs.items()}, file=sys.stderr, flush=True)
    return {k: median_of(v) for k, v in runs.items()}


def _s(x: float | None) -> str:
    return "–" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def table(results: dict[tuple[str, int], dict]) -> str:
    lines = ["| format | customers | " + " | ".join(STAGES) + " | library total | peak RSS (MiB) | `analyze` CLI | CLI peak (MiB) | repeats |",
             "|---|---|" + "---|" * (len(STAGES) + 5)]
    for (fmt, n), r in results.items():
        st = r["stages"]
        if "error" in st:
            lines.append(f"| {fmt} | {n:,} | {st['error']} |")
            continue
        cells = [_s(st["stages"][s]["s"]) for s in STAGES]
        e2e = r["e2e"]
        lines.append(f"| {fmt} | {n:,} | " + " | ".join(cells) + f" | {_s(st['total_s'])} | {st['peak_mib']:.0f} | "
                     f"{_s(e2e.get('total_s')) if 'error' not in e2e else e2e['error']} | {e2e.get('peak_mib', 0):.0f} | {st.get('repeats', 1)} |")
    lines += ["", "Aggregation (read + per-customer table) and the baselines:", "",
              "| format | customers | churnwhy load + table (s) | DuckDB, churnwhy's table in SQL (s) | its peak (MiB) | DuckDB, window counts only (s) | its peak (MiB) | pandas read (s) | pandas aggregate (s) | pandas KM + Cox (s) | pandas total (s) | pandas peak (MiB) | pandas time ÷ churnwhy CLI time |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (fmt, n), r in results.items():
        st, pd_, dk, dt_, e2e = r["stages"], r["pandas"], r["duckdb"], r["duckdb_table"], r["e2e"]
        ours = st["stages"]["load_exports"]["s"] + st["stages"]["build_customer_table"]["s"] if "error" not in st else None
        ps = pd_.get("steps", {})
        ratio = f"{pd_['total_s'] / e2e['total_s']:.1f}x" if "error" not in pd_ and "error" not in e2e else "–"
        lines.append(
            f"| {fmt} | {n:,} | {_s(ours)} | {_s(dt_.get('total_s'))} | {dt_.get('peak_mib', 0):.0f} | "
            f"{_s(dk.get('total_s'))} | {dk.get('peak_mib', 0):.0f} | {_s(ps.get('read'))} | "
            f"{_s(ps.get('aggregate'))} | {_s((ps.get('kaplan_meier') or 0) + (ps.get('cox') or 0)) if ps else '–'} | "
            f"{_s(pd_.get('total_s')) if 'error' not in pd_ else pd_['error']} | {pd_.get('peak_mib', 0):.0f} | {ratio} |")
    return "\n".join(lines)


def versions() -> str:
    import importlib.metadata as md

    names = ("polars", "duckdb", "pandas", "lifelines", "scikit-learn", "numpy")
    got = []
    for name in names:
        try:
            got.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{dt.date.today().isoformat()}; {os.cpu_count()} cores, {mem:.0f} GiB RAM; Python {platform.python_version()}, "
            + ", ".join(got))


def write_results(section: str) -> None:
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else ""
    marker = "## Pipeline at scale"
    head = text.split(marker)[0].rstrip() + "\n\n" if marker in text else (text.rstrip() + "\n\n" if text else "")
    notes = ""
    if marker in text:  # hand-written notes (profile, what was tried) follow the generated block
        rest = text.split(marker, 1)[1]
        if "<!-- end of generated -->" in rest:
            notes = rest.split("<!-- end of generated -->", 1)[1]
    path.write_text(head + marker + "\n\n" + section + "\n<!-- end of generated -->" + notes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-repeats", type=int, default=1, help="repeats for sizes of 1,000,000 customers and more")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per measured run")
    ap.add_argument("--no-write", action="store_true", help="print the tables, leave RESULTS.md alone")
    ap.add_argument("--no-growth", action="store_true", help="skip the 200M-event memory runs")
    a = ap.parse_args()
    results = {}
    for n in a.sizes:
        for fmt in a.formats:
            results[(fmt, n)] = measure(fmt, n, a.big_repeats if n >= 1_000_000 else a.repeats, a.timeout)
    section = (f"`python bench/run.py` ({versions()}). Demo exports in `--clean` mode, 50 events a customer. "
               f"Seconds; median of {a.repeats} runs ({a.big_repeats} at 1,000,000 customers and more); each run in a "
               "fresh process.\n\n" + table(results) + "\n")
    if not a.no_growth:
        section += ("\nMemory as events grow (1M customers, Parquet, `spill_events_above` = 100M by default; one run each):"
                    "\n\n" + growth(a.timeout) + "\n")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "results.json").write_text(json.dumps({f"{f}_{n}": r for (f, n), r in results.items()}, indent=1))
    print(section)
    if not a.no_write:
        write_results(section)


if __name__ == "__main__":
    main()
