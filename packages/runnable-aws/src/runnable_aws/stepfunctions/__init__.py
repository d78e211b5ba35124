"""AWS Step Functions executor: a pipeline as an ASL state machine whose Task states are AWS Batch jobs."""

from __future__ import annotations

from typing import Any


def deploy(*args: Any, **kwargs: Any) -> Any:
    """Create or update the state machine and job definitions (see :mod:`runnable_aws.stepfunctions.deployment`)."""
    from runnable_aws.stepfunctions.deployment import deploy as _deploy

    return _deploy(*args, **kwargs)
