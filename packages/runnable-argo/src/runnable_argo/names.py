"""Argo names from step names.

Argo template and DAG task names must be DNS-1123 labels (lowercase letters, digits and ``-``, at most 63
characters), while runnable step names may hold spaces, capitals and underscores. A name that had to be
changed gets a short hash of the original, so two steps that sanitise alike (``Train`` and ``train``) never
collide; :class:`Names` also keeps the names unique within one scope.
"""

from __future__ import annotations

import hashlib
import re

LIMIT = 63  # a Kubernetes label's length limit, which Argo applies to template names


def dns_label(text: str, limit: int = LIMIT) -> str:
    """``text`` as a DNS-1123 label; unchanged when it already is one (and starts with a letter)."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if cleaned and not cleaned[0].isalpha():
        cleaned = f"s-{cleaned}"  # a leading digit would read as a number in depends expressions
    if cleaned == text and len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{(cleaned or 's')[: limit - 7].rstrip('-')}-{digest}"


class Names:
    """Hands out unique DNS-1123 names within one scope (a DAG's tasks, or the workflow's templates)."""

    def __init__(self, taken: tuple[str, ...] = ()) -> None:
        self._taken: set[str] = set(taken)

    def take(self, wanted: str) -> str:
        name = dns_label(wanted)
        candidate, counter = name, 1
        while candidate in self._taken:
            counter += 1
            candidate = f"{name[: LIMIT - len(str(counter)) - 1]}-{counter}"
        self._taken.add(candidate)
        return candidate
