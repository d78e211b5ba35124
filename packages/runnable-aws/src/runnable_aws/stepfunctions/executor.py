"""The ``step-functions`` pipeline executor: ``runnable render`` writes an ASL state machine and Batch jobs.

The smallest configuration::

    pipeline-executor:
      type: step-functions
      config:
        image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/project:1.0
        job_queue: arn:aws:batch:eu-west-1:123456789012:job-queue/runnable
        plans: {bucket: my-bucket}
    run-log-store: {type: s3, config: {bucket: my-bucket}}
    catalog: {type: s3, config: {bucket: my-bucket}}

Rendering only writes text: no AWS call. Parameters stay in the run log store (the first container records
them); secrets are Secrets Manager (or SSM) ARNs that Batch resolves into the container's environment, so the
rendered files hold references, never values. How the state machine walks the pipeline: :mod:`.asl`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field
from runnable.errors import ConfigurationError
from runnable.models.graph import BaseNode, CompositeNode, StubNode, TaskNode
from runnable.services.executor import BaseRenderingExecutor

from runnable_aws.batch import BatchContainer, job_definition_name
from runnable_aws.stepfunctions.asl import StateBuilder
from runnable_aws.stepfunctions.config import PlanStore, Retry, StepOverride

if TYPE_CHECKING:
    from runnable.engine.context import RunContext


class StepFunctionsExecutor(BatchContainer, BaseRenderingExecutor):
    """Settings of the Batch containers: :class:`runnable_aws.batch.BatchContainer` (image, job_queue, vcpu...)."""

    service_name: ClassVar[str] = "step-functions"

    # Where the fan-outs of map, conditional and loop steps leave their plans (needed only by those steps).
    plans: PlanStore | None = None
    # The role Step Functions assumes (deploy).
    state_machine_role_arn: str | None = None
    # Seconds the whole execution may run (the state machine).
    execution_timeout_seconds: int | None = Field(default=None, ge=1)
    retry: Retry = Field(default_factory=Retry)
    # Branches of one map at the same time (0: as many as Step Functions allows).
    max_concurrency: int = Field(default=0, ge=0)
    # How a map's branches run: `inline` (one execution; its keys travel in the state, up to ~200 KB of them, about
    # 10,000 numbers or 4,000 long strings) or `distributed` (a child execution per branch; the Map reads the keys
    # from S3 itself: any number of items, and no 25,000-event history limit of one execution).
    map_mode: Literal["inline", "distributed"] = "inline"
    # Per task step, by step name: image, resources, queue, environment... that step needs differently.
    overrides: dict[str, StepOverride] = Field(default_factory=dict)
    # The pipeline and runnable configuration files as the containers see them (default: as given to render).
    pipeline_file: str | None = None
    config_file: str | None = None

    # --- render ---------------------------------------------------------------------------------------------

    def render(self, context: RunContext) -> dict[str, str]:
        machine, definitions = self.build(context)
        base = self.base_name(context)
        from runnable_aws.stepfunctions.picture import mermaid

        return {
            f"{base}-sfn.json": json.dumps(machine, indent=2) + "\n",
            f"{base}-batch-job-definitions.json": json.dumps(definitions, indent=2) + "\n",
            f"{base}-sfn.mmd": mermaid(machine),
        }

    def deploy(self, context: RunContext, *, start: bool = False) -> list[str]:
        """Register the job definitions, create or update the state machine and, with ``start``, start an
        execution named by the run id (every container's ``--run-id``). Deploying twice changes nothing."""
        from runnable_aws.stepfunctions.deployment import apply

        machine, definitions = self.build(context)
        done = apply(
            self,
            self.base_name(context),
            machine,
            definitions,
            start=start,
            execution_name=context.run_id if start else None,
            what=f"deploy {context.pipeline_file or 'the pipeline'}",
        )
        lines = done.summary([d["jobDefinitionName"] for d in definitions])
        if start:
            config = f" -c {context.config.source}" if context.config.source else ""
            lines.append(f"follow the run: runnable runs show {context.run_id}{config}")
        return lines

    def base_name(self, context: RunContext) -> str:
        return job_definition_name(self.name or Path(context.pipeline_file or "pipeline").stem)

    def build(self, context: RunContext) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The state machine definition and the job definitions, as dictionaries."""
        graph = context.graph
        steps = graph.all_nodes()
        self._check(steps, context)
        base = self.base_name(context)
        common = self.protocol_options(context, self.config_file)

        def batch_parameters(step: str) -> dict[str, Any]:
            override = self.overrides.get(step)
            definition = f"{base}-{job_definition_name(step)}" if override else base
            queue = (override.job_queue if override else None) or self.job_queue
            return {"JobName": job_definition_name(step), "JobQueue": queue, "JobDefinition": definition}

        def retry(step: str) -> list[dict[str, Any]]:
            override = self.overrides.get(step)
            return ((override.retry if override and override.retry else None) or self.retry).render()

        builder = StateBuilder(
            pipeline_file=self.pipeline_file or context.pipeline_file or "",
            common=common,
            batch_parameters=batch_parameters,
            retry=retry,
            plan_bucket=self.plans.bucket if self.plans else None,
            plan_prefix=self.plans.prefix if self.plans else "",
            max_concurrency=self.max_concurrency,
            map_mode=self.map_mode,
            sequential=not context.run_log_store.supports_concurrent_writers,
            comment=f"runnable pipeline {context.pipeline_file or ''}: every state is a runnable protocol call",
            timeout_seconds=self.execution_timeout_seconds,
            read_retry=self.retry.model_copy(update={"errors": ["States.TaskFailed"]}).render(),
        )
        machine = builder.machine(graph)
        return machine, self.job_definitions(base)

    def job_definitions(self, base: str) -> list[dict[str, Any]]:
        """The pipeline's job definition, and one more per step with ``overrides``."""
        return [self.batch_job_definition(base)] + [
            self.batch_job_definition(f"{base}-{job_definition_name(step)}", override)
            for step, override in self.overrides.items()
        ]

    def _check(self, steps: list[BaseNode], context: RunContext) -> None:
        where = context.pipeline_file or "the pipeline"
        names = {s.name for s in steps if isinstance(s, (TaskNode, StubNode))}
        for step in self.overrides:
            if step not in names:
                raise ConfigurationError(
                    f"pipeline-executor 'step-functions': overrides name step {step!r}, which is no task or stub of "
                    f"{where}",
                    hint=f"steps: {', '.join(sorted(names))}",
                )
        for step in steps:
            for secret in getattr(step, "secrets", []):
                if secret not in self.secrets:
                    raise ConfigurationError(
                        f"{where}: step {step.name!r} needs secret {secret!r} and pipeline-executor 'step-functions' "
                        "has no reference for it",
                        hint=f"add secrets: {{{secret}: arn:aws:secretsmanager:...}} to the executor's config",
                    )
        planned = [s.name for s in steps if isinstance(s, CompositeNode) and s.type != "parallel"]
        if planned and self.plans is None:
            raise ConfigurationError(
                f"pipeline-executor 'step-functions': step {planned[0]!r} of {where} is planned at run time and its "
                "plan travels through S3, and no bucket is configured for it",
                hint="add plans: {bucket: BUCKET} to the executor's config",
            )


__all__ = ["StepFunctionsExecutor"]
