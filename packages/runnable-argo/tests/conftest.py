"""Fixtures of the runnable-argo tests (their helpers are in argo_helpers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argo_helpers import MINIMAL, render


@pytest.fixture
def render_in(tmp_path: Path):  # type: ignore[no-untyped-def]
    def go(files: dict[str, str], pipeline: str, config: str = MINIMAL, *extra: str) -> dict[str, Any]:
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        return render(tmp_path, pipeline, config, *extra)

    return go
