"""What every service (catalog, run log store, secrets manager, tracker, executor) has in common."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Service(BaseModel):
    """A configured backend. Its pydantic fields are exactly the keys of its ``config`` block.

    ``service_name`` is the ``type:`` users write in the configuration file. Unknown keys are rejected so a
    typo in a config file is an error rather than a silently ignored setting.

    Schemas are built when a service is first configured (``defer_build``): every installed plugin's classes
    are imported to learn their names, but a run builds the validators of the few it uses only.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    service_name: ClassVar[str]
    service_kind: ClassVar[str]

    def masked_config(self) -> dict[str, Any]:
        """The configuration as recorded in the run log; services holding credentials mask them here."""
        return {"type": self.service_name, "config": self.model_dump(mode="json")}
