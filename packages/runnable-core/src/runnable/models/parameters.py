"""Parameters as they are kept in the run log.

A parameter has a *kind*: ``json`` values live in the run log itself, ``object`` values are pickled into the
catalog and only their name is kept, ``metric`` values are json values that are also sent to the experiment
trackers. The field names match the original runnable's run log so existing tooling keeps reading it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JsonParameter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["json"] = "json"
    value: Any = None
    description: str = ""

    @property
    def description_value(self) -> Any:
        return self.value


class ObjectParameter(BaseModel):
    """An object pickled into the catalog; ``value`` holds the name it is stored under."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["object"] = "object"
    value: str
    description: str = ""

    @property
    def description_value(self) -> Any:
        return f"Pickled object stored in catalog as: {self.value}"


class MetricParameter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["metric"] = "metric"
    value: Any = None
    description: str = ""

    @property
    def description_value(self) -> Any:
        return self.value


Parameter = Annotated[JsonParameter | ObjectParameter | MetricParameter, Field(discriminator="kind")]
