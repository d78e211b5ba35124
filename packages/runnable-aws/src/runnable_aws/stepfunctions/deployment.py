"""Deploy a pipeline to AWS: register its Batch job definitions, create or update its state machine, and
optionally start an execution (whose name is the run id)::

    from runnable_aws.stepfunctions import deploy

    deployment = deploy("pipeline.yaml", "sfn.yaml", start=True)
    print(deployment.execution_arn)

What is deployed is what ``runnable render`` writes (the same executor builds it, in this process).
Deploying twice changes nothing: a job definition gets a new revision only when it differs from its latest
active one, and the state machine is updated only when its definition or role changed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runnable.errors import ConfigurationError, InfrastructureError, RunnableError


@dataclass
class Deployment:
    """What deploy did."""

    state_machine_arn: str
    created: bool
    updated: bool
    job_definition_arns: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)  # the job definitions that got a new revision
    execution_arn: str | None = None

    def summary(self, definitions: list[str]) -> list[str]:
        """What ``runnable deploy`` prints."""
        state = "created" if self.created else "updated" if self.updated else "unchanged"
        lines = [f"state machine {state}: {self.state_machine_arn}"]
        for name in definitions:
            lines.append(f"job definition {name}: {'new revision' if name in self.registered else 'unchanged'}")
        if self.execution_arn:
            lines.append(f"execution started: {self.execution_arn}")
        return lines


def deploy(
    pipeline_file: str | Path,
    config_file: str | Path,
    *,
    parameters_file: str | Path | None = None,
    start: bool = False,
    execution_name: str | None = None,
    execution_input: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
) -> Deployment:
    """Register the job definitions, create or update the state machine, and start it if ``start``: what
    ``runnable deploy`` does, from Python, with the :class:`Deployment` to inspect.

    AWS is found the standard way (environment, profile, role); ``endpoint_url`` points every client elsewhere
    (a VPC endpoint, or moto in the tests). The state machine's role is the executor's ``state_machine_role_arn``.
    """
    from runnable import entrypoints
    from runnable.engine.prepare import prepare

    from runnable_aws.stepfunctions.executor import StepFunctionsExecutor

    context = prepare(
        entrypoints.load_graph(pipeline_file),
        configuration_file=str(config_file),
        parameters_file=str(parameters_file or ""),
        pipeline_file=str(pipeline_file),
    )
    executor = context.executor
    if not isinstance(executor, StepFunctionsExecutor):
        raise ConfigurationError(
            f"{config_file}: pipeline-executor is {executor.service_name!r}; deploy needs type: step-functions"
        )
    machine, definitions = executor.build(context)
    return apply(
        executor,
        executor.base_name(context),
        machine,
        definitions,
        start=start,
        execution_name=execution_name,
        execution_input=execution_input,
        endpoint_url=endpoint_url,
        what=f"deploy {pipeline_file}",
    )


def apply(
    executor: Any,
    name: str,
    machine: dict[str, Any],
    definitions: list[dict[str, Any]],
    *,
    start: bool = False,
    execution_name: str | None = None,
    execution_input: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
    what: str = "deploy",
) -> Deployment:
    """Register ``definitions``, create or update the state machine ``name`` holding ``machine``, start it if
    ``start``: what ``deploy()`` and ``runnable deploy`` do once the pipeline is rendered."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from runnable_aws.batch import job_definition_name, register_job_definition

    if not executor.state_machine_role_arn:
        raise ConfigurationError(
            f"{what}: pipeline-executor 'step-functions' needs state_machine_role_arn, the role Step Functions runs "
            "the state machine as",
            hint="add state_machine_role_arn: arn:aws:iam::ACCOUNT:role/NAME to the step-functions executor's config",
        )
    name = job_definition_name(name)
    options = {k: v for k, v in (("region_name", executor.region), ("endpoint_url", endpoint_url)) if v}
    try:
        batch = boto3.client("batch", **options)
        sfn = boto3.client("stepfunctions", **options)
        deployment = _state_machine(sfn, name, machine, executor)
        for definition in definitions:
            arn, registered = register_job_definition(batch, definition)
            deployment.job_definition_arns.append(arn)
            if registered:
                deployment.registered.append(definition["jobDefinitionName"])
        if start:
            arguments = {"stateMachineArn": deployment.state_machine_arn, "input": json.dumps(execution_input or {})}
            if execution_name:
                arguments["name"] = execution_name
            deployment.execution_arn = sfn.start_execution(**arguments)["executionArn"]
    except ClientError as error:
        raise RunnableError(f"{what}: AWS refused: {error}") from None
    except BotoCoreError as error:
        where = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        raise InfrastructureError(f"{what}: cannot reach {where}: {error}") from None
    return deployment


def _state_machine(sfn: Any, name: str, machine: dict[str, Any], executor: Any) -> Deployment:
    text = json.dumps(machine, indent=2)
    role = executor.state_machine_role_arn
    for page in sfn.get_paginator("list_state_machines").paginate():
        for listed in page["stateMachines"]:
            if listed["name"] != name:
                continue
            arn = listed["stateMachineArn"]
            current = sfn.describe_state_machine(stateMachineArn=arn)
            if json.loads(current["definition"]) == machine and current["roleArn"] == role:
                return Deployment(arn, created=False, updated=False)
            sfn.update_state_machine(stateMachineArn=arn, definition=text, roleArn=role)
            return Deployment(arn, created=False, updated=True)
    tags = [{"key": k, "value": v} for k, v in sorted(executor.tags.items())]
    created = sfn.create_state_machine(name=name, definition=text, roleArn=role, type="STANDARD", tags=tags)
    return Deployment(created["stateMachineArn"], created=True, updated=False)
