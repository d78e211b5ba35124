"""The ``s3`` run log store: runs kept as small S3 objects, safe for many writers in many containers at once.

Layout under ``s3://<bucket>/<prefix>/``::

    runs/<run_id>/RunLog.json                       the run as created; its complete final record once it ends
    runs/<run_id>/log/<stamp>-step-<name>.json      one object per step record the engine sends
    runs/<run_id>/log/<stamp>-parameters.json       one object per parameter update
    index/<inverted stamp>-<run_id>                 empty; listing index/ gives the run ids newest first

Why this shape:

* **Creating a run id is a conditional write** (``If-None-Match: *``): of two writers creating the same run,
  S3 lets exactly one succeed, and the other gets a one-line error. No read-then-write race.
* **Every increment is a new object** whose name no other writer uses (a time stamp and a random suffix), so
  parallel branches in separate containers never overwrite each other and nothing is read-modified-written.
  A step costs one PUT, whatever the size of the run.
* **Readers** (``runnable runs show``, a retry, another container) list ``log/``, read every object, then read
  ``RunLog.json``: a final record stands alone; otherwise the increments are replayed over the initial record
  in name (= time) order. After a crash, the run reads back with every increment that was acknowledged.
* **Finishing** writes the final record, then deletes the increments it holds. A reader that listed them just
  before finds some gone, but then reads the final record (written first), which has them all.

The stamp's time is the writer's clock: increments of *the same step* written by different machines with
skewed clocks may replay in the wrong order. The engine writes a step's records from the process running it,
so this does not happen in runnable's own executors.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from pydantic import Field, PrivateAttr, TypeAdapter
from runnable.errors import RunLogNotFoundError, RunnableError
from runnable.models.parameters import Parameter
from runnable.models.run_log import FAIL, SUCCESS, RunLog, StepLog
from runnable.services.run_log_store import BaseRunLogStore

from runnable_aws._clients import AwsSettings, PerProcess, aws_errors

HEADER = "RunLog.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_PARAMETER = TypeAdapter(Parameter)
# Sorting the index by name lists the newest run first: the stamp counts down.
_INVERT = 10**20
_last_stamp = 0
_stamp_lock = threading.Lock()


def _stamp() -> str:
    """A name part that sorts in write order within this process and never collides with another writer's."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)  # the wall clock may step back; names may not
        return f"{_last_stamp:020d}-{uuid.uuid4().hex[:8]}"


class S3RunLogStore(AwsSettings, BaseRunLogStore):
    """Configuration keys: ``bucket`` (required), ``prefix``, and the connection settings of :class:`AwsSettings`."""

    service_name: ClassVar[str] = "s3"
    supports_concurrent_writers: ClassVar[bool] = True

    bucket: str = Field(min_length=3)
    prefix: str = "run-logs"
    # Objects read at once when a run in progress is read back (``runs show``, a retry).
    read_concurrency: int = Field(default=8, ge=1, le=64)

    _clients: PerProcess = PrivateAttr(default_factory=PerProcess)

    # --- plumbing ------------------------------------------------------------------------------------------

    @property
    def _s3(self) -> Any:
        return self._clients.get("s3", lambda: self.make_client("s3", pool=self.read_concurrency))

    def _key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def _errors(self, what: str) -> Any:
        return aws_errors(
            RunnableError, what=f"S3 run log store: {what}", settings=self, service="s3", bucket=self.bucket
        )

    def _put(self, key: str, body: str, **conditions: str) -> None:
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="application/json", **conditions
        )

    def _get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is no such object."""
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def _increment(self, run_id: str, kind: str, body: str) -> None:
        self._put(self._key("runs", run_id, "log", f"{_stamp()}-{kind}.json"), body)

    # --- the store -----------------------------------------------------------------------------------------

    def create_run_log(self, run_log: RunLog) -> None:
        from botocore.exceptions import ClientError

        run_id = run_log.run_id
        with self._errors(f"creating run {run_id!r}"):
            try:
                self._put(self._key("runs", run_id, HEADER), run_log.model_dump_json(indent=2), IfNoneMatch="*")
            except ClientError as failure:
                # 412: the run exists; 409: another writer is creating it at this very moment.
                if failure.response.get("Error", {}).get("Code") not in (
                    "PreconditionFailed",
                    "ConditionalRequestConflict",
                ):
                    raise
                raise RunnableError(
                    f"run log store: a run with id {run_id!r} already exists in s3://{self.bucket}/{self._key('runs')}",
                    hint="pick another --run-id, or leave it out to get a fresh one",
                ) from None
            self._put(self._key("index", f"{_INVERT - time.time_ns():020d}-{run_id}"), "")

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        label = _UNSAFE.sub("_", step_log.internal_name)[:100]
        with self._errors(f"writing step {step_log.internal_name!r} of run {run_id!r}"):
            self._increment(run_id, f"step-{label}", step_log.model_dump_json())

    def put_parameters(self, run_id: str, parameters: dict[str, Parameter]) -> None:
        if not parameters:
            return
        body = "{" + ",".join(f"{json.dumps(k)}:{p.model_dump_json()}" for k, p in parameters.items()) + "}"
        with self._errors(f"writing parameters of run {run_id!r}"):
            self._increment(run_id, "parameters", body)

    def finish_run_log(self, run_log: RunLog) -> None:
        run_id = run_log.run_id
        with self._errors(f"finishing run {run_id!r}"):
            # The final record first: from then on readers ignore the increments, so deleting them hides nothing.
            self._put(self._key("runs", run_id, HEADER), run_log.model_dump_json(indent=2))
            keys = self._list(self._key("runs", run_id, "log") + "/")
            for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                batch = [{"Key": key} for key in keys[start : start + 1000]]
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def get_run_log(self, run_id: str) -> RunLog:
        # Increments are write-once objects under names never reused, so this process keeps those it has read:
        # reading a running run again (``runs show`` polling, a busy reader) fetches only the new ones.
        known: dict[str, bytes | None] = self._clients.get("increments", dict).setdefault(run_id, {})
        with self._errors(f"reading run {run_id!r}"):
            # Increments before the header: if the run finishes in between, the header read is the final record,
            # which holds everything; the other way round, a finish in between would delete them under us.
            keys = sorted(self._list(self._key("runs", run_id, "log") + "/"))
            new = [key for key in keys if key not in known]
            if new:
                with ThreadPoolExecutor(max_workers=min(self.read_concurrency, len(new))) as pool:
                    known.update(zip(new, pool.map(self._get, new), strict=True))
            header = self._get(self._key("runs", run_id, HEADER))
        if header is None:
            raise RunLogNotFoundError(
                f"no run log for run id {run_id!r} in s3://{self.bucket}/{self._key('runs')}",
                hint="`runnable runs list` shows the runs this store holds",
            )
        run_log = RunLog.model_validate_json(header)
        if run_log.status in (SUCCESS, FAIL):
            self._clients.get("increments", dict).pop(run_id, None)  # the final record holds them all
        else:
            _replay(run_log, [(key, known[key]) for key in keys])
        return run_log

    def list_run_ids(self) -> list[str]:
        index = self._key("index") + "/"
        with self._errors("listing runs"):
            keys = sorted(self._list(index))
        seen: dict[str, None] = {}
        for key in keys:
            seen.setdefault(key[len(index) :].split("-", 1)[1], None)
        return list(seen)


def _replay(run_log: RunLog, increments: list[tuple[str, bytes | None]]) -> None:
    for key, body in increments:
        if body is None:  # deleted by a finish after we listed it; the caller then holds the final record
            continue
        kind = key.rsplit("/", 1)[-1].split("-", 3)[2]
        if kind == "step":
            run_log.put_step(StepLog.model_validate_json(body))
        elif kind.startswith("parameters"):
            for name, value in json.loads(body).items():
                run_log.parameters[name] = _PARAMETER.validate_python(value)
