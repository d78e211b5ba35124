"""What runnable-aws registers, by import path: a process imports only the implementations its
configuration chooses (a container step on the local executor does not import the Step Functions one)."""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_catalogs() -> dict[str, str]:
    return {"s3": "runnable_aws.s3_catalog:S3Catalog"}


@hookimpl
def register_run_log_stores() -> dict[str, str]:
    return {"s3": "runnable_aws.s3_run_log:S3RunLogStore"}


@hookimpl
def register_secrets_managers() -> dict[str, str]:
    return {"aws-secrets-manager": "runnable_aws.secrets_manager:AwsSecretsManager"}


@hookimpl
def register_pipeline_executors() -> dict[str, str]:
    return {"step-functions": "runnable_aws.stepfunctions.executor:StepFunctionsExecutor"}


@hookimpl
def register_job_executors() -> dict[str, str]:
    return {"aws-batch": "runnable_aws.batch_job:AwsBatchJobExecutor"}
