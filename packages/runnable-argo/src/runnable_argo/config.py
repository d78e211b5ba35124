"""The ``argo`` executor's configuration blocks: pydantic models, so a typo is a one-line error.

Kubernetes types are written the way Kubernetes users know them (``requests``/``limits`` quantities as
strings, tolerations with ``operator`` and ``effect``); names are snake_case like the rest of runnable's
configuration and are translated to Argo's camelCase when rendering.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _quantities(values: dict[str, Any]) -> dict[str, str]:
    """Kubernetes quantities are strings in the manifest (``cpu: 1`` is written ``"1"``)."""
    return {str(k): str(v) for k, v in values.items()}


class Resources(Block):
    """A container's resource requests and limits, e.g. ``{requests: {cpu: 500m, memory: 1Gi}}``."""

    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)

    _strings = field_validator("requests", "limits", mode="before")(classmethod(lambda cls, v: _quantities(v or {})))

    def render(self) -> dict[str, Any]:
        return {k: v for k, v in (("requests", self.requests), ("limits", self.limits)) if v}


class Toleration(Block):
    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    def render(self) -> dict[str, Any]:
        names = {"toleration_seconds": "tolerationSeconds"}
        return {names.get(k, k): v for k, v in self.model_dump().items() if v is not None}


class Backoff(Block):
    duration: str = "10s"
    factor: int = 2
    max_duration: str | None = None

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {"duration": self.duration, "factor": str(self.factor)}
        if self.max_duration:
            rendered["maxDuration"] = self.max_duration
        return rendered


class RetryStrategy(Block):
    """Argo's retries of a container. A task's own ``max_attempts`` run inside its container (the run log
    numbers them, as locally); these retries are for the container itself: by default only when it exits 3,
    the run protocol's status for "a store or catalog could not be reached"."""

    limit: int = Field(default=2, ge=0)
    retry_policy: Literal["Always", "OnFailure", "OnError", "OnTransientError"] = "Always"
    # Argo's expr language; the default retries exit status 3 only (exit 1 is a task failure, 2 bad input).
    expression: str | None = "asInt(lastRetry.exitCode) == 3"
    backoff: Backoff | None = None

    def render(self) -> dict[str, Any] | None:
        if self.limit == 0:
            return None
        rendered: dict[str, Any] = {"limit": str(self.limit), "retryPolicy": self.retry_policy}
        if self.expression:
            rendered["expression"] = self.expression
        if self.backoff:
            rendered["backoff"] = self.backoff.render()
        return rendered


class TTLStrategy(Block):
    seconds_after_completion: int | None = None
    seconds_after_success: int | None = None
    seconds_after_failure: int | None = None

    def render(self) -> dict[str, Any]:
        return {
            "".join([k.split("_")[0], *(p.title() for p in k.split("_")[1:])]): v
            for k, v in self.model_dump().items()
            if v is not None
        }


class PersistentVolume(Block):
    """A PVC mounted in every container: where a file-system run log store and catalog live on Kubernetes
    (point the runnable configuration's stores at ``mount_path``)."""

    name: str
    claim_name: str
    mount_path: str
    sub_path: str | None = None
    read_only: bool = False


class SecretReference(Block):
    """Where the value of one runnable secret comes from: a key of a Kubernetes secret object."""

    secret: str
    key: str


class StepOverride(Block):
    """Settings one task step (by its name, wherever it is in the pipeline) needs differently."""

    image: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    resources: Resources | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[Toleration] | None = None
    env: dict[str, str] | None = None
    retry: RetryStrategy | None = None
    active_deadline_seconds: int | None = Field(default=None, ge=1)
