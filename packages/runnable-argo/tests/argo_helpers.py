"""Shared helpers of the runnable-argo tests: render through the real CLI, read and check the manifest.

A module of its own, not conftest.py: every package's tests have a conftest, and `from conftest import` takes
whichever was imported first in a session running several packages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from manifest_checks import check

REPO = Path(__file__).resolve().parents[3]
MINIMAL = 'pipeline-executor: {type: argo, config: {image: "registry.example.com/project:1.0"}}\n'


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    env.update(extra)
    return env


def render(folder: Path, pipeline: str, config: str = MINIMAL, *extra: str) -> dict[str, Any]:
    """``runnable render PIPELINE -c argo.yaml -o workflow.yaml`` in ``folder``; the manifest, checked."""
    (folder / "argo.yaml").write_text(config)
    command = [sys.executable, "-m", "runnable", "render", pipeline, "-c", "argo.yaml", "-o", "workflow.yaml", *extra]
    done = subprocess.run(command, cwd=folder, env=clean_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = yaml.safe_load((folder / "workflow.yaml").read_text())
    check(manifest)
    return manifest
