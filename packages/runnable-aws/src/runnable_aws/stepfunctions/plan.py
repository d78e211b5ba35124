"""The fan-out container of a map, conditional or loop step: ``runnable fan-out``, then its plan to S3.

A Batch job returns no output to Step Functions (only its description), so the decision a fan-out makes
travels through S3: the state machine reads it back with an ``aws-sdk:s3:getObject`` Task. Only what the
machine branches on is written (``{"done", "keys", "count"}`` at the given URI, and the keys alone as a JSON
array beside it, ``.keys.json``, for a distributed Map's ``ItemReader``): a map's items stay in the run log store,
each branch finds its own item there from its key (docs/run-protocol.md).

Usage (the rendered Task state's command)::

    python -m runnable_aws.stepfunctions.plan s3://BUCKET/KEY.json FILE ADDRESS --run-id ID [fan-out options]

The exit status is the fan-out's (0 planned, 1 could not be planned, 2 bad input, 3 a store unreachable);
the plan is written only when the fan-out succeeded, and a plan that cannot be written exits 3 (retry).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

USAGE = "usage: python -m runnable_aws.stepfunctions.plan s3://BUCKET/KEY FILE ADDRESS --run-id ID [options]"


# The summary is read into the execution's state (256 KB at most, with the rest of the state): past this many
# bytes of keys an inline map cannot take them and the summary says so instead (map_mode: distributed reads the
# keys file itself, from S3, and has no such limit).
KEYS_BUDGET = 200_000


def summary(plan: dict[str, object]) -> dict[str, object]:
    """What the state machine needs of a plan: whether a loop is done and the branch keys to run."""
    keys = list(plan.get("keys") or [])  # type: ignore[call-overload]
    if len(json.dumps(keys)) > KEYS_BUDGET:
        return {
            "done": bool(plan.get("done")),
            "keys": None,
            "count": len(keys),
            "message": f"{len(keys)} branches: too many keys for an inline Map; use map_mode: distributed",
        }
    return {"done": bool(plan.get("done")), "keys": keys, "count": len(keys)}


def keys_uri(uri: str) -> str:
    """Where the keys alone are written, a JSON array: what a distributed Map's ItemReader reads."""
    return uri.removesuffix(".json") + ".keys.json"


def upload(uri: str, body: str) -> None:
    import boto3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not argv[0].startswith("s3://"):
        print(USAGE, file=sys.stderr)
        return 2
    uri, rest = argv[0], argv[1:]
    with tempfile.TemporaryDirectory(prefix="runnable-plan-") as folder:
        plan_file = Path(folder) / "plan.json"
        status = subprocess.call([sys.executable, "-m", "runnable", "fan-out", *rest, "--plan-file", str(plan_file)])
        if status != 0:
            return status
        plan = json.loads(plan_file.read_text())
    try:
        upload(keys_uri(uri), json.dumps(plan.get("keys") or []))
        upload(uri, json.dumps(summary(plan)))
    except Exception as error:  # noqa: BLE001 - any failure to store the plan is "a service could not be reached"
        print(f"runnable-aws: could not write the plan to {uri}: {type(error).__name__}: {error}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
