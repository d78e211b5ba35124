"""Log levels as users write them (``--log-level``, ``RUNNABLE_LOG_LEVEL``), and where runnable's own log
records go: stderr, never mixed into a task's captured output."""

from __future__ import annotations

import logging
import sys

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}


def log_level_name(value: str) -> str:
    """Normalise a level (``debug``, ``Warn``, ``10``) to a logging level name; ValueError says what is valid."""
    text = value.strip().upper()
    text = _ALIASES.get(text, text)
    if text.isdigit() and logging.getLevelName(int(text)) in LOG_LEVELS:
        text = logging.getLevelName(int(text))
    if text not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not a log level; use one of {', '.join(n.lower() for n in LOG_LEVELS)}")
    return text


def configure_logging(level: str) -> None:
    """Send runnable's own log records to stderr at ``level`` (task output is not affected)."""
    logger = logging.getLogger("runnable")
    logger.setLevel(level)
    if not any(getattr(h, "_runnable", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s runnable: %(message)s"))
        handler._runnable = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
