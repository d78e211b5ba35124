"""runnable-core's own plugin: the embedded defaults, registered through the same hooks as any plugin.

Each name maps to the import path of its class: a run imports the implementations it uses only.
"""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_pipeline_executors() -> dict[str, str]:
    return {
        "local": "runnable.executors.local:LocalExecutor",
        "mocked": "runnable.executors.mocked:MockedExecutor",
        "emulator": "runnable.executors.emulator:EmulatorExecutor",
    }


@hookimpl
def register_job_executors() -> dict[str, str]:
    return {"local": "runnable.executors.local:LocalJobExecutor"}


@hookimpl
def register_catalogs() -> dict[str, str]:
    return {"file-system": "runnable.defaults.file_system_catalog:FileSystemCatalog"}


@hookimpl
def register_run_log_stores() -> dict[str, str]:
    return {
        "file-system": "runnable.defaults.file_system_run_log:FileSystemRunLogStore",
        "chunked-fs": "runnable.defaults.chunked_run_log:ChunkedFileSystemRunLogStore",
    }


@hookimpl
def register_secrets_managers() -> dict[str, str]:
    return {"env-secrets": "runnable.defaults.secrets:EnvSecrets", "dotenv": "runnable.defaults.secrets:DotEnvSecrets"}


@hookimpl
def register_experiment_trackers() -> dict[str, str]:
    return {"run-log": "runnable.defaults.run_log_tracker:RunLogTracker"}


@hookimpl
def register_task_types() -> dict[str, str]:
    return {
        "python": "runnable.engine.tasks.python:PythonTaskType",
        "shell": "runnable.engine.tasks.shell:ShellTaskType",
        "notebook": "runnable.engine.tasks.notebook:NotebookTaskType",
    }
