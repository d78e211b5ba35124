"""runnable-core's own plugin: the embedded defaults, registered through the same hooks as any plugin."""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_pipeline_executors() -> list[type]:
    from runnable.executors.emulator import EmulatorExecutor
    from runnable.executors.local import LocalExecutor
    from runnable.executors.mocked import MockedExecutor

    return [LocalExecutor, MockedExecutor, EmulatorExecutor]


@hookimpl
def register_job_executors() -> list[type]:
    from runnable.executors.local import LocalJobExecutor

    return [LocalJobExecutor]


@hookimpl
def register_catalogs() -> list[type]:
    from runnable.defaults.file_system_catalog import FileSystemCatalog

    return [FileSystemCatalog]


@hookimpl
def register_run_log_stores() -> list[type]:
    from runnable.defaults.chunked_run_log import ChunkedFileSystemRunLogStore
    from runnable.defaults.file_system_run_log import FileSystemRunLogStore

    return [FileSystemRunLogStore, ChunkedFileSystemRunLogStore]


@hookimpl
def register_secrets_managers() -> list[type]:
    from runnable.defaults.secrets import DotEnvSecrets, EnvSecrets

    return [EnvSecrets, DotEnvSecrets]


@hookimpl
def register_experiment_trackers() -> list[type]:
    from runnable.defaults.run_log_tracker import RunLogTracker

    return [RunLogTracker]


@hookimpl
def register_task_types() -> list[type]:
    from runnable.engine.tasks.notebook import NotebookTaskType
    from runnable.engine.tasks.python import PythonTaskType
    from runnable.engine.tasks.shell import ShellTaskType

    return [PythonTaskType, ShellTaskType, NotebookTaskType]
