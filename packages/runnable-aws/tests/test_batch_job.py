"""The ``aws-batch`` job executor against moto's Batch, S3 and Secrets Manager.

``runnable execute-job job.yaml -c batch.yaml`` registers the job definition and submits the job to a moto job
queue. moto runs no containers here, so each test that needs the job's outcome runs the container's command
itself: in a fresh process and folder (the "image"), with exactly the command and environment moto recorded for
the submitted job, plus the definition's secrets resolved from Secrets Manager as Batch would. The container
and the submitter share nothing but the S3 run log store and catalog (on moto). Its run log must end as a
``local`` job run's (statuses, attempts, parameters, metrics, catalog hashes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_server import CREDENTIALS, Aws
from runnable.defaults.file_system_run_log import FileSystemRunLogStore
from runnable.testing.executors import run_shape
from runnable_aws.s3_run_log import S3RunLogStore

CANARY = "batch-canary-7f3a9c21d4e8b6"  # the secret's value: it must show up nowhere but in the task's environment
RUNS, CATALOG = "batch/runs", "batch/catalog"
JOB = """
type: python
command: batch_tasks.train
returns: [rows, greeting, {name: ratio, kind: metric}]
catalog: {put: [out/result.txt]}
secrets: [TOKEN]
"""
TASKS = """
import os
from pathlib import Path


def train(size: int):
    token = os.environ["TOKEN"]
    print("the token is", token)  # runnable masks secret values in a task's output
    Path("out").mkdir(exist_ok=True)
    Path("out/result.txt").write_text("x" * size + str(len(token)))
    return size * 10, os.environ["GREETING"], size / 10
"""
FAILING_JOB = "type: shell\ncommand: echo about to fail; exit 4\n"


def _runnable() -> str:
    beside = Path(sys.executable).parent / "runnable"
    return str(beside) if beside.exists() else "runnable"


def _clean_env(**more: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RUNNABLE_", "TOKEN"))} | more


@pytest.fixture
def queue(aws: Aws) -> str:
    """A moto job queue on an unmanaged compute environment."""
    iam, batch = aws.client("iam"), aws.client("batch")
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    environment = batch.create_compute_environment(
        computeEnvironmentName="runnable", type="UNMANAGED", serviceRole=role
    )
    created = batch.create_job_queue(
        jobQueueName="runnable-test",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment["computeEnvironmentArn"]}],
    )
    return created["jobQueueArn"]


@pytest.fixture
def secret_arn(aws: Aws) -> str:
    return aws.client("secretsmanager").create_secret(Name="batch/token", SecretString=CANARY)["ARN"]


def _executor(aws: Aws, queue: str, secret_arn: str, **more: Any) -> dict[str, Any]:
    return {
        "image": "runnable/test:local",
        "job_queue": queue,
        "endpoint_url": aws.endpoint,
        "region": "us-east-1",
        "environment": {"GREETING": "hello from the definition"},
        "secrets": {"TOKEN": secret_arn},
        "tags": {"team": "ml"},
        **more,
    }


def _project(folder: Path, aws: Aws, executor: dict[str, Any], job: str = JOB, **sections: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "job-executor": {"type": "aws-batch", "config": executor},
        "run-log-store": {"type": "s3", "config": aws.settings(prefix=RUNS)},
        "catalog": {"type": "s3", "config": aws.settings(prefix=CATALOG)},
        **sections,
    }
    (folder / "batch.yaml").write_text(yaml.safe_dump(config))
    (folder / "job.yaml").write_text(job)
    (folder / "batch_tasks.py").write_text(textwrap.dedent(TASKS))
    return folder


def _submit(folder: Path, run_id: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [_runnable(), "execute-job", "job.yaml", "-c", "batch.yaml", "--run-id", run_id]
    return subprocess.run(command, cwd=folder, env=_clean_env(**env), capture_output=True, text=True, timeout=120)


def _job_id(output: str) -> str:
    found = re.search(r"submitted AWS Batch job (\S+)", output)
    assert found, output
    return found.group(1)


def _container(aws: Aws, job_id: str, project: Path, image: Path) -> subprocess.CompletedProcess[str]:
    """Run the submitted job's container as Batch would: the job's command and environment as moto recorded them,
    the definition's secrets resolved from Secrets Manager, the job role's credentials, in a folder of its own."""
    batch = aws.client("batch")
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    (definition,) = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"]
    secrets = aws.client("secretsmanager")
    resolved = {
        s["name"]: secrets.get_secret_value(SecretId=s["valueFrom"])["SecretString"]
        for s in definition["containerProperties"].get("secrets", [])
    }
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        **CREDENTIALS,  # the job role's credentials
        **{e["name"]: e["value"] for e in job["container"]["environment"]},
        **resolved,
    }
    if not image.exists():
        shutil.copytree(project, image, ignore=shutil.ignore_patterns("out", "__pycache__"))
    command = job["container"]["command"]
    assert command[0] == "runnable"
    return subprocess.run([_runnable(), *command[1:]], cwd=image, env=env, capture_output=True, text=True, timeout=120)


def _local(folder: Path, run_id: str, job: str = JOB) -> tuple[int, dict[str, Any]]:
    """The same job with the `local` job executor and the default stores."""
    folder.mkdir(parents=True)
    (folder / "job.yaml").write_text(job)
    (folder / "batch_tasks.py").write_text(textwrap.dedent(TASKS))
    env = _clean_env(RUNNABLE_PRM_size="7", TOKEN=CANARY, GREETING="hello from the definition")
    command = [_runnable(), "execute-job", "job.yaml", "--run-id", run_id]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    run_log = FileSystemRunLogStore(log_folder=str(folder / ".run_log_store")).get_run_log(run_id)
    return done.returncode, run_log


def _stored(aws: Aws, run_id: str) -> Any:
    return S3RunLogStore(bucket=aws.bucket, prefix=RUNS, endpoint_url=aws.endpoint).get_run_log(run_id)


def _everything_in_s3(aws: Aws) -> str:
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws.bucket).get("Contents", [])]
    bodies = [s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read().decode("utf-8", "replace") for k in keys]
    return "\n".join(keys + bodies)


def test_submitted_job_runs_in_its_container_as_a_local_job_does(tmp_path: Path, aws: Aws, queue, secret_arn):
    project = _project(tmp_path / "project", aws, _executor(aws, queue, secret_arn))
    submitted = _submit(project, "batch-run", RUNNABLE_PRM_size="7")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = _job_id(submitted.stdout)
    assert f"aws batch describe-jobs --jobs {job_id} --region us-east-1" in submitted.stdout
    assert "runnable runs show batch-run -c batch.yaml" in submitted.stdout

    # the run exists before any container looks for it, with the submitter's parameters and configuration
    created = _stored(aws, "batch-run")
    assert created.status == "PROCESSING" and created.job is None
    assert created.initial_parameters["size"].value == 7
    assert created.run_config["job-executor"]["type"] == "aws-batch"

    # what Batch was asked to run
    batch = aws.client("batch")
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["jobQueue"] == queue and job["jobName"] == "job-batch-run"
    assert job["container"]["command"] == [
        "runnable", "execute-job", "job.yaml", "--run-id", "batch-run", "--config", "batch.yaml"
    ]  # fmt: skip
    assert {"name": "RUNNABLE_AWS_BATCH_RUN", "value": "batch-run"} in job["container"]["environment"]
    assert job["tags"] == {"team": "ml", "runnable-run-id": "batch-run"}

    container = _container(aws, job_id, project, tmp_path / "image")
    assert container.returncode == 0, container.stdout + container.stderr
    assert "the token is ********" in container.stdout  # the task had the secret, and printed it masked
    ended = _stored(aws, "batch-run")
    local_code, local = _local(tmp_path / "local", "local-run")
    assert local_code == 0 and local.status == "SUCCESS"
    assert run_shape(ended) == run_shape(local)
    assert ended.job.attempts[-1].user_defined_metrics == local.job.attempts[-1].user_defined_metrics == {"ratio": 0.7}
    assert ended.parameters["greeting"].value == "hello from the definition"  # the definition's environment
    assert ended.run_config["job-executor"]["type"] == "aws-batch"  # the submitter's record, joined
    shown = subprocess.run(
        [_runnable(), "runs", "show", "batch-run", "-c", "batch.yaml"],
        cwd=project, env=_clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0 and "SUCCESS" in shown.stdout, shown.stdout + shown.stderr  # "how to follow it"

    # Batch starting the container again after the run ended runs nothing and exits as the run ended
    again = _container(aws, job_id, project, tmp_path / "image")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _stored(aws, "batch-run").model_dump(mode="json") == ended.model_dump(mode="json")

    # the secrets canary: the value reached the task (its length is in the file), and nothing else
    definition = batch.describe_job_definitions(jobDefinitionName="job")["jobDefinitions"]
    texts = [json.dumps(definition), json.dumps(job, default=str), _everything_in_s3(aws)]
    texts += [submitted.stdout, submitted.stderr, container.stdout, container.stderr]
    assert all(CANARY not in text for text in texts)
    assert secret_arn in json.dumps(definition)  # by reference
    s3 = aws.client("s3")
    (entry,) = [e for e in ended.job.data_catalog if e.name == "out/result.txt"]
    key = f"{CATALOG}/{entry.catalog_relative_path}"
    assert s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read() == b"x" * 7 + str(len(CANARY)).encode()


def test_a_failing_job_fails_its_container_as_it_fails_locally(tmp_path: Path, aws: Aws, queue, secret_arn):
    executor = _executor(aws, queue, secret_arn)
    project = _project(tmp_path / "project", aws, executor, job=FAILING_JOB)
    submitted = _submit(project, "batch-fail", RUNNABLE_PRM_size="7")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    container = _container(aws, _job_id(submitted.stdout), project, tmp_path / "image")
    assert container.returncode == 1, container.stdout + container.stderr  # the Batch job fails; never retried
    local_code, local = _local(tmp_path / "local", "local-fail", job=FAILING_JOB)
    ended = _stored(aws, "batch-fail")
    assert (local_code, run_shape(ended)) == (1, run_shape(local))
    assert ended.job.message == local.job.message


def test_resubmitting_an_unchanged_job_registers_no_new_revision(tmp_path: Path, aws: Aws, queue, secret_arn):
    project = _project(tmp_path / "project", aws, _executor(aws, queue, secret_arn))
    first = _submit(project, "first")
    assert first.returncode == 0 and "(new revision)" in first.stdout, first.stdout + first.stderr
    second = _submit(project, "second")
    assert second.returncode == 0 and "(unchanged)" in second.stdout, second.stdout + second.stderr
    batch = aws.client("batch")
    revisions = batch.describe_job_definitions(jobDefinitionName="job", status="ACTIVE")["jobDefinitions"]
    assert [d["revision"] for d in revisions] == [1]
    jobs = batch.describe_jobs(jobs=[_job_id(first.stdout), _job_id(second.stdout)])["jobs"]
    assert {j["jobDefinition"] for j in jobs} == {revisions[0]["jobDefinitionArn"]}

    _project(project, aws, _executor(aws, queue, secret_arn, vcpu=2, memory_mib=4096, timeout_seconds=600))
    third = _submit(project, "third")
    assert third.returncode == 0 and "job:2 (new revision)" in third.stdout, third.stdout + third.stderr
    latest = batch.describe_job_definitions(jobDefinitionName="job", status="ACTIVE")["jobDefinitions"]
    assert sorted(d["revision"] for d in latest) == [1, 2]


def test_render_writes_what_batch_accepts_without_calling_aws(tmp_path: Path, aws: Aws, queue, secret_arn):
    executor = _executor(aws, queue, secret_arn, job_role_arn="arn:aws:iam::123456789012:role/job", gpus=1)
    project = _project(tmp_path / "project", aws, executor)
    command = [sys.executable, "-m", "runnable_aws.batch_job", "job.yaml", "-c", "batch.yaml", "-o", "out"]
    command += ["--run-id", "rendered"]
    done = subprocess.run(command, cwd=project, env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    definition = json.loads((project / "out" / "job-batch-job-definition.json").read_text())
    submission = json.loads((project / "out" / "job-batch-submission.json").read_text())
    assert _everything_in_s3(aws) == "", "rendering created a run"
    batch = aws.client("batch")
    assert batch.describe_job_definitions(jobDefinitionName="job")["jobDefinitions"] == []
    assert CANARY not in json.dumps([definition, submission])

    registered = batch.register_job_definition(**definition)
    assert registered["revision"] == 1
    (described,) = batch.describe_job_definitions(jobDefinitions=[registered["jobDefinitionArn"]])["jobDefinitions"]
    assert described["containerProperties"]["secrets"] == [{"name": "TOKEN", "valueFrom": secret_arn}]
    assert {"type": "GPU", "value": "1"} in described["containerProperties"]["resourceRequirements"]
    rule = described["retryStrategy"]["evaluateOnExit"][0]
    assert (rule["onExitCode"], rule["action"].upper()) == ("3", "RETRY")
    accepted = batch.submit_job(**submission)  # by name: Batch takes the latest active revision
    assert accepted["jobName"] == "job-rendered"


def test_a_refused_submission_closes_the_run_as_failed(tmp_path: Path, aws: Aws, queue, secret_arn):
    executor = _executor(aws, "no-such-queue", secret_arn)
    project = _project(tmp_path / "project", aws, executor)
    done = _submit(project, "refused")
    assert done.returncode == 2
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "submitting the job" in line and "no-such-queue" in line
    run_log = _stored(aws, "refused")
    assert run_log.status == "FAIL"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"executor": {"job_queue": None}}, "job_queue"),
        ({"executor": {"vcpus": 2}}, "vcpus"),
        ({"executor": {"memory_mib": 2}}, "memory_mib"),
        ({"executor": {"secrets": {"TOKEN": CANARY}}}, "secret 'TOKEN'"),
        ({"executor": {"secrets": {}}}, "secret 'TOKEN'"),
        ({"run-log-store": {"type": "file-system"}}, "run-log-store 'file-system'"),
        ({"run-log-store": {"type": "chunked-fs"}}, "run-log-store 'chunked-fs'"),
        ({"catalog": {"type": "file-system"}}, "catalog 'file-system'"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_key(tmp_path: Path, aws: Aws, queue, secret_arn, change, named):
    executor, change = _executor(aws, queue, secret_arn), dict(change)
    for key, value in change.pop("executor", {}).items():
        if value is None:
            executor.pop(key)
        else:
            executor[key] = value
    project = _project(tmp_path / "project", aws, executor, **change)
    done = _submit(project, "bad")
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert named in line, line
    assert CANARY not in done.stdout + done.stderr
    if "run-log-store" in change or "catalog" in change:
        assert "s3" in line  # the fix
    assert aws.client("batch").describe_job_definitions(jobDefinitionName="job")["jobDefinitions"] == []
    assert _everything_in_s3(aws) == "", "a refused configuration left a run behind"


PYTHON_JOB = """
from runnable import PythonJob, metric


def double(size: int):
    return size * 2, size / 2


def main():
    job = PythonJob(function=double, returns=["doubled", metric("half")])
    job.execute()
    return job


if __name__ == "__main__":
    main()
"""


def test_a_python_job_file_is_submitted_and_run_the_same_way(tmp_path: Path, aws: Aws, queue, secret_arn):
    project = _project(tmp_path / "project", aws, _executor(aws, queue, secret_arn, secrets={}), job="")
    (project / "job.yaml").unlink()
    (project / "double_job.py").write_text(PYTHON_JOB)
    command = [_runnable(), "execute-job", "double_job.py", "-c", "batch.yaml", "--run-id", "py-run"]
    env = _clean_env(RUNNABLE_PRM_size="5")
    submitted = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    container = _container(aws, _job_id(submitted.stdout), project, tmp_path / "image")
    assert container.returncode == 0, container.stdout + container.stderr
    ended = _stored(aws, "py-run")
    assert ended.status == "SUCCESS" and ended.parameters["doubled"].value == 10
    assert ended.job.attempts[-1].user_defined_metrics == {"half": 2.5}
