"""Branches under ``enable_parallel`` run in private working directories (issue 14, item 2).

Acceptance: 16 map items each write ``data/out.bin`` with their own bytes and ``put`` it, and 8 items each
``get`` one 32 MiB catalog item, 10 runs, with the ``chunked-fs`` store: every recorded hash is that of the
bytes the item wrote or read, nothing partial is ever read, and no scratch folder is left behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from core_helpers import write
from runnable.engine.branch_folder import BranchFolder, catalog_globs
from runnable.models.graph import Graph

TASKS = """
import hashlib
import os
from pathlib import Path

SIZE = 32 * 1024 * 1024


def make() -> tuple:
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
    Path("data").mkdir(exist_ok=True)
    with open("data/big.bin", "wb") as out:
        for index in range(SIZE // len(block)):
            out.write(index.to_bytes(4, "big") + block[4:])
    return list(range(16)), list(range(8))


def write(item: int) -> tuple:
    # Written in many small pieces, yielding the CPU in between: were the working directory shared, another
    # branch would rewrite the file under this one's feet and this branch would put a mix.
    chunk = f"item {item:02d};".encode() * 512
    digest = hashlib.sha256()
    Path("data").mkdir(exist_ok=True)
    with open("data/out.bin", "wb") as out:
        for _ in range(32 + item):
            out.write(chunk)
            digest.update(chunk)
            out.flush()
            os.sched_yield()
    return digest.hexdigest(), os.getpid()


def read(item: int) -> tuple:
    return hashlib.sha256(Path("data/big.bin").read_bytes()).hexdigest(), os.getpid()
"""

PIPELINE = """
dag:
  start_at: make
  steps:
    make:
      type: task
      command: tasks_iso.make
      returns: [writers, readers]
      catalog: {put: [data/big.bin]}
      next: readers
    readers:
      type: map
      iterate_on: readers
      iterate_as: item
      next: writers
      branch:
        start_at: read
        steps:
          read:
            type: task
            command: tasks_iso.read
            returns: [digest, reader_pid]
            catalog: {get: [data/big.bin]}
            next: success
    writers:
      type: map
      iterate_on: writers
      iterate_as: item
      next: success
      branch:
        start_at: write
        steps:
          write:
            type: task
            command: tasks_iso.write
            returns: [written, writer_pid]
            catalog: {put: [data/out.bin]}
            next: success
"""

CONFIG = (
    "pipeline-executor: {type: local, config: {enable_parallel: true, min_parallel_seconds: 0}}\n"
    "run-log-store: {type: chunked-fs}\n"
)


def test_parallel_branches_hash_only_their_own_bytes(scratch, monkeypatch):
    from runnable.entrypoints import load_graph, run_graph

    write(scratch / "tasks_iso.py", TASKS)
    write(scratch / "pipeline.yaml", PIPELINE)
    write(scratch / "config.yaml", CONFIG)
    temporary = scratch.parent / f"{scratch.name}-tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the branches' scratch folders go
    graph = load_graph("pipeline.yaml")
    pids: set[int] = set()
    for attempt in range(10):
        run_id = f"iso-{attempt}"
        run_log = run_graph(graph, configuration_file="config.yaml", run_id=run_id)
        catalog = scratch / ".catalog" / run_id
        true_hash = hashlib.sha256((catalog / "data" / "big.bin").read_bytes()).hexdigest()
        for item in range(8):
            step = run_log.steps["readers"].branches[f"readers.{item}"].steps[f"readers.{item}.read"]
            assert step.status == "SUCCESS", step.message
            (got,) = [e for e in step.data_catalog if e.name == "data/big.bin"]
            assert got.stage == "get" and got.data_hash == true_hash, f"reader {item} recorded another hash"
            outputs = step.attempts[-1].output_parameters
            assert outputs["digest"].value == true_hash, f"reader {item} read a partial or mixed file"
            pids.add(outputs["reader_pid"].value)
        written = []
        for item in range(16):
            step = run_log.steps["writers"].branches[f"writers.{item}"].steps[f"writers.{item}.write"]
            assert step.status == "SUCCESS", step.message
            (put,) = [e for e in step.data_catalog if e.name == "data/out.bin"]
            own = step.attempts[-1].output_parameters["written"].value
            assert put.stage == "put" and put.data_hash == own, f"writer {item} recorded another branch's bytes"
            written.append(own)
            pids.add(step.attempts[-1].output_parameters["writer_pid"].value)
        assert len(set(written)) == 16
        # The catalog keeps one item per name: one whole file of one writer, never a mix.
        assert hashlib.sha256((catalog / "data" / "out.bin").read_bytes()).hexdigest() in written
        # Branches that ran at once put one name with different bytes: which one the catalog kept is not
        # decided by the pipeline, so the map fails and says so (docs/composite-steps.md).
        writers = run_log.steps["writers"]
        assert writers.status == "FAIL"
        assert "catalog item 'data/out.bin' was put by parallel branches" in writers.message
        assert not (scratch / "data" / "out.bin").exists(), "a branch wrote into the project's folder"
        assert list(temporary.iterdir()) == [], "a branch's scratch folder was left behind"
    assert os.getpid() not in pids and len(pids) >= 2, "the branches did not run in worker processes"


def _graph(tmp_path: Path, catalog: str) -> Graph:
    from runnable.entrypoints import load_graph

    text = f"dag:\n  start_at: t\n  steps:\n    t: {{type: task, command: m.f, catalog: {catalog}, next: success}}\n"
    return load_graph(str(write(tmp_path / "graph.yaml", text)))


def test_a_branch_folder_links_the_project_but_keeps_what_its_globs_select_its_own(tmp_path):
    project, root = tmp_path / "project", tmp_path / "scratch"
    write(project / "module.py", "X = 1\n")
    write(project / "data" / "input.csv", "a\n")
    write(project / "data" / "out.bin", "from an earlier run\n")
    write(project / "results" / "old.txt", "kept\n")
    graph = _graph(tmp_path, "{get: [data/input.csv], put: ['data/*.bin']}")
    folder = BranchFolder(project, root, catalog_globs(graph, "."))
    assert (root / "module.py").is_symlink() and (root / "results").is_symlink()
    assert (root / "data").is_dir() and not (root / "data").is_symlink()
    assert not (root / "data" / "out.bin").exists(), "a file the put glob selects is the branch's own"
    assert not (root / "data" / "input.csv").exists(), "a get destination is never a link"
    (root / "data" / "out.bin").write_text("mine")
    (root / "scratch.tmp").write_text("left over")
    (root / "module.py").unlink()
    folder.reset()
    assert sorted(p.name for p in root.iterdir()) == ["data", "module.py", "results"]
    assert list((root / "data").iterdir()) == []
    assert (project / "data" / "out.bin").read_text() == "from an earlier run\n", "the project was changed"


@pytest.mark.parametrize("folder", ["/elsewhere", "../outside"])
def test_a_data_folder_outside_the_project_is_left_alone(tmp_path, folder):
    project, root = tmp_path / "project", tmp_path / "scratch"
    write(project / "module.py", "X = 1\n")
    graph = _graph(tmp_path, f"{{put: [x.bin], compute_data_folder: '{folder}'}}")
    BranchFolder(project, root, catalog_globs(graph, "."))
    assert [p.name for p in root.iterdir()] == ["module.py"]
