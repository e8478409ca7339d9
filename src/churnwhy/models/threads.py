"""One BLAS thread for the models' small dense algebra.

The model stages multiply tall, narrow matrices (n x 10-20 features, a few classes). OpenBLAS splits
each product over all cores and its threads spin while they wait; on a busy 2-core machine that made
the silent-reason classifier's fits 4-5x slower (29 s against 5.4 s at 1M customers), and it is not faster
on an idle one. Polars keeps its own thread pool; this only limits BLAS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS (OpenBLAS/MKL through threadpoolctl, a scikit-learn dependency) to one thread inside the block."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
