"""The hook specifications: the whole contract between runnable-core and its plugins.

A plugin is any module or object with functions marked ``@hookimpl`` named like the specifications below,
found through the ``runnable`` entry point group::

    [project.entry-points.runnable]
    my_catalog = "my_package.plugin"

Two families of hooks:

*Registration* hooks return the implementation classes a plugin contributes. Each class has a
``service_name`` (the ``type:`` users write in the configuration file) and is a pydantic model whose fields
are its ``config`` block, so validation comes for free. A hook may return the classes themselves, or a
mapping of names to import paths (``{"argo": "runnable_argo.executor:ArgoExecutor"}``), imported only when
that name is chosen: every process loads every installed plugin, and a container step should not pay for
the modules of executors it does not use (fsspec's registry of protocols works the same way). The core's
own embedded defaults register through these same hooks (:mod:`runnable.builtin_plugin`).

*Lifecycle* hooks tell observers what a run is doing. Experiment trackers implement them, and so may any
other plugin (a Slack notifier, a lineage exporter). Every implementation is called, in registration order;
they observe and must not change the records they are given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # the contract names types from lower layers only for readers and type checkers
    from runnable.models.run_log import RunLog, StepLog

PROJECT = "runnable"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registration -------------------------------------------------------------------------------------


@hookspec
def register_pipeline_executors() -> list[type] | dict[str, str]:
    """Pipeline executor classes (subclasses of ``runnable.services.executor.BasePipelineExecutor``)."""


@hookspec
def register_job_executors() -> list[type] | dict[str, str]:
    """Job executor classes (subclasses of ``runnable.services.executor.BaseJobExecutor``)."""


@hookspec
def register_catalogs() -> list[type] | dict[str, str]:
    """Catalog classes (subclasses of ``runnable.services.catalog.BaseCatalog``)."""


@hookspec
def register_run_log_stores() -> list[type] | dict[str, str]:
    """Run log store classes (subclasses of ``runnable.services.run_log_store.BaseRunLogStore``)."""


@hookspec
def register_secrets_managers() -> list[type] | dict[str, str]:
    """Secrets manager classes (subclasses of ``runnable.services.secrets.BaseSecretsManager``)."""


@hookspec
def register_experiment_trackers() -> list[type] | dict[str, str]:
    """Experiment tracker classes (subclasses of ``runnable.services.tracking.BaseExperimentTracker``)."""


@hookspec
def register_task_types() -> list[type] | dict[str, str]:
    """Task runner classes, one per ``command_type`` (subclasses of ``runnable.services.tasks.BaseTaskType``)."""


# --- run lifecycle ------------------------------------------------------------------------------------


@hookspec
def run_started(run_log: RunLog) -> None:
    """A run was created: its id, tag, initial parameters and effective configuration are set."""


@hookspec
def step_started(run_id: str, step_log: StepLog) -> None:
    """A step (task, stub or composite) is about to run."""


@hookspec
def step_finished(run_id: str, step_log: StepLog, parameters: dict[str, Any], metrics: dict[str, Any]) -> None:
    """A step ended (``step_log.status`` says how).

    ``parameters`` are the json values the step returned, ``metrics`` the metric values it returned.
    """


@hookspec
def run_finished(run_log: RunLog) -> None:
    """A run ended; ``run_log`` is the final record, status included."""
