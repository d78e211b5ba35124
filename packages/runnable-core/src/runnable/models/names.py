"""The one check of every name a user gives that ends up in a file name, a folder or an internal name.

Run ids name folders of the run log store and the catalog; step names, branch keys and map item keys are
the parts of dotted internal names (``map.<item>.step``) that name execution logs and stored objects;
return names name pickled objects in the catalog and environment variables of shell tasks. A name that
contained ``/``, ``..`` or a NUL would reach outside the run's folders, so every name is checked here, once,
where it enters runnable (the graph models, the run log model, the run's preparation) and nowhere else.

The safe character sets (documented in ``docs/security.md``):

=================  =====================================================================================
kind               allowed
=================  =====================================================================================
step name          letters and digits (any script), ``_``, ``-``, and spaces inside; at most 64 characters
branch key         same as a step name
map item key       same as a step name
run id             ASCII letters and digits, ``_``, ``-`` and ``.`` (a letter or digit first, no ``..``);
                   at most 128 characters
return name        an ASCII identifier (``[A-Za-z_][A-Za-z0-9_]*``); at most 64 characters
=================  =====================================================================================

The checks are a compiled regular expression each: cheap enough for every run log read.
"""

from __future__ import annotations

import re
from typing import Literal

from runnable.errors import ParameterError, PipelineDefinitionError, RunnableError

NameKind = Literal["step name", "branch key", "return name", "run id", "map item key"]

MAX_NAME_LENGTH = 64
# Run ids are often generated from dates, branches and commit hashes: room for those, still far below the
# 255 bytes a file name may have.
MAX_RUN_ID_LENGTH = 128

# \w is unicode-aware: letters and digits of any script and "_"; spaces only between other characters.
_WORDS = re.compile(r"[\w-]+( [\w-]+)*")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# kind -> (the whole name, one character of it, the rule in words)
_WORDS_RULE = (_WORDS, re.compile(r"[\w -]"), "may use letters, digits, '_', '-' and single spaces inside")
_RULES: dict[str, tuple[re.Pattern[str], re.Pattern[str], str]] = {
    "step name": _WORDS_RULE,
    "branch key": _WORDS_RULE,
    "map item key": _WORDS_RULE,
    "run id": (
        _RUN_ID,
        re.compile(r"[A-Za-z0-9_.-]"),
        "may use ASCII letters, digits, '_', '-' and '.' (a letter or digit first, no '..')",
    ),
    "return name": (
        _IDENTIFIER,
        re.compile(r"[A-Za-z0-9_]"),
        "must be a Python identifier of ASCII letters, digits and '_'",
    ),
}

# Which error a bad name is: the graph's names are pipeline definition errors, a map item key comes from a
# parameter's value, a run id from the command line or the environment.
_ERRORS: dict[str, type[RunnableError]] = {
    "step name": PipelineDefinitionError,
    "branch key": PipelineDefinitionError,
    "return name": PipelineDefinitionError,
    "map item key": ParameterError,
    "run id": RunnableError,
}


def check_name(value: object, kind: NameKind) -> str:
    """``value`` if it is a safe ``kind``, else a one-line error naming the offender, its kind and the rule.

    Raises :class:`~runnable.errors.PipelineDefinitionError` for step names, branch keys and return names,
    :class:`~runnable.errors.ParameterError` for map item keys and :class:`~runnable.errors.RunnableError`
    for run ids.
    """
    pattern, char_pattern, allowed = _RULES[kind]
    error = _ERRORS[kind]
    if not isinstance(value, str):
        raise error(f"{kind} {value!r} is not allowed: it must be a string")
    longest = MAX_RUN_ID_LENGTH if kind == "run id" else MAX_NAME_LENGTH
    if pattern.fullmatch(value) and len(value) <= longest and ".." not in value:
        return value
    shown = value if len(value) <= 80 else value[:77] + "..."
    bad = next((char for char in value if not char_pattern.fullmatch(char)), "")
    if not value:
        why = "it is empty"
    elif bad:
        why = f"it cannot contain {bad!r}"
    elif len(value) > longest:
        why = f"it is {len(value)} characters long (at most {longest})"
    elif ".." in value:
        why = "it contains '..'"
    else:
        why = f"it does not have the form of a {kind}"
    return _raise(error, f"{kind} {shown!r} is not allowed: {why}; a {kind} {allowed}", kind)


def _raise(error: type[RunnableError], message: str, kind: str) -> str:
    hint = {
        "run id": "pass --run-id / RUNNABLE_RUN_ID / run_id= a plain name such as nightly-2024-06-01",
        "return name": "return names become parameter and variable names: use a Python identifier",
        "map item key": "map items are named after their values; map over simple values or names",
    }.get(kind, f"rename the {kind}")
    raise error(message, hint=hint)


def check_run_id(run_id: str) -> str:
    """A run id that is safe as a folder name of every run log store and catalog."""
    return check_name(run_id, "run id")


def check_map_item_key(key: str) -> str:
    """The key a map iteration is recorded under (part of its steps' internal names) — for the engine."""
    return check_name(key, "map item key")
