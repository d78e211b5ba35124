"""A pipeline with a parallel map, run by the CLI with the S3 catalog and run log store, read back by the CLI.

Both executors that run branches at once are used. Each command is a fresh process, as a user (or a container)
would run it. The configuration names no endpoint: it comes from ``AWS_ENDPOINT_URL``, the standard AWS
variable, like the credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_server import Aws
from runnable.models.run_log import RunLog

ITEMS = 4  # each emulated step is a fresh interpreter building its boto3 clients: seconds apiece

PIPELINE = """
import os
from pathlib import Path

from runnable import Catalog, Map, Pipeline, PythonTask


def prepare(n: int) -> list:
    Path("data").mkdir(exist_ok=True)
    Path("data/weights.txt").write_text("3\\n")
    return list(range(n))


def work(item: int) -> tuple:
    weight = int(Path("data/weights.txt").read_text())
    print(f"item {item} in process {os.getpid()}")
    return item * weight, os.getpid()


def report(scores: list) -> int:
    Path("out").mkdir(exist_ok=True)
    Path("out/report.txt").write_text(",".join(map(str, scores)))
    return sum(scores)


def main():
    pipeline = Pipeline(steps=[
        PythonTask(name="prepare", function=prepare, returns=["items"], catalog=Catalog(put=["data/*"])),
        Map(name="fan", iterate_on="items", iterate_as="item",
            branch=Pipeline(steps=[
                PythonTask(name="work", function=work, returns=["scores", "pids"], catalog=Catalog(get=["data/*"])),
            ])),
        PythonTask(name="report", function=report, returns=["total"], catalog=Catalog(put=["out/report.txt"])),
    ])
    pipeline.execute()
    return pipeline
"""

CONFIG = """
pipeline-executor: {type: EXECUTOR, config: {enable_parallel: true}}
run-log-store: {type: s3, config: {bucket: runnable-test, prefix: project/runs}}
catalog: {type: s3, config: {bucket: runnable-test, prefix: project/catalog}}
"""


def _runnable(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runnable", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("executor", ["local", "emulator"])
def test_a_parallel_map_runs_on_s3_and_runs_show_reads_it_back(aws: Aws, tmp_path: Path, executor: str) -> None:
    """``local`` runs the map's items in forked workers; ``emulator`` runs every step in a fresh process through
    the container commands (execute-step, fan-out, fan-in), sharing nothing but the S3 store and catalog."""
    (tmp_path / "fan.py").write_text(PIPELINE)
    config = CONFIG.replace("EXECUTOR", executor)
    if executor == "local":  # the items are cheap: without this the local executor would run them all here
        config = config.replace("enable_parallel: true", "enable_parallel: true, min_parallel_seconds: 0")
    (tmp_path / "s3.yaml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNNABLE_", "AWS_ENDPOINT_URL"))}
    env.update(AWS_ENDPOINT_URL=aws.endpoint, RUNNABLE_PRM_n=str(ITEMS))

    ran = _runnable("execute", "fan.py", "-c", "s3.yaml", "--run-id", "fan-on-s3", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not (tmp_path / ".run_log_store").exists() and not (tmp_path / ".catalog").exists()

    shown = _runnable("runs", "show", "fan-on-s3", "--json", "-c", "s3.yaml", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    log = RunLog.model_validate_json(shown.stdout)
    assert log.status == "SUCCESS" and list(log.steps) == ["prepare", "fan", "report", "success"]
    branches = log.steps["fan"].branches
    assert sorted(branches) == sorted(f"fan.{i}" for i in range(ITEMS))
    assert all(b.steps[f"{name}.work"].status == "SUCCESS" for name, b in branches.items())
    assert log.parameters["scores"].value == [3 * i for i in range(ITEMS)]
    assert log.parameters["total"].value == 3 * sum(range(ITEMS))
    pids = set(log.parameters["pids"].value)
    assert len(pids) >= 2, "the map's items ran in worker processes"
    for name, branch in branches.items():
        (got,) = [e for e in branch.steps[f"{name}.work"].data_catalog if e.name == "data/weights.txt"]
        assert got.stage == "get" and got.data_hash == hashlib.sha256(b"3\n").hexdigest()

    # What the run log says the catalog holds is what the bucket holds, under bucket/prefix/run id.
    s3 = aws.client("s3")
    report = s3.get_object(Bucket=aws.bucket, Key="project/catalog/fan-on-s3/out/report.txt")["Body"].read()
    assert report == ",".join(str(3 * i) for i in range(ITEMS)).encode()
    (put,) = [e for e in log.steps["report"].data_catalog if e.name == "out/report.txt"]
    assert put.data_hash == hashlib.sha256(report).hexdigest()
    assert put.catalog_handler_location == "s3://runnable-test/project/catalog"
    increments = s3.list_objects_v2(Bucket=aws.bucket, Prefix="project/runs/runs/fan-on-s3/log/")
    assert increments["KeyCount"] == 0, "the final record holds everything; the increments are gone"

    listed = _runnable("runs", "list", "-c", "s3.yaml", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and "fan-on-s3" in listed.stdout and "SUCCESS" in listed.stdout, listed.stderr
    recorded = json.dumps(log.run_config)
    assert '"type": "s3"' in recorded and "project/runs" in recorded
