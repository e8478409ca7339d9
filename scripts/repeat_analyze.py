"""Run `churnwhy analyze` on the bundled example exports N times in a row, each in a fresh process.

Every run must exit 0, print no traceback and give byte-identical JSON. Races (an import on a background
thread, two threads sharing warning filters) show up only now and then, so one run proves little:
issues 14 and 20 saw 1 failure in 15 runs under load. CI runs 10 (.ci/run); before a release, run 100:

    .venv/bin/python scripts/repeat_analyze.py 100 [--jobs 2] [--path examples/exports]

`--jobs 2` runs two at a time, which loads a 2-core machine the way the failures were seen.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(path: Path, timeout: float) -> tuple[int | None, str, bytes, float]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "churnwhy", "analyze", str(path), "--format", "json", "--quiet"],
            capture_output=True, timeout=timeout, cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return None, f"hung: killed after {timeout:.0f} s", b"", time.monotonic() - started
    return done.returncode, done.stderr.decode("utf-8", "replace"), done.stdout, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int, nargs="?", default=100)
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    parser.add_argument("--path", type=Path, default=ROOT / "examples" / "exports")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a run counts as hung")
    args = parser.parse_args(argv)
    failures: list[str] = []
    outputs: set[bytes] = set()
    seconds: list[float] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_once, args.path, args.timeout) for _ in range(args.runs)]
        for i, future in enumerate(futures, 1):
            rc, stderr, stdout, took = future.result()
            seconds.append(took)
            if rc != 0 or "Traceback" in stderr or stderr.strip():
                failures.append(f"run {i}: exit {rc}: {stderr.strip()[-2000:]}")
            else:
                outputs.add(stdout)
    if len(outputs) > 1:
        failures.append(f"{len(outputs)} different JSON outputs from the same input")
    print(f"{args.runs} runs of `churnwhy analyze {args.path}`: {len(failures)} failures; "
          f"{min(seconds):.1f}-{max(seconds):.1f} s a run")
    for f in failures:
        print(f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
