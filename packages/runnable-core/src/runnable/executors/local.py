"""The ``local`` executor: every step in this process, in graph order, over the run protocol."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from runnable.engine.context import RunContext
from runnable.models.run_log import RunLog
from runnable.services.executor import BaseJobExecutor, BasePipelineExecutor


class LocalExecutor(BasePipelineExecutor):
    service_name: ClassVar[str] = "local"

    # Run the branches of parallel and map steps in separate processes (needs a concurrent-safe run log store).
    enable_parallel: bool = False
    # With enable_parallel, a map whose items would all take less than this many seconds (at the pace of its
    # first items) runs them here, one after the other: forking workers costs about 50 ms. 0: always fork.
    min_parallel_seconds: float = Field(default=0.25, ge=0)
    # Accepted for configurations written for the original runnable; objects always go through the catalog.
    object_serialisation: bool = True
    overrides: dict[str, Any] = Field(default_factory=dict)

    def execute_pipeline(self, context: RunContext) -> RunLog:
        from runnable.engine.run import Run
        from runnable.engine.traversal import execute

        run = Run(context)
        execute(run)
        assert context.run_log is not None
        return context.run_log


class LocalJobExecutor(BaseJobExecutor):
    """The ``local`` job executor: the job's task in this process."""

    service_name: ClassVar[str] = "local"

    def execute_job(self, context: RunContext) -> RunLog:
        return run_job(context)


def run_job(context: RunContext, *, join: bool = False) -> RunLog:
    """The context's single task, run in this process and recorded as the run's job. ``join``: take part in the
    run another process created (a job executor that submits the job creates it; its container joins it)."""
    from runnable.engine.run import Run
    from runnable.engine.steps import run_task
    from runnable.models.graph import TaskNode
    from runnable.models.run_log import FAIL, SUCCESS

    run = Run(context)
    node = context.graph.nodes[context.graph.start_at]
    assert isinstance(node, TaskNode) and context.job
    with run.running(join=join):
        step_log = run_task(node, context, run.scope(""), step_type="job")
        run.close(SUCCESS if step_log.status == SUCCESS else FAIL)
    assert context.run_log is not None
    return context.run_log
