"""The rendered state machine, unchanged, executed by a real ASL interpreter (npm aws-local-stepfunctions).

Each Task state is carried out by ``sfn_run.mjs``: a Batch job runs its container command in a fresh process
with the job definition's environment, an S3 ``getObject`` reads the moto server. The containers share only
the S3 run log store and catalog (runnable-aws's own, on moto), as on AWS. The run log must equal a
``local`` run's, with the comparison and the pipelines the emulator executor is held to
(``tests/test_emulator_parity.py``: statuses and attempts per step, final parameters, catalog hashes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_server import Aws
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable_aws.s3_run_log import S3RunLogStore
from sfn_tools import PARITY, REPO, execute, validate

RUNS = "sfn/runs"
PARAMETERS = {"RUNNABLE_PRM_values": "[1, 2, 3]", "RUNNABLE_PRM_name": "world"}


def _config(aws: Aws) -> str:
    executor = {
        "image": "runnable/test:local",
        "job_queue": "runnable-test",
        "plans": {"bucket": aws.bucket},
        # the containers' environment: where AWS is, and the run's initial parameters as the parity tests give them
        "environment": {"AWS_ENDPOINT_URL": aws.endpoint, **PARAMETERS},
        "retry": {"max_attempts": 1, "interval_seconds": 1},
    }
    stores = {
        "run-log-store": {"type": "s3", "config": {"bucket": aws.bucket, "prefix": RUNS}},
        "catalog": {"type": "s3", "config": {"bucket": aws.bucket, "prefix": "sfn/catalog"}},
    }
    return json.dumps({"pipeline-executor": {"type": "step-functions", "config": executor}, **stores})


def _local(folder: Path, pipeline: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")} | PARAMETERS
    command = [sys.executable, "-m", "runnable", "execute", pipeline, "--run-id", "parity"]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    run_log = FileSystemRunLogStore(log_folder=str(folder / ".run_log_store")).get_run_log("parity")
    return done.returncode, PARITY.shape(run_log)


def _step_functions(folder: Path, pipeline: str, aws: Aws, render: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    (folder / "sfn.yaml").write_text(_config(aws))
    out = folder / "out"
    command = [
        sys.executable,
        "-m",
        "runnable",
        "render",
        pipeline,
        "-c",
        "sfn.yaml",
        "-o",
        str(out / "machine.json"),
        *render,
    ]
    rendered = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    (jobs,) = out.glob("*-batch-job-definitions.json")
    validate(out / "machine.json")
    outcome = execute(out / "machine.json", jobs, folder, "parity", aws.endpoint)
    run_log = S3RunLogStore(bucket=aws.bucket, prefix=RUNS, endpoint_url=aws.endpoint).get_run_log("parity")
    return outcome, PARITY.shape(run_log)


def _both(
    tmp_path: Path,
    aws: Aws,
    files: dict[str, str],
    pipeline: str,
    cwd: str = ".",
    render: tuple[str, ...] = (),
    shared_folder: bool = True,
) -> tuple[Any, ...]:
    shapes = []
    for kind in ("local", "sfn"):
        folder = tmp_path / kind
        shutil.copytree(REPO / "examples", folder / "examples")
        for name, text in files.items():
            (folder / cwd / name).write_text(textwrap.dedent(text).lstrip())
        shapes.append(
            _local(folder / cwd, pipeline)
            if kind == "local"
            else _step_functions(folder / cwd, pipeline, aws, list(render))
        )
    (local_code, local), (outcome, emulated) = shapes
    assert emulated["steps"] == local["steps"], outcome
    assert emulated["parameters"] == local["parameters"]
    if shared_folder:
        assert emulated["catalog"] == local["catalog"]
    assert emulated["status"] == local["status"]
    # the execution succeeds exactly when the run did (a failed run ends in the Fail state)
    assert outcome["status"] == ("SUCCEEDED" if local_code == 0 else "FAILED"), outcome
    return local, outcome, emulated


def test_every_node_kind_three_deep(tmp_path, aws):
    """map > parallel > loop (with break_on), a reducer, a conditional, python and shell tasks."""
    local, outcome, _ = _both(
        tmp_path, aws, {"tasks_parity.py": PARITY.TASKS, "nested.yaml": PARITY.NESTED}, "nested.yaml"
    )
    assert local["parameters"]["summary"] == ("json", "left:4:20")
    # the loop's rounds ran one per fan-out, and each map branch ran its own success step
    called = [" ".join(job[1][:5]) for job in outcome["jobs"]]
    assert any("grid.2.both.climb.rounds.1.step_up" in c for c in called)
    assert "grid.2.both.climb.rounds.2.step_up" not in " ".join(called)
    assert any("execute-step nested.yaml grid.1.success" in c for c in called)


def test_retries_on_failure_catch_and_a_failing_branch(tmp_path, aws):
    """max_attempts inside the container, on_failure as Catch, a failing parallel branch that its siblings survive."""
    files = {"tasks_parity.py": PARITY.TASKS, "failures.yaml": PARITY.FAILURES}
    local, outcome, emulated = _both(tmp_path, aws, files, "failures.yaml", shared_folder=False)
    # `put: checked-*.txt` in one folder (local) also picks up the files earlier map branches wrote; each container
    # has a folder of its own and puts only its own file. That is the only difference allowed.
    assert emulated["catalog"] <= local["catalog"]
    extra = local["catalog"] - emulated["catalog"]
    assert all(step.startswith("fan.") and name != f"checked-{step.split('.')[1]}.txt" for step, _, name, _ in extra)
    assert local["steps"]["fan.2.check"][0] == "FAIL" and local["steps"]["fan.2.patched"][0] == "SUCCESS"
    assert local["steps"]["split"][0] == "FAIL" and local["parameters"]["total"] == ("json", 2)
    failed = [job for job in outcome["jobs"] if job[2] != 0]
    assert {job[0] for job in failed} >= {"fan.*.check", "split.bad.boom"}, failed


def test_a_failing_run_fails_the_execution(tmp_path, aws):
    files = {"tasks_parity.py": PARITY.TASKS, "broken.yaml": PARITY.BROKEN}
    local, outcome, _ = _both(tmp_path, aws, files, "broken.yaml")
    assert local["status"] == "FAIL"
    assert outcome["error"] in ("runnable.RunFailed", "ExecutionError") and "run failed" in outcome["cause"]


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("pipeline", "cwd", "render"),
    [
        # main() passes the parameters file to execute(); rendering is told it as a user would be
        ("examples/quickstart/pipeline.py", ".", ("--parameters", "examples/quickstart/parameters.yaml")),
        ("examples/composites/pipeline.py", ".", ()),
        ("hello.py", "examples/docs", ()),
        ("hello.yaml", "examples/docs", ()),
    ],
)
def test_every_example(tmp_path, aws, pipeline, cwd, render):
    local, _, _ = _both(tmp_path, aws, {}, pipeline, cwd=cwd, render=render)
    assert local["status"] == "SUCCESS"
