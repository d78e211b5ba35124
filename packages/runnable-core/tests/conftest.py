from __future__ import annotations

import os
import sys
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
