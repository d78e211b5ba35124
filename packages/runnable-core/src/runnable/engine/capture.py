"""Capturing what a task prints, while still showing it, with secret values masked in both places."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

MASK = "********"


class Redactor:
    def __init__(self, secrets: list[str]) -> None:
        self.secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class _Tee(io.TextIOBase):
    def __init__(self, stream: io.TextIOBase, buffer: io.StringIO, redact: Redactor) -> None:
        self.stream = stream
        self.buffer_ = buffer
        self.redact = redact

    def write(self, text: str) -> int:
        text = self.redact(text)
        self.buffer_.write(text)
        self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


@contextmanager
def capture_output(redact: Redactor) -> Iterator[io.StringIO]:
    """Everything written to ``sys.stdout``/``sys.stderr`` inside the block, in order, secrets masked."""
    buffer = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = _Tee(saved[0], buffer, redact)  # type: ignore[assignment]
    sys.stderr = _Tee(saved[1], buffer, redact)  # type: ignore[assignment]
    try:
        yield buffer
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block only (secrets must not outlive the task)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
