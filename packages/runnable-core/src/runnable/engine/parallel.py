"""Running the branches of a composite step, one after the other or in separate processes.

With ``enable_parallel: true`` on the local executor and a run log store that supports concurrent writers
(``chunked-fs``), the branches of the outermost parallel or map step run in forked worker processes, as many
at a time as there are cores. Composite steps nested inside such a branch run their own branches
sequentially in that worker: one level of processes keeps every core busy without forking from forked
processes.

What makes it scale (issue 22):

* branches go to the workers in *batches* of consecutive branches (about eight batches per worker, at most
  ``MAX_BATCH`` branches each), so the cost of a pool task is paid per batch, not per map item;
* a worker writes its step records straight to the store and sends back only its branches' records (never
  the run log or the parameters), and then forgets them: its memory stays flat however many items it runs;
* workers are forked once per fan-out and inherit the run (services, graph, parameters) instead of receiving
  it through a pipe.

What makes it safe (issue 14): every branch runs in a private working directory
(:mod:`runnable.engine.branch_folder`), so branches writing the same relative path never see each other's
bytes; the scratch folders are removed when the composite's branches are done.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from runnable.engine.branch_folder import BranchFolder, catalog_globs
from runnable.models.graph import Graph
from runnable.models.run_log import BranchLog

if TYPE_CHECKING:
    from runnable.engine.run import Run

logger = logging.getLogger("runnable")

Branch = tuple[str, Graph]  # (the branch's internal name, e.g. "train.lr_0_1"; its graph)
Walk = Callable[["Run", Graph, str], None]

# Branches per pool task: large enough that a 10,000-item map of cheap items costs little more than the items
# themselves, small enough that the workers finish together (about eight batches per worker).
MAX_BATCH = 128
BATCHES_PER_WORKER = 8


class _FanOut:
    """What the workers of one fan-out inherit (set before the fork, so nothing unpicklable crosses a pipe)."""

    def __init__(self, run: Run, branches: list[Branch], walk: Walk, project: Path, scratch: Path) -> None:
        self.run, self.branches, self.walk = run, branches, walk
        self.project, self.scratch = project, scratch
        self.folders: dict[int, BranchFolder] = {}  # in a worker: its scratch folder per branch graph
        self.current: Path | None = None  # in a worker: the folder it is in


_FAN_OUT: _FanOut | None = None
_IN_WORKER = False


# Forking the workers and building their scratch folders costs about 50 ms. Map items are alike, so the first
# ones tell what the rest will cost: items run here, one after the other, while all of them at that pace would
# take less than the executor's ``min_parallel_seconds``; as soon as they would not, the items left go to the
# workers (issue 22: a map of cheap items is never much slower with enable_parallel than without). Branches
# of a parallel step differ from one another and always go to the workers.
SEQUENTIAL_BUDGET = 0.25  # seconds, for executors without the setting


def run_branches(run: Run, branches: list[Branch], walk: Walk) -> None:
    if len(branches) > 1 and _parallel_enabled(run):
        budget = getattr(run.context.executor, "min_parallel_seconds", SEQUENTIAL_BUDGET)
        if budget <= 0 or any(graph is not branches[0][1] for _, graph in branches):
            _in_processes(run, branches, walk)
            return
        started = time.perf_counter()
        for done, (name, graph) in enumerate(branches, start=1):
            walk(run, graph, name)
            left = len(branches) - done
            if left > 1 and (time.perf_counter() - started) / done * len(branches) >= budget:
                _in_processes(run, branches[done:], walk)
                return
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


def batches(count: int, workers: int) -> list[range]:
    """Consecutive ranges of branch indices, one pool task each."""
    size = max(1, min(MAX_BATCH, math.ceil(count / (workers * BATCHES_PER_WORKER))))
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _in_processes(run: Run, branches: list[Branch], walk: Walk) -> None:
    global _FAN_OUT
    context = run.context
    _resolve_relative_paths(run)
    reporters = [o for o in run.observers if hasattr(o, "pause")]
    for reporter in reporters:
        reporter.pause()  # no spinner thread may hold the console's lock while we fork
    scratch = Path(tempfile.mkdtemp(prefix=f"runnable-branches-{context.run_id}-"))
    _FAN_OUT = _FanOut(run, branches, walk, Path.cwd(), scratch)
    workers = min(len(branches), os.cpu_count() or 1)
    assert context.run_log is not None
    composite = context.run_log.search_step(branches[0][0].rsplit(".", 1)[0])
    received: set[int] = set()
    # Objects that exist at the fork are shared copy-on-write with the workers; the garbage collector would
    # touch (copy) every page of them in each worker. Frozen, it leaves them alone until the branches are done.
    gc.freeze()
    try:
        # Imported here, not with this module: a run that never forks does not pay for them, and the pool pickles
        # its work items by their module's name, so it must be the module now in sys.modules.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        mp_context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=mp_context, initializer=_worker_start) as pool:
            futures = {pool.submit(_run_batch, batch): batch for batch in batches(len(branches), workers)}
            for future in as_completed(futures):
                try:
                    for index, record in future.result():
                        composite.branches[branches[index][0]] = record
                        received.add(index)
                except BrokenProcessPool:  # a worker died (killed, segfault): its branches fail, nothing hangs
                    batch = futures[future]
                    logger.error(
                        "a worker process running branches %s to %s died", branches[batch[0]][0], branches[batch[-1]][0]
                    )
    finally:
        gc.unfreeze()
        _FAN_OUT = None
        shutil.rmtree(scratch, ignore_errors=True)
        for reporter in reporters:
            reporter.resume()
    for index, (name, _) in enumerate(branches):
        if index not in received:  # never reached its success step: the fan-in counts it failed
            composite.branches[name].status = "FAIL"


def _resolve_relative_paths(run: Run) -> None:
    """Workers change their working directory: let services that resolve relative paths on first use (an
    fsspec catalog, ``.catalog``) do so here, in the project's folder, before the fork; services with relative
    paths of their own fix them in ``resolve_paths()`` (the ``chunked-fs`` store does)."""
    context = run.context
    for service in (context.run_log_store, context.catalog, context.secrets, context.tracker):
        resolve = getattr(service, "resolve_paths", None)
        if callable(resolve):
            resolve()
    try:
        context.catalog.list_files(context.run_id, ".runnable-parallel-probe")
    except Exception:  # a catalog that cannot list now fails the steps that use it, with its own message
        logger.debug("catalog probe before forking failed", exc_info=True)


def _worker_start() -> None:
    """Workers inherit the run's SIGTERM handler (which closes the run); the pool must be able to end them."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_batch(batch: range) -> list[tuple[int, BranchLog]]:
    assert _FAN_OUT is not None
    fan_out = _FAN_OUT
    run = fan_out.run
    assert run.context.run_log is not None
    results = []
    for index in batch:
        name, graph = fan_out.branches[index]
        try:
            _enter_folder(fan_out, graph)
            fan_out.walk(run, graph, name)
        except BaseException:  # anything escaping the engine fails this branch (it never reaches its success step)
            traceback.print_exc()
        composite = run.context.run_log.search_step(name.rsplit(".", 1)[0])
        record = composite.branches[name]
        results.append((index, record))
        # Forget the branch here: its records are in the store and on their way to the parent.
        composite.branches[name] = BranchLog(internal_name=name, status=record.status, iteration=record.iteration)
        run.forget_scopes(name)  # the branch's scope (parameters copy): done with it too
    return results


def _enter_folder(fan_out: _FanOut, graph: Graph) -> None:
    """Make the branch's private working directory this worker's current one, as the last branch left it
    reset to what the project holds."""
    folder = fan_out.folders.get(id(graph))
    if folder is None:
        root = fan_out.scratch / f"{os.getpid()}-{len(fan_out.folders)}"
        patterns = catalog_globs(graph, fan_out.run.context.catalog.compute_data_folder)
        folder = fan_out.folders[id(graph)] = BranchFolder(fan_out.project, root, patterns)
    else:
        folder.reset()
    if fan_out.current != folder.root:
        os.chdir(folder.root)
        fan_out.current = folder.root
        os.environ["PWD"] = str(folder.root)
