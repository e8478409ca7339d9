"""Time and peak memory of the demo generator (clean Parquet; about 48 events per customer by default).

Usage: python bench/bench_demo.py [N ...]   (default: 100000 1000000). Each size runs in a fresh process so
peak RSS (ru_maxrss) is that run's own. Prints one Markdown table row per size.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from churnwhy.demo import generate
t = time.perf_counter()
truth = generate(sys.argv[1], customers=int(sys.argv[2]), seed=1, format="parquet", messy=False, events_per_customer=50)
print(json.dumps({"s": time.perf_counter() - t, "events": truth["events"],
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        res = subprocess.run([sys.executable, "-c", CHILD, str(out), str(n)], capture_output=True, text=True, check=True)
        row = json.loads(res.stdout.strip().splitlines()[-1])
        row["mib_on_disk"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    return row


def main(sizes: list[int]) -> None:
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
    print("| customers | events | seconds | events/s | peak RSS (MiB) | on disk (MiB) |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        r = run(n)
        print(f"| {n:,} | {r['events']:,} | {r['s']:.1f} | {r['events'] / r['s']:,.0f} | {r['rss_mib']:.0f} | {r['mib_on_disk']:.0f} |", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
    _ = resource  # ru_maxrss is read in the child
