"""runnable-argo: the ``argo`` pipeline executor renders a pipeline into an Argo Workflows manifest.

Every step runs in a container through the run protocol (``runnable execute-step``, ``fan-out``,
``fan-in``), so a pipeline that runs locally runs on Argo by changing the configuration file only.
"""

from runnable_argo.executor import ArgoExecutor

__all__ = ["ArgoExecutor"]
