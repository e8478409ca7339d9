"""Masking runs in linear time (issue #20 item 4): `redact` on a 10 MB field of each hostile shape.

Usage: python bench/bench_redact.py [--mb 10] [--bound 30]

Shapes: one long word (the old e-mail pattern backtracked from each of its positions: quadratic, a 3 MB
field took over 120 s), dotted runs, "a@" repeated, digits with separators and no end, and ordinary text with
addresses. Each must finish within --bound seconds (default 30 s for 10 MB on a busy 2-core machine), and a
field twice the size must take less than 3x as long (linear, not quadratic). Exit status 1 when one does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from churnwhy.redact import redact  # noqa: E402

SHAPES = {
    "long word": lambda n: "a" * n,
    "dotted run": lambda n: "a." * (n // 2),
    "at signs": lambda n: "a@" * (n // 2),
    "digits, no end": lambda n: "1 (" * (n // 3),
    "text with addresses": lambda n: ("mail ann.lee@example.com or call +44 20 7946 0958 about order 4411. " * (n // 70)),
}


def timed(text: str, repeats: int = 3) -> float:
    """Best of `repeats` (the machine is shared: the minimum is the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--bound", type=float, default=30.0)
    args = ap.parse_args()
    n = int(args.mb * 1_000_000)
    failed = False
    print(f"| shape | {args.mb:g} MB (s) | {args.mb / 2:g} MB (s) | ratio |")
    print("|---|---:|---:|---:|")
    for name, make in SHAPES.items():
        full, half = timed(make(n)), timed(make(n // 2))
        ratio = full / max(half, 1e-9)
        ok = full <= args.bound and ratio < 3.0
        failed |= not ok
        print(f"| {name} | {full:.2f} | {half:.2f} | {ratio:.1f} |{'' if ok else ' FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
