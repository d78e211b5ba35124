"""Per-step orchestration cost of the local executor on a chain of trivial python steps.

    python benchmarks/chain.py [N ...]

Each step takes an int and returns it plus one, so the run exercises parameter binding, returns, the run
log journal and the catalog lookups of every step. The baseline is the same calls made in a plain loop;
the difference divided by N is runnable's cost per step.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time


def increment(x: int) -> int:
    return x + 1


def run_chain(steps: int) -> float:
    from runnable import Pipeline, PythonTask

    pipeline = Pipeline(
        steps=[PythonTask(name=f"step{i}", function=increment, returns=["x"]) for i in range(steps)]
    )
    os.environ["RUNNABLE_PRM_x"] = "0"
    devnull = open(os.devnull, "w")
    saved = sys.stdout
    sys.stdout = devnull
    try:
        start = time.perf_counter()
        log = pipeline.execute()
        elapsed = time.perf_counter() - start
    finally:
        sys.stdout = saved
    assert log.parameters["x"].value == steps
    return elapsed


def baseline(steps: int) -> float:
    start = time.perf_counter()
    x = 0
    for _ in range(steps):
        x = increment(x)
    return time.perf_counter() - start


def main(sizes: list[int], repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        for steps in sizes:
            times = [run_chain(steps) for _ in range(repeats)]
            base = statistics.median(baseline(steps) for _ in range(repeats))
            median = statistics.median(times)
            per_step = (median - base) / steps * 1000
            print(
                f"chain N={steps}: median {median * 1000:.1f} ms (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}); "
                f"engine overhead {per_step:.3f} ms/step"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 400])
