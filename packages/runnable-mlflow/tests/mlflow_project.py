"""A scratch project (a git repository) with task functions, pipelines and a configuration using the tracker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TASKS = """
from pathlib import Path


def prepare(model: dict) -> tuple:
    Path("report.txt").write_text("depth " + str(model["depth"]))
    print("prepared")
    return {"depth": model["depth"] + 1, "kind": "tree"}, 100


def train(rate: float) -> float:
    return round(rate * 2, 3)


def fit(attempt: int) -> tuple:
    return attempt >= 1, 1.0 / (attempt + 1)


def broken() -> None:
    raise ValueError("no data for this step")
"""

# prepare -> fan (a map over three rates) -> refine (a loop stopping after its second round)
PIPELINE = """
dag:
  name: demo
  start_at: prepare
  steps:
    prepare:
      type: task
      command: tasks_mlflow.prepare
      returns: [settings, {name: rows, kind: metric}]
      catalog: {put: [report.txt]}
      next: fan
    fan:
      type: map
      iterate_on: rates
      iterate_as: rate
      next: refine
      branch:
        start_at: train
        steps:
          train: {type: task, command: tasks_mlflow.train, returns: [{name: accuracy, kind: metric}], next: success}
    refine:
      type: loop
      max_iterations: 3
      break_on: done
      index_as: attempt
      next: success
      branch:
        start_at: fit
        steps:
          fit: {type: task, command: tasks_mlflow.fit, returns: [done, {name: loss, kind: metric}], next: success}
"""

FAILING = """
dag:
  start_at: prepare
  steps:
    prepare:
      type: task
      command: tasks_mlflow.prepare
      returns: [settings, {name: rows, kind: metric}]
      next: broken
    broken: {type: task, command: tasks_mlflow.broken, next: success}
"""

PARAMETERS = {"model": {"depth": 3, "name": "forest"}, "rates": [0.1, 0.2, 0.3], "note": "x" * 7000}


@dataclass
class Project:
    root: Path
    tracking_uri: str
    experiment: str

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def config(
        self, name: str = "config.yaml", *, tracked: bool = True, executor: dict[str, Any] | None = None, **tracker: Any
    ) -> str:
        """A configuration file using the tracker (``tracked``) with ``tracker`` settings, and ``executor``."""
        settings = {"tracking_uri": self.tracking_uri, "experiment_name": self.experiment, **tracker}
        config: dict[str, Any] = {
            "run-log-store": {"type": "chunked-fs", "config": {"log_folder": str(self.root / "run-logs")}},
            "catalog": {"type": "file-system", "config": {"catalog_location": str(self.root / "catalog")}},
        }
        if tracked:
            config["experiment-tracker"] = {"type": "mlflow", "config": settings}
        if executor:
            config["pipeline-executor"] = executor
        (self.root / name).write_text(yaml.safe_dump(config))
        return name

    def parameters(self, values: dict[str, Any] | None = None) -> str:
        (self.root / "parameters.yaml").write_text(yaml.safe_dump(PARAMETERS if values is None else values))
        return "parameters.yaml"

    def runnable(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``runnable <args>`` in a fresh process in the project folder."""
        return self.start(*args, env=env).communicate_result()

    def start(self, *args: str, env: dict[str, str] | None = None) -> Running:
        """``runnable <args>`` started in a fresh process, not waited for."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("RUNNABLE_", "MLFLOW_"))}
        process = subprocess.Popen(
            [sys.executable, "-m", "runnable", *args],
            cwd=self.root,
            env={**clean, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return Running(process, list(args))

    def commit(self) -> str:
        """Commit everything; the commit id the run's code identity will name."""
        git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
        subprocess.run([*git, "init", "-q"], cwd=self.root, check=True)
        subprocess.run([*git, "add", "-A"], cwd=self.root, check=True)
        subprocess.run([*git, "commit", "-qm", "pipeline"], cwd=self.root, check=True)
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=self.root, check=True, capture_output=True, text=True)
        return done.stdout.strip()


@dataclass
class Running:
    process: subprocess.Popen[str]
    args: list[str]

    def communicate_result(self) -> subprocess.CompletedProcess[str]:
        # Generous: an emulated run starts a dozen processes, each importing MLflow, on a possibly busy machine.
        stdout, stderr = self.process.communicate(timeout=900)
        return subprocess.CompletedProcess(self.args, self.process.returncode, stdout, stderr)


def new_project(root: Path, tracking_uri: str) -> Project:
    project = Project(root, tracking_uri, f"test-{uuid.uuid4().hex[:8]}")
    project.write("tasks_mlflow.py", TASKS)
    project.write("pipeline.yaml", PIPELINE)
    project.write("failing.yaml", FAILING)
    return project
