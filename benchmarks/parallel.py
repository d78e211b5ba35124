"""Parallel map branches (``enable_parallel: true``) against the same map run one item after the other.

    python benchmarks/parallel.py            # ~3 min on the 2-core CI machine
    python benchmarks/parallel.py --quick    # a smoke run: small sizes, one repeat
    python benchmarks/parallel.py --json results.json

Each measurement is one fresh ``python`` process (started by this script, in an empty folder) that runs a
pipeline ``items -> Map(work)`` over ``n`` items with the ``chunked-fs`` run log store, sequential or
parallel. ``work`` spins the CPU for ``cost`` milliseconds and returns ``item * item``; the map reduces the
returns into a list. Reported per case: the median wall time over the repeats, the median CPU time (the run's
process and every worker), and the peak memory of the run's whole process tree, sampled every 10 ms from
``/proc`` in one more run of each case and mode (sampling reads every process's page tables: done during the
timed runs, it took a core's worth of CPU from the two workers it measured):

* **PSS** (proportional set size: a page shared by k processes counts 1/k in each), summed over the tree: the
  memory the run really occupies. Forked workers share the parent's pages copy-on-write; this counts them once.
* **RSS** summed over the tree: counts every shared page once per process, so a forked worker looks as big as
  its parent the moment it is forked. An upper bound, reported for comparison.

Targets (issue 22, item 1) are judged on the medians; see ``TARGETS`` below.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PIPELINE = textwrap.dedent(
    """
    import json, os, resource, sys, time

    def items(n: int) -> list:
        return list(range(n))

    def work(item: int, cost: float) -> int:
        end = time.process_time() + cost / 1000
        while time.process_time() < end:
            pass
        return item * item

    def main():
        from runnable import Map, Pipeline, PythonTask
        pipeline = Pipeline(steps=[
            PythonTask(name="items", function=items, returns=["xs"]),
            Map(name="fan", iterate_on="xs", iterate_as="item",
                branch=Pipeline(steps=[PythonTask(name="work", function=work, returns=["ys"])])),
        ])
        start = time.perf_counter()
        run_log = pipeline.execute(configuration_file="config.yaml", run_id="bench")
        wall = time.perf_counter() - start
        n = int(os.environ["RUNNABLE_PRM_n"])
        assert run_log.status == "SUCCESS", run_log.status
        assert run_log.parameters["ys"].value == [i * i for i in range(n)], "the map lost or mixed items"
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
        print(json.dumps({"wall": wall, "cpu": cpu}))

    if __name__ == "__main__":
        main()
    """
)

CONFIG = "pipeline-executor: {{type: local, config: {{enable_parallel: {parallel}}}}}\nrun-log-store: {{type: chunked-fs}}\n"


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc (children files list each thread's children)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    queue.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            fields = dict(line.split(":", 1) for line in handle if line.startswith(("Rss:", "Pss:")))
    except (OSError, ValueError):
        return 0, 0
    return int(fields.get("Rss", "0 kB").split()[0]), int(fields.get("Pss", "0 kB").split()[0])


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_rss_mib: float | None = None  # measured in the memory run only
    peak_pss_mib: float | None = None


def run_once(parallel: bool, n: int, cost: float, *, memory: bool = False) -> Sample:
    with tempfile.TemporaryDirectory(prefix="runnable-bench-parallel-") as folder:
        Path(folder, "fan.py").write_text(PIPELINE)
        Path(folder, "config.yaml").write_text(CONFIG.format(parallel=str(parallel).lower()))
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
        env.update(RUNNABLE_PRM_n=str(n), RUNNABLE_PRM_cost=str(cost))
        process = subprocess.Popen(
            [sys.executable, "fan.py"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        peaks = [0, 0]

        def sample() -> None:
            while process.poll() is None:
                totals = [0, 0]
                for pid in _tree(process.pid):
                    rss, pss = _memory_kib(pid)
                    totals[0] += rss
                    totals[1] += pss
                peaks[0], peaks[1] = max(peaks[0], totals[0]), max(peaks[1], totals[1])
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        if memory:
            sampler.start()
        out, err = process.communicate()
        if memory:
            sampler.join()
        if process.returncode != 0:
            raise SystemExit(f"the benchmark run failed (parallel={parallel}, n={n}, cost={cost}):\n{out}\n{err}")
        timing = json.loads(out.strip().splitlines()[-1])
        if not memory:
            return Sample(timing["wall"], timing["cpu"])
        return Sample(timing["wall"], timing["cpu"], peaks[0] / 1024, peaks[1] / 1024)


@dataclass
class Case:
    n: int
    cost: float
    sequential: list[Sample] = field(default_factory=list)
    parallel: list[Sample] = field(default_factory=list)

    def median(self, mode: str, what: str) -> float:
        values = [getattr(s, what) for s in getattr(self, mode)]
        return statistics.median(v for v in values if v is not None and v == v)  # v != v: NaN, a memory run's time

    def ratio(self, what: str) -> float:
        """parallel / sequential: below 1 is parallel faster (or smaller)."""
        return self.median("parallel", what) / self.median("sequential", what)


# Issue 22, item 1. Cheap items: 0 ms of work; costly: 20 ms. Memory and speed are judged at the largest n.
TARGETS = {
    "linear": "time and memory grow linearly with the item count (largest n vs the next: per-item cost within 1.5x)",
    "memory": "peak memory (PSS of the process tree) with enable_parallel within 1.5x of sequential at the largest n",
    "speedup": "items of >= 20 ms CPU each: parallel >= 1.6x faster than sequential, per item",
    "cheap": "cheap items: parallel never more than 1.2x slower than sequential",
}


def judge(cases: list[Case]) -> list[tuple[str, str, bool]]:
    rows = []
    cheap = sorted((c for c in cases if c.cost == 0), key=lambda c: c.n)
    costly = [c for c in cases if c.cost >= 20]
    if len(cheap) >= 2:
        small, large = cheap[-2], cheap[-1]
        worst = 0.0
        for mode in ("sequential", "parallel"):
            for what in ("wall", "peak_pss_mib"):
                # growth of the per-item share above the fixed cost of a run (the smallest case)
                base = cheap[0].median(mode, what)
                per_small = (small.median(mode, what) - base) / max(small.n - cheap[0].n, 1)
                per_large = (large.median(mode, what) - base) / max(large.n - cheap[0].n, 1)
                worst = max(worst, per_large / per_small if per_small > 0 else 1.0)
        rows.append((TARGETS["linear"], f"worst per-item growth {worst:.2f}x", worst <= 1.5))
    if cheap:
        largest = cheap[-1]
        ratio = largest.ratio("peak_pss_mib")
        rss = largest.ratio("peak_rss_mib")
        rows.append((TARGETS["memory"], f"{ratio:.2f}x at n={largest.n} (RSS sum: {rss:.2f}x)", ratio <= 1.5))
        slowest = max(cheap, key=lambda c: c.ratio("wall"))
        rows.append(
            (TARGETS["cheap"], f"slowest {slowest.ratio('wall'):.2f}x (n={slowest.n})", slowest.ratio("wall") <= 1.2)
        )
    if len(costly) >= 2:
        # Per item: the slope of wall time between the two sizes, so the run's fixed cost (start, the first item
        # that decides whether to fork) is not counted as item work. Whole-run ratios are shown beside it.
        small, large = sorted(costly, key=lambda c: c.n)[:2]
        per_item = {
            mode: (large.median(mode, "wall") - small.median(mode, "wall")) / (large.n - small.n)
            for mode in ("sequential", "parallel")
        }
        speedup = per_item["sequential"] / per_item["parallel"]
        runs = ", ".join(f"{1 / c.ratio('wall'):.2f}x at n={c.n}" for c in sorted(costly, key=lambda c: c.n))
        rows.append((TARGETS["speedup"], f"{speedup:.2f}x per item (whole runs: {runs})", speedup >= 1.6))
    return rows


def table(cases: list[Case]) -> str:
    lines = [
        "| items | ms/item | sequential | parallel | parallel/seq | CPU seq | CPU par | PSS seq | PSS par | RSS seq | RSS par |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in cases:
        lines.append(
            f"| {c.n:,} | {c.cost:g} | {c.median('sequential', 'wall'):.2f} s | {c.median('parallel', 'wall'):.2f} s "
            f"| {c.ratio('wall'):.2f}x | {c.median('sequential', 'cpu'):.2f} s | {c.median('parallel', 'cpu'):.2f} s "
            f"| {c.median('sequential', 'peak_pss_mib'):.0f} MiB | {c.median('parallel', 'peak_pss_mib'):.0f} MiB "
            f"| {c.median('sequential', 'peak_rss_mib'):.0f} MiB | {c.median('parallel', 'peak_rss_mib'):.0f} MiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run")
    parser.add_argument("--repeats", type=int, help="runs per case and mode (default 3, 1 with --quick)")
    parser.add_argument("--json", metavar="FILE", help="also write the samples and verdicts as JSON")
    args = parser.parse_args(argv)
    if sys.platform != "linux":
        raise SystemExit("benchmarks/parallel.py reads /proc: it runs on Linux")
    repeats = args.repeats or (1 if args.quick else 3)
    if args.quick:
        plan = [(10, 0.0), (100, 0.0), (200, 0.0), (8, 20.0)]
    else:
        plan = [(10, 0.0), (1_000, 0.0), (10_000, 0.0), (40, 20.0), (200, 20.0)]
    cases = [Case(n, cost) for n, cost in plan]
    for repeat in range(repeats):
        for case in cases:
            for mode in ("sequential", "parallel"):  # interleaved: noise from other users hits both alike
                getattr(case, mode).append(run_once(mode == "parallel", case.n, case.cost))
            print(f"repeat {repeat + 1}/{repeats}: n={case.n} cost={case.cost:g} ms done", file=sys.stderr)
    for case in cases:  # memory: one sampled run each (its times are not used)
        for mode in ("sequential", "parallel"):
            sampled = run_once(mode == "parallel", case.n, case.cost, memory=True)
            getattr(case, mode).append(Sample(float("nan"), float("nan"), sampled.peak_rss_mib, sampled.peak_pss_mib))
    print(f"{os.cpu_count()} cores; medians of {repeats} run(s) each\n")
    print(table(cases))
    print("\n| target | measured | met |\n| --- | --- | --- |")
    verdicts = judge(cases)
    for target, measured, met in verdicts:
        print(f"| {target} | {measured} | {'yes' if met else 'NO'} |")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "cases": [asdict(c) for c in cases],
                    "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in verdicts],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
