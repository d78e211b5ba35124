"""Executors: who runs a pipeline (or a job), and where.

An in-process executor (``local``, ``mocked``) walks the graph itself through the engine. An executor for an
orchestrator (``argo``, ``step-functions``) renders the graph into the orchestrator's language instead; inside
each container the orchestrator then calls ``runnable execute-step``, which runs one step through the very
same engine. Both kinds receive a fully prepared :class:`runnable.engine.context.RunContext`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

from runnable.services.base import Service

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
    from runnable.models.run_log import RunLog


class BasePipelineExecutor(Service):
    service_kind: ClassVar[str] = "pipeline-executor"
    # False for executors that hand the graph to an orchestrator instead of running steps here.
    runs_in_process: ClassVar[bool] = True

    @abstractmethod
    def execute_pipeline(self, context: RunContext) -> RunLog:
        """Run (or submit) the whole pipeline; return the run log as it stands when this returns."""


class BaseJobExecutor(Service):
    service_kind: ClassVar[str] = "job-executor"

    @abstractmethod
    def execute_job(self, context: RunContext) -> RunLog:
        """Run the context's single task as a job."""
