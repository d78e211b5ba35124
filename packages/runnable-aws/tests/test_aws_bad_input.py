"""What a user sees when the configuration is wrong: one line naming the bucket or endpoint and what to check.
And credentials written in the configuration never reach the run log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_server import Aws, start_moto, stop
from runnable.errors import CatalogError, RunnableError, SecretNotFoundError
from runnable.models.run_log import RunLog
from runnable_aws.s3_catalog import S3Catalog
from runnable_aws.s3_run_log import S3RunLogStore
from runnable_aws.secrets_manager import AwsSecretsManager

KEY_ID, SECRET_KEY, TOKEN = "AKIACANARY7F3Q", "canary-secret-key-91b2", "canary-session-token-c4d8"
SERVICES = (S3Catalog, S3RunLogStore, AwsSecretsManager)


def _one_line(error: RunnableError) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.service_name)
def test_credentials_in_the_config_are_masked_in_the_recorded_configuration(cls: type) -> None:
    settings = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY, "aws_session_token": TOKEN}
    if cls is not AwsSecretsManager:
        settings["bucket"] = "some-bucket"
    recorded = json.dumps(cls(**settings).masked_config())
    assert KEY_ID not in recorded and SECRET_KEY not in recorded and TOKEN not in recorded
    assert recorded.count('"**********"') == 3


def test_credentials_from_a_config_file_stay_out_of_the_run_log_and_the_bucket(aws: Aws, tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("def main():\n    return 1\n")
    (tmp_path / "pipeline.yaml").write_text(
        "dag:\n  start_at: one\n  steps:\n    one: {type: task, command: job.main, next: success}\n"
        "    success: {type: success}\n"
    )
    creds = f"aws_access_key_id: {KEY_ID}, aws_secret_access_key: {SECRET_KEY}, endpoint_url: {aws.endpoint}"
    (tmp_path / "config.yaml").write_text(
        f"run-log-store: {{type: s3, config: {{bucket: {aws.bucket}, {creds}}}}}\n"
        f"catalog: {{type: s3, config: {{bucket: {aws.bucket}, {creds}}}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNABLE_")}
    for command in (["execute", "pipeline.yaml", "--run-id", "masked"], ["runs", "show", "masked", "--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "runnable", *command, "-c", "config.yaml"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert KEY_ID not in done.stdout + done.stderr and SECRET_KEY not in done.stdout + done.stderr
    assert RunLog.model_validate_json(done.stdout).run_config["catalog"]["config"]["aws_secret_access_key"] == "*" * 10
    s3 = aws.client("s3")
    for item in s3.list_objects_v2(Bucket=aws.bucket)["Contents"]:
        body = s3.get_object(Bucket=aws.bucket, Key=item["Key"])["Body"].read().decode(errors="replace")
        assert KEY_ID not in body and SECRET_KEY not in body, item["Key"]


def test_a_missing_bucket_is_named(aws: Aws, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1\n")
    catalog = S3Catalog(**aws.settings(bucket="no-such-bucket"))
    with pytest.raises(CatalogError) as raised:
        catalog.put("r1", "a.csv", tmp_path)
    assert _one_line(raised.value) == f"S3 catalog: bucket 'no-such-bucket' at {aws.endpoint} does not exist"
    assert "create the bucket" in raised.value.hint
    store = S3RunLogStore(**aws.settings(bucket="no-such-bucket"))
    with pytest.raises(RunnableError) as raised:
        store.create_run_log(RunLog(run_id="r1"))
    assert _one_line(raised.value) == (
        f"S3 run log store: creating run 'r1': bucket 'no-such-bucket' at {aws.endpoint} does not exist"
    )


@pytest.fixture
def closed_port_endpoint() -> str:
    import socket

    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_wrong_endpoint_is_named(closed_port_endpoint: str, tmp_path: Path, moto_endpoint: str) -> None:
    fast = {"endpoint_url": closed_port_endpoint, "max_attempts": 1, "connect_timeout": 2}
    (tmp_path / "a.csv").write_text("1\n")
    with pytest.raises(CatalogError, match=f"cannot reach {closed_port_endpoint}") as raised:
        S3Catalog(bucket="b-b-b", **fast).put("r1", "a.csv", tmp_path)
    assert "check 'endpoint_url'" in raised.value.hint
    with pytest.raises(RunnableError, match=f"S3 run log store: listing runs: cannot reach {closed_port_endpoint}"):
        S3RunLogStore(bucket="b-b-b", **fast).list_run_ids()
    with pytest.raises(RunnableError, match=f"reading secret 'X': cannot reach {closed_port_endpoint}"):
        AwsSecretsManager(**fast).get("X")


def test_the_cli_prints_one_line_for_a_wrong_endpoint(closed_port_endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "run-log-store: {type: s3, config: {bucket: b-b-b, max_attempts: 1, "
        f"endpoint_url: '{closed_port_endpoint}'}}}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "runs", "list", "-c", "config.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"S3 run log store: listing runs: cannot reach {closed_port_endpoint}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def strict_endpoint(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[str]:
    """A second server that checks credentials (moto's IAM): the session's made-up keys are unknown to it."""
    process, endpoint = start_moto(
        tmp_path_factory.mktemp("strict") / "moto_server.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    )
    yield endpoint
    stop(process)


def test_denied_access_is_named(strict_endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1\n")
    with pytest.raises(CatalogError) as raised:
        S3Catalog(bucket="locked-bucket", endpoint_url=strict_endpoint).put("r1", "a.csv", tmp_path)
    assert _one_line(raised.value).startswith(
        f"S3 catalog: access denied to bucket 'locked-bucket' at {strict_endpoint}"
    )
    assert "IAM policy" in raised.value.hint
    with pytest.raises(RunnableError) as raised:
        S3RunLogStore(bucket="locked-bucket", endpoint_url=strict_endpoint).get_run_log("r1")
    assert _one_line(raised.value).startswith(
        f"S3 run log store: reading run 'r1': access denied to bucket 'locked-bucket' at {strict_endpoint}"
    )
    with pytest.raises(RunnableError) as raised:
        AwsSecretsManager(endpoint_url=strict_endpoint).get("API_TOKEN")
    assert not isinstance(raised.value, SecretNotFoundError), "denied is not 'not found'"
    assert _one_line(raised.value).startswith(
        f"secrets manager 'aws-secrets-manager': reading secret 'API_TOKEN': access denied to {strict_endpoint}"
    )


def test_a_config_without_a_bucket_says_so(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("run-log-store: {type: s3, config: {prefix: runs}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "runnable", "runs", "list", "-c", "config.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "config.yaml: run-log-store.config.bucket: missing required key for plugin 's3'" in done.stderr
