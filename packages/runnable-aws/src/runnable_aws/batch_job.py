"""The ``aws-batch`` job executor: ``runnable execute-job FILE -c batch.yaml`` runs the job as one AWS Batch job.

The smallest configuration::

    job-executor:
      type: aws-batch
      config:
        image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/project:1.0   # runnable, runnable-aws, the project
        job_queue: arn:aws:batch:eu-west-1:123456789012:job-queue/runnable
    run-log-store: {type: s3, config: {bucket: my-bucket}}
    catalog: {type: s3, config: {bucket: my-bucket}}

Two sides, one configuration file:

* **Here** (``runnable execute-job``): the configuration is checked (a run log store and catalog the container
  can reach, a reference for every secret the task needs), the job definition is registered (a new revision
  only when it changed), the run is created in the run log store with its initial parameters, and one Batch job
  is submitted whose container command is::

      runnable execute-job FILE --run-id RUN_ID --config CONFIG

  with ``RUNNABLE_AWS_BATCH_RUN=RUN_ID`` in its environment. The job id and how to follow it are printed, and
  the run log is returned as it stands (``PROCESSING``).
* **In the container** the same command reads the same configuration; ``RUNNABLE_AWS_BATCH_RUN`` naming this
  run tells this executor that it *is* the Batch job: it joins the run the submitter created (its parameters come
  from the run log store, not from the container's environment), runs the task in-process through the engine, as
  the ``local`` job executor does, and closes the run. Exit 0: the task succeeded, 1: it failed, 2: bad input,
  3: a store could not be reached (the job definition retries the container only for 3). Started again after
  the run ended (a Batch retry), it runs nothing and exits as the run ended.

Secrets are references (Secrets Manager or SSM ARNs) in the job definition, resolved by Batch into the
container's environment: the definition, the submission and the run log hold ARNs, never values.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runnable.errors import ConfigurationError, InfrastructureError, RunLogNotFoundError, RunnableError
from runnable.services.executor import BaseJobExecutor

from runnable_aws.batch import BatchContainer, job_definition_name, register_job_definition

if TYPE_CHECKING:
    from runnable.engine.context import RunContext
    from runnable.models.run_log import RunLog

# Set in the submitted container's environment to the run id: "you are the Batch job of this run".
IN_CONTAINER_ENV = "RUNNABLE_AWS_BATCH_RUN"
# runnable-core's stores that live on this machine's disk, out of a container's reach.
LOCAL_RUN_LOG_STORES = ("file-system", "chunked-fs")
# Secrets managers that read the process environment: Batch must put each secret there.
ENVIRONMENT_SECRETS = ("env-secrets",)


class AwsBatchJobExecutor(BatchContainer, BaseJobExecutor):
    """Settings of the Batch container: :class:`runnable_aws.batch.BatchContainer` (image, job_queue, vcpu...)."""

    service_name: ClassVar[str] = "aws-batch"

    # The Batch API endpoint (a VPC endpoint; moto in the tests). The container is not told it.
    endpoint_url: str | None = None
    # The job file and this configuration file as the container sees them (default: as given to execute-job).
    job_file: str | None = None
    config_file: str | None = None

    # --- execute-job ----------------------------------------------------------------------------------------

    def execute_job(self, context: RunContext) -> RunLog:
        if os.environ.get(IN_CONTAINER_ENV) == context.run_id:
            return self._run_here(context)
        return self._submit(context)

    def _submit(self, context: RunContext) -> RunLog:
        from runnable.engine.run import Run
        from runnable.models.run_log import FAIL

        definition = self.job_definition(context)
        arn, registered = self._call(
            lambda batch: register_job_definition(batch, definition), "registering the job definition"
        )
        run = Run(context)
        run.open()  # the run exists, with its parameters, before any container looks for it
        try:
            submission = self.submission(context, arn)
            job = self._call(lambda batch: batch.submit_job(**submission), "submitting the job")
        except BaseException as error:
            message = error.message if isinstance(error, RunnableError) else f"{type(error).__name__}: {error}"
            run.close(FAIL, f"the job was not submitted to AWS Batch: {message}")
            raise
        revision = arn.rsplit("/", 1)[-1]
        where = f" --region {self.region}" if self.region else ""
        config = context.config.source  # as given here (config_file is the container's path)
        lines = [
            f"submitted AWS Batch job {job['jobId']} ({job['jobName']}) to queue {self.job_queue}",
            f"  job definition {revision} ({'new revision' if registered else 'unchanged'})",
            f"  follow it: aws batch describe-jobs --jobs {job['jobId']}{where}",
            f"  the run:   runnable runs show {context.run_id} -c {config}",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        assert context.run_log is not None
        return context.run_log

    def _run_here(self, context: RunContext) -> RunLog:
        """Inside the Batch container: join the run the submitter created and run the task, as `local` does."""
        from runnable.executors.local import run_job
        from runnable.models.run_log import PROCESSING

        try:
            ended = context.run_log_store.get_run_log(context.run_id)
        except RunLogNotFoundError:
            ended = None  # the submitter's record is not there: create the run here (join makes that safe)
        if ended is not None and ended.status != PROCESSING:  # Batch started the container again: run nothing
            context.run_log = ended
            return ended
        return run_job(context, join=True)  # as the local job executor runs it, in the run created for it

    # --- what is sent to AWS --------------------------------------------------------------------------------

    def base_name(self, context: RunContext) -> str:
        return job_definition_name(self.name or Path(context.pipeline_file or "job").stem)

    def job_definition(self, context: RunContext) -> dict[str, Any]:
        """``register_job_definition``'s arguments. Checks the configuration first (no AWS call)."""
        self.check(context)
        return self.batch_job_definition(self.base_name(context))

    def command(self, context: RunContext) -> list[str]:
        """What the container runs: this job, in this run, with this configuration."""
        job_file = self.job_file or context.pipeline_file
        config_file = self.config_file or context.config.source
        return ["runnable", "execute-job", job_file, "--run-id", context.run_id, "--config", config_file]

    def submission(self, context: RunContext, job_definition_ref: str) -> dict[str, Any]:
        """``submit_job``'s arguments: the container's command and environment are overridden for this run."""
        return {
            "jobName": job_definition_name(f"{self.base_name(context)}-{context.run_id}"),
            "jobQueue": self.job_queue,
            "jobDefinition": job_definition_ref,
            "containerOverrides": {
                "command": self.command(context),
                "environment": [{"name": IN_CONTAINER_ENV, "value": context.run_id}],
            },
            "tags": {**self.tags, "runnable-run-id": context.run_id},
            "propagateTags": True,
        }

    def check(self, context: RunContext) -> None:
        where = "job-executor 'aws-batch'"
        store = context.run_log_store.service_name
        if store in LOCAL_RUN_LOG_STORES:
            raise ConfigurationError(
                f"{where}: run-log-store {store!r} is on this machine, out of the Batch container's reach; "
                "use run-log-store type: s3 (runnable-aws)"
            )
        location = getattr(context.catalog, "catalog_location", None)
        if context.catalog.service_name == "file-system" and location is not None and "://" not in location:
            raise ConfigurationError(
                f"{where}: catalog 'file-system' at {location!r} is on this machine, out of the Batch container's "
                "reach; use catalog type: s3 (runnable-aws)"
            )
        if not (self.job_file or context.pipeline_file):
            raise ConfigurationError(f"{where}: the container needs the job as a file: set job_file")
        if not (self.config_file or context.config.source):
            raise ConfigurationError(f"{where}: the container needs this configuration as a file: set config_file")
        if context.secrets.service_name in ENVIRONMENT_SECRETS:
            node = context.graph.nodes[context.graph.start_at]
            for secret in getattr(node, "secrets", []):
                if secret not in self.secrets:
                    raise ConfigurationError(
                        f"{where}: the job needs secret {secret!r} and secrets has no reference for it",
                        hint=f"add secrets: {{{secret}: arn:aws:secretsmanager:...}} to the executor's config",
                    )

    # --- AWS ------------------------------------------------------------------------------------------------

    def _call(self, call: Any, what: str) -> Any:
        """``call(batch client)``, its failures as one-line errors naming the endpoint and the queue."""
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        options = {k: v for k, v in (("region_name", self.region), ("endpoint_url", self.endpoint_url)) if v}
        where = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_BATCH") or os.environ.get("AWS_ENDPOINT_URL")
        try:
            return call(boto3.client("batch", **options))
        except ClientError as error:
            raise RunnableError(f"job-executor 'aws-batch': {what}: AWS Batch refused: {error}") from None
        except (NoCredentialsError, NoRegionError) as error:
            raise ConfigurationError(f"job-executor 'aws-batch': {what}: {error}") from None
        except BotoCoreError as error:
            raise InfrastructureError(
                f"job-executor 'aws-batch': {what}: cannot reach {where or 'AWS Batch'}: {error}"
            ) from None


__all__ = ["AwsBatchJobExecutor", "render"]


def render(
    job_file: str | Path, config_file: str | Path, *, parameters_file: str = "", run_id: str = ""
) -> dict[str, str]:
    """A dry run: the job definition and the submission ``execute-job`` would send, as files (name -> JSON).

    Nothing is contacted and no run is created. The submission names the job definition by name (Batch takes
    its latest active revision) and a run id (generated unless given).
    """
    from runnable import entrypoints
    from runnable.engine.prepare import prepare

    context = prepare(
        entrypoints.load_job_graph(job_file),
        configuration_file=str(config_file),
        parameters_file=parameters_file,
        run_id=run_id,
        pipeline_file=str(job_file),
        job=True,
    )
    executor = context.executor
    if not isinstance(executor, AwsBatchJobExecutor):
        raise ConfigurationError(f"{config_file}: job-executor is {executor.service_name!r}; render needs aws-batch")
    definition = executor.job_definition(context)
    base = executor.base_name(context)
    return {
        f"{base}-batch-job-definition.json": json.dumps(definition, indent=2) + "\n",
        f"{base}-batch-submission.json": json.dumps(executor.submission(context, base), indent=2) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    """python -m runnable_aws.batch_job JOB_FILE -c CONFIG [-o FOLDER] [--run-id ID]: write render()'s files
    (the job definition and the submission execute-job would send) without contacting AWS."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m runnable_aws.batch_job", description=main.__doc__)
    parser.add_argument("job_file")
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-o", "--output", default=".")
    parser.add_argument("-p", "--parameters", default="")
    parser.add_argument("--run-id", default="")
    arguments = parser.parse_args(argv)
    try:
        files = render(
            arguments.job_file, arguments.config, parameters_file=arguments.parameters, run_id=arguments.run_id
        )
    except RunnableError as error:
        sys.stderr.write(f"error: {error.message}\n")
        return error.exit_code
    folder = Path(arguments.output)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
        sys.stdout.write(f"wrote {folder / name}\n")
    return 0


if __name__ == "__main__":
    from runnable_aws.batch_job import main as registered_main  # the plugin's classes, not this __main__ copy's

    sys.exit(registered_main())
