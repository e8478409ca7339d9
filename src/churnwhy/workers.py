"""How many threads the slice-parallel passes (the loader's hashing and spill, the table's reductions) use."""

from __future__ import annotations

import os

MAX_WORKERS = 4  # each thread holds its own slice temporaries and accumulators: memory grows with the count


def worker_count(cap: int = MAX_WORKERS) -> int:
    """The CPUs this process may run on (its affinity mask, which containers and `taskset` narrow; else the
    machine's count), at most `cap`, at least 1. Polars and numpy release the GIL in these passes, so each
    thread keeps a core busy; results never depend on the count (every reduction is exact and order-free)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity call
        available = os.cpu_count() or 1
    return max(1, min(cap, available))
