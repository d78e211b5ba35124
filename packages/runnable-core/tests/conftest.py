from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory that is importable (task modules are written into it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for key in list(os.environ):
        if key.startswith("RUNNABLE_"):
            monkeypatch.delenv(key)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tasks_")]:
        del sys.modules[name]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run_log(folder: Path, run_id: str) -> dict:
    return json.loads((folder / ".run_log_store" / f"{run_id}.json").read_text())
