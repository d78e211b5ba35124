"""Choosing the configuration: --config, configuration_file=, RUNNABLE_CONFIGURATION_FILE; ${VAR}."""

from __future__ import annotations

from core_helpers import write
from runnable import Pipeline, PythonTask
from runnable.config import load_config


def _noop():
    pass


def _run(run_id, **kwargs):
    return Pipeline(steps=[PythonTask(name="noop", function=_noop)]).execute(run_id=run_id, **kwargs)


def test_defaults_without_a_file(scratch):
    config = load_config(None)
    assert {name: section.type for name, section in config.sections.items()} == {
        "pipeline-executor": "local",
        "job-executor": "local",
        "run-log-store": "file-system",
        "catalog": "file-system",
        "secrets": "env-secrets",
        "experiment-tracker": "run-log",
    }


def test_argument_and_environment_choose_the_file(scratch, monkeypatch):
    write(scratch / "by_arg.yaml", "run-log-store: {type: file-system, config: {log_folder: logs_arg}}\n")
    write(scratch / "by_env.yaml", "run-log-store: {type: file-system, config: {log_folder: logs_env}}\n")
    _run("a", configuration_file="by_arg.yaml")
    assert (scratch / "logs_arg" / "a.json").is_file()

    monkeypatch.setenv("RUNNABLE_CONFIGURATION_FILE", "by_env.yaml")
    _run("b")
    assert (scratch / "logs_env" / "b.json").is_file()
    _run("c", configuration_file="by_arg.yaml")  # an explicit argument wins over the environment
    assert (scratch / "logs_arg" / "c.json").is_file()


def test_environment_variables_in_values(scratch, monkeypatch):
    monkeypatch.setenv("LOG_ROOT", "from_env")
    write(scratch / "config.yaml", "run-log-store:\n  type: file-system\n  config: {log_folder: '${LOG_ROOT}/logs'}\n")
    _run("v", configuration_file="config.yaml")
    assert (scratch / "from_env" / "logs" / "v.json").is_file()
    import json

    recorded = json.loads((scratch / "from_env" / "logs" / "v.json").read_text())["run_config"]
    assert recorded["run-log-store"]["config"]["log_folder"] == "from_env/logs"
    assert recorded["configuration_file"] == "config.yaml"
