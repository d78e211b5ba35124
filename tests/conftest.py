"""Fixtures for cross-package tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cli_helpers import REPO


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (runs write .catalog/ and .run_log_store/ into it)."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("RUNNABLE_"):
            monkeypatch.delenv(key)
    return tmp_path


@pytest.fixture
def with_examples(scratch: Path) -> Path:
    shutil.copytree(REPO / "examples", scratch / "examples")
    return scratch
