"""AWS Batch job definitions, shared by the ``step-functions`` pipeline executor and the ``aws-batch`` job executor.

Each definition is written as the keyword arguments of boto3's ``batch.register_job_definition``, so
:func:`runnable_aws.stepfunctions.deploy` registers the rendered file as it is. The container command of a
definition is only a default: every Task state (and every job submission) overrides it with the command it runs.

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
