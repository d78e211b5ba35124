"""The module the ``runnable`` entry point names: registers the ``argo`` pipeline executor.

The executor module is imported inside the hook, so listing plugins stays cheap.
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_pipeline_executors() -> list[type]:
    from runnable_argo.executor import ArgoExecutor

    return [ArgoExecutor]
