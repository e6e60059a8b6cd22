"""Wall-clock timing shared by the benchmark programs: medians, because the machines are shared."""
from __future__ import annotations

import statistics
import time


def median_time(fn, runs: int) -> float:
    """The median wall time in seconds of `runs` calls of fn()."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
