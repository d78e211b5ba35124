"""The architecture holds: no import cycle in ``runnable`` (imports inside functions count), and the layers of
SPEC §16 (``.importlinter``) are kept, as import-linter checks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
from cli_helpers import REPO


def cycles(package: str) -> list[list[str]]:
    """Groups of modules that import one another, directly or not (Tarjan's strongly connected components).

    grimp reads every import statement, those inside functions included; imports under ``TYPE_CHECKING``
    are left out, since they never run.
    """
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_runnable_has_no_import_cycle():
    assert cycles("runnable") == []


def test_the_cycle_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def late():\n    from cyclic import a\n    return a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles("cyclic") == [["cyclic.a", "cyclic.b"]]


def test_the_layers_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    command = [str(lint_imports)] if lint_imports.exists() else [shutil.which("lint-imports") or "lint-imports"]
    done = subprocess.run([*command, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def test_test_modules_have_unique_names_across_packages():
    """pytest imports test modules by their base name (no __init__.py): two packages' test_render.py collide
    and the whole run stops at collection. Each package prefixes its modules instead (test_argo_*, ...)."""
    seen: dict[str, Path] = {}
    for path in sorted([*REPO.glob("packages/*/tests/*.py"), *REPO.glob("tests/*.py")]):
        if path.name == "conftest.py":
            continue
        assert path.name not in seen, f"{path} and {seen[path.name]} share a module name"
        seen[path.name] = path
