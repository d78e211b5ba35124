"""The package installs alone beside runnable-core in a fresh virtual environment (their declared
dependencies from the package index, nothing from the workspace), is listed by ``runnable plugins``, and
renders there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from argo_helpers import MINIMAL, REPO
from manifest_checks import check


def test_installs_beside_runnable_core_alone_and_renders(tmp_path: Path) -> None:
    for name in ("runnable-core", "runnable-argo"):  # copies: building must not litter the repository
        shutil.copytree(
            REPO / "packages" / name,
            tmp_path / name,
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "build", "dist", "tests"),
        )
    home = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, capture_output=True)
    python = home / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNNABLE_", "VIRTUAL_ENV")) and k != "PYTHONPATH"}
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*install, str(tmp_path / "runnable-core"), str(tmp_path / "runnable-argo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runnable = str(home / "bin" / "runnable")
    project = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "docs", project)
    (project / "argo.yaml").write_text(MINIMAL)
    listed = subprocess.run([runnable, "plugins"], cwd=project, env=env, capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    assert any("argo" in line and "runnable-argo" in line for line in listed.stdout.splitlines()), listed.stdout
    command = [runnable, "render", "hello.yaml", "-c", "argo.yaml", "-o", "workflow.yaml"]
    rendered = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    check(yaml.safe_load((project / "workflow.yaml").read_text()))
