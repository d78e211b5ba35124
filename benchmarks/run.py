"""Measure runnable's orchestration cost against plain Python doing the same work (SPEC §15).

    python benchmarks/run.py             # full run, about a minute; writes benchmarks/results.json
    python benchmarks/run.py --quick     # tiny sizes, one repeat: proves the runner works, times nothing useful

Workloads (see ``workloads.py``): W1 a chain of N python steps passing an int, W2 a map over M items with a
reduce, W3 a large object returned as ``pickled`` and read by the next step, W4 interpreter start-ups
(``import runnable``, ``runnable --help``). Each is timed as the median of several runs, next to a baseline
of the same work in plain Python measured in the same process and the same folder, so the table reads as
overheads and ratios that mean something on any machine.

How a run is timed, and why:

* every run starts in a fresh, empty folder under one temporary directory (nothing cached between runs;
  the folder is removed, untimed, afterwards), and the baseline runs there too, so both sides write to the
  same file system;
* runs and baselines are interleaved (run, baseline, run, baseline ...), so a slow patch of the machine
  (page-cache write-back, a noisy neighbour) hits both instead of one;
* one untimed warm-up round per case first: imports and first-use caches are W4's subject, not W1-W3's;
* stdout is redirected to /dev/null while timed, but the console reporter still renders every step line
  and the summary table into it, as it would into a CI log: that work is part of what a user pays;
* ``gc.collect()`` before each timed call, so garbage from the previous run is not collected on this one's
  clock.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from runnable.engine.capture import environment
from workloads import Case, chain_case, emulator_cases, map_case, object_case, startup_cases

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results.json"
WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
FIXED_SIZE = 1  # W1 and W2 also run at this size: the fixed cost of a run, taken out of the marginal growth

# Targets (SPEC §15 as issue 22 sets them), for this repository's 2-core CI machine: console included.
W1_MS_PER_STEP = 0.25
W2_MS_PER_ITEM = 0.15
GROWTH_PCT = 10.0
W3_RATIO = 1.2
W4_IMPORT_MS = 150.0
CONSOLE_SHARE_PCT = 10.0  # live output + summary, as a share of the engine's time (the run without console)
SDK_RATIO = 1.5  # `from runnable import Pipeline, PythonTask` against `import pydantic`
EXECUTE_STEP_RATIO = 1.5  # `runnable execute-step` of a trivial step against that SDK import


class BenchmarkError(RuntimeError):
    """A workload returned the wrong value: its timing would not measure what the table says."""


@dataclass
class Result:
    """The timings of one case, in seconds."""

    case: Case
    times: list[float]
    baseline_times: list[float]
    cpu_times: list[float]  # CPU time of the same runs (this process and its children): less noisy on a busy machine
    baseline_cpu_times: list[float]
    quiet_times: list[float]  # the same run with the console off (W1, W2), timed right after each run
    quiet_cpu_times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline_times)

    @property
    def overhead_per_unit_ms(self) -> float:
        """What runnable adds per step / item / object / run: (median - baseline median) / units."""
        return (self.median - self.baseline_median) / self.case.units * 1000

    @property
    def ratio(self) -> float:
        return self.median / self.baseline_median if self.baseline_median > 0 else float("inf")

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times)

    @property
    def baseline_cpu_median(self) -> float:
        return statistics.median(self.baseline_cpu_times)

    @property
    def cpu_ratio(self) -> float:
        return self.cpu_median / self.baseline_cpu_median if self.baseline_cpu_median > 0 else float("inf")

    @property
    def cpu_overhead_per_unit_ms(self) -> float:
        return (self.cpu_median - self.baseline_cpu_median) / self.case.units * 1000

    @property
    def quiet_median(self) -> float:
        return statistics.median(self.quiet_times)

    def console_cost(self, cpu: bool = False) -> float:
        """What the console costs a run: the median of (run with it - the same run without it), paired by
        round (the two are timed one right after the other), in seconds."""
        on, off = (self.cpu_times, self.quiet_cpu_times) if cpu else (self.times, self.quiet_times)
        return statistics.median(a - b for a, b in zip(on, off, strict=True))

    def console_share_pct(self, cpu: bool = False) -> float:
        """The console's cost as a share of the engine's time: the run without console, above the baseline."""
        quiet = statistics.median(self.quiet_cpu_times if cpu else self.quiet_times)
        baseline = self.baseline_cpu_median if cpu else self.baseline_median
        engine = quiet - baseline
        return self.console_cost(cpu) / engine * 100 if engine > 0 else math.nan

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": self.case.workload,
            "title": self.case.title,
            "size": self.case.size,
            "units": self.case.units,
            "unit": self.case.unit,
            "median_s": self.median,
            "min_s": min(self.times),
            "max_s": max(self.times),
            "baseline_median_s": self.baseline_median,
            "overhead_per_unit_ms": self.overhead_per_unit_ms,
            "ratio": self.ratio,
            "times_s": self.times,
            "baseline_times_s": self.baseline_times,
            "baseline": self.case.baseline_label or "the same work in plain Python",
            "cpu_median_s": self.cpu_median,
            "baseline_cpu_median_s": self.baseline_cpu_median,
            "cpu_overhead_per_unit_ms": self.cpu_overhead_per_unit_ms,
            "cpu_ratio": self.cpu_ratio,
            "cpu_times_s": self.cpu_times,
            "baseline_cpu_times_s": self.baseline_cpu_times,
            "console_off_times_s": self.quiet_times,
            "console_off_cpu_times_s": self.quiet_cpu_times,
            "console_cost_s": self.console_cost() if self.quiet_times else None,
            "console_cost_cpu_s": self.console_cost(cpu=True) if self.quiet_times else None,
            "console_share_pct": self.console_share_pct() if self.quiet_times else None,
            "console_share_cpu_pct": self.console_share_pct(cpu=True) if self.quiet_times else None,
        }


@dataclass
class Growth:
    """How the cost above the baseline grows from the smaller to the larger size (linear: the size ratio).

    ``measured`` is the issue's definition, (time(large) - baseline) / (time(small) - baseline). Every run
    also pays a fixed cost that does not depend on its size (creating and closing the run log, the git
    commit, registering observers, the summary's header: several ms), so that ratio comes out *below*
    linear by an amount that says nothing about scaling, and the cheaper the engine is per step the further
    below. ``marginal`` takes the fixed cost out, using the one-step run of the same workload: it compares
    (time(large) - time(1)) with (time(small) - time(1)), above the baselines; that is the number that
    shows whether a step costs more when there are more of them.
    """

    workload: str
    small: Result
    large: Result
    fixed: Result | None = None  # the same workload at size 1

    @property
    def expected(self) -> float:
        return self.large.case.units / self.small.case.units

    @property
    def measured(self) -> float:
        small = above_baseline(self.small)
        return above_baseline(self.large) / small if small > 0 else math.nan

    @property
    def deviation_pct(self) -> float:
        """Signed: above 0 grows faster than linear; below 0 means fixed per-run costs are being amortised."""
        return (self.measured / self.expected - 1) * 100

    @property
    def marginal_deviation_pct(self) -> float | None:
        if self.fixed is None:
            return None
        fixed = above_baseline(self.fixed)
        small, large = above_baseline(self.small) - fixed, above_baseline(self.large) - fixed
        units = self.fixed.case.units
        expected = (self.large.case.units - units) / (self.small.case.units - units)
        return ((large / small) / expected - 1) * 100 if small > 0 else None  # noise larger than the signal

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "from": self.small.case.size,
            "to": self.large.case.size,
            "expected": self.expected,
            "measured": self.measured,
            "deviation_pct": self.deviation_pct,
            "fixed_cost_s": above_baseline(self.fixed) if self.fixed is not None else None,
            "marginal_deviation_pct": self.marginal_deviation_pct,
        }


def above_baseline(result: Result) -> float:
    return result.median - result.baseline_median


@dataclass
class Target:
    name: str
    measured: float
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.measured <= self.limit

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "measured": self.measured, "limit": self.limit, "unit": self.unit, "met": self.met}


# ---- timing ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def working_directory(folder: Path) -> Iterator[None]:
    """``contextlib.chdir`` is 3.11+; the runner runs wherever runnable does (3.10+)."""
    saved = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(saved)


def _cpu() -> float:
    """CPU seconds used so far by this process and the children it waited for (W4/W5 run subprocesses)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(call: Callable[[], Any], root: Path, env: dict[str, str]) -> tuple[float, float, Any]:
    """Time one call in a fresh folder under ``root`` with stdout going to /dev/null.

    Returns (wall seconds, CPU seconds, value)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        with environment(env), working_directory(folder), open(os.devnull, "w") as devnull:
            gc.collect()
            with contextlib.redirect_stdout(devnull):
                cpu = _cpu()
                start = time.perf_counter()
                value = call()
                elapsed = time.perf_counter() - start
                cpu = _cpu() - cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return elapsed, cpu, value


def measure(cases: list[Case], root: Path, repeats: int, warmup: int) -> list[Result]:
    """Warm-up rounds, then ``repeats`` rounds; each round runs every case once, each run followed by the same
    run with the console off (W1, W2) and by its baseline.

    The sizes of one workload are measured round-robin (N=100, N=1000, N=100, ...) rather than one after the
    other, so a slow minute of the machine lands on all of them and leaves their growth ratio alone.
    """
    kinds = ("run", "quiet", "baseline")
    wall: dict[tuple[int, str], list[float]] = {(id(c), k): [] for c in cases for k in kinds}
    cpu: dict[tuple[int, str], list[float]] = {(id(c), k): [] for c in cases for k in kinds}
    for case in cases:
        if case.setup is not None:
            case.setup()
    try:
        for round_ in range(warmup + repeats):
            for case in cases:
                for kind, call in (("run", case.run), ("quiet", case.quiet), ("baseline", case.baseline)):
                    if call is None:
                        continue
                    elapsed, used, value = timed(call, root, case.env)
                    if value != case.expected:
                        raise BenchmarkError(
                            f"{case.workload} {case.size}: the {kind} returned {value!r}, expected {case.expected!r}"
                        )
                    if round_ >= warmup:
                        wall[id(case), kind].append(elapsed)
                        cpu[id(case), kind].append(used)
    finally:
        for case in cases:
            if case.teardown is not None:
                case.teardown()
    return [
        Result(
            case,
            wall[id(case), "run"],
            wall[id(case), "baseline"],
            cpu[id(case), "run"],
            cpu[id(case), "baseline"],
            wall[id(case), "quiet"],
            cpu[id(case), "quiet"],
        )
        for case in cases
    ]


# ---- reporting -------------------------------------------------------------------------------------------


def format_ms(seconds: float) -> str:
    value = seconds * 1000
    if abs(value) >= 100:
        return f"{value:.0f} ms"
    if abs(value) >= 10:
        return f"{value:.1f} ms"
    if abs(value) >= 1:
        return f"{value:.2f} ms"
    return f"{value:.3f} ms"


def format_ratio(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:,.0f}×"


def results_table(results: list[Result]) -> str:
    lines = [
        "| workload | size | median | min | max | baseline median | overhead per step/item | ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        overhead = format_ms(r.overhead_per_unit_ms / 1000) + f"/{r.case.unit}"
        lines.append(
            f"| {r.case.workload} {r.case.title} | {r.case.size} | {format_ms(r.median)} | {format_ms(min(r.times))} "
            f"| {format_ms(max(r.times))} | {format_ms(r.baseline_median)} | {overhead} | {format_ratio(r.ratio)} |"
        )
    return "\n".join(lines)


def cpu_table(results: list[Result]) -> str:
    """The same runs in CPU time (this process and its children): on a shared machine, wall time also counts
    the time other jobs had the cores."""
    lines = [
        "| workload | size | CPU median | baseline CPU median | CPU overhead per step/item | CPU ratio | baseline |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        overhead = format_ms(r.cpu_overhead_per_unit_ms / 1000) + f"/{r.case.unit}"
        lines.append(
            f"| {r.case.workload} {r.case.title} | {r.case.size} | {format_ms(r.cpu_median)} "
            f"| {format_ms(r.baseline_cpu_median)} | {overhead} | {format_ratio(r.cpu_ratio)} "
            f"| {r.case.baseline_label or 'the same work in plain Python'} |"
        )
    return "\n".join(lines)


def console_table(results: list[Result]) -> str:
    """What the console (live output and the end-of-run summary) costs, from the runs with it switched off."""
    lines = [
        "| workload | size | with console | console off | console cost per run | share of engine time "
        "| console cost (CPU) | share (CPU) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if not r.quiet_times:
            continue
        lines.append(
            f"| {r.case.workload} | {r.case.size} | {format_ms(r.median)} | {format_ms(r.quiet_median)} "
            f"| {format_ms(r.console_cost())} | {r.console_share_pct():+.1f}% "
            f"| {format_ms(r.console_cost(cpu=True))} | {r.console_share_pct(cpu=True):+.1f}% |"
        )
    return "\n".join(lines)


def growth_table(growths: list[Growth]) -> str:
    lines = [
        "| workload | sizes | (time − baseline) grew | linear | deviation | fixed cost of a run "
        "| deviation without it |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for g in growths:
        fixed = format_ms(above_baseline(g.fixed)) if g.fixed is not None else "-"
        marginal = g.marginal_deviation_pct
        lines.append(
            f"| {g.workload} | {g.small.case.size} → {g.large.case.size} | {g.measured:.2f}× | {g.expected:.0f}× "
            f"| {g.deviation_pct:+.1f}% | {fixed} | {'-' if marginal is None else f'{marginal:+.1f}%'} |"
        )
    return "\n".join(lines)


def targets_table(targets: list[Target]) -> str:
    lines = ["| target | measured | limit | met |", "| --- | ---: | ---: | --- |"]
    for t in targets:
        digits = 3 if t.unit == "ms" and t.limit < 1 else 2
        measured = f"{t.measured:.{digits}f}"
        lines.append(f"| {t.name} | {measured} {t.unit} | {t.limit:g} {t.unit} | {'yes' if t.met else 'NO'} |")
    return "\n".join(lines)


def growths_of(results: list[Result]) -> list[Growth]:
    """Growth from the smallest to the largest size asked for; the size-1 run only serves as the fixed cost."""
    growths = []
    for workload in ("W1", "W2"):
        sized = sorted((r for r in results if r.case.workload == workload), key=lambda r: r.case.units)
        fixed = sized[0] if sized and sized[0].case.units == FIXED_SIZE else None
        asked = [r for r in sized if r is not fixed]
        if len(asked) >= 2:
            growths.append(Growth(workload, asked[0], asked[-1], fixed))
    return growths


def targets_of(results: list[Result], growths: list[Growth]) -> list[Target]:
    """The issue's targets, each checked at the largest size measured (the defaults are the targets' sizes)."""

    def largest(workload: str) -> Result | None:
        sized = [r for r in results if r.case.workload == workload]
        return max(sized, key=lambda r: r.case.units) if sized else None

    targets = []
    if (w1 := largest("W1")) is not None:
        targets.append(Target(f"W1 overhead per step, {w1.case.size}", w1.overhead_per_unit_ms, W1_MS_PER_STEP, "ms"))
        if w1.quiet_times:
            share = w1.console_share_pct()
            name = f"W1 console (live output + summary) / engine time, {w1.case.size}"
            targets.append(Target(name, share, CONSOLE_SHARE_PCT, "%"))
    if (w2 := largest("W2")) is not None:
        targets.append(Target(f"W2 overhead per item, {w2.case.size}", w2.overhead_per_unit_ms, W2_MS_PER_ITEM, "ms"))
    for g in growths:
        # The target is about scaling: cost may not grow faster than the work. Growing slower than linear (a
        # fixed per-run cost being amortised, or output the reporter stops printing after the first steps)
        # is not a defect, so only the excess over linear counts.
        name = f"{g.workload} growth {g.small.case.size} → {g.large.case.size}, excess over linear"
        targets.append(Target(name, max(0.0, g.deviation_pct), GROWTH_PCT, "%"))
    if (w3 := largest("W3")) is not None:
        targets.append(Target(f"W3 {w3.case.size} vs pickle write-read-unpickle", w3.ratio, W3_RATIO, "×"))
    for r in results:
        if r.case.workload == "W4" and r.case.size == "`import runnable`":
            targets.append(Target("W4 `import runnable` (wall time)", r.median * 1000, W4_IMPORT_MS, "ms"))
        elif r.case.workload == "W4" and r.case.size.startswith("`from runnable import"):
            targets.append(Target(f"W4 {r.case.size} vs `import pydantic`", r.ratio, SDK_RATIO, "×"))
        elif r.case.workload == "W4" and "execute-step" in r.case.size:
            targets.append(
                Target(
                    "W4 `runnable execute-step` of a trivial step vs the SDK import", r.ratio, EXECUTE_STEP_RATIO, "×"
                )
            )
    return targets


def _load() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was (2 cores: above 2 is queueing)."""
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "?"


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def machine() -> dict[str, Any]:
    import runnable

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "runnable_version": getattr(runnable, "__version__", ""),
        "runnable_path": str(Path(runnable.__file__).parent),
        "git": _git_commit(),
    }


# ---- command line ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Measure runnable's orchestration cost against plain Python doing the same work."
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and one repeat: checks the runner works (no useful timings)"
    )
    parser.add_argument("--repeats", type=int, help="timed runs per case (default 7; 1 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds per case before timing (default 1)")
    parser.add_argument("--chain", type=int, nargs="+", metavar="N", help="W1 chain lengths (default 100 1000)")
    parser.add_argument("--map", type=int, nargs="+", metavar="M", help="W2 map sizes (default 1000 10000)")
    parser.add_argument(
        "--emulator-size", type=int, metavar="N", help="W5 chain length and map size (default 100; 3 with --quick)"
    )
    parser.add_argument(
        "--chain-repeats",
        type=int,
        help="timed runs of W1 (default 21, 1 with --quick): a round is cheap, and the console's share is a "
        "difference of two noisy times",
    )
    parser.add_argument(
        "--emulator-repeats", type=int, default=1, help="timed runs of W5, no warm-up (default 1: each is minutes)"
    )
    parser.add_argument("--object-mb", type=int, metavar="MB", help="W3 object size in MB (default 50)")
    parser.add_argument(
        "--only", nargs="+", choices=WORKLOADS, help="workloads to run (default all; W1-W4 with --quick)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help=f"where to write the results (default {DEFAULT_JSON.relative_to(HERE.parent)}; none with --quick)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    quick = args.quick
    if args.repeats is None:
        args.repeats = 1 if quick else 7
    if args.chain is None:
        args.chain = [5, 20] if quick else [100, 1000]
    if args.map is None:
        args.map = [5, 50] if quick else [1000, 10000]
    if args.chain_repeats is None:
        args.chain_repeats = 1 if quick else 21
    if args.emulator_size is None:
        args.emulator_size = 3 if quick else 100
    if args.only is None:  # the emulator's workloads start hundreds of processes: a quick run leaves them out
        args.only = [w for w in WORKLOADS if w != "W5"] if quick else list(WORKLOADS)
    if args.object_mb is None:
        args.object_mb = 1 if quick else 50
    if args.json is None and not quick:
        args.json = DEFAULT_JSON  # a quick run must not overwrite the results the README quotes
    if (
        args.repeats < 1
        or args.chain_repeats < 1
        or args.warmup < 0
        or args.object_mb < 1
        or min(args.chain + args.map) < 1
        or args.emulator_size < 1
        or args.emulator_repeats < 1
    ):
        parser.error("--repeats, --object-mb and the sizes must be at least 1, --warmup at least 0")
    return args


def with_fixed_size(sizes: list[int]) -> list[int]:
    """The sizes asked for plus 1: a one-step run measures the fixed cost of a run (see :class:`Growth`)."""
    return sorted({FIXED_SIZE, *sizes})


def groups_for(args: argparse.Namespace) -> list[list[Case]]:
    """The cases to measure, one group per workload (a group's sizes are measured round-robin)."""
    groups: list[list[Case]] = []
    if "W1" in args.only:
        groups.append([chain_case(n) for n in with_fixed_size(args.chain)])
    if "W2" in args.only:
        groups.append([map_case(m) for m in with_fixed_size(args.map)])
    if "W3" in args.only:
        groups.append([object_case(args.object_mb)])
    if "W4" in args.only:
        groups.append(startup_cases())
    if "W5" in args.only:
        groups.append(emulator_cases(args.emulator_size, args.emulator_size))
    return groups


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The user's own runnable settings (a configuration file, parameters, a run id) must not leak in.
    for key in [k for k in os.environ if k.startswith("RUNNABLE_")]:
        del os.environ[key]
    started = time.perf_counter()
    load_before = _load()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="runnable-bench-") as folder:
        root = Path(folder)
        for cases in groups_for(args):
            print(f"{cases[0].workload}: {', '.join(c.size for c in cases)} ...", file=sys.stderr, flush=True)
            repeats, warmup = args.repeats, args.warmup
            if cases[0].workload == "W5":
                repeats, warmup = args.emulator_repeats, 0
            elif cases[0].workload == "W1":
                repeats = args.chain_repeats
            for result in measure(cases, root, repeats, warmup):
                print(
                    f"  {result.case.size}: {format_ms(result.median)} (baseline {format_ms(result.baseline_median)})",
                    file=sys.stderr,
                )
                results.append(result)
    growths = growths_of(results)
    targets = targets_of(results, growths)
    elapsed = time.perf_counter() - started

    load_after = _load()
    sections = [results_table(results), cpu_table(results)]
    if any(r.quiet_times for r in results):
        sections.append(console_table(results))
    if growths:
        sections.append(growth_table(growths))
    if targets:
        sections.append(targets_table(targets))
    report = "\n\n".join(sections)
    if args.quick:
        print("(quick run: tiny sizes, one repeat; the timings mean nothing)\n")
    print(report)
    print(
        f"\n{args.repeats} timed runs per case (median, min, max), {args.warmup} warm-up"
        + (f" (W1: {args.chain_repeats})" if "W1" in args.only else "")
        + (f" (W5: {args.emulator_repeats}, no warm-up)" if "W5" in args.only else "")
        + f"; took {elapsed:.0f} s; load average {load_before} before, {load_after} after"
    )

    if args.json is not None:
        document = {
            "machine": machine(),
            "settings": {
                "quick": args.quick,
                "repeats": args.repeats,
                "chain_repeats": args.chain_repeats,
                "warmup": args.warmup,
                "chain": args.chain,
                "map": args.map,
                "object_mb": args.object_mb,
                "emulator_size": args.emulator_size,
                "emulator_repeats": args.emulator_repeats,
                "load_average_before": load_before,
                "load_average_after": load_after,
                "only": args.only,
                "argv": sys.argv[1:] if argv is None else argv,
                "duration_s": elapsed,
            },
            "results": [r.as_json() for r in results],
            "growth": [g.as_json() for g in growths],
            "targets": [t.as_json() for t in targets],
            "markdown": report,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.check and not all(t.met for t in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
