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


class BaseRenderingExecutor(BasePipelineExecutor):
    """An executor that translates the graph for an orchestrator (Argo, Step Functions) instead of running it.

    ``render`` must work with no network access at all: it only writes text. Every task step becomes a unit
    of the orchestrator (a container, a state) whose command is ``runnable execute-step <pipeline file>
    <step internal name> --run-id <id> ...``, so the step runs through the same engine as locally.
    Parameters stay in the run log store, never in the manifest, and secret values never appear in it.
    """

    runs_in_process: ClassVar[bool] = False

    @abstractmethod
    def render(self, context: RunContext) -> dict[str, str]:
        """The files to write, relative name -> text; the first one is the main manifest."""

    def execute_pipeline(self, context: RunContext) -> RunLog:
        raise NotImplementedError(
            f"the {self.service_name!r} executor renders pipelines for an orchestrator: use `runnable render`"
        )

    @staticmethod
    def protocol_options(context: RunContext, config_file: str | None = None) -> list[str]:
        """The options every ``runnable execute-step | fan-out | fan-in`` of the rendered run is given besides its
        run id: the configuration file (``config_file`` as the containers see it, default the one given to
        render), the parameters file and the tag."""
        options: list[str] = []
        config_file = config_file or context.config.source
        if config_file:
            options += ["--config", config_file]
        if context.parameters_file:
            options += ["--parameters", context.parameters_file]
        if context.tag:
            options += ["--tag", context.tag]
        return options

    def deploy(self, context: RunContext, *, start: bool = False) -> list[str]:
        """Create or update on the orchestrator what :meth:`render` writes, and start a run (named
        ``context.run_id``) when ``start``; return the lines ``runnable deploy`` prints (what changed, where to
        follow the run). Deploying twice must change nothing the second time.

        Executors whose orchestrator is better driven by its own tools (``kubectl``, ``argo submit``) keep this
        default, which says so.
        """
        from runnable.errors import ConfigurationError

        raise ConfigurationError(
            f"pipeline-executor {self.service_name!r} does not deploy: write its files with `runnable render` and "
            "apply them with the orchestrator's own tools",
            hint="e.g. argo: runnable render pipeline.yaml -c argo.yaml -o workflow.yaml && argo submit workflow.yaml",
        )


class BaseJobExecutor(Service):
    service_kind: ClassVar[str] = "job-executor"

    @abstractmethod
    def execute_job(self, context: RunContext) -> RunLog:
        """Run the context's single task as a job, or submit it to run elsewhere; return the run log as it
        stands (``PROCESSING`` when submitted: ``runnable execute-job`` then exits 0)."""
