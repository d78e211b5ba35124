"""The run log: everything recorded about one run.

Field names follow the original runnable's run log (``run_id``, ``dag_hash``, ``steps``, ``attempts``,
``code_identities``, ``data_catalog`` ...) so that run logs and the tools reading them stay compatible.
Steps inside composite steps are addressed by dotted *internal names* (``parallel.branch.step``); a
:class:`BranchLog` holds the steps of one branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import chain
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runnable.models.names import check_name
from runnable.models.parameters import Parameter

Status = Literal["CREATED", "PROCESSING", "SUCCESS", "FAIL", "TRIGGERED"]
CREATED: Status = "CREATED"
PROCESSING: Status = "PROCESSING"
SUCCESS: Status = "SUCCESS"
FAIL: Status = "FAIL"


class CodeIdentity(BaseModel):
    """Where the code that ran a step came from: a git commit, or a container image."""

    code_identifier: str | None = None
    code_identifier_type: Literal["git", "docker", "unknown"] = "unknown"
    code_identifier_dependable: bool = False
    code_identifier_url: str | None = None
    code_identifier_message: str | None = None


class DataCatalog(BaseModel):
    """One file moved through the catalog by a step."""

    name: str
    data_hash: str = ""
    catalog_relative_path: str = ""
    catalog_handler_location: str = ""
    stage: Literal["get", "put"] = "put"
    store_copy: bool = True


class StepAttempt(BaseModel):
    attempt_number: int = 1
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: Status = FAIL
    message: str = ""
    input_parameters: dict[str, Parameter] = Field(default_factory=dict)
    output_parameters: dict[str, Parameter] = Field(default_factory=dict)
    user_defined_metrics: dict[str, Any] = Field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


class StepLog(BaseModel):
    name: str
    internal_name: str
    status: Status = CREATED
    step_type: str = "task"
    message: str = ""
    mock: bool = False
    code_identities: list[CodeIdentity] = Field(default_factory=list)
    attempts: list[StepAttempt] = Field(default_factory=list)
    branches: dict[str, BranchLog] = Field(default_factory=dict)
    data_catalog: list[DataCatalog] = Field(default_factory=list)

    @property
    def duration(self) -> float | None:
        starts = [a.start_time for a in self.attempts if a.start_time]
        ends = [a.end_time for a in self.attempts if a.end_time]
        if not starts or not ends:
            return None
        return (max(ends) - min(starts)).total_seconds()


def walk_steps(steps: dict[str, StepLog]) -> Iterator[StepLog]:
    """``steps`` and every step inside their branches, depth first.

    With a stack of iterators rather than nested generators: a step of a map item came out through one
    ``yield from`` per level, and end-of-run summaries walk every step of a 10,000-item map more than once.
    """
    stack = [iter(steps.values())]
    while stack:
        for step in stack[-1]:
            yield step
            if step.branches:  # its branches' steps next, then on with the step after it
                stack.append(chain.from_iterable(b.steps.values() for b in step.branches.values()))
                break
        else:
            stack.pop()


class BranchLog(BaseModel):
    internal_name: str
    status: Status = CREATED
    # The values this branch was planned with by its composite's fan-out: the map item, the loop round.
    iteration: dict[str, Any] = Field(default_factory=dict)
    steps: dict[str, StepLog] = Field(default_factory=dict)


class RunLog(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    dag_hash: str = ""
    tag: str = ""
    # For a retry: the failed run whose successful steps this run reused.
    original_run_id: str = ""
    status: Status = CREATED
    pipeline_name: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    initial_parameters: dict[str, Parameter] = Field(default_factory=dict)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    run_config: dict[str, Any] = Field(default_factory=dict)
    steps: dict[str, StepLog] = Field(default_factory=dict)
    # A job's single task (``PythonJob`` etc.); None for pipeline runs.
    job: StepLog | None = None

    # The run id names folders of every store and catalog: no run log can exist with an unsafe one.
    _check_run_id = field_validator("run_id")(classmethod(lambda cls, v: check_name(v, "run id")))

    def iter_steps(self) -> Iterator[StepLog]:
        """Every step record, depth first, branches after their composite step; a job's record last."""
        yield from walk_steps(self.steps)
        if self.job is not None:
            yield self.job

    def fail_running(self, reason: str, when: datetime) -> None:
        """Fail every step (and attempt) still PROCESSING, saying why: a run closed while they ran (Ctrl-C,
        SIGTERM, or its process died and the supervising ``runnable`` closes it)."""
        for step in self.iter_steps():
            if step.status == PROCESSING:
                step.status, step.message = FAIL, reason
                for attempt in step.attempts:
                    if attempt.status == PROCESSING:
                        attempt.status, attempt.message, attempt.end_time = FAIL, reason, when

    def search_step(self, internal_name: str) -> StepLog:
        """Find a step by its dotted internal name, descending into branches."""
        step = self.find_step(internal_name)
        if step is None:
            raise KeyError(internal_name)
        return step

    def find_step(self, internal_name: str) -> StepLog | None:
        """The step with this dotted internal name, or None: the engine asks before each step whether it ran
        already, and the answer is nearly always no (a raised and caught KeyError cost a microsecond)."""
        steps = self.steps
        parts = internal_name.split(".")
        # internal names alternate step / branch / step ...: "map.item-1.task" → steps["map"].branches["map.item-1"]...
        for depth in range(0, len(parts), 2):
            step = steps.get(".".join(parts[: depth + 1]))
            if step is None:
                return None
            if depth + 1 >= len(parts):
                return step
            branch = step.branches.get(".".join(parts[: depth + 2]))
            if branch is None:
                return None
            steps = branch.steps
        return None

    def put_step(self, step_log: StepLog) -> None:
        """Store ``step_log`` at the place its dotted internal name says, creating branch records on the way."""
        parts = step_log.internal_name.split(".")
        steps = self.steps
        for depth in range(0, len(parts) - 1, 2):
            parent_name = ".".join(parts[: depth + 1])
            parent = steps.get(parent_name)
            if parent is None:  # a branch step recorded before its composite step (steps run one by one)
                parent = steps[parent_name] = StepLog(
                    name=parts[depth], internal_name=parent_name, status=PROCESSING, step_type="composite"
                )
            branch_name = ".".join(parts[: depth + 2])
            branch = parent.branches.get(branch_name)
            if branch is None:
                branch = parent.branches[branch_name] = BranchLog(internal_name=branch_name, status=PROCESSING)
            steps = branch.steps
        steps[step_log.internal_name] = step_log


StepLog.model_rebuild()
