"""The run protocol: one object per run and process, driven the same way by every executor.

::

    open  ->  ( step | fan_out -> branches -> fan_in )*  ->  close

* :meth:`Run.open` creates the run, or joins it when another process already did (a container of an
  orchestrator). Only the creator fires ``run_started``.
* :meth:`Run.step` runs one task, stub or terminal step by its address (``fan.3.train``), checked against the
  graph and against the branches the enclosing composite's fan-out planned. The pipeline's own success or
  fail step closes the run.
* :meth:`Run.fan_out` records a composite step and plans its branches (map items, the conditional's
  branch, the loop's next round); :meth:`Run.fan_in` merges what they returned and ends the composite.
* :meth:`Run.close` records the final status and fires ``run_finished``.

The local executor calls these in-process (:mod:`runnable.engine.traversal`); the ``emulator`` executor and
orchestrators call them through ``runnable execute-step | fan-out | fan-in``, one fresh process each. Nothing
is carried between calls but the run log store and the catalog, so the two ways give the same run log.
What a run does with its tasks (run them, mock them, reuse a failed run's successes) is its *policy*.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, Field

from runnable.engine.composites import merge_branches, plan_branches
from runnable.engine.context import RunContext, Scope
from runnable.engine.hooks import HookRelay
from runnable.engine.policies import ReuseTasks, RunTasks
from runnable.engine.prepare import effective_configuration, prepare  # noqa: F401  (prepare: re-exported)
from runnable.engine.scopes import branch_status, check_iteration, composite_record, find_node, resolve_scope
from runnable.engine.steps import begin, end, now, one_line_message, record_without_running
from runnable.engine.supervision import announce, process_alive
from runnable.errors import AddressError, RunLogNotFoundError, RunnableError
from runnable.models.graph import BaseNode, CompositeNode, FailNode, TaskNode
from runnable.models.run_log import FAIL, PROCESSING, SUCCESS, BranchLog, RunLog, Status, StepAttempt, StepLog
from runnable.plugins import get_plugin_manager


class PlannedBranch(BaseModel):
    name: str  # the branch's internal name, the prefix of its steps' addresses: "fan.3"
    key: str  # the last part of it: "3"
    iteration: dict[str, Any] = Field(default_factory=dict)  # the values this branch adds (map item, loop round)


class Plan(BaseModel):
    """What a fan-out decided, as written to the file ``runnable fan-out`` is given."""

    step: str
    kind: str
    status: Status = PROCESSING  # FAIL when the composite could not be planned (its message says why)
    message: str = ""
    branches: list[PlannedBranch] = Field(default_factory=list)
    # False only for a loop that planned a round: fan it out again after the round to plan the next one.
    done: bool = True

    @property
    def keys(self) -> list[str]:
        return [b.key for b in self.branches]


class RunInterrupted(BaseException):
    """SIGTERM arrived while the run went (raised like KeyboardInterrupt, so nothing swallows it)."""


class Run:
    """One run of one pipeline, as seen from one process."""

    def __init__(self, context: RunContext, *, policy: RunTasks | None = None) -> None:
        self.context = context
        self.observers = [context.tracker, *context.observers]
        context.relay = HookRelay(get_plugin_manager(), self.observers)
        self.policy = policy
        self.closed = False
        self._top = Scope(context.parameters)
        self._scopes: dict[str, Scope] = {}

    # --- open and close -------------------------------------------------------------------------------

    def open(self, *, join: bool = False) -> RunLog:
        """Create the run; with ``join``, take part in it when another process already created it."""
        context = self.context
        store = context.run_log_store
        if join:
            try:
                return self._joined(store.get_run_log(context.run_id))
            except RunLogNotFoundError:
                pass
        run_log = RunLog(
            run_id=context.run_id,
            tag=context.tag,
            status=PROCESSING,
            dag_hash=context.graph.dag_hash(),
            pipeline_name=context.graph.name,
            start_time=now(),
            initial_parameters=dict(context.parameters),
            parameters=dict(context.parameters),
            run_config={**effective_configuration(context), "runner": _runner()},
            original_run_id=context.retry_of,
        )
        try:
            store.create_run_log(run_log)
        except RunnableError:
            if not join:
                raise
            return self._joined(store.get_run_log(context.run_id))  # another process created it just now
        context.run_log = run_log
        announce(context.run_id, context.config.source)  # a supervising `runnable` closes it if we crash
        if self.policy is None:
            self.policy = self._policy_for(run_log)
        try:
            context.relay.run_started(run_log=run_log)
        except BaseException as error:  # an observer refused the run (a tracker's server is down): close it
            with contextlib.suppress(Exception):
                self.close(FAIL, f"the run could not start: {type(error).__name__}: {error}")
            raise
        return run_log

    def _joined(self, run_log: RunLog) -> RunLog:
        context = self.context
        if run_log.dag_hash and run_log.dag_hash != context.graph.dag_hash():
            raise RunnableError(
                f"run {context.run_id!r} was started with another pipeline: its steps differ from "
                f"{context.pipeline_file or 'this pipeline'}",
                hint="every step of a run must be given the same pipeline file",
            )
        context.run_log = run_log
        context.parameters.clear()
        context.parameters.update(run_log.parameters)
        context.retry_of = run_log.original_run_id
        if self.policy is None:
            self.policy = self._policy_for(run_log)
        return run_log

    def _policy_for(self, run_log: RunLog) -> RunTasks:
        if not run_log.original_run_id:
            return RunTasks()
        return ReuseTasks(self.context.run_log_store.get_run_log(run_log.original_run_id))

    def close(self, status: Status, reason: str = "") -> RunLog:
        """Record the final status (and, when interrupted, fail the steps still running) and tell observers."""
        context = self.context
        run_log = context.run_log
        assert run_log is not None, "close() before open()"
        if self.closed:
            return run_log
        self.closed = True
        if reason:
            run_log.fail_running(reason, now())
        run_log.status = status
        run_log.end_time = now()
        run_log.parameters = dict(context.parameters)
        context.run_log_store.finish_run_log(run_log)
        context.relay.run_finished(run_log=run_log)
        return run_log

    @contextmanager
    def running(self, *, join: bool = False) -> Iterator[None]:
        """Open the run (``join``: as :meth:`open`); close it whatever happens (a failure, Ctrl-C, SIGTERM) if no
        terminal step did."""
        with _records_kept():
            yield from self._running(join)

    def _running(self, join: bool) -> Iterator[None]:
        self.open(join=join)
        reason = "the run was interrupted"
        previous = _on_sigterm()
        try:
            yield
            reason = "the run ended before a terminal step"
        except KeyboardInterrupt:
            reason = "interrupted by Ctrl-C (SIGINT)"
            raise
        except RunInterrupted:
            reason = "terminated by SIGTERM"
            raise
        except BaseException as error:
            reason = f"the engine failed: {type(error).__name__}: {error}"
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if not self.closed:
                self.close(FAIL, reason)

    # --- steps ----------------------------------------------------------------------------------------

    def scope(self, prefix: str) -> Scope:
        assert self.context.run_log is not None, "open() the run first"
        return resolve_scope(self.context.run_log, self.context.graph, prefix, self._top, self._scopes)

    def _address(self, address: str, iteration: dict[str, Any] | None) -> tuple[BaseNode, Scope]:
        node, prefix = find_node(self.context.graph, address)
        scope = self.scope(prefix)
        if iteration:
            check_iteration(scope, iteration, address)
        return node, scope

    def step(self, address: str, iteration: dict[str, Any] | None = None) -> StepLog:
        """Run the task, stub or terminal step at ``address``; the pipeline's own terminal step closes the run."""
        node, scope = self._address(address, iteration)
        if isinstance(node, CompositeNode):
            raise AddressError(f"step {address!r} is a {node.type} step: fan it out and in instead")  # type: ignore[attr-defined]
        assert self.context.run_log is not None and self.policy is not None
        record = composite_record(self.context.run_log, address)
        if record is not None and record.status == SUCCESS:
            return record  # done already (an orchestrator ran this container twice): run nothing again
        if isinstance(node, TaskNode):
            step_log = self.policy.run_task(node, self.context, scope, record)
        else:
            start = now()
            attempt = StepAttempt(start_time=start, end_time=start, status=SUCCESS)
            step_log = record_without_running(node, self.context, scope, node.type, attempt)  # type: ignore[attr-defined]
        if node.is_terminal and scope.is_top:
            self.close(FAIL if isinstance(node, FailNode) else SUCCESS)
        return step_log

    def fan_out(self, address: str, iteration: dict[str, Any] | None = None) -> Plan:
        """Record the composite step at ``address`` and plan the branches to run now."""
        node, scope = self._address(address, iteration)
        if not isinstance(node, CompositeNode):
            raise AddressError(f"step {address!r} is not a composite step: run it with execute-step")
        context = self.context
        assert context.run_log is not None
        kind = node.type  # type: ignore[attr-defined]
        record = composite_record(context.run_log, address)
        if record is not None and record.status != PROCESSING:
            raise AddressError(f"step {address!r} was fanned in already (it is {record.status})")
        if record is None:
            record = begin(node, context, scope, kind)
            record.attempts.append(StepAttempt(start_time=now(), status=PROCESSING))
        elif kind != "loop":  # planned already (an orchestrator retried the fan-out): the same plan again
            return self._plan(address, kind, record, done=True)
        try:
            planned, done = plan_branches(node, record, scope, context)
        except RunnableError as error:
            self._end_composite(record, scope, FAIL, {}, [one_line_message(node, error)])
            return Plan(step=address, kind=kind, status=FAIL, message=record.message)
        for key, values in planned:
            name = f"{address}.{key}"
            record.branches[name] = BranchLog(internal_name=name, status=PROCESSING, iteration=values)
        context.run_log_store.put_step_log(context.run_id, record)
        return self._plan(address, kind, record, done=done, only=[f"{address}.{key}" for key, _ in planned])

    @staticmethod
    def _plan(address: str, kind: str, record: StepLog, *, done: bool, only: list[str] | None = None) -> Plan:
        names = only if only is not None else list(record.branches)
        return Plan(
            step=address,
            kind=kind,
            done=done,
            branches=[
                PlannedBranch(name=n, key=n.rsplit(".", 1)[1], iteration=record.branches[n].iteration) for n in names
            ],
        )

    def fan_in(self, address: str, iteration: dict[str, Any] | None = None) -> StepLog:
        """Merge what the branches of the composite at ``address`` returned and end it."""
        node, scope = self._address(address, iteration)
        if not isinstance(node, CompositeNode):
            raise AddressError(f"step {address!r} is not a composite step")
        assert self.context.run_log is not None
        record = composite_record(self.context.run_log, address)
        if record is None:
            raise AddressError(f"step {address!r} was not fanned out in run {self.context.run_id!r}")
        if record.status != PROCESSING:
            return record  # fanned in already
        for branch in record.branches.values():
            branch.status = branch_status(branch)  # type: ignore[assignment]
        try:
            status, merged, notes = merge_branches(node, record, scope, self.context)
        except RunnableError as error:
            status, merged, notes = FAIL, {}, [one_line_message(node, error)]
        self.forget_scopes(address)  # a 10,000-item map is done with its branches' scopes
        return self._end_composite(record, scope, status, merged, notes)

    def forget_scopes(self, prefix: str) -> None:
        """Drop the cached scopes of the branch ``prefix`` names and of everything under it (one pass over the
        cache: a scope per map item, forgotten branch by branch, was quadratic)."""
        inside = prefix + "."
        for cached in [p for p in self._scopes if p == prefix or p.startswith(inside)]:
            del self._scopes[cached]

    def _end_composite(
        self, record: StepLog, scope: Scope, status: Status, merged: dict[str, Any], notes: list[str]
    ) -> StepLog:
        attempt = record.attempts[-1]
        attempt.status = status
        attempt.message = "; ".join(notes)
        attempt.end_time = now()
        attempt.output_parameters = merged
        record.status = status
        record.message = attempt.message
        metrics = {name: p.value for name, p in merged.items() if p.kind == "metric"}
        return end(self.context, scope, record, merged, metrics)


_GC_LOCK = threading.Lock()
_GC_RUNS = 0  # runs going in this process (threads may run several)
_GC_SET: tuple[int, int, int] | None = None  # what the first of them set, and what it replaced
_GC_SAVED: tuple[int, int, int] | None = None
_OLDEST_EVERY = 100  # collections of the middle generation between two of the oldest (CPython's default: 10)


@contextmanager
def _records_kept() -> Iterator[None]:
    """While runs go in this process, collect the oldest generation of the garbage collector ten times less
    often; the thresholds are put back when the last run ends (unless someone changed them meanwhile).

    A run keeps every record it makes until it ends, and makes no garbage cycles of its own. Each collection
    of the oldest generation walks all of them and frees nothing, and CPython starts one whenever the
    objects that survived grew by a quarter: a 10,000-item map spent a third of its time there, more per
    item the more items (issue 22). Young collections, which free what tasks throw away, are unchanged;
    cycles that live long enough to reach the oldest generation are freed later than they would be.
    """
    global _GC_RUNS, _GC_SET, _GC_SAVED
    with _GC_LOCK:
        if _GC_RUNS == 0:
            young, middle, oldest = current = gc.get_threshold()
            if young > 0 and oldest < _OLDEST_EVERY:  # 0: the collector is off; a larger value: chosen already
                _GC_SAVED, _GC_SET = current, (young, middle, _OLDEST_EVERY)
                gc.set_threshold(*_GC_SET)
        _GC_RUNS += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_RUNS -= 1
            if _GC_RUNS == 0 and _GC_SAVED is not None:
                if gc.get_threshold() == _GC_SET:
                    gc.set_threshold(*_GC_SAVED)
                _GC_SAVED = _GC_SET = None


def _runner() -> dict[str, Any]:
    """Which process opened the run: a retry of a run still PROCESSING asks whether that process lives."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def runner_alive(run_log: RunLog) -> bool:
    """Whether the process that opened a PROCESSING run may still be running it (unknown elsewhere: assume so)."""
    runner = run_log.run_config.get("runner") or {}
    if runner.get("host") != socket.gethostname():
        return bool(runner)
    try:
        pid = int(runner["pid"])
    except (KeyError, ValueError, TypeError):
        return False
    return process_alive(pid)


def _on_sigterm() -> Any:
    """While a run goes in the main thread, SIGTERM closes it like Ctrl-C does (run and running step FAIL)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise RunInterrupted()

    return signal.signal(signal.SIGTERM, interrupt)
