"""Secret values a task *returns* are masked before runnable keeps them.

A json or metric return (and a pickled return that is plain data: strings, numbers, lists, dicts, tuples,
sets) holding a secret's value is stored — and handed to later steps — with the value replaced by
``********``: the run log and the catalog never hold it. A pickled object of any other type is stored as is:
runnable cannot look inside arbitrary objects, so a task must not return objects holding secrets (the
next step declares the secret in ``secrets`` instead). ``docs/security.md`` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runnable.engine.capture import Redactor


def mask_returns(returned: dict[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """``returned`` with every secret value inside plain data masked (the same dict when there are no secrets)."""
    if not secrets:
        return returned
    redact = Redactor(secrets)
    if not redact.secrets:
        return returned
    return {name: _mask(value, redact) for name, value in returned.items()}


def _mask(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", errors="surrogateescape")).encode("utf-8", errors="surrogateescape")
    if isinstance(value, dict):
        return {_mask(k, redact): _mask(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, redact) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(_mask(v, redact) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_mask(v, redact) for v in value)
    return value
