"""What runnable-aws registers. Implementation modules are imported inside the hooks: listing plugins stays fast."""

from __future__ import annotations

from runnable.hookspecs import hookimpl


@hookimpl
def register_catalogs() -> list[type]:
    from runnable_aws.s3_catalog import S3Catalog

    return [S3Catalog]


@hookimpl
def register_run_log_stores() -> list[type]:
    from runnable_aws.s3_run_log import S3RunLogStore

    return [S3RunLogStore]


@hookimpl
def register_secrets_managers() -> list[type]:
    from runnable_aws.secrets_manager import AwsSecretsManager

    return [AwsSecretsManager]


@hookimpl
def register_pipeline_executors() -> list[type]:
    from runnable_aws.stepfunctions.executor import StepFunctionsExecutor

    return [StepFunctionsExecutor]


@hookimpl
def register_job_executors() -> list[type]:
    from runnable_aws.batch_job import AwsBatchJobExecutor

    return [AwsBatchJobExecutor]
