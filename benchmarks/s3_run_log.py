"""What a step costs with the ``s3`` run log store (runnable-aws), measured against a local S3 server.

Three measurements, each next to a baseline that does the same S3 or disk work without runnable's store:

* **increments**: N step records written with ``put_step_log`` (the engine writes two per step: when it
  starts and when it ends), against N plain boto3 ``put_object`` calls of the same JSON. The store's cost per
  record is one PUT; the difference is what the store adds (naming, serialising, error handling).
* **reads**: ``get_run_log`` of a run in progress with N steps, by a new reader (one LIST and N+1 GETs, 8 at a
  time) and by the same reader again (cached: one LIST and one GET); and of the finished run (LIST + GET).
  A process's first request also builds its boto3 client; that is timed apart (a ``list_run_ids``).
* **pipeline**: a chain of N python steps (W1 of ``run.py``) with ``run-log-store: s3`` against the same chain
  with the default ``file-system`` store: the difference per step is what keeping the run on S3 costs a step.

The server is moto's (``moto_server``, from ``pip install 'moto[server]'``; ``RUNNABLE_AWS_MOTO_SERVER`` names
another executable), on 127.0.0.1: a request costs what a local Python server costs, not what S3 costs across
a network. Read the results as request counts times the latency of your S3.

    python benchmarks/s3_run_log.py                 # about a minute; prints a markdown table
    python benchmarks/s3_run_log.py --steps 20 100 --repeats 3 --json /tmp/s3.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUCKET = "runnable-benchmark"
RUN_ID = "run"  # each repeat writes under its own prefix


def _moto_server() -> str:
    found = os.environ.get("RUNNABLE_AWS_MOTO_SERVER") or shutil.which(
        "moto_server", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if not found:
        sys.exit("moto_server not found: pip install 'moto[server]', or set RUNNABLE_AWS_MOTO_SERVER")
    return found


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(folder / "moto_server.log", "wb") as log:  # a file, not a pipe: moto logs every request
        process = subprocess.Popen([_moto_server(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return process, endpoint
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                sys.exit(f"moto_server did not start; see {folder / 'moto_server.log'}")
            time.sleep(0.1)


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def step_record(index: int) -> Any:
    """A step record as the engine writes it for a finished python step (one attempt, two parameters)."""
    from datetime import datetime

    from runnable.models.parameters import JsonParameter
    from runnable.models.run_log import CodeIdentity, StepAttempt, StepLog

    now = datetime.now()
    return StepLog(
        name=f"step{index}",
        internal_name=f"step{index}",
        status="SUCCESS",
        step_type="task",
        code_identities=[CodeIdentity(code_identifier="0" * 40, code_identifier_type="git")],
        attempts=[
            StepAttempt(
                attempt_number=1,
                start_time=now,
                end_time=now,
                status="SUCCESS",
                input_parameters={"x": JsonParameter(value=index)},
                output_parameters={"x": JsonParameter(value=index + 1)},
            )
        ],
    )


def measure_store(endpoint: str, steps: int, repeats: int) -> dict[str, Any]:
    import boto3
    from runnable.models.run_log import RunLog
    from runnable_aws.s3_run_log import S3RunLogStore

    client = boto3.client("s3", endpoint_url=endpoint)
    records = [step_record(i) for i in range(steps)]
    bodies = [r.model_dump_json().encode() for r in records]
    writes, plain, setup, cold, warm, finished = [], [], [], [], [], []
    for _ in range(repeats):
        store = S3RunLogStore(bucket=BUCKET, endpoint_url=endpoint, prefix=f"bench-{uuid.uuid4().hex[:6]}")
        store.create_run_log(RunLog(run_id=RUN_ID, status="PROCESSING"))

        def write(store: S3RunLogStore = store) -> None:
            for record in records:
                store.put_step_log(RUN_ID, record)

        def put_plain(prefix: str = f"plain-{uuid.uuid4().hex[:6]}") -> None:
            for index, body in enumerate(bodies):
                client.put_object(Bucket=BUCKET, Key=f"{prefix}/{index}.json", Body=body)

        writes.append(timed(write))
        plain.append(timed(put_plain))
        reader = S3RunLogStore.model_validate(store.model_dump(round_trip=True))
        setup.append(timed(reader.list_run_ids))  # a process's first request also builds its boto3 client
        cold.append(timed(lambda reader=reader: reader.get_run_log(RUN_ID)))
        warm.append(timed(lambda reader=reader: reader.get_run_log(RUN_ID)))
        final = reader.get_run_log(RUN_ID)
        assert len(final.steps) == steps
        final.status = "SUCCESS"
        store.finish_run_log(final)
        other = S3RunLogStore.model_validate(store.model_dump(round_trip=True))
        other.list_run_ids()
        finished.append(timed(lambda other=other: other.get_run_log(RUN_ID)))
    median = statistics.median
    return {
        "steps": steps,
        "put_step_log_ms": median(writes) / steps * 1000,
        "plain_put_ms": median(plain) / steps * 1000,
        "first_request_ms": median(setup) * 1000,
        "read_running_cold_ms": median(cold) * 1000,
        "read_running_warm_ms": median(warm) * 1000,
        "read_finished_ms": median(finished) * 1000,
    }


def measure_pipeline(endpoint: str, steps: int, repeats: int, folder: Path) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from runnable import Pipeline, PythonTask
    from workloads import increment

    configs = {
        "file-system": "run-log-store: {type: file-system}\n",
        "s3": f"run-log-store: {{type: s3, config: {{bucket: {BUCKET}, endpoint_url: '{endpoint}'}}}}\n",
    }
    results: dict[str, list[float]] = {name: [] for name in configs}
    os.environ["RUNNABLE_PRM_x"] = "0"
    stdout = sys.stdout
    for _ in range(repeats + 1):  # the first round warms imports and clients up and is not counted
        for name, text in configs.items():
            work = Path(tempfile.mkdtemp(dir=folder))
            (work / "config.yaml").write_text(text)
            os.chdir(work)
            pipeline = Pipeline(
                steps=[PythonTask(name=f"step{i}", function=increment, returns=["x"]) for i in range(steps)]
            )
            with open(os.devnull, "w") as sink:
                sys.stdout = sink
                try:
                    elapsed = timed(lambda p=pipeline: p.execute(configuration_file="config.yaml"))
                finally:
                    sys.stdout = stdout
            results[name].append(elapsed)
    median = statistics.median
    fs, s3 = median(results["file-system"][1:]), median(results["s3"][1:])
    return {
        "steps": steps,
        "file_system_ms": fs * 1000,
        "s3_ms": s3 * 1000,
        "s3_extra_per_step_ms": (s3 - fs) / steps * 1000,
    }


def markdown(store: list[dict[str, Any]], pipeline: list[dict[str, Any]]) -> str:
    lines = [
        "| N step records | `put_step_log` per record | plain `put_object` per record | store's own cost | "
        "read running run, new reader | same reader again | read finished run | a process's first request |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in store:
        lines.append(
            f"| {r['steps']} | {r['put_step_log_ms']:.2f} ms | {r['plain_put_ms']:.2f} ms | "
            f"{r['put_step_log_ms'] - r['plain_put_ms']:+.2f} ms | {r['read_running_cold_ms']:.0f} ms | "
            f"{r['read_running_warm_ms']:.0f} ms | {r['read_finished_ms']:.0f} ms | {r['first_request_ms']:.0f} ms |"
        )
    lines += [
        "",
        "| chain of N python steps | `file-system` store | `s3` store | extra per step on S3 |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in pipeline:
        lines.append(
            f"| N={r['steps']} | {r['file_system_ms']:.0f} ms | {r['s3_ms']:.0f} ms | "
            f"{r['s3_extra_per_step_ms']:.2f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    folder = Path(tempfile.mkdtemp(prefix="runnable-s3-bench-"))
    process, endpoint = start_server(folder)
    here = os.getcwd()
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        store = [measure_store(endpoint, n, args.repeats) for n in args.steps]
        pipeline = [measure_pipeline(endpoint, n, args.repeats, folder) for n in args.steps]
    finally:
        os.chdir(here)
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    text = markdown(store, pipeline)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"store": store, "pipeline": pipeline, "markdown": text}, indent=2))


if __name__ == "__main__":
    main()
