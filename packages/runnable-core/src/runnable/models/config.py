"""The configuration file: which plugin serves each kind of service, and its settings.

```yaml
pipeline-executor: {type: local, config: {}}
run-log-store:     {type: file-system, config: {log_folder: .run_log_store}}
```

Every section is optional; :data:`DEFAULT_TYPES` fills the rest. The ``config`` block of a section is
validated later by the chosen plugin's own pydantic model (see :mod:`runnable.plugins`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# section name -> (human name of the kind, the embedded default's type name)
SECTIONS: dict[str, tuple[str, str]] = {
    "pipeline-executor": ("pipeline executor", "local"),
    "job-executor": ("job executor", "local"),
    "run-log-store": ("run log store", "file-system"),
    "catalog": ("catalog", "file-system"),
    "secrets": ("secrets manager", "env-secrets"),
    "experiment-tracker": ("experiment tracker", "run-log"),
}
DEFAULT_TYPES = {section: default for section, (_, default) in SECTIONS.items()}


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    config: dict[str, Any] = Field(default_factory=dict)


class RunnableConfig(BaseModel):
    """All sections, defaults filled in; ``source`` names the file it came from (for error messages)."""

    model_config = ConfigDict(extra="forbid")
    source: str = ""
    sections: dict[str, ServiceConfig] = Field(
        default_factory=lambda: {name: ServiceConfig(type=t) for name, t in DEFAULT_TYPES.items()}
    )
