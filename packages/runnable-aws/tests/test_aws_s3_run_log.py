"""The S3 run log store against a real S3 server: the conformance suite (with concurrent writers) and its layout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_server import Aws
from runnable.errors import RunLogNotFoundError, RunnableError
from runnable.models.run_log import RunLog, StepLog
from runnable.testing import RunLogStoreSuite, rebuilt
from runnable_aws.s3_run_log import S3RunLogStore


class TestS3RunLogStore(RunLogStoreSuite):
    @pytest.fixture
    def run_log_store(self, aws: Aws) -> S3RunLogStore:
        return S3RunLogStore(**aws.settings(prefix="suite/runs"))


def _keys(aws: Aws, prefix: str) -> list[str]:
    answer = aws.client("s3").list_objects_v2(Bucket=aws.bucket, Prefix=prefix)
    return [item["Key"] for item in answer.get("Contents", [])]


def test_each_increment_is_one_new_object_and_finishing_compacts_them(aws: Aws) -> None:
    store = S3RunLogStore(**aws.settings())
    run = RunLog(run_id="r1", status="PROCESSING")
    store.create_run_log(run)
    step = StepLog(name="a", internal_name="a", status="PROCESSING")
    store.put_step_log("r1", step)
    store.put_step_log("r1", step.model_copy(update={"status": "SUCCESS"}))
    increments = _keys(aws, "run-logs/runs/r1/log/")
    assert len(increments) == 2 and all("-step-a.json" in key for key in increments)
    header = aws.client("s3").get_object(Bucket=aws.bucket, Key="run-logs/runs/r1/RunLog.json")["Body"].read()
    assert RunLog.model_validate_json(header).steps == {}, "a step never rewrites the run's record"

    run.put_step(step.model_copy(update={"status": "SUCCESS"}))
    run.status = "SUCCESS"
    store.finish_run_log(run)
    assert _keys(aws, "run-logs/runs/r1/log/") == []
    assert store.get_run_log("r1").steps["a"].status == "SUCCESS"


def test_creating_a_run_id_is_a_conditional_write(aws: Aws) -> None:
    """Two containers creating the same run id: S3 itself lets one win (If-None-Match: *)."""
    first, second = S3RunLogStore(**aws.settings()), S3RunLogStore(**aws.settings())
    first.create_run_log(RunLog(run_id="same", tag="first"))
    with pytest.raises(RunnableError, match="a run with id 'same' already exists in s3://runnable-test/run-logs"):
        second.create_run_log(RunLog(run_id="same", tag="second"))
    assert second.get_run_log("same").tag == "first"
    assert second.list_run_ids() == ["same"]


def test_a_crashed_run_reads_back_with_every_acknowledged_increment(aws: Aws) -> None:
    """The writer dies without finishing: another process still reads the run, as far as it went."""
    store = S3RunLogStore(**aws.settings())
    store.create_run_log(RunLog(run_id="crashed", status="PROCESSING"))
    store.put_step_log("crashed", StepLog(name="a", internal_name="a", status="SUCCESS"))
    store.put_step_log("crashed", StepLog(name="b", internal_name="b", status="PROCESSING"))
    # a torn upload cannot exist on S3; an unrelated object in the folder is ignored
    aws.client("s3").put_object(Bucket=aws.bucket, Key="run-logs/runs/crashed/notes.txt", Body=b"x")
    reader = rebuilt(store)
    run = reader.get_run_log("crashed")
    assert run.status == "PROCESSING" and {k: s.status for k, s in run.steps.items()} == {
        "a": "SUCCESS",
        "b": "PROCESSING",
    }


def test_a_missing_run_names_the_run_and_the_place(aws: Aws) -> None:
    store = S3RunLogStore(**aws.settings(prefix="team/runs"))
    with pytest.raises(RunLogNotFoundError, match="'nope' in s3://runnable-test/team/runs/runs"):
        store.get_run_log("nope")


def test_runs_show_and_list_read_a_run_that_never_finished(aws: Aws, tmp_path: Path) -> None:
    """A run whose process died mid-way, read by the CLI in a fresh process from nothing but the config file."""
    store = S3RunLogStore(**aws.settings(prefix="team"))
    store.create_run_log(RunLog(run_id="died", status="PROCESSING", pipeline_name="nightly"))
    store.put_step_log("died", StepLog(name="extract", internal_name="extract", status="SUCCESS"))
    store.put_step_log("died", StepLog(name="load", internal_name="load", status="PROCESSING"))
    (tmp_path / "config.yaml").write_text(
        f"run-log-store: {{type: s3, config: {{bucket: {aws.bucket}, prefix: team, endpoint_url: '{aws.endpoint}'}}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}

    def runnable(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "runnable", *args, "-c", "config.yaml"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = RunLog.model_validate_json(runnable("runs", "show", "died", "--json"))
    assert shown.status == "PROCESSING" and {k: s.status for k, s in shown.steps.items()} == {
        "extract": "SUCCESS",
        "load": "PROCESSING",
    }
    listed = runnable("runs", "list")
    assert "died" in listed and "PROCESSING" in listed and "nightly" in listed
