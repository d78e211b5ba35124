"""The rendering-executor conformance suite of runnable.testing, on the ``argo`` executor.

Argo's containers take the step's address as an input parameter, so the commands are read the way Argo
builds them: each DAG task calling a container template gives that template's command with the task's
address argument in place; a map's or loop's key (``{{inputs.parameters.key1}}``, known at run time)
stands as ``0``, which any map or loop accepts as a key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_interpreter import run_files
from runnable.testing import RenderingExecutorSuite, StepCommand
from runnable_argo import ArgoExecutor


def argo_commands(files: dict[str, str]) -> list[StepCommand]:
    commands = []
    for name, text in files.items():
        manifest = yaml.safe_load(text)
        spec = manifest["spec"].get("workflowSpec", manifest["spec"])
        templates = {t["name"]: t for t in spec["templates"]}
        for template in templates.values():
            for task in template.get("dag", {}).get("tasks", []):
                called = templates[task["template"]]
                if "container" not in called:
                    continue
                container = called["container"]
                argv = [*container["command"], *container["args"]]
                if "execute-step" not in argv:
                    continue
                given = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
                spliced = [
                    re.sub(r"\{\{inputs\.parameters\.(\w+)\}\}", lambda m, g=given: g[m.group(1)], a) for a in argv
                ]
                keys = [re.sub(r"\{\{(inputs\.parameters\.key\d+|item)\}\}", "0", a) for a in spliced]
                commands.append(StepCommand(name, tuple(keys)))
    return commands


class TestArgoExecutor(RenderingExecutorSuite):
    @pytest.fixture
    def pipeline_executor(self) -> ArgoExecutor:
        return ArgoExecutor(image="registry.example.com/project:1.0")

    @pytest.fixture
    def artifact_runner(self) -> Any:
        """Runs the rendered manifest's containers in Argo's order (the test interpreter)."""

        def run(files: dict[str, str], workdir: Path) -> None:
            run_files(files, workdir)

        return run

    def commands_in(self, files: dict[str, str]) -> list[StepCommand]:
        return argo_commands(files)
