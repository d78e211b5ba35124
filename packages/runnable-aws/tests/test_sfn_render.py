"""Rendering with ``runnable render``: every node kind, the configuration's settings, bad configurations, and
secrets by reference only. Every rendered definition passes npm ``asl-validator``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from runnable_aws.stepfunctions.plan import KEYS_BUDGET, summary
from sfn_tools import PARITY, REPO, validate

EXAMPLES = [
    ("examples/quickstart/pipeline.py", "."),
    ("examples/composites/pipeline.py", "."),
    ("hello.py", "examples/docs"),
    ("hello.yaml", "examples/docs"),
]
SECRET_VALUE = "canary-9f3b1e-never-render-me"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runnable/db-AbCdEf"

SECRETS = """
dag:
  start_at: train
  steps:
    train: {type: task, command_type: shell, command: 'echo "$DB_PASSWORD" > /dev/null', secrets: [DB_PASSWORD],
            max_attempts: 2, next: evaluate}
    evaluate: {type: stub, next: success}
"""


def _executor(**more: Any) -> dict[str, Any]:
    config = {
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/project:1.0",
        "job_queue": "arn:aws:batch:eu-west-1:123456789012:job-queue/runnable",
        "plans": {"bucket": "my-bucket", "prefix": "runs/plans"},
    }
    return {**config, **more}


def _render(folder: Path, pipeline: str, executor: dict[str, Any], store: str = "chunked-fs") -> tuple[int, str, Path]:
    config = {"pipeline-executor": {"type": "step-functions", "config": executor}, "run-log-store": {"type": store}}
    (folder / "sfn.yaml").write_text(yaml.safe_dump(config))
    out = folder / "out"
    command = [sys.executable, "-m", "runnable", "render", pipeline, "-c", "sfn.yaml", "-o", str(out / "machine.json")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env)
    return done.returncode, done.stdout + done.stderr, out


def _states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state at any depth, by name."""
    found: dict[str, Any] = {}
    for name, state in states.items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_states(branch["States"]))
        if "ItemProcessor" in state:
            found.update(_states(state["ItemProcessor"]["States"]))
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks_parity.py").write_text(PARITY.TASKS)
    for name in ("NESTED", "FAILURES", "BROKEN"):
        (tmp_path / f"{name.lower()}.yaml").write_text(getattr(PARITY, name))
    (tmp_path / "secrets.yaml").write_text(SECRETS)
    return tmp_path


def test_every_example_and_test_pipeline_passes_asl_validator(tmp_path, project):
    rendered = []
    for mode in ("inline", "distributed"):
        for pipeline in ("nested.yaml", "failures.yaml", "broken.yaml"):
            code, output, out = _render(project, pipeline, _executor(map_mode=mode))
            assert code == 0, output
            target = tmp_path / f"{mode}-{pipeline}.json"
            (out / "machine.json").rename(target)
            rendered.append(target)
    for index, (pipeline, cwd) in enumerate(EXAMPLES):
        folder = tmp_path / f"example{index}"
        shutil.copytree(REPO / "examples", folder / "examples")
        code, output, out = _render(folder / cwd, pipeline, _executor())
        assert code == 0, output
        rendered.append(out / "machine.json")
    validate(*rendered)


def test_every_node_kind_becomes_its_state(project):
    code, output, out = _render(project, "nested.yaml", _executor())
    assert code == 0, output
    machine = json.loads((out / "machine.json").read_text())
    states = _states(machine["States"])
    kinds = {name: state["Type"] for name, state in states.items()}
    assert kinds["grid (branches)"] == "Map" and kinds["grid.*.both (branches)"] == "Parallel"
    assert kinds["grid.*.both.climb.rounds (done?)"] == "Choice" and kinds["pick (which?)"] == "Choice"
    assert kinds["success (end)"] == "Succeed" and kinds["fail (end)"] == "Fail"
    # three deep: the loop's task carries both keys (the map's item and the round) into its address
    command = states["grid.*.both.climb.rounds.*.step_up"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert "States.Format('grid.{}.both.climb.rounds.{}.step_up', $.k1, $.k2)" in command
    assert "$$.Execution.Name" in command
    # the map reads its keys from the plan the fan-out left in S3; the conditional picks by the planned key
    plan = states["grid (plan)"]
    assert plan["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert plan["Parameters"]["Key.$"] == "States.Format('runs/plans/{}/grid.json', $$.Execution.Name)"
    assert states["grid (branches)"]["ItemsPath"] == "$.plan.value.keys"
    assert {c["StringEquals"] for c in states["pick (which?)"]["Choices"]} == {"left", "right"}
    # a loop goes round through its fan-out until the plan says done
    assert states["grid.*.both.climb.rounds (round)"]["Next"] == "grid.*.both.climb.rounds"
    batch = [s for s in states.values() if s.get("Resource") == "arn:aws:states:::batch:submitJob.sync"]
    assert all(s["Catch"][0]["ErrorEquals"] == ["States.ALL"] and s["Retry"] for s in batch)


def test_on_failure_is_a_catch_and_failure_paths_reach_fail(project):
    code, output, out = _render(project, "failures.yaml", _executor())
    assert code == 0, output
    states = _states(json.loads((out / "machine.json").read_text())["States"])
    assert states["fan.*.check"]["Catch"][0]["Next"] == "fan.*.patched"
    assert states["split (fan-in)"]["Catch"][0]["Next"] == "recover"
    assert states["flaky"]["Catch"][0]["Next"] == "fail"
    assert states["fail"]["Next"] == "fail (end)" and states["fail (end)"]["Type"] == "Fail"
    # a branch ends in Succeed whatever happened: the fan-in decides, siblings are never cancelled
    assert states["split.bad.fail"]["Catch"][0]["Next"] == "split.bad.(end)"
    assert states["split.bad.(end)"]["Type"] == "Succeed"


def test_distributed_maps_read_their_keys_from_s3_and_carry_the_run_id(project):
    code, output, out = _render(project, "nested.yaml", _executor(map_mode="distributed"))
    assert code == 0, output
    states = _states(json.loads((out / "machine.json").read_text())["States"])
    grid = states["grid (branches)"]
    assert grid["ItemReader"]["Parameters"]["Key.$"] == (
        "States.Format('runs/plans/{}/grid.keys.json', $$.Execution.Name)"
    )
    assert grid["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED" and "ItemsPath" not in grid
    assert grid["ItemSelector"]["run.$"] == "$$.Execution.Name"
    inner = states["grid.*.both.flat.level"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert "'--run-id', $.run" in inner and "$$.Execution.Name" not in inner
    assert "grid (plan)" not in states


def test_a_ten_thousand_item_map_stays_under_the_state_limit():
    """An inline map's state holds keys only (items stay in the run log); past the budget the summary refuses."""
    numbers = {"keys": [str(i) for i in range(10_000)], "done": True}
    assert len(json.dumps(summary(numbers))) < 256 * 1024
    long = {"keys": [f"item-{i:035d}" for i in range(10_000)], "done": True}
    refused = summary(long)
    assert refused["keys"] is None and refused["count"] == 10_000 and "distributed" in refused["message"]
    assert len(json.dumps(refused)) < 1024 and KEYS_BUDGET < 256 * 1024


def test_configuration_reaches_the_job_definitions(project):
    executor = _executor(
        vcpu=2,
        memory_mib=4096,
        job_role_arn="arn:aws:iam::123456789012:role/runnable-job",
        timeout_seconds=3600,
        job_attempts=2,
        tags={"team": "ml"},
        environment={"LOG_LEVEL": "debug"},
        retry={"max_attempts": 5, "interval_seconds": 2},
        secrets={"DB_PASSWORD": SECRET_ARN},
        overrides={"train": {"image": "project:gpu", "gpus": 1, "memory_mib": 16384, "environment": {"X": "1"}}},
        execution_timeout_seconds=7200,
    )
    code, output, out = _render(project, "secrets.yaml", executor)
    assert code == 0, output
    machine = json.loads((out / "machine.json").read_text())
    definitions = {
        d["jobDefinitionName"]: d for d in json.loads((out / "secrets-batch-job-definitions.json").read_text())
    }
    assert set(definitions) == {"secrets", "secrets-train"}
    base, train = definitions["secrets"], definitions["secrets-train"]
    assert base["containerProperties"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "4096"},
    ]
    assert {"type": "GPU", "value": "1"} in train["containerProperties"]["resourceRequirements"]
    assert train["containerProperties"]["image"] == "project:gpu"
    assert {"name": "X", "value": "1"} in train["containerProperties"]["environment"]
    assert {"name": "LOG_LEVEL", "value": "debug"} in train["containerProperties"]["environment"]
    assert base["containerProperties"]["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}]
    assert base["retryStrategy"]["attempts"] == 2 and base["timeout"] == {"attemptDurationSeconds": 3600}
    assert base["tags"] == {"team": "ml"} and base["containerProperties"]["jobRoleArn"].endswith("runnable-job")
    states = machine["States"]
    assert states["train"]["Parameters"]["JobDefinition"] == "secrets-train"
    assert states["evaluate"]["Parameters"]["JobDefinition"] == "secrets"
    assert states["train"]["Retry"][0]["MaxAttempts"] == 5 and machine["TimeoutSeconds"] == 7200


def test_secret_values_never_reach_the_rendered_files(project, monkeypatch):
    """Canary: the value is in the environment at render time; the files hold only the ARN."""
    executor = _executor(secrets={"DB_PASSWORD": SECRET_ARN})
    code, output, out = _render(project, "secrets.yaml", executor)
    assert code == 0, output
    with monkeypatch.context() as patch:
        patch.setenv("DB_PASSWORD", SECRET_VALUE)
        done = subprocess.run(
            [sys.executable, "-m", "runnable", "render", "secrets.yaml", "-c", "sfn.yaml", "-o", "canary/m.json"],
            cwd=project,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr
    texts = [p.read_text() for p in (project / "canary").iterdir()] + [done.stdout, done.stderr]
    assert texts and all(SECRET_VALUE not in text for text in texts)
    assert any(SECRET_ARN in text for text in texts)


@pytest.mark.parametrize(
    ("pipeline", "executor", "store", "expected"),
    [
        ("secrets.yaml", _executor(), "chunked-fs", "needs secret 'DB_PASSWORD'"),
        ("secrets.yaml", _executor(secrets={"DB_PASSWORD": "hunter2"}), "chunked-fs", "never the value itself"),
        ("secrets.yaml", _executor(overrides={"tarin": {"vcpu": 4}}), "chunked-fs", "overrides name step 'tarin'"),
        ("nested.yaml", {**_executor(), "plans": None}, "chunked-fs", "add plans: {bucket: BUCKET}"),
        ("nested.yaml", _executor(map_mode="fast"), "chunked-fs", "map_mode"),
    ],
)
def test_bad_configuration_is_one_clear_error(project, pipeline, executor, store, expected):
    code, output, _ = _render(project, pipeline, executor, store)
    assert code != 0
    assert expected in " ".join(output.split()), output
    assert "Traceback" not in output


def test_the_picture_draws_every_state_and_edge(project):
    code, output, out = _render(project, "failures.yaml", _executor())
    assert code == 0, output
    machine = json.loads((out / "machine.json").read_text())
    picture = (out / "failures-sfn.mmd").read_text()
    states = _states(machine["States"])
    assert picture.startswith("flowchart TD\n")
    for name in states:
        assert f'"{name}' in picture, name
    catches = sum(len(s.get("Catch", [])) for s in states.values())
    assert picture.count("-.->|catch|") == catches
    assert picture.count("subgraph ") == sum(s["Type"] in ("Map", "Parallel") for s in states.values())


def test_branches_run_one_at_a_time_when_the_store_cannot_take_concurrent_writers(project):
    code, output, out = _render(project, "failures.yaml", _executor(max_concurrency=8), store="file-system")
    assert code == 0, output
    validate(out / "machine.json")
    states = _states(json.loads((out / "machine.json").read_text())["States"])
    assert states["split"]["Next"] == "split (good)"
    assert states["split (good)"]["Next"] == "split (bad)" and len(states["split (good)"]["Branches"]) == 1
    assert states["split (good)"]["Catch"][0]["Next"] == "split (bad)"
    assert states["split (bad)"]["Next"] == "split (fan-in)"
    assert states["fan (branches)"]["MaxConcurrency"] == 1
    code, output, out = _render(project, "failures.yaml", _executor(max_concurrency=8))
    states = _states(json.loads((out / "machine.json").read_text())["States"])
    assert states["split (branches)"]["Type"] == "Parallel" and states["fan (branches)"]["MaxConcurrency"] == 8
