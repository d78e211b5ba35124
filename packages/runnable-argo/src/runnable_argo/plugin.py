"""The module the ``runnable`` entry point names: registers the ``argo`` pipeline executor.

By import path: every runnable process loads every installed plugin, and only a run configured with
``type: argo`` imports the executor (its models, PyYAML).
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_pipeline_executors() -> dict[str, str]:
    return {"argo": "runnable_argo.executor:ArgoExecutor"}
