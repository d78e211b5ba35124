"""Turning runnable's values into what MLflow accepts: flat string params, numeric metric points.

Pure functions, no MLflow import, so the rules are easy to read and test on their own.

MLflow's limits (``mlflow.utils.validation``): keys at most 250 characters of letters, digits, ``_ - . / :``
and spaces; param values at most 6000 characters; params cannot change once logged on a run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

KEY_LIMIT = 250
PARAM_VALUE_LIMIT = 6000
TAG_VALUE_LIMIT = 8000
TRUNCATED = "...[truncated]"

_BAD_KEY_CHARACTERS = re.compile(r"[^\w.\-/: ]")


def key(name: str) -> str:
    """A valid MLflow key for ``name``: other characters become ``_``; empty, ``.`` and ``..`` path segments
    go (MLflow refuses keys that are not normalised relative paths); at most 250 characters are kept."""
    parts = [part for part in _BAD_KEY_CHARACTERS.sub("_", name).split("/") if part not in ("", ".")]
    cleaned = "/".join("__" if part == ".." else part for part in parts) or "_"
    return cleaned[:KEY_LIMIT].rstrip("/")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in a marker that says so."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def as_text(value: Any) -> str:
    """Strings as they are, everything else as JSON (``true``, ``null``, ``[1, 2]``), so it reads back."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def flatten(parameters: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested dictionaries become dotted names (``{"model": {"depth": 3}}`` -> ``model.depth``); lists and
    everything else stay one value."""
    for name, value in parameters.items():
        full = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, dict) and value:
            yield from flatten(value, full)
        else:
            yield full, value


def params(parameters: dict[str, Any]) -> dict[str, str]:
    """MLflow params for json parameters: flattened, keys made valid, values as text and truncated."""
    return {key(name): truncate(as_text(value), PARAM_VALUE_LIMIT) for name, value in flatten(parameters)}


def numbers(value: Any) -> list[float]:
    """The points of a metric: a number is one point, a list of numbers a series. Non-numbers are dropped
    (runnable already refuses them as metrics)."""
    values: Iterable[Any] = value if isinstance(value, (list, tuple)) else [value]
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
