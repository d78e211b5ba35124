"""The module the ``runnable`` entry point names. By import path: the tracker module is imported only when
a configuration chooses ``mlflow``."""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_experiment_trackers() -> dict[str, str]:
    return {"mlflow": "runnable_mlflow.tracker:MlflowTracker"}
