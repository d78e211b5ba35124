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
