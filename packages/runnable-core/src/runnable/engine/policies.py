"""How a run treats its task steps. Mocked runs and retries are policies of the run, not cases in the per-step
code: the run object asks its policy to run each task, and the policy decides whether it runs at all."""

from __future__ import annotations

from typing import Any

from runnable.engine.context import RunContext, Scope
from runnable.engine.steps import now, patched_task, record_without_running, run_task
from runnable.models.graph import TaskNode
from runnable.models.run_log import SUCCESS, RunLog, StepAttempt, StepLog


class RunTasks:
    """The default: every task runs."""

    def run_task(self, node: TaskNode, context: RunContext, scope: Scope, record: StepLog | None) -> StepLog:
        return run_task(node, context, scope, record=record)


class MockTasks(RunTasks):
    """The ``mocked`` executor: tasks named in ``patches`` run a replacement command, the others are skipped."""

    def __init__(self, patches: dict[str, dict[str, Any]]) -> None:
        self.patches = patches

    def run_task(self, node: TaskNode, context: RunContext, scope: Scope, record: StepLog | None) -> StepLog:
        patch = self.patches.get(node.name)
        if patch is None:
            start = now()
            attempt = StepAttempt(start_time=start, end_time=start, status=SUCCESS, message="mocked")
            return record_without_running(node, context, scope, "task", attempt, mock=True)
        return run_task(patched_task(node, patch), context, scope, record=record)


class ReuseTasks(RunTasks):
    """A retry: a task that succeeded in the original run is not run again; its returns and files are reused."""

    def __init__(self, original: RunLog) -> None:
        self.original_run_id = original.run_id
        self.succeeded = {
            step.internal_name: step
            for step in original.iter_steps()
            if step.status == SUCCESS and step.step_type == "task" and step.attempts
        }

    def run_task(self, node: TaskNode, context: RunContext, scope: Scope, record: StepLog | None) -> StepLog:
        previous = self.succeeded.get(scope.internal_name(node.name))
        if previous is None:
            return run_task(node, context, scope, record=record)
        attempt = previous.attempts[-1].model_copy()
        return record_without_running(
            node,
            context,
            scope,
            "task",
            attempt,
            data_catalog=list(previous.data_catalog),
            message=f"reused from run {self.original_run_id!r}",
        )
