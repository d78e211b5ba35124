"""A private working directory for branches that run in a forked worker (``enable_parallel``).

Branches of one composite step run at the same time in several workers. Were they to share the project's
folder, two map items writing ``data/out.bin`` would overwrite each other's file, and one could hash (and
``put``) the other's bytes. A container gets its own copy of the project; a worker gets the cheap equivalent:
a scratch folder in which

* every top-level file and folder of the project is a symbolic link to the project's own, so relative paths
  (``data/input.csv``, ``config/settings.yaml``) and imports of the project's modules keep working;
* the folders the branch's catalog globs name (each task's data folder and the folders before the glob's
  first wildcard, ``data`` for ``data/*.csv``) are real folders, holding links to the project's entries
  *except* the files the globs select: those are the branch's own, written by its tasks or got from the
  catalog, never the project's;
* anything else a task creates in these real folders (or at the top) is the branch's own, and is removed
  before the next branch the worker runs starts; the parent removes the whole scratch folder when the
  composite's branches are done.

A write through a link (into a project folder no glob names, or into an existing project file) reaches the
project, as it would in a sequential run. Building the folder costs a few system calls per project entry,
once per worker and branch graph; resetting it between branches costs one listing of the real folders.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Iterable
from pathlib import Path

from runnable.errors import CatalogError
from runnable.models.graph import CompositeNode, Graph, TaskNode
from runnable.services import globs


def catalog_globs(graph: Graph, default_folder: str) -> list[tuple[str, str]]:
    """(data folder, glob) of every catalog ``get``/``put`` of the tasks in ``graph``, nested branches included."""
    found: list[tuple[str, str]] = []
    for node in graph.nodes.values():
        if isinstance(node, CompositeNode):
            for branch in node.branch_graphs().values():
                found.extend(catalog_globs(branch, default_folder))
        elif isinstance(node, TaskNode) and node.catalog:
            folder = node.catalog.compute_data_folder or default_folder
            found.extend((folder, pattern) for pattern in [*node.catalog.get, *node.catalog.put])
    return found


def _inside(project: Path, folder: str) -> str | None:
    """``folder`` relative to the project ('' for the project itself), or None when it lies outside it."""
    path = posixpath.normpath(Path(folder).as_posix())
    if os.path.isabs(path):
        try:
            path = Path(path).relative_to(project).as_posix()
        except ValueError:
            return None
    if path == ".." or path.startswith("../"):
        return None
    return "" if path == "." else path


def _ancestors(path: str) -> list[str]:
    parts = path.split("/") if path else []
    return ["/".join(parts[:depth]) for depth in range(len(parts))]


class BranchFolder:
    """The scratch folder one worker runs the branches of one graph in (see the module's docstring)."""

    def __init__(self, project: Path, root: Path, patterns: Iterable[tuple[str, str]]) -> None:
        self.project = project
        self.root = root
        self.real: set[str] = {""}  # folders that are the branch's own (relative; '' is the scratch root)
        hidden: set[str] = set()  # project entries not linked: what the globs select
        for folder, pattern in patterns:
            base = _inside(project, folder)
            if base is None:  # a data folder outside the project: shared, as in a sequential run
                continue
            try:
                prefix = globs.literal_prefix(pattern)
                selected = globs.select(pattern, globs.local_files(project / base, prefix))
            except CatalogError:
                continue  # a bad glob fails its step, with the catalog's message
            literal = posixpath.join(base, prefix) if prefix else base
            self.real.update([*_ancestors(literal), literal])
            for name in selected:
                path = posixpath.join(base, name) if base else name
                hidden.add(path)
                self.real.update(_ancestors(path))
        self.links: dict[str, list[str]] = {}  # real folder -> the names linked into it
        for folder in sorted(self.real, key=lambda f: f.count("/") if f else -1):
            source = project / folder if folder else project
            names = []
            try:
                entries = sorted(os.listdir(source))
            except (FileNotFoundError, NotADirectoryError):
                entries = []
            for name in entries:
                path = posixpath.join(folder, name) if folder else name
                if path not in self.real and path not in hidden:
                    names.append(name)
            self.links[folder] = names
        self._build()

    def _build(self) -> None:
        for folder, names in self.links.items():
            target = self.root / folder if folder else self.root
            target.mkdir(parents=True, exist_ok=True)
            source = self.project / folder if folder else self.project
            present = set(os.listdir(target))
            for name in names:
                if name not in present:
                    os.symlink(source / name, target / name)

    def reset(self) -> None:
        """Remove what the last branch created or changed in its own folders; put back what it removed."""
        for folder in sorted(self.real, key=lambda f: f.count("/") if f else -1):
            target = self.root / folder if folder else self.root
            keep = set(self.links.get(folder, ()))
            try:
                entries = list(os.scandir(target))
            except FileNotFoundError:
                continue  # removed by the branch: _build makes it again
            for entry in entries:
                path = posixpath.join(folder, entry.name) if folder else entry.name
                if path in self.real and entry.is_dir(follow_symlinks=False):
                    continue
                if entry.name in keep and entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        self._build()
