"""The one definition of catalog globs and names (runnable.services.globs), and steps using it in real runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import run_log, write
from runnable import Catalog, Pipeline, PythonTask
from runnable.errors import CatalogError
from runnable.sdk import ExecutionFailedError
from runnable.services import globs
from runnable.services.catalog import expand_local_glob

NAMES = [
    ".env.example",
    ".config/tool/settings.toml",
    "data/a.csv",
    "data/.hidden.csv",
    "data/nested/deep/c.csv",
    "data-old/a.csv",
    "reports/summary.txt",
    "reports-archive/2023/summary.txt",
    "reports.txt",
    "odd[1].txt",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", NAMES),
        ("**", NAMES),
        ("data", ["data/.hidden.csv", "data/a.csv", "data/nested/deep/c.csv"]),
        ("./data/", ["data/.hidden.csv", "data/a.csv", "data/nested/deep/c.csv"]),
        ("data/*", ["data/.hidden.csv", "data/a.csv", "data/nested/deep/c.csv"]),  # a matched folder brings all
        ("data/*.csv", ["data/.hidden.csv", "data/a.csv"]),
        ("data/**/*.csv", ["data/.hidden.csv", "data/a.csv", "data/nested/deep/c.csv"]),
        ("reports", ["reports/summary.txt"]),
        ("report*", ["reports-archive/2023/summary.txt", "reports.txt", "reports/summary.txt"]),
        (".*", [".config/tool/settings.toml", ".env.example"]),
        ("**/.*", [".config/tool/settings.toml", ".env.example", "data/.hidden.csv"]),
        ("odd[[]1].txt", ["odd[1].txt"]),
        ("data/?.csv", ["data/a.csv"]),
        ("missing", []),
    ],
)
def test_the_rules(pattern, expected):
    assert globs.select(pattern, NAMES) == sorted(expected)


@pytest.mark.parametrize("pattern", ["", "  ", "/etc/passwd", "../x", "a/../../b", "..", "C:/x", "a\\b", "a\x00b"])
def test_globs_that_could_escape_are_one_line_catalog_errors(pattern):
    with pytest.raises(CatalogError) as raised:
        globs.select(pattern, NAMES)
    assert "\n" not in str(raised.value) and "catalog" in str(raised.value)
    with pytest.raises(CatalogError):
        globs.check_name(pattern)


def test_local_files_are_listed_without_following_links(tmp_path):
    write(tmp_path / "outside" / "secret.txt", "no")
    data = tmp_path / "data"
    write(data / ".hidden", "dot")
    write(data / "sub" / ".cache" / "x.bin", "deep")
    (data / "link.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (data / "linkdir").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert sorted(globs.local_files(data)) == [".hidden", "sub/.cache/x.bin"]
    assert expand_local_glob("**", data) == [".hidden", "sub/.cache/x.bin"]
    assert expand_local_glob("linkdir", data) == []


def _steps(put=(), get=(), folder=None):
    def produce():
        write(Path("work/out.txt"), "ok")

    def consume():
        pass

    return Pipeline(
        steps=[
            PythonTask(name="produce", function=produce, catalog=Catalog(put=list(put) or ["work/out.txt"])),
            PythonTask(name="consume", function=consume, catalog=Catalog(get=list(get), compute_data_folder=folder)),
        ]
    )


@pytest.mark.parametrize("pattern", ["../../../f", "/etc/*", "work/../../f"])
def test_a_put_glob_reaching_outside_fails_its_step_and_stores_nothing(scratch, pattern):
    project = scratch / "project"
    project.mkdir()
    write(scratch / "f", "outside the project")
    before = sorted(p.relative_to(scratch) for p in scratch.rglob("*"))
    pipeline = _steps(put=[pattern])
    with pytest.raises(ExecutionFailedError):
        pipeline.execute(run_id="escape-put")
    log = run_log(scratch, "escape-put")
    assert log["status"] == "FAIL"
    message = log["steps"]["produce"]["message"]
    assert pattern in message and "\n" not in message
    stored = sorted(p.name for p in (scratch / ".catalog" / "escape-put").rglob("*") if p.is_file())
    assert stored == ["produce.execution.log"], "nothing but the step's own log may be stored"
    after = {p.relative_to(scratch) for p in scratch.rglob("*")}
    assert {p for p in after if not str(p).startswith((".catalog", ".run_log_store", "work"))} == {
        p for p in before if not str(p).startswith((".catalog", ".run_log_store", "work"))
    }


def test_a_get_glob_reaching_outside_fails_its_step(scratch):
    with pytest.raises(ExecutionFailedError):
        _steps(get=["../*"]).execute(run_id="escape-get")
    log = run_log(scratch, "escape-get")
    assert log["steps"]["consume"]["status"] == "FAIL"
    assert "'../*'" in log["steps"]["consume"]["message"]


def test_a_get_onto_a_symlinked_file_is_refused_and_the_target_untouched(scratch):
    victim = write(scratch.parent / f"{scratch.name}-victim.txt", "untouched")
    write(scratch / "inputs" / "placeholder", "")
    (scratch / "inputs" / "work").mkdir()
    (scratch / "inputs" / "work" / "out.txt").symlink_to(victim)
    with pytest.raises(ExecutionFailedError):
        _steps(get=["work/out.txt"], folder="inputs").execute(run_id="through-link")
    log = run_log(scratch, "through-link")
    assert log["steps"]["consume"]["status"] == "FAIL"
    assert "symbolic link" in log["steps"]["consume"]["message"]
    assert victim.read_text() == "untouched"
