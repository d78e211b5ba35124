"""Running the branches of a composite step, one after the other or in separate processes.

With ``enable_parallel: true`` on the local executor and a run log store that supports concurrent writers
(``chunked-fs``), the branches of the outermost parallel or map step run in forked worker processes, as many
at a time as there are cores. Each worker writes its step records straight to the store and sends back its
branch's record and parameters, which the parent merges. Composite steps nested inside such a branch run
their own branches sequentially in that worker: one level of processes keeps every core busy without
forking from forked processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass

from runnable.engine.context import RunContext, Scope
from runnable.models.graph import Graph
from runnable.models.run_log import FAIL, PROCESSING, BranchLog, Status

logger = logging.getLogger("runnable")


@dataclass
class BranchRun:
    name: str  # the branch's internal name, e.g. "train.lr_0_1"
    graph: Graph
    scope: Scope
    status: Status = PROCESSING


BranchResult = tuple[Status, "BranchLog | None", Scope]

# The branches and context of the composite step being fanned out. Workers are forked after this is set,
# so they inherit it instead of receiving (unpicklable) services, open files and functions through a pipe.
_FAN_OUT: tuple[list[BranchRun], RunContext] | None = None
_IN_WORKER = False


def run_branches(branches: list[BranchRun], context: RunContext) -> list[BranchResult]:
    from runnable.engine.traversal import traverse

    if len(branches) > 1 and _parallel_enabled(context):
        return _in_processes(branches, context)
    # Sequentially, in this process: the branch records are already in the in-memory run log.
    return [(traverse(b.graph, context, b.scope), None, b.scope) for b in branches]


def _parallel_enabled(context: RunContext) -> bool:
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


def _in_processes(branches: list[BranchRun], context: RunContext) -> list[BranchResult]:
    global _FAN_OUT
    reporters = [o for o in context.observers if hasattr(o, "pause")]
    for reporter in reporters:
        reporter.pause()  # no spinner thread may hold the console's lock while we fork
    _FAN_OUT = (branches, context)
    workers = min(len(branches), os.cpu_count() or 1)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_run_in_worker, range(len(branches)), chunksize=1)
    finally:
        _FAN_OUT = None
        for reporter in reporters:
            reporter.resume()


def _run_in_worker(index: int) -> BranchResult:
    global _IN_WORKER
    from runnable.engine.traversal import traverse

    _IN_WORKER = True
    assert _FAN_OUT is not None
    branches, context = _FAN_OUT
    branch = branches[index]
    try:
        status = traverse(branch.graph, context, branch.scope)
    except BaseException:  # anything escaping the engine fails this branch, not the whole pool
        traceback.print_exc()
        status = FAIL
    assert context.run_log is not None
    composite = context.run_log.search_step(branch.name.rsplit(".", 1)[0])
    record = composite.branches.get(branch.name)
    scope = branch.scope
    return status, record, Scope(scope.parameters, scope.prefix, scope.iteration, scope.returned)
