"""Helpers for runnable-core's tests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run_log(folder: Path, run_id: str) -> dict:
    return json.loads((folder / ".run_log_store" / f"{run_id}.json").read_text())


def walking_script(context, runnable: str = "runnable") -> str:  # type: ignore[no-untyped-def]
    """A pipeline as a shell script walking its graph: one function per top-level step, ``next`` on success,
    ``on_failure`` (or the fail step) on failure; composite steps handed whole to ``execute-step``. The
    smallest correct rendering executor, for the kit's tests (the example plugin's bash-script is the same)."""
    import shlex

    graph = context.graph
    functions = {name: f"step_{index}" for index, name in enumerate(graph.nodes, start=1)}
    lines = ["#!/usr/bin/env bash", 'RUN_ID="$1"']
    for name, node in graph.nodes.items():
        arguments = [context.pipeline_file, node.internal_name]
        if context.config.source:
            arguments += ["--config", context.config.source]
        if context.parameters_file:
            arguments += ["--parameters", context.parameters_file]
        command = f'{runnable} execute-step {shlex.join(arguments)} --run-id "$RUN_ID"'
        if node.is_terminal:
            body = f"  {command}"
        else:
            failure = functions[node.on_failure or graph.fail_node]
            body = f"  if {command}; then {functions[node.next_node]}; else {failure}; fi"
        lines.append(f"{functions[name]}() {{\n{body}\n}}")
    lines.append(functions[graph.start_at])
    return "\n".join(lines) + "\n"


def run_script(files: dict[str, str], folder: Path) -> None:
    """The artifact runner of a walking script: bash runs it in ``folder`` with this environment's runnable."""
    import os
    import subprocess
    import sys
    import uuid

    (script,) = files
    (folder / script).write_text(files[script])
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run(["bash", script, f"script-{uuid.uuid4().hex[:8]}"], cwd=folder, env=env, check=False, timeout=600)
