"""Parallel branches and the catalog: readers never see a partial item, every hash is of the bytes read.

Issue 14.2, the catalog's side: map items under ``enable_parallel`` (forked workers) that ``get`` one large
item at once each record the hash of exactly the bytes they got, because ``get`` writes beside the
destination and renames (the per-branch data folder, so branches *putting* one name cannot clash, is the
engine's part). ``put_clashes`` is how a clash of two branches putting one name is detected.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from core_helpers import write
from runnable.models.run_log import DataCatalog, RunLog
from runnable.services.catalog import put_clashes

PIPELINE = """
import hashlib
import os
from pathlib import Path

from runnable import Catalog, Map, Pipeline, PythonTask

SIZE = 32 * 1024 * 1024


def make() -> list:
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)
    with open("big.bin", "wb") as out:
        for index in range(SIZE // len(block)):
            out.write(index.to_bytes(4, "big") + block[4:])
    return list(range(8))


def read(item: int) -> tuple:
    return hashlib.sha256(Path("big.bin").read_bytes()).hexdigest(), os.getpid()


def main():
    pipeline = Pipeline(steps=[
        PythonTask(name="make", function=make, returns=["items"], catalog=Catalog(put=["big.bin"])),
        Map(name="readers", iterate_on="items", iterate_as="item",
            branch=Pipeline(steps=[
                PythonTask(name="read", function=read, returns=["digests", "pids"], catalog=Catalog(get=["big.bin"]))
            ])),
    ])
    pipeline.execute()
    return pipeline
"""

CONFIG = """
pipeline-executor: {type: local, config: {enable_parallel: true, min_parallel_seconds: 0}}
run-log-store: {type: chunked-fs}
"""


def test_eight_forked_readers_of_one_32_mib_item_each_record_its_true_hash(scratch):
    write(scratch / "readers.py", PIPELINE)
    write(scratch / "parallel.yaml", CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    pids: set[int] = set()
    for attempt in range(3):
        run_id = f"readers-{attempt}"
        done = subprocess.run(
            [sys.executable, "-m", "runnable", "execute", "readers.py", "-c", "parallel.yaml", "--run-id", run_id],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        log = RunLog.model_validate(json.loads((scratch / ".run_log_store" / run_id / "RunLog.json").read_text()))
        true_hash = hashlib.sha256((scratch / ".catalog" / run_id / "big.bin").read_bytes()).hexdigest()
        (made,) = [e for e in log.steps["make"].data_catalog if e.name == "big.bin"]
        assert made.data_hash == true_hash
        for item in range(8):
            step = log.steps["readers"].branches[f"readers.{item}"].steps[f"readers.{item}.read"]
            (got,) = [e for e in step.data_catalog if e.name == "big.bin"]
            assert got.stage == "get" and got.data_hash == true_hash, f"item {item} recorded another hash"
        assert log.parameters["digests"].value == [true_hash] * 8, "a task read a partial or mixed file"
        pids.update(log.parameters["pids"].value)
        assert not list(scratch.glob(".big.bin.*.partial")), "a temporary file of get was left behind"
    assert len(pids) >= 2, "the readers did not run in worker processes"


def _put(name: str, digest: str) -> DataCatalog:
    return DataCatalog(name=name, data_hash=digest, stage="put")


def test_put_clashes_names_branches_that_put_one_name_with_different_bytes():
    branches = {
        "fan.0": [_put("out.bin", "aa"), _put("shared.txt", "ss"), DataCatalog(name="in.csv", stage="get")],
        "fan.1": [_put("out.bin", "bb"), _put("shared.txt", "ss")],
        "fan.2": [_put("out.bin", "cc"), _put("own-2.bin", "22")],
        "fan.3": [DataCatalog(name="in.csv", data_hash="zz", stage="get")],
    }
    assert put_clashes(branches) == [
        "catalog item 'out.bin' was put by parallel branches fan.0, fan.1, fan.2 with different bytes"
    ]
    assert put_clashes({"fan.0": [_put("a", "1")], "fan.1": [_put("b", "1")]}) == []
