"""AWS Batch job definitions, shared by the ``step-functions`` pipeline executor and the ``aws-batch`` job executor.

Each definition is written as the keyword arguments of boto3's ``batch.register_job_definition``, so
:func:`runnable_aws.stepfunctions.deploy` registers the rendered file as it is. The container command of a
definition is only a default: every Task state (and every job submission) overrides it with the command it runs.

Exit status 3 of a protocol call means "a store could not be reached": Batch retries the container for it
(``retryStrategy.evaluateOnExit``); any other exit ends the job, and a non-zero one fails the Task state.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SECRET_ARN_PREFIXES = ("arn:aws:secretsmanager:", "arn:aws:ssm:")


def check_secret_references(secrets: dict[str, str]) -> dict[str, str]:
    """Secrets are given by reference (an ARN), never by value: a value would land in the rendered files."""
    for name, reference in secrets.items():
        if not reference.startswith(SECRET_ARN_PREFIXES):
            raise ValueError(
                f"secret {name!r}: give the ARN of a Secrets Manager secret (arn:aws:secretsmanager:...) or an SSM "
                "parameter (arn:aws:ssm:...), never the value itself"
            )
    return secrets


class ContainerOverride(BaseModel):
    """What one step's containers need differently from :class:`BatchContainer`'s settings (unset: the same)."""

    model_config = ConfigDict(extra="forbid")

    image: str | None = None
    vcpu: float | None = Field(default=None, gt=0)
    memory_mib: int | None = Field(default=None, ge=4)
    gpus: int | None = Field(default=None, ge=1)
    environment: dict[str, str] = Field(default_factory=dict)  # added to the containers' environment
    timeout_seconds: int | None = Field(default=None, ge=60)
    job_attempts: int | None = Field(default=None, ge=1, le=10)
    tags: dict[str, str] = Field(default_factory=dict)  # added to the tags


class BatchContainer(BaseModel):
    """The settings of the Batch containers a pipeline's steps (``step-functions``) or a job (``aws-batch``)
    run in: one set of names in both executors' configuration."""

    # The container image: runnable (with runnable-aws), the pipeline or job file and the project's code.
    image: str = Field(min_length=1)
    # The Batch job queue (name or ARN) jobs go to (a step's override may name another).
    job_queue: str = Field(min_length=1)
    region: str | None = None
    # Names of the job definitions (and of the state machine): default, from the pipeline or job file's name.
    name: str | None = None
    # The containers' role (S3, secrets...) and ECS's role (Fargate, and secrets resolved by Batch).
    job_role_arn: str | None = None
    execution_role_arn: str | None = None
    platform: Literal["EC2", "FARGATE"] = "EC2"
    vcpu: float = Field(default=1.0, gt=0)
    memory_mib: int = Field(default=2048, ge=4)
    gpus: int | None = Field(default=None, ge=1)
    # Batch attempts of one container; only exit status 3 (a store could not be reached) is retried.
    job_attempts: int = Field(default=3, ge=1, le=10)
    # Seconds one attempt of a container may run.
    timeout_seconds: int | None = Field(default=None, ge=60)
    tags: dict[str, str] = Field(default_factory=dict)
    # Plain environment variables of the containers (never secrets: those go in `secrets`).
    environment: dict[str, str] = Field(default_factory=dict)
    # Secret name (as tasks list them in `secrets:`) -> ARN of a Secrets Manager secret or SSM parameter.
    secrets: dict[str, str] = Field(default_factory=dict)

    _secret_references = field_validator("secrets")(classmethod(lambda cls, v: check_secret_references(v)))

    def batch_job_definition(self, name: str, override: ContainerOverride | None = None) -> dict[str, Any]:
        """``register_job_definition``'s arguments for containers with these settings, ``override`` applied."""
        override = override or ContainerOverride()
        image = override.image or self.image
        vcpu = override.vcpu or self.vcpu
        memory_mib = override.memory_mib or self.memory_mib
        gpus = override.gpus or self.gpus
        attempts = override.job_attempts or self.job_attempts
        timeout_seconds = override.timeout_seconds or self.timeout_seconds
        environment = {**self.environment, **override.environment}
        tags = {**self.tags, **override.tags}
        requirements = [
            {"type": "VCPU", "value": f"{vcpu:g}"},
            {"type": "MEMORY", "value": str(memory_mib)},
        ]
        if gpus:
            requirements.append({"type": "GPU", "value": str(gpus)})
        container: dict[str, Any] = {
            "image": image,
            "command": ["runnable", "--help"],
            "resourceRequirements": requirements,
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        }
        if self.secrets:  # references only: Batch resolves them into the container's environment at start
            container["secrets"] = [{"name": k, "valueFrom": v} for k, v in sorted(self.secrets.items())]
        if self.job_role_arn:
            container["jobRoleArn"] = self.job_role_arn
        if self.execution_role_arn:
            container["executionRoleArn"] = self.execution_role_arn
        definition: dict[str, Any] = {
            "jobDefinitionName": name,
            "type": "container",
            "containerProperties": container,
            "retryStrategy": {
                "attempts": attempts,
                "evaluateOnExit": [
                    {"onExitCode": "3", "action": "RETRY"},
                    {"onExitCode": "*", "action": "EXIT"},
                ],
            },
            "platformCapabilities": [self.platform],
            "propagateTags": True,
        }
        if timeout_seconds:
            definition["timeout"] = {"attemptDurationSeconds": timeout_seconds}
        if tags:
            definition["tags"] = dict(tags)
        return definition


def job_definition_name(text: str) -> str:
    """Batch names: up to 128 letters, digits, hyphens and underscores, starting with a letter or digit."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_") or "runnable"
    return name[:128]


def _contains(actual: Any, wanted: Any) -> bool:
    """``wanted`` is in ``actual``: Batch describes a definition with defaults filled in (volumes: [] ...)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        if isinstance(wanted.get("action"), str):  # evaluateOnExit actions are case-insensitive (and echoed lowered)
            actual = {**actual, "action": str(actual.get("action", "")).upper()}
            wanted = {**wanted, "action": wanted["action"].upper()}
        return all(_contains(actual.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(map(_contains, actual, wanted))
    return actual == wanted


def register_job_definition(batch: Any, definition: dict[str, Any]) -> tuple[str, bool]:
    """Register ``definition`` with the boto3 Batch client ``batch``, as a new revision only when the latest
    active one differs. Returns the ARN of the revision to use and whether one was registered."""
    found = batch.describe_job_definitions(jobDefinitionName=definition["jobDefinitionName"], status="ACTIVE")
    revisions = sorted(found.get("jobDefinitions", []), key=lambda d: d["revision"])
    if revisions and _contains(revisions[-1], definition):
        return revisions[-1]["jobDefinitionArn"], False
    return batch.register_job_definition(**definition)["jobDefinitionArn"], True
