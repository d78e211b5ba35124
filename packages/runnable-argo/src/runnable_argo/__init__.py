"""runnable-argo: the ``argo`` pipeline executor renders a pipeline into an Argo Workflows manifest.

Every step runs in a container through the run protocol (``runnable execute-step``, ``fan-out``,
``fan-in``), so a pipeline that runs locally runs on Argo by changing the configuration file only.
``ArgoExecutor`` is imported on first use: loading the plugin (every runnable process does) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runnable_argo.executor import ArgoExecutor

__all__ = ["ArgoExecutor"]


def __getattr__(name: str) -> Any:
    if name == "ArgoExecutor":
        from runnable_argo.executor import ArgoExecutor

        return ArgoExecutor
    raise AttributeError(f"module 'runnable_argo' has no attribute {name!r}")
