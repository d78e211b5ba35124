"""AWS Batch job definitions: one for the pipeline, one more per step that has ``overrides``.

Each definition is written as the keyword arguments of boto3's ``batch.register_job_definition``, so
:func:`runnable_aws.stepfunctions.deploy` registers the rendered file as it is. The container command of a
definition is only a default: every Task state overrides it with the protocol call it makes.

Exit status 3 of a protocol call means "a store could not be reached": Batch retries the container for it
(``retryStrategy.evaluateOnExit``); any other exit ends the job, and a non-zero one fails the Task state.
"""

from __future__ import annotations

import re
from typing import Any


def job_definition_name(text: str) -> str:
    """Batch names: up to 128 letters, digits, hyphens and underscores, starting with a letter or digit."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_") or "runnable"
    return name[:128]


def job_definition(
    *,
    name: str,
    image: str,
    vcpu: float,
    memory_mib: int,
    gpus: int | None,
    environment: dict[str, str],
    secrets: dict[str, str],
    job_role_arn: str | None,
    execution_role_arn: str | None,
    attempts: int,
    timeout_seconds: int | None,
    tags: dict[str, str],
    platform: str,
) -> dict[str, Any]:
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
    if secrets:  # references only: Batch resolves them into the container's environment at start
        container["secrets"] = [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())]
    if job_role_arn:
        container["jobRoleArn"] = job_role_arn
    if execution_role_arn:
        container["executionRoleArn"] = execution_role_arn
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
        "platformCapabilities": [platform],
        "propagateTags": True,
    }
    if timeout_seconds:
        definition["timeout"] = {"attemptDurationSeconds": timeout_seconds}
    if tags:
        definition["tags"] = dict(tags)
    return definition
