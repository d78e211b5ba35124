"""The module the ``runnable`` entry point names. Cheap to import: the tracker module is imported inside the hook."""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_experiment_trackers() -> list[type]:
    from runnable_mlflow.tracker import MlflowTracker

    return [MlflowTracker]
