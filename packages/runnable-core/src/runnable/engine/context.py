"""Everything one run needs, assembled once by :func:`runnable.engine.prepare.prepare` and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from runnable.engine.hooks import SILENT, HookRelay
from runnable.models.config import RunnableConfig
from runnable.models.graph import Graph
from runnable.models.parameters import Parameter
from runnable.models.run_log import CodeIdentity, RunLog

if TYPE_CHECKING:
    from runnable.engine.tasks import BaseTaskType
    from runnable.services.catalog import BaseCatalog
    from runnable.services.executor import BaseJobExecutor, BasePipelineExecutor
    from runnable.services.run_log_store import BaseRunLogStore
    from runnable.services.secrets import BaseSecretsManager
    from runnable.services.tracking import BaseExperimentTracker


@dataclass
class Scope:
    """Where in the graph a step runs: the parameters it sees, the prefix of its internal name, the
    iteration values of the maps and loops around it, and the names returned within this scope.

    The top-level scope's parameters are the run's; each branch of a composite step gets its own copy,
    merged back when the composite ends (SPEC §6).
    """

    parameters: dict[str, Parameter]
    prefix: str = ""
    iteration: dict[str, Any] = field(default_factory=dict)
    returned: set[str] = field(default_factory=set)

    def internal_name(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def branch(self, prefix: str, iteration: dict[str, Any] | None = None) -> Scope:
        return Scope(dict(self.parameters), prefix, {**self.iteration, **(iteration or {})})

    @property
    def is_top(self) -> bool:
        return not self.prefix


@dataclass
class RunContext:
    run_id: str
    tag: str
    graph: Graph
    config: RunnableConfig
    executor: BasePipelineExecutor | BaseJobExecutor
    catalog: BaseCatalog
    run_log_store: BaseRunLogStore
    secrets: BaseSecretsManager
    tracker: BaseExperimentTracker
    task_types: dict[str, BaseTaskType]
    # The file the pipeline came from (YAML or .py); executors that run steps elsewhere rebuild the graph from it.
    pipeline_file: str = ""
    parameters_file: str = ""
    run_log: RunLog | None = None
    # True for a job: one task, recorded as ``run_log.job``.
    job: bool = False
    # A retry: the failed run whose successful steps this run reuses.
    retry_of: str = ""
    # Current parameters of the run, as the run log keeps them.
    parameters: dict[str, Parameter] = field(default_factory=dict)
    # Observers the front door adds to the run's tracker (the console reporter of the command that runs it).
    observers: list[Any] = field(default_factory=list)
    # Calls the lifecycle hooks on the run's observers and the installed plugins: set by the run object.
    relay: HookRelay = SILENT

    @cached_property
    def code_identity(self) -> CodeIdentity:
        from runnable.engine.code_identity import git_code_identity

        return git_code_identity()
