"""Running the branches of a composite step, one after the other or in separate processes.

With ``enable_parallel: true`` on the local executor and a run log store that supports concurrent writers
(``chunked-fs``), the branches of the outermost parallel or map step run in forked worker processes, as many
at a time as there are cores. Each worker writes its step records straight to the store and sends back only
its branch's record, which the parent attaches to the composite step before fanning in. Composite steps
nested inside such a branch run their own branches sequentially in that worker: one level of processes
keeps every core busy without forking from forked processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from runnable.models.graph import Graph
from runnable.models.run_log import BranchLog

if TYPE_CHECKING:
    from runnable.engine.run import Run

logger = logging.getLogger("runnable")

Branch = tuple[str, Graph]  # (the branch's internal name, e.g. "train.lr_0_1"; its graph)
Walk = Callable[["Run", Graph, str], None]

# The run, branches and walker of the composite step being fanned out. Workers are forked after this is set,
# so they inherit it instead of receiving (unpicklable) services, open files and functions through a pipe.
_FAN_OUT: tuple[Run, list[Branch], Walk] | None = None
_IN_WORKER = False


def run_branches(run: Run, branches: list[Branch], walk: Walk) -> None:
    if len(branches) > 1 and _parallel_enabled(run):
        _in_processes(run, branches, walk)
        return
    for name, graph in branches:  # in this process: the branch records land in the in-memory run log
        walk(run, graph, name)


def _parallel_enabled(run: Run) -> bool:
    context = run.context
    if _IN_WORKER or not getattr(context.executor, "enable_parallel", False):
        return False
    if not context.run_log_store.supports_concurrent_writers:
        logger.warning(
            "enable_parallel needs a run log store that supports concurrent writers (e.g. chunked-fs); "
            "%r does not, so branches run one after the other",
            context.run_log_store.service_name,
        )
        return False
    if sys.platform == "win32":
        logger.warning("parallel branches need fork(); running them one after the other on Windows")
        return False
    return True


def _in_processes(run: Run, branches: list[Branch], walk: Walk) -> None:
    global _FAN_OUT
    reporters = [o for o in run.observers if hasattr(o, "pause")]
    for reporter in reporters:
        reporter.pause()  # no spinner thread may hold the console's lock while we fork
    _FAN_OUT = (run, branches, walk)
    workers = min(len(branches), os.cpu_count() or 1)
    records: dict[int, BranchLog] = {}
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_signals) as pool:
            futures = {pool.submit(_run_in_worker, index): index for index in range(len(branches))}
            for future in as_completed(futures):
                try:
                    records[futures[future]] = future.result()
                except BrokenProcessPool:  # a worker died (killed, segfault): its branches fail, nothing hangs
                    logger.error("a worker process running branches of %s died", branches[futures[future]][0])
    finally:
        _FAN_OUT = None
        for reporter in reporters:
            reporter.resume()
    assert run.context.run_log is not None
    for index, (name, _) in enumerate(branches):
        composite = run.context.run_log.search_step(name.rsplit(".", 1)[0])
        if index in records:
            composite.branches[name] = records[index]
        else:  # never reached its success step: the fan-in counts it failed
            composite.branches[name].status = "FAIL"


def _worker_signals() -> None:
    """Workers inherit the run's SIGTERM handler (which closes the run); the pool must be able to end them."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_in_worker(index: int) -> BranchLog:
    global _IN_WORKER
    _IN_WORKER = True
    assert _FAN_OUT is not None
    run, branches, walk = _FAN_OUT
    name, graph = branches[index]
    try:
        walk(run, graph, name)
    except BaseException:  # anything escaping the engine fails this branch (it never reaches its success step)
        traceback.print_exc()
    assert run.context.run_log is not None
    return run.context.run_log.search_step(name.rsplit(".", 1)[0]).branches[name]
