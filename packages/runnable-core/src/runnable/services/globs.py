"""The one definition of catalog names and globs: what a ``get``/``put`` glob selects and what it may not reach.

Every catalog in the core (and every catalog built on :class:`~runnable.services.catalog.BaseCatalog`) selects
files with :func:`select` and checks names with :func:`check_pattern` / :func:`check_name`; the conformance
kit (``runnable.testing.CatalogSuite``) holds backends to the same functions. The rules:

* A glob is a relative POSIX path (``/`` separates folders) relative to the step's data folder on ``put`` and
  to the run's catalog on ``get``. ``./`` segments and a trailing ``/`` are ignored.
* ``*`` matches any characters within one name (never ``/``), ``?`` one character, ``[abc]`` / ``[!abc]`` one
  character of (or not of) a set. ``**`` as a whole segment matches zero or more folders.
* Dotfiles are ordinary files: ``*`` matches ``.env.example`` and ``**`` enters ``.config/``. runnable does not
  hide what the user put there.
* A glob that matches a folder selects every file below it, at any depth (dotfiles included). A folder name
  matches that folder only: ``reports`` selects ``reports/summary.txt``, never ``reports-archive/...`` nor
  ``reports.txt``.
* Nothing outside the data folder or the run can be named: an empty glob, an absolute path (``/etc``,
  ``C:...``), a ``..`` segment, a backslash or a NUL character is a :class:`~runnable.errors.CatalogError`.
* Symbolic links are not followed. On ``put`` a symlinked file or folder in the data folder is not selected (a
  glob selecting only links matches nothing); on ``get`` a destination that is, or lies below, a symbolic link
  is refused, so a ``get`` never writes through a link.

Item names (what ``put_file``/``put_bytes``/``open_write`` store, what ``list_files`` returns) obey the same
rules as a glob with no wildcard, checked by :func:`check_name`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from runnable.errors import CatalogError

WILDCARDS = frozenset("*?[")
_HINT = "catalog globs and names are relative paths inside the step's data folder (no '..', no leading '/')"


def _segments(text: str, what: str) -> list[str]:
    """The segments of a relative path, or a :class:`CatalogError` if it could reach outside its folder."""
    if not isinstance(text, str) or not text.strip():
        raise CatalogError(f"catalog: an empty {what} {text!r}", hint=_HINT)
    if "\x00" in text or "\\" in text:
        raise CatalogError(f"catalog: the {what} {text!r} holds a backslash or NUL character", hint=_HINT)
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise CatalogError(f"catalog: the {what} {text!r} is an absolute path", hint=_HINT)
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise CatalogError(f"catalog: the {what} {text!r} reaches outside its folder with '..'", hint=_HINT)
    if not parts:
        raise CatalogError(f"catalog: the {what} {text!r} names no file", hint=_HINT)
    return parts


def check_pattern(pattern: str) -> str:
    """``pattern`` normalised (no ``./``, no trailing ``/``), or :class:`CatalogError` if it could escape."""
    return "/".join(_segments(pattern, "glob"))


def check_name(name: str) -> str:
    """An item name normalised like a glob (wildcard characters are plain characters in a name)."""
    return "/".join(_segments(name, "item name"))


def _segment_regex(segment: str) -> str:
    """One segment of a glob as a regular expression that never crosses a ``/``."""
    out, index = [], 0
    while index < len(segment):
        char = segment[index]
        index += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            start = index + (1 if segment[index : index + 1] == "!" else 0)
            start += 1 if segment[start : start + 1] == "]" else 0
            end = segment.find("]", start)
            if end < 0:  # no closing bracket: a literal "["
                out.append(re.escape(char))
                continue
            body = re.sub(r"([\\\[&~|])", r"\\\1", segment[index:end])  # literal inside a set
            index = end + 1
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            out.append(f"(?!/)[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = _segments(pattern, "glob")
    regex = ""
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment_regex(part) + ("" if last else "/")
    return re.compile(regex)


def matches(pattern: str, name: str) -> bool:
    """Whether the glob selects the file ``name``: it matches the name, or one of the folders holding it."""
    regex = _compiled(pattern)
    parts = name.split("/")
    return any(regex.fullmatch("/".join(parts[:depth])) for depth in range(len(parts), 0, -1))


def select(pattern: str, names: Iterable[str]) -> list[str]:
    """The names (relative file paths, ``/``-separated) the glob selects, sorted and without duplicates."""
    _compiled(pattern)  # validates the pattern even when there are no names
    return sorted({name for name in names if matches(pattern, name)})


def literal_prefix(pattern: str) -> str:
    """The folders a glob names before its first wildcard: a backend may list only below them."""
    literal = []
    for part in check_pattern(pattern).split("/")[:-1]:
        if WILDCARDS & set(part):
            break
        literal.append(part)
    return "/".join(literal)


def local_files(folder: Path, prefix: str = "") -> list[str]:
    """Every regular file under ``folder`` (below ``prefix``), as ``/``-separated names; links not followed."""
    start = folder / prefix if prefix else folder
    if start.is_symlink() or not start.is_dir():
        return [prefix] if prefix and start.is_file() and not start.is_symlink() else []
    found = []
    for root, dirs, files in os.walk(start, followlinks=False):
        base = Path(root)
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
        for file in files:
            path = base / file
            if not path.is_symlink() and path.is_file():
                found.append(path.relative_to(folder).as_posix())
    return found


def safe_destination(folder: Path, name: str) -> Path:
    """Where ``get`` writes the item ``name`` below ``folder``: refused if any part of it is a symbolic link.

    The checked path is the one written: ``get`` writes a temporary file in the checked folder and renames it
    onto the checked name, and a rename replaces a link rather than writing through it.
    """
    parts = check_name(name).split("/")
    path = folder
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise CatalogError(
                f"catalog get: {str(path)!r} is a symbolic link; get does not write through links",
                hint="remove the link, or get into another compute_data_folder",
            )
    return path
