"""The ``step-functions`` executor's configuration blocks: pydantic models, so a typo is a one-line error.

Names are snake_case like the rest of runnable's configuration; they are translated to the AWS spelling
(``vcpu`` -> a ``VCPU`` resource requirement, ``retry`` -> an ASL ``Retry`` rule) when rendering.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runnable_aws.batch import ContainerOverride

# Errors of the Batch integration that say "AWS could not take the job now", never "the step failed":
# retrying them cannot run a task twice. A task's own `max_attempts` run inside its container.
DEFAULT_RETRY_ERRORS = ["Batch.AWSBatchException", "Batch.ServerException", "Batch.TooManyRequestsException"]


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Retry(Block):
    """An ASL ``Retry`` rule on every Task state (Batch submission, S3 read of a plan)."""

    errors: list[str] = Field(default_factory=lambda: list(DEFAULT_RETRY_ERRORS), min_length=1)
    max_attempts: int = Field(default=3, ge=0)
    interval_seconds: int = Field(default=5, ge=1)
    backoff_rate: float = Field(default=2.0, ge=1.0)

    def render(self) -> list[dict[str, object]]:
        if self.max_attempts == 0:
            return []
        return [
            {
                "ErrorEquals": list(self.errors),
                "IntervalSeconds": self.interval_seconds,
                "MaxAttempts": self.max_attempts,
                "BackoffRate": self.backoff_rate,
            }
        ]


class PlanStore(Block):
    """Where the containers of composite steps leave their plans, for the state machine to read.

    A plan is one small JSON object per fan-out (``{done, keys, count}``) at
    ``s3://<bucket>/<prefix>/<run id>/<step address>.json``: the items of a map travel by reference (their
    keys only), never through the Batch job's result."""

    bucket: str = Field(min_length=3)
    prefix: str = "runnable/plans"

    @field_validator("prefix")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip("/")


class StepOverride(ContainerOverride):
    """What one task step (by its name, wherever it is in the pipeline) needs differently: its own job definition
    (the container settings of :class:`runnable_aws.batch.ContainerOverride`), queue and retry rule."""

    job_queue: str | None = None
    retry: Retry | None = None
