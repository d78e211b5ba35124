"""deploy() against moto's Step Functions and Batch: create, deploy again (nothing changes), change (a new
revision and an updated definition), start and describe an execution. moto registers job definitions and
records executions; it runs no containers, so what an execution does is tested in test_sfn_executed.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aws_server import Aws
from runnable.errors import ConfigurationError
from runnable_aws.stepfunctions import deploy

PIPELINE = """
dag:
  start_at: hello
  steps:
    hello: {type: task, command_type: shell, command: echo hello, next: fan}
    fan:
      type: map
      iterate_on: items
      iterate_as: item
      next: success
      branch:
        start_at: echo
        steps:
          echo: {type: stub, next: success}
"""
ROLE = "arn:aws:iam::123456789012:role/runnable-sfn"


def _project(tmp_path: Path, **more: object) -> tuple[Path, Path]:
    executor = {
        "image": "project:1.0",
        "job_queue": "runnable",
        "plans": {"bucket": "runnable-test"},
        "state_machine_role_arn": ROLE,
        "tags": {"team": "ml"},
        "overrides": {"hello": {"memory_mib": 512}},
        **more,
    }
    config = {
        "pipeline-executor": {"type": "step-functions", "config": executor},
        "run-log-store": {"type": "chunked-fs"},
    }
    (tmp_path / "sfn.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "greet.yaml").write_text(PIPELINE)
    return tmp_path / "greet.yaml", tmp_path / "sfn.yaml"


def test_create_update_idempotently_start_and_describe(tmp_path: Path, aws: Aws) -> None:
    pipeline, config = _project(tmp_path)
    first = deploy(pipeline, config, endpoint_url=aws.endpoint)
    assert first.created and not first.updated
    assert sorted(first.registered) == ["greet", "greet-hello"]
    sfn, batch = aws.client("stepfunctions"), aws.client("batch")
    described = sfn.describe_state_machine(stateMachineArn=first.state_machine_arn)
    assert described["name"] == "greet" and described["roleArn"] == ROLE
    machine = json.loads(described["definition"])
    assert machine["States"]["hello"]["Parameters"]["JobDefinition"] == "greet-hello"
    hello = batch.describe_job_definitions(jobDefinitionName="greet-hello", status="ACTIVE")["jobDefinitions"]
    assert [d["revision"] for d in hello] == [1]
    assert {"type": "MEMORY", "value": "512"} in hello[0]["containerProperties"]["resourceRequirements"]
    tags = sfn.list_tags_for_resource(resourceArn=first.state_machine_arn)["tags"]
    assert {"key": "team", "value": "ml"} in tags

    again = deploy(pipeline, config, endpoint_url=aws.endpoint)
    assert (again.created, again.updated, again.registered) == (False, False, [])
    assert again.state_machine_arn == first.state_machine_arn and again.job_definition_arns == first.job_definition_arns

    _project(tmp_path, overrides={"hello": {"memory_mib": 1024}}, retry={"max_attempts": 7})
    changed = deploy(pipeline, config, endpoint_url=aws.endpoint, start=True, execution_name="run-2026-11-29")
    assert (changed.created, changed.updated, changed.registered) == (False, True, ["greet-hello"])
    hello = batch.describe_job_definitions(jobDefinitionName="greet-hello", status="ACTIVE")["jobDefinitions"]
    assert sorted(d["revision"] for d in hello) == [1, 2]
    machine = json.loads(sfn.describe_state_machine(stateMachineArn=first.state_machine_arn)["definition"])
    assert machine["States"]["hello"]["Retry"][0]["MaxAttempts"] == 7
    execution = sfn.describe_execution(executionArn=changed.execution_arn)
    assert execution["name"] == "run-2026-11-29"  # the run id every container is given ($$.Execution.Name)
    assert execution["stateMachineArn"] == first.state_machine_arn
    assert execution["status"] in ("RUNNING", "SUCCEEDED", "FAILED")


def test_every_rendered_job_definition_is_accepted_by_batch(tmp_path: Path, aws: Aws) -> None:
    pipeline, config = _project(
        tmp_path,
        job_role_arn="arn:aws:iam::123456789012:role/job",
        timeout_seconds=600,
        gpus=1,
        environment={"A": "b"},
        secrets={"TOKEN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"},
    )
    (tmp_path / "greet.yaml").write_text(PIPELINE.replace("command: echo hello,", "command: echo, secrets: [TOKEN],"))
    deployment = deploy(pipeline, config, endpoint_url=aws.endpoint)
    found = aws.client("batch").describe_job_definitions(jobDefinitions=deployment.job_definition_arns)
    definitions = {d["jobDefinitionName"]: d for d in found["jobDefinitions"]}
    assert set(definitions) == {"greet", "greet-hello"}
    container = definitions["greet"]["containerProperties"]
    assert container["secrets"] == [
        {"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:token-AbCdEf"}
    ]
    assert definitions["greet"]["timeout"] == {"attemptDurationSeconds": 600}
    rule = definitions["greet"]["retryStrategy"]["evaluateOnExit"][0]
    assert (rule["onExitCode"], rule["action"].upper()) == ("3", "RETRY")  # Batch echoes actions lowered


def test_deploy_without_a_role_says_which_setting_is_missing(tmp_path: Path, aws: Aws) -> None:
    pipeline, config = _project(tmp_path, state_machine_role_arn=None)
    with pytest.raises(ConfigurationError, match="state_machine_role_arn"):
        deploy(pipeline, config, endpoint_url=aws.endpoint)


def _cli(tmp_path: Path, aws: Aws, *args: str):  # -> CompletedProcess
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    env["AWS_ENDPOINT_URL"] = aws.endpoint  # boto3's standard setting: every client goes to the moto server
    argv = [sys.executable, "-m", "runnable", "deploy", "greet.yaml", "-c", "sfn.yaml", *args]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_runnable_deploy_creates_then_changes_nothing_then_starts_a_run_named_by_the_run_id(
    tmp_path: Path, aws: Aws
) -> None:
    _project(tmp_path)
    first = _cli(tmp_path, aws)
    assert first.returncode == 0, first.stderr
    assert "state machine created: arn:aws:states:" in first.stdout
    assert "job definition greet-hello: new revision" in first.stdout

    again = _cli(tmp_path, aws, "--start", "--run-id", "cli-run-1")
    assert again.returncode == 0, again.stderr
    assert "state machine unchanged" in again.stdout and "greet-hello: unchanged" in again.stdout
    assert "follow the run: runnable runs show cli-run-1 -c sfn.yaml" in again.stdout
    sfn = aws.client("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    (execution,) = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert execution["name"] == "cli-run-1"  # every container's --run-id is $$.Execution.Name
    definitions = aws.client("batch").describe_job_definitions(jobDefinitionName="greet-hello")["jobDefinitions"]
    assert [d["revision"] for d in definitions] == [1]


def test_runnable_deploy_says_what_is_missing_or_which_executor_cannot_deploy(tmp_path: Path, aws: Aws) -> None:
    _project(tmp_path, state_machine_role_arn=None)
    done = _cli(tmp_path, aws)
    assert done.returncode == 2 and "state_machine_role_arn" in done.stderr
    assert aws.client("stepfunctions").list_state_machines()["stateMachines"] == []
    (tmp_path / "sfn.yaml").write_text("pipeline-executor: {type: local}\n")
    done = _cli(tmp_path, aws)
    assert done.returncode == 2 and "runs pipelines here, it does not deploy them" in done.stderr
