"""Helpers for cross-package tests: run the real CLI and read run logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str


def runnable_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 120) -> Result:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")
    done = subprocess.run(
        [sys.executable, "-m", "runnable", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def read_run_log(folder: Path, run_id: str) -> dict:
    return json.loads((folder / ".run_log_store" / f"{run_id}.json").read_text())
